// The transports behind the Connection seam: TCP (handshake, framing, limits, shutdown) and the
// in-process network, driven through the same echo service.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "common/auth.h"
#include "common/frame.h"
#include "common/rpc.h"
#include "common/rpc_tcp.h"
#include "tests/common/temp_dir.h"
#include "tests/common/wait_for.h"

namespace sawmill {
namespace {

using Clock = std::chrono::steady_clock;

const std::string kSecret = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

using sawmill::testing::WaitFor;

void Echo(Connection& c) {
  while (true) {
    auto m = c.Receive();
    if (!m.ok()) return;
    if (!c.Send(m->header, m->body).ok()) return;
  }
}

std::string Pattern(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  std::mt19937_64 rng(seed);
  for (char& ch : s) ch = static_cast<char>(rng());
  return s;
}

// Many request/response rounds with bodies from empty to 4 MiB.
void EchoRounds(Transport& t, const std::string& address) {
  auto conn = t.Connect(address);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Connection& c = **conn;
  std::vector<size_t> sizes = {0, 1, 4 << 20, 17, 0, 65536, 1 << 20};
  for (int i = 0; i < 200; ++i) sizes.push_back(static_cast<size_t>(i * 37 % 3000));
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string header = "request-" + std::to_string(i);
    std::string body = Pattern(sizes[i], i);
    ASSERT_TRUE(c.Send(header, body).ok());
    auto m = c.Receive();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->header, header);
    ASSERT_EQ(m->body.size(), body.size());
    EXPECT_TRUE(m->body == body) << "body " << i << " differs";
  }
}

void ConcurrentClients(Transport& t, const std::string& address) {
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int k = 0; k < 8; ++k) {
    clients.emplace_back([&, k] {
      auto conn = t.Connect(address);
      if (!conn.ok()) return;
      std::mt19937_64 rng(k);
      for (int i = 0; i < 100; ++i) {
        std::string header = "client-" + std::to_string(k) + "-" + std::to_string(i);
        std::string body = Pattern(rng() % 70000, rng());
        if (!(*conn)->Send(header, body).ok()) return;
        auto m = (*conn)->Receive();
        if (!m.ok() || m->header != header || m->body != body) return;
      }
      ++good;
    });
  }
  for (auto& th : clients) th.join();
  EXPECT_EQ(good.load(), 8);
}

// A raw socket to the server, with a receive timeout so a broken test fails instead of hanging.
int RawConnect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool ReadN(int fd, std::string* out, size_t n) {
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, out->data() + got, n - got, 0);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

void WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close first; the test checks what happens next
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// True when the server closed the connection (EOF or reset) before the receive timeout; data
// arriving before that is discarded.
bool ClosedByServer(int fd) {
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

// The client side of the handshake on a raw socket, for feeding the server crafted frames.
void RawHandshake(int fd, const std::string& secret) {
  std::string challenge, proof;
  ASSERT_TRUE(ReadN(fd, &challenge, kNonceSize));
  AuthClient auth(secret);
  auto reply = auth.Respond(challenge);
  ASSERT_TRUE(reply.ok());
  WriteAll(fd, *reply);
  ASSERT_TRUE(ReadN(fd, &proof, kMacSize));
  ASSERT_TRUE(auth.Check(proof).ok());
}

// Remembers how each conversation's Receive ended.
struct Recorder {
  std::mutex mu;
  std::vector<Status> ends;
  std::atomic<int> started{0};
  Handler handler() {
    return [this](Connection& c) {
      ++started;
      while (true) {
        auto m = c.Receive();
        if (!m.ok()) {
          std::lock_guard<std::mutex> l(mu);
          ends.push_back(m.status());
          return;
        }
        if (!c.Send(m->header, m->body).ok()) return;
      }
    };
  }
  Status WaitEnd() {
    bool ok = WaitFor([&] {
      std::lock_guard<std::mutex> l(mu);
      return !ends.empty();
    });
    std::lock_guard<std::mutex> l(mu);
    return ok ? ends.front() : Internal("no conversation ended");
  }
};

// SendFile bodies of file ranges, echoed back and received into one reused Message whose body
// grows and shrinks; then a range past the file's end, which fails and closes the connection.
void SendFileRounds(Transport& t, const std::string& address) {
  testing::TempDir dir;
  const std::string data = Pattern(3 << 20, 7);
  const std::string path = dir.Write("src", data);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto conn = t.Connect(address);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Connection& c = **conn;
  struct Range {
    uint64_t offset, length;
  };
  Message m;
  for (Range r : std::vector<Range>{{100, 2 << 20}, {0, 17}, {5, 0}, {(3 << 20) - 1000, 1000}, {0, 3 << 20}}) {
    ASSERT_TRUE(c.SendFile("h" + std::to_string(r.offset), fd, r.offset, r.length).ok());
    ASSERT_TRUE(c.ReceiveInto(&m).ok());
    EXPECT_EQ(m.header, "h" + std::to_string(r.offset));
    EXPECT_TRUE(m.body == data.substr(r.offset, r.length)) << r.offset << "+" << r.length;
  }
  Status past = c.SendFile("x", fd, (3 << 20) - 10, 100);
  EXPECT_EQ(past.code(), StatusCode::kIOError) << past.ToString();
  EXPECT_NE(past.message().find("ended at offset"), std::string::npos) << past.ToString();
  EXPECT_FALSE(c.Receive().ok());  // closed: the frame could not be completed
  ::close(fd);
}

std::unique_ptr<TcpServer> StartServer(Handler h, TcpServerOptions options = {}) {
  auto s = TcpServer::Start(std::move(options), kSecret, std::move(h));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(TcpRpc, EchoManyRoundsAndBodySizes) {
  auto server = StartServer(Echo);
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));
  TcpTransport t(kSecret);
  EchoRounds(t, server->address());
  EchoRounds(t, "localhost:" + std::to_string(server->port()));
}

TEST(TcpRpc, SendFileBodiesAndReceiveIntoAReusedMessage) {
  auto server = StartServer(Echo);
  TcpTransport t(kSecret);
  SendFileRounds(t, server->address());
}

// sendfile(2) cannot be told MSG_NOSIGNAL: a peer that went away must be an error, not SIGPIPE.
TEST(TcpRpc, SendFileToAClosedPeerFailsWithoutKillingTheProcess) {
  auto server = StartServer([](Connection& c) { (void)c.Receive(); });
  TcpTransport t(kSecret);
  testing::TempDir dir;
  const std::string path = dir.Write("src", std::string(4 << 20, 'z'));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto conn = t.Connect(server->address());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Status s;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (s.ok() && Clock::now() < deadline) s = (*conn)->SendFile("h", fd, 0, 4 << 20);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  ::close(fd);
}

TEST(TcpRpc, ConcurrentClients) {
  auto server = StartServer(Echo);
  TcpTransport t(kSecret);
  ConcurrentClients(t, server->address());
}

TEST(TcpRpc, WrongSecretIsRefusedAndTheHandlerNeverRuns) {
  Recorder rec;
  auto server = StartServer(rec.handler());
  TcpTransport wrong(std::string(32, 'x'));
  auto bad = wrong.Connect(server->address());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("authentication with " + server->address() + " failed: wrong cluster secret?"),
            std::string::npos)
      << bad.status().message();
  // A good client is served, and its conversation is the only one that ever started.
  TcpTransport good(kSecret);
  auto c = good.Connect(server->address());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Send("ping").ok());
  ASSERT_TRUE((*c)->Receive().ok());
  EXPECT_EQ(rec.started.load(), 1);
}

TEST(TcpRpc, ServerWithAnotherSecretIsRefusedByTheClient) {
  auto server = TcpServer::Start({}, std::string(32, 'y'), Echo);
  ASSERT_TRUE(server.ok());
  TcpTransport t(kSecret);
  auto c = t.Connect((*server)->address());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("wrong cluster secret?"), std::string::npos) << c.status().message();
}

TEST(TcpRpc, GarbageBeforeTheHandshakeIsClosedAndTheServerGoesOn) {
  Recorder rec;
  auto server = StartServer(rec.handler());
  int fd = RawConnect(server->port());
  WriteAll(fd, "GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: curious\r\nAccept: */*\r\n\r\n");
  EXPECT_TRUE(ClosedByServer(fd));
  ::close(fd);
  TcpTransport t(kSecret);
  EchoRounds(t, server->address());
  EXPECT_EQ(rec.started.load(), 1);
}

TEST(TcpRpc, SilentPeerIsClosedAfterTheHandshakeTimeout) {
  TcpServerOptions o;
  o.handshake_timeout_ms = 200;
  auto server = StartServer(Echo, o);
  auto start = Clock::now();
  int fd = RawConnect(server->port());
  EXPECT_TRUE(ClosedByServer(fd));
  ::close(fd);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(150));
  TcpTransport t(kSecret);
  EchoRounds(t, server->address());
}

TEST(TcpRpc, GarbageFrameAfterTheHandshakeEndsTheConversation) {
  Recorder rec;
  auto server = StartServer(rec.handler());
  int fd = RawConnect(server->port());
  RawHandshake(fd, kSecret);
  WriteAll(fd, "this is not a Sawmill frame at all");
  EXPECT_TRUE(ClosedByServer(fd));
  ::close(fd);
  Status end = rec.WaitEnd();
  EXPECT_EQ(end.code(), StatusCode::kInvalidArgument) << end.ToString();
  EXPECT_NE(end.message().find("bad magic"), std::string::npos) << end.ToString();
}

TEST(TcpRpc, OversizedBodyIsRefused) {
  Recorder rec;
  auto server = StartServer(rec.handler());
  int fd = RawConnect(server->port());
  RawHandshake(fd, kSecret);
  std::string frame;
  EncodeFrame("header", uint64_t{1} << 40, &frame);  // a terabyte: must not be allocated
  WriteAll(fd, frame);
  EXPECT_TRUE(ClosedByServer(fd));
  ::close(fd);
  Status end = rec.WaitEnd();
  EXPECT_NE(end.message().find("over the limit"), std::string::npos) << end.ToString();

  // The sender refuses it too, before writing anything.
  TcpTransport t(kSecret);
  auto c = t.Connect(server->address());
  ASSERT_TRUE(c.ok());
  std::string huge(kMaxMessageBody + 1, 'b');
  EXPECT_EQ((*c)->Send("h", huge).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*c)->Send("still usable", "x").ok());
  auto m = (*c)->Receive();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->header, "still usable");
}

TEST(TcpRpc, StopWithOpenConnectionsReturnsPromptly) {
  Recorder rec;
  auto server = StartServer(rec.handler());
  TcpTransport t(kSecret);
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < 4; ++i) {
    auto c = t.Connect(server->address());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Send("hello").ok());
    ASSERT_TRUE((*c)->Receive().ok());  // its handler is now blocked in Receive
    conns.push_back(std::move(*c));
  }
  int idle = RawConnect(server->port());  // one more, stuck in the handshake
  auto start = Clock::now();
  server->Stop();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  server->Stop();  // idempotent
  for (auto& c : conns) {
    auto m = c->Receive();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kUnavailable) << m.status().ToString();
  }
  EXPECT_TRUE(ClosedByServer(idle));
  ::close(idle);
  std::lock_guard<std::mutex> l(rec.mu);
  EXPECT_EQ(rec.ends.size(), 4u);
  EXPECT_FALSE(t.Connect(server->address()).ok());
}

TEST(TcpRpc, FullDuplexOneThreadSendsWhileAnotherReceives) {
  auto server = StartServer(Echo);
  TcpTransport t(kSecret);
  auto conn = t.Connect(server->address());
  ASSERT_TRUE(conn.ok());
  Connection& c = **conn;
  // Far more than the socket buffers hold: a client sending everything before reading would
  // deadlock against the echo.
  constexpr int kMessages = 48;
  std::string body = Pattern(1 << 20, 9);
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(c.Send(std::to_string(i), body).ok());
  });
  for (int i = 0; i < kMessages; ++i) {
    auto m = c.Receive();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->header, std::to_string(i));
    EXPECT_TRUE(m->body == body);
  }
  sender.join();
}

TEST(TcpRpc, CloseUnblocksAReceiveOnAnotherThread) {
  auto server = StartServer([](Connection& c) {
    while (c.Receive().ok()) {  // never answers
    }
  });
  TcpTransport t(kSecret);
  auto conn = t.Connect(server->address());
  ASSERT_TRUE(conn.ok());
  std::atomic<bool> returned{false};
  std::thread reader([&] {
    EXPECT_FALSE((*conn)->Receive().ok());
    returned = true;
  });
  (*conn)->Close();
  EXPECT_TRUE(WaitFor([&] { return returned.load(); }));
  reader.join();
  EXPECT_FALSE((*conn)->Send("after close").ok());
}

TEST(TcpRpc, IoTimeoutFailsASilentConversation) {
  auto server = StartServer([](Connection& c) {
    while (c.Receive().ok()) {
    }
  });
  TcpTransport t(kSecret, 10000, /*io_timeout_ms=*/200);
  auto conn = t.Connect(server->address());
  ASSERT_TRUE(conn.ok());
  auto m = (*conn)->Receive();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("timed out"), std::string::npos) << m.status().ToString();
}

TEST(TcpRpc, ConnectErrorsNameTheAddress) {
  uint16_t port;
  {
    auto server = StartServer(Echo);
    port = server->port();
  }
  TcpTransport t(kSecret, 2000);
  std::string address = "127.0.0.1:" + std::to_string(port);
  auto c = t.Connect(address);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find(address), std::string::npos) << c.status().message();
  EXPECT_FALSE(t.Connect("no-port-here").ok());

  auto server = StartServer(Echo);
  TcpServerOptions same_port;
  same_port.port = server->port();
  auto again = TcpServer::Start(same_port, kSecret, Echo);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find(server->address()), std::string::npos) << again.status().message();
}

TEST(TcpRpc, MaxConnectionsRefusesTheExtraOnes) {
  TcpServerOptions o;
  o.max_connections = 1;
  auto server = StartServer(Echo, o);
  TcpTransport t(kSecret, 2000);
  auto first = t.Connect(server->address());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Send("a").ok());
  ASSERT_TRUE((*first)->Receive().ok());
  EXPECT_FALSE(t.Connect(server->address()).ok());
  first->reset();
  // Once the first conversation has ended there is room again.
  EXPECT_TRUE(WaitFor([&] { return t.Connect(server->address()).ok(); }));
}

// Loopback throughput of one connection with 1 MiB bodies (printed, not asserted).
TEST(TcpRpc, LoopbackThroughput) {
  auto server = StartServer([](Connection& c) {
    uint64_t bytes = 0;
    while (true) {
      auto m = c.Receive();
      if (!m.ok()) return;
      bytes += m->body.size();
      if (m->header == "done") {
        (void)c.Send(std::to_string(bytes));
        return;
      }
    }
  });
  TcpTransport t(kSecret);
  auto conn = t.Connect(server->address());
  ASSERT_TRUE(conn.ok());
  std::string body = Pattern(1 << 20, 3);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr int kMessages = 32;  // instrumented copies are slow; the figure means nothing there
#else
  constexpr int kMessages = 512;
#endif
  auto start = Clock::now();
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE((*conn)->Send("packet", body).ok());
  ASSERT_TRUE((*conn)->Send("done").ok());
  auto m = (*conn)->Receive();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->header, std::to_string(uint64_t{kMessages} << 20));
  std::printf("loopback: %d x 1 MiB in %.3f s = %.0f MB/s\n", kMessages, secs, kMessages * 1.048576 / secs);
}

// ---- the same server over a Unix stream socket ----

// A raw connection to a Unix socket, with a receive timeout like RawConnect's.
int RawConnectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << path;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::unique_ptr<TcpServer> StartUnixServer(Handler h, const std::string& path) {
  TcpServerOptions o;
  o.unix_path = path;
  return StartServer(std::move(h), o);
}

TEST(TcpRpcUnix, EchoAndSendFileOverTheUnixSocket) {
  testing::TempDir dir;
  auto server = StartUnixServer(Echo, dir.Sub("s.sock"));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->local_address(), "unix:" + dir.Sub("s.sock"));
  struct stat st;
  ASSERT_EQ(::lstat(dir.Sub("s.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  TcpTransport t(kSecret);
  EchoRounds(t, server->local_address());
  SendFileRounds(t, server->local_address());
  ConcurrentClients(t, server->local_address());
  EchoRounds(t, server->address());  // TCP still served beside it
}

TEST(TcpRpcUnix, WrongSecretIsRefusedAndGarbageIsClosed) {
  testing::TempDir dir;
  Recorder rec;
  auto server = StartUnixServer(rec.handler(), dir.Sub("s.sock"));
  ASSERT_NE(server, nullptr);
  TcpTransport wrong(std::string(32, 'x'));
  auto bad = wrong.Connect(server->local_address());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("authentication with " + server->local_address()), std::string::npos)
      << bad.status().message();

  int fd = RawConnectUnix(dir.Sub("s.sock"));
  WriteAll(fd, "GET / HTTP/1.1\r\nHost: example\r\n\r\n" + std::string(200, 'g'));
  EXPECT_TRUE(ClosedByServer(fd));
  ::close(fd);

  // After the handshake, a frame that is not one ends the conversation.
  fd = RawConnectUnix(dir.Sub("s.sock"));
  RawHandshake(fd, kSecret);
  WriteAll(fd, "this is not a Sawmill frame at all");
  EXPECT_TRUE(ClosedByServer(fd));
  ::close(fd);
  Status end = rec.WaitEnd();
  EXPECT_EQ(end.code(), StatusCode::kInvalidArgument) << end.ToString();

  TcpTransport good(kSecret);
  EchoRounds(good, server->local_address());
  EXPECT_EQ(rec.started.load(), 2);  // the raw handshake's conversation and the good client's
}

TEST(TcpRpcUnix, StopRemovesTheSocketAndAStaleOneIsReplaced) {
  testing::TempDir dir;
  const std::string path = dir.Sub("s.sock");
  {
    // A socket file left behind, as by a killed process.
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
  auto server = StartUnixServer(Echo, path);
  ASSERT_NE(server, nullptr);
  TcpTransport t(kSecret, 2000);
  auto c = t.Connect(server->local_address());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  server->Stop();
  EXPECT_FALSE((*c)->Receive().ok());
  struct stat st;
  EXPECT_NE(::lstat(path.c_str(), &st), 0) << path << " still exists";
  auto gone = t.Connect("unix:" + path);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(gone.status().message().find("unix:" + path), std::string::npos) << gone.status().message();
}

TEST(TcpRpcUnix, BadPathsAreRefusedWithTheirName) {
  testing::TempDir dir;
  // Not a socket: left alone.
  const std::string file = dir.Write("plain", "data");
  TcpServerOptions o;
  o.unix_path = file;
  auto s = TcpServer::Start(o, kSecret, Echo);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(file), std::string::npos) << s.status().message();
  EXPECT_EQ(testing::ReadAll(file), "data");
  // Longer than a socket address holds.
  o.unix_path = "/" + std::string(200, 'p');
  s = TcpServer::Start(o, kSecret, Echo);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("longer than"), std::string::npos) << s.status().message();
  TcpTransport t(kSecret);
  EXPECT_FALSE(t.Connect("unix:" + o.unix_path).ok());
  EXPECT_FALSE(t.Connect("unix:").ok());
}

TEST(InProcessRpc, EchoManyRoundsAndBodySizes) {
  InProcessNetwork net;
  net.Listen("echo:1", Echo);
  EchoRounds(net, "echo:1");
}

TEST(InProcessRpc, SendFileBodiesAndReceiveIntoAReusedMessage) {
  InProcessNetwork net;
  net.Listen("echo:1", Echo);
  SendFileRounds(net, "echo:1");
}

TEST(InProcessRpc, ConcurrentClients) {
  InProcessNetwork net;
  net.Listen("echo:1", Echo);
  ConcurrentClients(net, "echo:1");
}

TEST(InProcessRpc, StopClosesOpenConversationsAndRefusesNewOnes) {
  InProcessNetwork net;
  Recorder rec;
  net.Listen("svc:1", rec.handler());
  auto c = net.Connect("svc:1");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Send("hi").ok());
  ASSERT_TRUE((*c)->Receive().ok());
  net.Stop("svc:1");
  EXPECT_EQ((*c)->Receive().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(rec.WaitEnd().code(), StatusCode::kUnavailable);
  EXPECT_EQ(net.Connect("svc:1").status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sawmill
