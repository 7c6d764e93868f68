// InProcessNetwork: two queues of Messages per connection, one per direction; an async
// service's requests go to its event thread's queue instead, and its answers to the client's.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>

#include "common/rpc.h"

namespace sawmill {

struct InProcessNetwork::Pipe {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> to_server, to_client;
  bool closed = false;
  uint64_t conversation = 0;  // of an async service
};

// One thread running an AsyncService's events (requests and closes) in order. Under load it is
// never idle, so a request costs no wake-up; an idle one is woken by the next request.
struct InProcessNetwork::EventLoop {
  explicit EventLoop(AsyncService* s) : service(s) {
    thread = std::thread([this] {
      pthread_setname_np(pthread_self(), "inproc-events");
      Run();
    });
  }
  void Post(std::function<void()> fn) {
    std::lock_guard<std::mutex> l(mu);
    if (stop) return;
    events.push_back(std::move(fn));
    cv.notify_one();
  }
  // Runs what was posted before it, then ends the thread.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> l(mu);
      stop = true;
    }
    cv.notify_one();
    if (thread.joinable()) thread.join();
  }
  void Run() {
    std::unique_lock<std::mutex> l(mu);
    while (true) {
      cv.wait(l, [&] { return stop || !events.empty(); });
      if (events.empty()) return;
      std::deque<std::function<void()>> batch;
      batch.swap(events);
      l.unlock();
      for (auto& fn : batch) fn();
      l.lock();
    }
  }

  AsyncService* const service;
  std::atomic<uint64_t> next_conversation{1};
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> events;
  bool stop = false;
  std::thread thread;
};

namespace {

// Bytes [offset, offset + length) of `fd`, for SendFile: there is no socket to splice into.
Result<std::string> ReadFileRange(int fd, uint64_t offset, uint64_t length, const std::string& peer) {
  std::string body(length, '\0');
  for (size_t got = 0; got < length;) {
    ssize_t n = ::pread(fd, body.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return IOError("sending a file body to " + peer + ": " +
                     (n < 0 ? std::string(std::strerror(errno)) : "file ended at offset " + std::to_string(offset + got)));
    }
    got += static_cast<size_t>(n);
  }
  return body;
}

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

  Status SendFile(std::string_view header, int fd, uint64_t offset, uint64_t length) override {
    auto body = ReadFileRange(fd, offset, length, peer_);
    if (!body.ok()) {
      Close();  // the frame cannot be completed
      return body.status();
    }
    return Send(header, *body);
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

// An async service's request: its answer goes to the client's queue, unless the client closed.
class PipeExchange : public Exchange {
 public:
  PipeExchange(Message request, uint64_t conversation, std::weak_ptr<InProcessNetwork::Pipe> pipe)
      : request_(std::move(request)), conversation_(conversation), pipe_(std::move(pipe)) {}
  const Message& request() const override { return request_; }
  uint64_t conversation() const override { return conversation_; }
  bool may_block() const override { return false; }
  void Answer(std::string header, std::string body) override {
    auto p = pipe_.lock();
    if (!p) return;
    std::lock_guard<std::mutex> l(p->mu);
    if (p->closed) return;
    p->to_client.push_back(Message{std::move(header), std::move(body)});
    p->cv.notify_all();
  }

 private:
  const Message request_;
  const uint64_t conversation_;
  const std::weak_ptr<InProcessNetwork::Pipe> pipe_;
};

// The client's end of a conversation with an async service: requests are posted to the
// service's event thread, answers read from the pipe.
class AsyncClientEnd : public Connection {
 public:
  AsyncClientEnd(std::shared_ptr<InProcessNetwork::EventLoop> loop, std::shared_ptr<InProcessNetwork::Pipe> pipe,
                 std::string peer)
      : loop_(std::move(loop)), pipe_(std::move(pipe)), peer_(std::move(peer)) {}
  ~AsyncClientEnd() override { Close(); }

  Status Send(std::string_view header, std::string_view body) override {
    {
      std::lock_guard<std::mutex> l(pipe_->mu);
      if (pipe_->closed) return Status(StatusCode::kUnavailable, "connection to " + peer_ + " closed");
    }
    auto exchange =
        std::make_shared<PipeExchange>(Message{std::string(header), std::string(body)}, pipe_->conversation, pipe_);
    AsyncService* service = loop_->service;
    loop_->Post([service, exchange] { service->OnRequest(exchange); });
    return Status::Ok();
  }
  Status SendFile(std::string_view header, int fd, uint64_t offset, uint64_t length) override {
    auto body = ReadFileRange(fd, offset, length, peer_);
    if (!body.ok()) {
      Close();  // the frame cannot be completed
      return body.status();
    }
    return Send(header, *body);
  }
  Result<Message> Receive() override {
    std::unique_lock<std::mutex> l(pipe_->mu);
    pipe_->cv.wait(l, [&] { return !pipe_->to_client.empty() || pipe_->closed; });
    if (pipe_->to_client.empty()) return Status(StatusCode::kUnavailable, "connection to " + peer_ + " closed");
    Message m = std::move(pipe_->to_client.front());
    pipe_->to_client.pop_front();
    return m;
  }
  void Close() override {
    {
      std::lock_guard<std::mutex> l(pipe_->mu);
      if (pipe_->closed) return;
      pipe_->closed = true;
      pipe_->cv.notify_all();
    }
    AsyncService* service = loop_->service;
    loop_->Post([service, conversation = pipe_->conversation] { service->OnClosed(conversation); });
  }
  bool PeerClosed() override {
    std::lock_guard<std::mutex> l(pipe_->mu);
    return pipe_->closed || !pipe_->to_client.empty();
  }
  const std::string& peer() const override { return peer_; }

 private:
  std::shared_ptr<InProcessNetwork::EventLoop> loop_;
  std::shared_ptr<InProcessNetwork::Pipe> pipe_;
  std::string peer_;
};

// Closes the service's open conversations; an async service hears of each, then its event
// thread ends.
void CloseService(InProcessNetwork::EventLoop* loop, const std::vector<std::weak_ptr<InProcessNetwork::Pipe>>& pipes) {
  for (auto& w : pipes) {
    auto p = w.lock();
    if (!p) continue;
    std::lock_guard<std::mutex> pl(p->mu);
    if (!p->closed && loop) {
      AsyncService* service = loop->service;
      loop->Post([service, conversation = p->conversation] { service->OnClosed(conversation); });
    }
    p->closed = true;
    p->cv.notify_all();
  }
}

}  // namespace

InProcessNetwork::~InProcessNetwork() {
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<EventLoop>> loops;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [name, service] : services_) {
      CloseService(service.loop.get(), service.pipes);
      if (service.loop) loops.push_back(service.loop);
    }
    // A handler that connects onwards (a datanode forwarding to the next one) now fails instead
    // of adding a thread to the vector being joined.
    services_.clear();
    threads.swap(threads_);
  }
  for (auto& loop : loops) loop->Shutdown();
  for (auto& t : threads) t.join();
}

void InProcessNetwork::Listen(const std::string& address, Handler handler) {
  std::lock_guard<std::mutex> l(mu_);
  services_[address] = Service{std::move(handler), nullptr, {}};
}

void InProcessNetwork::ListenAsync(const std::string& address, AsyncService* service) {
  std::lock_guard<std::mutex> l(mu_);
  services_[address] = Service{nullptr, std::make_shared<EventLoop>(service), {}};
}

void InProcessNetwork::Stop(const std::string& address) {
  std::shared_ptr<EventLoop> loop;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = services_.find(address);
    if (it == services_.end()) return;
    CloseService(it->second.loop.get(), it->second.pipes);
    loop = it->second.loop;
    services_.erase(it);
  }
  if (loop) loop->Shutdown();  // not under mu_: a service's event may connect onwards
}

Result<std::unique_ptr<Connection>> InProcessNetwork::Connect(const std::string& address) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = services_.find(address);
  if (it == services_.end()) return Status(StatusCode::kUnavailable, "cannot connect to " + address + ": nothing listens there");
  auto pipe = std::make_shared<Pipe>();
  it->second.pipes.push_back(pipe);
  if (it->second.loop) {
    pipe->conversation = it->second.loop->next_conversation.fetch_add(1);
    return std::unique_ptr<Connection>(new AsyncClientEnd(it->second.loop, pipe, address));
  }
  Handler handler = it->second.handler;
  threads_.emplace_back([pipe, handler] {
    pthread_setname_np(pthread_self(), "inproc-serve");  // in top -H and perf: the service's side
    PipeEnd end(pipe, /*server=*/true, "in-process client");
    handler(end);
  });
  return std::unique_ptr<Connection>(new PipeEnd(pipe, /*server=*/false, address));
}

}  // namespace sawmill
