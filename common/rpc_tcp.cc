// TCP transport. Accepting and authenticating run as Asio coroutines on one io thread, so idle
// or garbage-sending peers cost a coroutine frame and a timer, not a thread. An authenticated
// conversation runs its Handler on a thread of its own over a blocking socket (plain
// recv/sendmsg): services block on disk I/O anyway, and blocking calls on a dedicated fd are
// the simplest correct way to allow one sender and one receiver at the same time, with
// shutdown() waking a blocked reader. A Unix stream socket, when configured, is accepted by a
// second acceptor on the same io thread and goes through the same handshake and conversation
// code: only connecting and naming peers differ. See docs/formats/wire.md.
#include "common/rpc_tcp.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>  // before Asio: Boost 1.74's Asio uses std::exchange without including it
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <glog/logging.h>

#include "common/auth.h"
#include "common/frame.h"

namespace sawmill {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using local_stream = asio::local::stream_protocol;
// Sockets being authenticated, whichever acceptor they came from.
using any_stream = asio::generic::stream_protocol;

constexpr std::string_view kUnixPrefix = "unix:";

// Reads that feed the frame decoder (headers and small bodies). Large bodies are read straight
// into the message instead, so this stays small per connection.
constexpr size_t kReadChunk = 64 << 10;
// A body remainder at least this big is received directly into the message body.
constexpr size_t kDirectBodyRead = 16 << 10;

Status Unavailable(std::string msg) { return Status(StatusCode::kUnavailable, std::move(msg)); }

std::string ErrnoText(int err) { return std::strerror(err); }

// Per-call timeouts of a blocking socket (0: none). A call that makes no progress for this long
// fails with EAGAIN.
void SetIoTimeouts(int fd, int64_t ms) {
  timeval tv{};
  if (ms > 0) {
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
  }
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void SetBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

// Asio opens sockets without close-on-exec; processes a daemon starts must not inherit its
// listening port or its peers' connections.
void SetCloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

std::string EndpointString(const tcp::endpoint& ep) {
  std::string ip = ep.address().to_string();
  if (ep.address().is_v6()) ip = "[" + ip + "]";
  return ip + ":" + std::to_string(ep.port());
}

// sendfile(2) has no MSG_NOSIGNAL: while one lives, SIGPIPE is blocked in this thread, and
// Discard() takes the one a write to a closed connection raised off the pending set, so that a
// peer going away is an error and not the death of the process.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    was_pending_ = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    restore_ = ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0 && !sigismember(&old_, SIGPIPE);
  }
  ~SigpipeBlock() {
    if (restore_) ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  void Discard() {
    if (was_pending_) return;  // not ours to take
    timespec zero{};
    while (::sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
  bool restore_ = false;
};

// One end of an authenticated conversation over a connected blocking socket. Send and Receive
// touch disjoint state (Receive owns the decoder), so one of each may run concurrently.
class TcpConnection : public Connection {
 public:
  TcpConnection(int fd, std::string peer, int64_t io_timeout_ms)
      : fd_(fd), peer_(std::move(peer)), io_timeout_ms_(io_timeout_ms) {}
  ~TcpConnection() override { ::close(fd_); }

  Status Send(std::string_view header, std::string_view body) override {
    RETURN_IF_ERROR(CheckSizes(header, body.size()));
    std::string prefix;  // prefix + header; the body goes out from the caller's buffer
    prefix.reserve(kFramePrefixSize + header.size());
    EncodeFrame(header, body.size(), &prefix);
    iovec iov[2] = {{prefix.data(), prefix.size()}, {const_cast<char*>(body.data()), body.size()}};
    return SendAll(iov, body.empty() ? 1 : 2, 0);
  }

  Status SendFile(std::string_view header, int fd, uint64_t offset, uint64_t length) override {
    RETURN_IF_ERROR(CheckSizes(header, length));
    std::string prefix;
    prefix.reserve(kFramePrefixSize + header.size());
    EncodeFrame(header, length, &prefix);
    iovec iov{prefix.data(), prefix.size()};
    // MSG_MORE: the prefix waits for the body instead of leaving in a segment of its own.
    RETURN_IF_ERROR(SendAll(&iov, 1, length > 0 ? MSG_MORE : 0));
    off_t pos = static_cast<off_t>(offset);
    const off_t end = static_cast<off_t>(offset + length);
    SigpipeBlock no_sigpipe;
    while (pos < end) {
      ssize_t n = ::sendfile(fd_, fd, &pos, static_cast<size_t>(end - pos));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        if (err == EPIPE) no_sigpipe.Discard();
        return IoError("send to", err);
      }
      if (n == 0) {
        // The peer is owed the rest of the frame; nothing else may follow on this connection.
        Close();
        return IOError("sending a file body to " + peer_ + ": file ended at offset " + std::to_string(pos) +
                       ", before offset " + std::to_string(end));
      }
    }
    return Status::Ok();
  }

  Result<Message> Receive() override {
    Message m;
    RETURN_IF_ERROR(ReceiveInto(&m));
    return m;
  }

  Status ReceiveInto(Message* m) override {
    if (!failed_.ok()) return failed_;
    std::optional<FramePrefix> frame;
    while (true) {
      auto next = decoder_.Next(&m->header);
      if (!next.ok()) return Fail(next.status().WithContext("from " + peer_));
      if ((frame = *next)) break;
      RETURN_IF_ERROR(Fill(/*mid_frame=*/decoder_.buffered() > 0));
    }
    // Refused before allocating: an authenticated peer still cannot make us reserve gigabytes.
    if (frame->body_len > kMaxMessageBody) {
      return Fail(InvalidArgument(peer_ + " sent a frame body of " + std::to_string(frame->body_len) +
                                  " bytes, over the limit of " + std::to_string(kMaxMessageBody)));
    }
    size_t len = static_cast<size_t>(frame->body_len);
    // Only growth is zero-filled, so a body reused for same-sized packets is never cleared.
    m->body.resize(len);
    size_t got = 0;
    while (got < len) {
      if (decoder_.buffered() > 0) {
        std::string_view part = decoder_.TakeBody(len - got);
        std::memcpy(m->body.data() + got, part.data(), part.size());
        got += part.size();
      } else if (len - got >= kDirectBodyRead) {
        ASSIGN_OR_RETURN(size_t n, RecvSome(m->body.data() + got, len - got, MSG_WAITALL, /*mid_frame=*/true));
        got += n;
      } else {
        RETURN_IF_ERROR(Fill(/*mid_frame=*/true));
      }
    }
    if (decoder_.body_remaining() > 0) {
      // The rest of the body bypassed the decoder, which is empty now: a fresh one starts at the
      // next frame boundary.
      decoder_ = FrameDecoder();
    }
    return Status::Ok();
  }

  void Close() override { ::shutdown(fd_, SHUT_RDWR); }

  // An idle connection has nothing to read: readable means the peer's FIN or reset arrived.
  bool PeerClosed() override {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  const std::string& peer() const override { return peer_; }

 private:
  Status IoError(const char* what, int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) {
      return Unavailable(std::string(what) + " " + peer_ + " timed out (no progress for " + std::to_string(io_timeout_ms_) +
                         " ms)");
    }
    if (err == EPIPE || err == ECONNRESET) return Unavailable("connection to " + peer_ + " closed");
    return Unavailable(std::string(what) + " " + peer_ + " failed: " + ErrnoText(err));
  }

  Status CheckSizes(std::string_view header, uint64_t body_len) const {
    if (header.size() > kMaxFrameHeader) {
      return InvalidArgument("header of " + std::to_string(header.size()) + " bytes for " + peer_ + " exceeds the limit");
    }
    if (body_len > kMaxMessageBody) {
      return InvalidArgument("body of " + std::to_string(body_len) + " bytes for " + peer_ + " exceeds the limit of " +
                             std::to_string(kMaxMessageBody));
    }
    return Status::Ok();
  }

  // Sends every byte of the iovecs (which it advances).
  Status SendAll(iovec* iov, size_t count, int flags) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    while (msg.msg_iovlen > 0) {
      ssize_t n = ::sendmsg(fd_, &msg, flags | MSG_NOSIGNAL);  // no SIGPIPE from a peer that went away
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoError("send to", errno);
      }
      size_t left = static_cast<size_t>(n);
      while (msg.msg_iovlen > 0 && left >= msg.msg_iov[0].iov_len) {
        left -= msg.msg_iov[0].iov_len;
        ++msg.msg_iov;
        --msg.msg_iovlen;
      }
      if (msg.msg_iovlen > 0) {
        msg.msg_iov[0].iov_base = static_cast<char*>(msg.msg_iov[0].iov_base) + left;
        msg.msg_iov[0].iov_len -= left;
      }
    }
    return Status::Ok();
  }

  Status Fail(Status s) {
    failed_ = s;
    return s;
  }

  // Receives up to `max` bytes; end of stream is an error (kUnavailable).
  Result<size_t> RecvSome(char* buf, size_t max, int flags, bool mid_frame) {
    while (true) {
      ssize_t n = ::recv(fd_, buf, max, flags);
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0) {
        return Fail(Unavailable(mid_frame ? "connection to " + peer_ + " closed in the middle of a frame"
                                          : "connection to " + peer_ + " closed"));
      }
      if (errno == EINTR) continue;
      return Fail(IoError("receive from", errno));
    }
  }

  Status Fill(bool mid_frame) {
    if (!read_buf_) read_buf_ = std::make_unique<char[]>(kReadChunk);
    ASSIGN_OR_RETURN(size_t n, RecvSome(read_buf_.get(), kReadChunk, 0, mid_frame));
    decoder_.Feed(std::string_view(read_buf_.get(), n));
    return Status::Ok();
  }

  const int fd_;
  const std::string peer_;
  const int64_t io_timeout_ms_;
  // Receiver-side state.
  FrameDecoder decoder_;
  std::unique_ptr<char[]> read_buf_;
  Status failed_;
};

// ---- client side ----

Result<std::pair<std::string, std::string>> SplitHostPort(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return InvalidArgument("bad address '" + address + "' (expected host:port)");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, address.substr(colon + 1));
}

using Clock = std::chrono::steady_clock;

int64_t MsLeft(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

// A connected blocking socket, or an error naming the address.
Result<int> ConnectOne(const addrinfo& ai, const std::string& address, Clock::time_point deadline) {
  int fd = ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai.ai_protocol);
  if (fd < 0) return Unavailable("cannot connect to " + address + ": socket: " + ErrnoText(errno));
  int rc = ::connect(fd, ai.ai_addr, ai.ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    while (true) {
      int64_t left = MsLeft(deadline);
      if (left <= 0) {
        ::close(fd);
        return Unavailable("cannot connect to " + address + ": timed out");
      }
      rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
      if (rc < 0 && errno == EINTR) continue;
      break;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (rc > 0) {
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    } else if (rc == 0) {
      err = ETIMEDOUT;
    } else {
      err = errno;
    }
    errno = err;
    rc = err == 0 ? 0 : -1;
  }
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    return Unavailable("cannot connect to " + address + ": " + ErrnoText(err));
  }
  SetBlocking(fd);
  SetNoDelay(fd);
  return fd;
}

// "unix:/path" -> the socket address, or an error naming the address.
Result<sockaddr_un> UnixAddress(const std::string& path, const std::string& what) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty()) return InvalidArgument(what + ": empty Unix socket path");
  // sun_path holds the path and its terminating NUL.
  if (path.size() >= sizeof sa.sun_path) {
    return InvalidArgument(what + ": Unix socket path " + path + " is longer than " +
                           std::to_string(sizeof sa.sun_path - 1) + " bytes");
  }
  std::memcpy(sa.sun_path, path.data(), path.size());
  return sa;
}

// A connected blocking Unix stream socket. Connecting is local and immediate unless the
// listener's backlog is full; then the send timeout, set to the time left, bounds the wait.
Result<int> ConnectUnix(const std::string& address, Clock::time_point deadline) {
  const std::string path = address.substr(kUnixPrefix.size());
  ASSIGN_OR_RETURN(sockaddr_un sa, UnixAddress(path, "cannot connect to " + address));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("cannot connect to " + address + ": socket: " + ErrnoText(errno));
  SetIoTimeouts(fd, std::max<int64_t>(1, MsLeft(deadline)));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EAGAIN || err == EINPROGRESS) return Unavailable("cannot connect to " + address + ": timed out");
    return Unavailable("cannot connect to " + address + ": " + ErrnoText(err));
  }
  return fd;
}

// Exactly n bytes from a blocking socket whose timeouts are set; false on EOF, error or timeout
// (errno 0 for EOF).
bool ReadExact(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, buf + got, n - got, 0);
    if (r == 0) {
      errno = 0;
      return false;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

bool WriteExact(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t r = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(r);
  }
  return true;
}

std::string HandshakeFailure(const std::string& address, int err) {
  if (err == 0) return "connection closed by " + address + " during the handshake";
  if (err == EAGAIN || err == EWOULDBLOCK) return "handshake with " + address + " timed out";
  return "handshake with " + address + " failed: " + ErrnoText(err);
}

// The client's three handshake steps (docs/formats/wire.md) on a connected socket.
Status ClientHandshake(int fd, const std::string& address, const std::string& secret) {
  AuthClient auth(secret);
  std::array<char, kNonceSize> challenge;
  if (!ReadExact(fd, challenge.data(), challenge.size())) return Unavailable(HandshakeFailure(address, errno));
  auto reply = auth.Respond(std::string_view(challenge.data(), challenge.size()));
  if (!reply.ok()) return reply.status().WithContext("handshake with " + address);
  if (!WriteExact(fd, *reply)) return Unavailable(HandshakeFailure(address, errno));
  std::array<char, kMacSize> proof;
  if (!ReadExact(fd, proof.data(), proof.size())) {
    // The server closes without a word when our proof is wrong.
    if (errno == 0) return InvalidArgument("authentication with " + address + " failed: wrong cluster secret?");
    return Unavailable(HandshakeFailure(address, errno));
  }
  if (!auth.Check(std::string_view(proof.data(), proof.size())).ok()) {
    return InvalidArgument("authentication with " + address + " failed: wrong cluster secret?");
  }
  return Status::Ok();
}

// Resolves "host:port" and connects to the first address that answers.
Result<int> ConnectTcp(const std::string& address, Clock::time_point deadline) {
  ASSIGN_OR_RETURN(auto host_port, SplitHostPort(address));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int gai = ::getaddrinfo(host_port.first.c_str(), host_port.second.c_str(), &hints, &list);
  if (gai != 0) return Unavailable("cannot resolve " + address + ": " + ::gai_strerror(gai));
  Status last = Unavailable("cannot connect to " + address + ": no addresses");
  int fd = -1;
  for (addrinfo* ai = list; ai != nullptr && fd < 0; ai = ai->ai_next) {
    auto r = ConnectOne(*ai, address, deadline);
    if (r.ok()) {
      fd = *r;
    } else {
      last = r.status();
    }
  }
  ::freeaddrinfo(list);
  if (fd < 0) return last;
  return fd;
}

}  // namespace

TcpTransport::TcpTransport(std::string secret, int64_t connect_timeout_ms, int64_t io_timeout_ms)
    : secret_(std::move(secret)), connect_timeout_ms_(connect_timeout_ms), io_timeout_ms_(io_timeout_ms) {}

Result<std::unique_ptr<Connection>> TcpTransport::Connect(const std::string& address) {
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(connect_timeout_ms_);
  int fd = -1;
  if (address.compare(0, kUnixPrefix.size(), kUnixPrefix) == 0) {
    ASSIGN_OR_RETURN(fd, ConnectUnix(address, deadline));
  } else {
    ASSIGN_OR_RETURN(fd, ConnectTcp(address, deadline));
  }
  // The handshake shares the connect deadline; afterwards the conversation's own timeout holds.
  SetIoTimeouts(fd, std::max<int64_t>(1, MsLeft(deadline)));
  Status st = ClientHandshake(fd, address, secret_);
  if (!st.ok()) {
    ::close(fd);
    return st;
  }
  SetIoTimeouts(fd, io_timeout_ms_);
  return std::unique_ptr<Connection>(new TcpConnection(fd, address, io_timeout_ms_));
}


// ---- server side ----

struct TcpServer::Impl {
  // A connection being authenticated; owned by its handshake coroutine and `pending`.
  struct Pending {
    Pending(any_stream::socket s, asio::io_context& io) : sock(std::move(s)), timer(io) {}
    any_stream::socket sock;
    asio::steady_timer timer;  // closes `sock` when the handshake takes too long
    bool done = false;
  };
  struct Conversation {
    std::thread thread;
    std::shared_ptr<TcpConnection> conn;
  };

  Impl(TcpServerOptions o, std::string s, Handler h)
      : options(std::move(o)), secret(std::move(s)), handler(std::move(h)) {}

  // Runs on `acc` (the TCP or the Unix acceptor) until it is closed.
  template <typename Acceptor>
  asio::awaitable<void> AcceptLoop(Acceptor& acc, std::string where);
  Status ListenUnix();
  // `where` is the listening address the peer came in on, for messages.
  asio::awaitable<void> Handshake(std::shared_ptr<Pending> p, std::string peer, std::string where, bool tcp);
  void StartConversation(int fd, std::string peer, bool tcp);
  void Reap();

  const TcpServerOptions options;
  const std::string secret;
  const Handler handler;
  std::string address;
  uint16_t port = 0;

  // Declared before the sockets that use it, so it is destroyed after them.
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  local_stream::acceptor unix_acceptor{io};
  ino_t unix_inode = 0;  // of the socket file we created, so Stop removes only ours
  std::thread io_thread;
  std::set<std::shared_ptr<Pending>> pending;  // io thread only

  std::mutex mu;
  bool stopped = false;
  uint64_t next_id = 0;
  std::map<uint64_t, Conversation> conversations;
  std::vector<uint64_t> finished;  // conversations whose thread is about to exit, to join
  std::atomic<size_t> live{0};     // conversations whose handler has not returned
};

template <typename Acceptor>
asio::awaitable<void> TcpServer::Impl::AcceptLoop(Acceptor& acc, std::string where) {
  constexpr bool kTcp = std::is_same_v<Acceptor, tcp::acceptor>;
  while (true) {
    boost::system::error_code ec;
    auto sock = co_await acc.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!acc.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Typically EMFILE: back off instead of spinning on a listen queue we cannot drain.
      LOG(WARNING) << "accept on " << where << " failed: " << ec.message();
      asio::steady_timer backoff(io, std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    SetCloexec(sock.native_handle());
    Reap();
    std::string peer;
    if constexpr (kTcp) {
      tcp::endpoint remote = sock.remote_endpoint(ec);
      peer = ec ? std::string("unknown peer") : EndpointString(remote);
    } else {
      peer = "a local peer on " + where;  // Unix clients have no address of their own
    }
    if (pending.size() + live.load() >= options.max_connections) {
      LOG(WARNING) << where << " refused a connection from " << peer << ": " << options.max_connections
                   << " connections open";
      sock.close(ec);
      continue;
    }
    auto p = std::make_shared<Pending>(any_stream::socket(std::move(sock)), io);
    pending.insert(p);
    asio::co_spawn(io, Handshake(std::move(p), std::move(peer), where, kTcp), asio::detached);
  }
}

asio::awaitable<void> TcpServer::Impl::Handshake(std::shared_ptr<Pending> p, std::string peer, std::string where,
                                                 bool tcp) {
  p->timer.expires_after(std::chrono::milliseconds(options.handshake_timeout_ms));
  p->timer.async_wait([w = std::weak_ptr<Pending>(p)](const boost::system::error_code& ec) {
    auto p = w.lock();
    if (ec || !p || p->done) return;
    boost::system::error_code ignored;
    p->sock.close(ignored);  // fails the pending read or write below
  });

  boost::system::error_code ec;
  AuthServer auth(secret);
  co_await asio::async_write(p->sock, asio::buffer(auth.Challenge()), asio::redirect_error(asio::use_awaitable, ec));
  std::array<char, kNonceSize + kMacSize> reply;
  if (!ec) co_await asio::async_read(p->sock, asio::buffer(reply), asio::redirect_error(asio::use_awaitable, ec));
  Status failure;
  std::string proof;
  if (ec) {
    failure = Unavailable(p->done || !p->sock.is_open() ? "no handshake within " +
                                                              std::to_string(options.handshake_timeout_ms) + " ms"
                                                        : ec.message());
  } else if (auto r = auth.Verify(std::string_view(reply.data(), reply.size())); !r.ok()) {
    failure = r.status();
  } else {
    proof = std::move(*r);
    co_await asio::async_write(p->sock, asio::buffer(proof), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) failure = Unavailable(ec.message());
  }
  bool stopping = p->done;  // Stop() marks every pending handshake done
  p->done = true;
  p->timer.cancel();
  pending.erase(p);
  if (stopping || !failure.ok()) {
    if (!stopping) {
      LOG(WARNING) << "connection from " << peer << (tcp ? " to " + where : std::string()) << " closed: "
                   << failure.message();
    }
    p->sock.close(ec);
    co_return;
  }
  int fd = p->sock.release(ec);
  if (ec) {
    LOG(WARNING) << "cannot take over the connection from " << peer << ": " << ec.message();
    p->sock.close(ec);
    co_return;
  }
  StartConversation(fd, std::move(peer), tcp);
}

void TcpServer::Impl::StartConversation(int fd, std::string peer, bool tcp) {
  SetBlocking(fd);  // Asio made it non-blocking for the handshake
  if (tcp) SetNoDelay(fd);
  SetIoTimeouts(fd, options.io_timeout_ms);
  auto conn = std::make_shared<TcpConnection>(fd, std::move(peer), options.io_timeout_ms);
  std::lock_guard<std::mutex> l(mu);
  uint64_t id = next_id++;
  Conversation& c = conversations[id];
  c.conn = conn;
  ++live;
  try {
    c.thread = std::thread([this, id, conn]() mutable {
      handler(*conn);
      conn->Close();
      {
        std::lock_guard<std::mutex> l(mu);
        conversations[id].conn.reset();
        finished.push_back(id);
        --live;
      }
      // The socket closes now, not at the next accept: a peer still sending to a conversation
      // that ended gets a reset instead of blocking on a full window that no one reads.
      conn.reset();
    });
  } catch (const std::system_error& e) {  // out of threads: refuse this one, keep serving
    LOG(ERROR) << "cannot start a thread for the connection from " << conn->peer() << ": " << e.what();
    --live;
    conversations.erase(id);
  }
}

void TcpServer::Impl::Reap() {
  std::vector<std::thread> done;
  {
    std::lock_guard<std::mutex> l(mu);
    for (uint64_t id : finished) {
      auto it = conversations.find(id);
      done.push_back(std::move(it->second.thread));
      conversations.erase(it);
    }
    finished.clear();
  }
  for (auto& t : done) t.join();  // they have only to return
}

Status TcpServer::Impl::ListenUnix() {
  const std::string& path = options.unix_path;
  const std::string what = "cannot listen on " + std::string(kUnixPrefix) + path;
  RETURN_IF_ERROR(UnixAddress(path, what).status());
  // A socket file outlives a process that was killed: replace it. Anything else at the path is
  // not ours to delete.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return InvalidArgument(what + ": the path exists and is not a socket");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return IOError(what + ": cannot remove the old socket: " + ErrnoText(errno));
    }
  }
  boost::system::error_code ec;
  unix_acceptor.open(local_stream(), ec);
  if (!ec) SetCloexec(unix_acceptor.native_handle());
  if (!ec) unix_acceptor.bind(local_stream::endpoint(path), ec);
  if (ec) return IOError(what + ": " + ec.message());
  // Only this user may connect. The handshake is what keeps strangers out; this narrows who
  // can even try. (Between bind and chmod the umask's mode holds, so nobody is served yet:
  // the acceptor is not listening.)
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0) {
    int err = errno;
    unix_acceptor.close(ec);
    ::unlink(path.c_str());
    return IOError(what + ": " + ErrnoText(err));
  }
  unix_inode = st.st_ino;
  unix_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    unix_acceptor.close(ec);
    ::unlink(path.c_str());
    return IOError(what + ": " + ec.message());
  }
  return Status::Ok();
}

TcpServer::TcpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TcpServer::~TcpServer() { Stop(); }

Result<std::unique_ptr<TcpServer>> TcpServer::Start(TcpServerOptions options, std::string secret, Handler handler) {
  std::string where = options.bind + ":" + std::to_string(options.port);
  auto impl = std::make_unique<Impl>(std::move(options), std::move(secret), std::move(handler));
  const TcpServerOptions& o = impl->options;
  boost::system::error_code ec;
  tcp::endpoint ep;
  asio::ip::address ip = asio::ip::make_address(o.bind, ec);
  if (!ec) {
    ep = tcp::endpoint(ip, o.port);
  } else {
    tcp::resolver resolver(impl->io);
    auto results = resolver.resolve(o.bind, std::to_string(o.port), ec);
    if (ec || results.empty()) return InvalidArgument("cannot listen on " + where + ": cannot resolve " + o.bind);
    ep = results.begin()->endpoint();
  }
  tcp::acceptor& acc = impl->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) SetCloexec(acc.native_handle());
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return IOError("cannot listen on " + where + ": " + ec.message());
  tcp::endpoint bound = acc.local_endpoint(ec);
  if (ec) return IOError("cannot listen on " + where + ": " + ec.message());
  impl->port = bound.port();
  impl->address = EndpointString(bound);
  if (!o.unix_path.empty()) RETURN_IF_ERROR(impl->ListenUnix());

  Impl* raw = impl.get();
  asio::co_spawn(raw->io, raw->AcceptLoop(raw->acceptor, raw->address), asio::detached);
  if (raw->unix_acceptor.is_open()) {
    asio::co_spawn(raw->io, raw->AcceptLoop(raw->unix_acceptor, std::string(kUnixPrefix) + o.unix_path),
                   asio::detached);
  }
  raw->io_thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<TcpServer>(new TcpServer(std::move(impl)));
}

uint16_t TcpServer::port() const { return impl_->port; }

std::string TcpServer::address() const { return impl_->address; }

std::string TcpServer::local_address() const {
  return impl_->options.unix_path.empty() ? std::string() : std::string(kUnixPrefix) + impl_->options.unix_path;
}

void TcpServer::Stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> l(s.mu);
    if (s.stopped) return;
    s.stopped = true;
  }
  // Closing the acceptor and the sockets being authenticated ends every coroutine, so run()
  // returns once they have unwound.
  asio::post(s.io, [&s] {
    boost::system::error_code ec;
    s.acceptor.close(ec);
    s.unix_acceptor.close(ec);
    for (const auto& p : s.pending) {
      p->done = true;
      p->timer.cancel();
      p->sock.close(ec);
    }
  });
  if (s.io_thread.joinable()) s.io_thread.join();
  if (s.unix_inode != 0) {
    // Unless another server has taken the path over since.
    struct stat st;
    if (::lstat(s.options.unix_path.c_str(), &st) == 0 && st.st_ino == s.unix_inode) {
      ::unlink(s.options.unix_path.c_str());
    }
  }
  // No new conversations can start now. Shut their sockets so handlers see Receive fail.
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(s.mu);
    for (auto& [id, c] : s.conversations) {
      if (c.conn) c.conn->Close();
      threads.push_back(std::move(c.thread));
    }
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  std::lock_guard<std::mutex> l(s.mu);
  s.conversations.clear();
  s.finished.clear();
}

}  // namespace sawmill
