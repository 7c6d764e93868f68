// ServeConversation: an AsyncService run one conversation per thread, as a Handler (the TCP
// transport's model): the thread waits for each answer, wherever it comes from.
#include <condition_variable>
#include <mutex>

#include "common/rpc.h"

namespace sawmill {
namespace {

class ThreadExchange : public Exchange {
 public:
  ThreadExchange(Message request, uint64_t conversation)
      : request_(std::move(request)), conversation_(conversation) {}
  const Message& request() const override { return request_; }
  uint64_t conversation() const override { return conversation_; }
  bool may_block() const override { return true; }
  void Answer(std::string header, std::string body) override {
    std::lock_guard<std::mutex> l(mu_);
    answer_ = Message{std::move(header), std::move(body)};
    answered_ = true;
    cv_.notify_one();
  }
  Message Wait() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return answered_; });
    return std::move(answer_);
  }

 private:
  const Message request_;
  const uint64_t conversation_;
  std::mutex mu_;
  std::condition_variable cv_;
  Message answer_;
  bool answered_ = false;
};

}  // namespace

void ServeConversation(AsyncService& service, Connection& conn, uint64_t conversation) {
  while (true) {
    auto msg = conn.Receive();
    if (!msg.ok()) break;
    auto exchange = std::make_shared<ThreadExchange>(std::move(msg).value(), conversation);
    service.OnRequest(exchange);
    const Message answer = exchange->Wait();
    if (!conn.Send(answer.header, answer.body).ok()) break;
  }
  service.OnClosed(conversation);
}

}  // namespace sawmill
