// InProcessNetwork: two queues of Messages per connection, one per direction.
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>

#include "common/rpc.h"

namespace sawmill {

struct InProcessNetwork::Pipe {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> to_server, to_client;
  bool closed = false;
};

namespace {

class PipeEnd : public Connection {
 public:
  PipeEnd(std::shared_ptr<InProcessNetwork::Pipe> pipe, bool server, std::string peer)
      : pipe_(std::move(pipe)), server_(server), peer_(std::move(peer)) {}
  ~PipeEnd() override { Close(); }

  Status Send(std::string_view header, std::string_view body) override {
    std::lock_guard<std::mutex> l(pipe_->mu);
    if (pipe_->closed) return Status(StatusCode::kUnavailable, "connection to " + peer_ + " closed");
    (server_ ? pipe_->to_client : pipe_->to_server).push_back(Message{std::string(header), std::string(body)});
    pipe_->cv.notify_all();
    return Status::Ok();
  }

  // Reads the range into the message: there is no socket to splice into.
  Status SendFile(std::string_view header, int fd, uint64_t offset, uint64_t length) override {
    std::string body(length, '\0');
    size_t got = 0;
    while (got < length) {
      ssize_t n = ::pread(fd, body.data() + got, length - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Close();
        return IOError("sending a file body to " + peer_ + ": " +
                       (n < 0 ? std::string(std::strerror(errno)) : "file ended at offset " + std::to_string(offset + got)));
      }
      got += static_cast<size_t>(n);
    }
    return Send(header, body);
  }

  Result<Message> Receive() override {
    std::unique_lock<std::mutex> l(pipe_->mu);
    auto& q = server_ ? pipe_->to_server : pipe_->to_client;
    pipe_->cv.wait(l, [&] { return !q.empty() || pipe_->closed; });
    // Like TCP, messages sent before a close are still delivered... unless we closed ourselves.
    if (q.empty()) return Status(StatusCode::kUnavailable, "connection to " + peer_ + " closed");
    Message m = std::move(q.front());
    q.pop_front();
    return m;
  }

  void Close() override {
    std::lock_guard<std::mutex> l(pipe_->mu);
    pipe_->closed = true;
    pipe_->cv.notify_all();
  }

  bool PeerClosed() override {
    std::lock_guard<std::mutex> l(pipe_->mu);
    return pipe_->closed || !(server_ ? pipe_->to_server : pipe_->to_client).empty();
  }

  const std::string& peer() const override { return peer_; }

 private:
  std::shared_ptr<InProcessNetwork::Pipe> pipe_;
  bool server_;
  std::string peer_;
};

}  // namespace

InProcessNetwork::~InProcessNetwork() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [name, service] : services_) {
      for (auto& w : service.pipes) {
        if (auto p = w.lock()) {
          std::lock_guard<std::mutex> pl(p->mu);
          p->closed = true;
          p->cv.notify_all();
        }
      }
    }
    // A handler that connects onwards (a datanode forwarding to the next one) now fails instead
    // of adding a thread to the vector being joined.
    services_.clear();
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void InProcessNetwork::Listen(const std::string& address, Handler handler) {
  std::lock_guard<std::mutex> l(mu_);
  services_[address] = Service{std::move(handler), {}};
}

void InProcessNetwork::Stop(const std::string& address) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = services_.find(address);
  if (it == services_.end()) return;
  for (auto& w : it->second.pipes) {
    if (auto p = w.lock()) {
      std::lock_guard<std::mutex> pl(p->mu);
      p->closed = true;
      p->cv.notify_all();
    }
  }
  services_.erase(it);
}

Result<std::unique_ptr<Connection>> InProcessNetwork::Connect(const std::string& address) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = services_.find(address);
  if (it == services_.end()) return Status(StatusCode::kUnavailable, "cannot connect to " + address + ": nothing listens there");
  auto pipe = std::make_shared<Pipe>();
  it->second.pipes.push_back(pipe);
  Handler handler = it->second.handler;
  threads_.emplace_back([pipe, handler] {
    PipeEnd end(pipe, /*server=*/true, "in-process client");
    handler(end);
  });
  return std::unique_ptr<Connection>(new PipeEnd(pipe, /*server=*/false, address));
}

}  // namespace sawmill
