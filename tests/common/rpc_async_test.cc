// AsyncService (common/rpc.h): served from the in-process network's event thread, where a held
// request holds no thread, and one conversation per thread through ServeConversation over TCP.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/rpc.h"
#include "common/rpc_tcp.h"
#include "tests/common/wait_for.h"

namespace sawmill {
namespace {

using sawmill::testing::WaitFor;

// Echoes each request; one whose header starts with "later" is held until Release().
class HoldingEcho : public AsyncService {
 public:
  void OnRequest(std::shared_ptr<Exchange> e) override {
    std::lock_guard<std::mutex> l(mu_);
    conversations_.insert(e->conversation());
    may_block_ = e->may_block();
    if (e->request().header.rfind("later", 0) == 0) {
      held_.push_back(std::move(e));
      return;
    }
    e->Answer(e->request().header, e->request().body);
  }
  void OnClosed(uint64_t conversation) override {
    std::lock_guard<std::mutex> l(mu_);
    closed_.insert(conversation);
  }
  // Answers the held requests from this (another) thread.
  void Release() {
    std::vector<std::shared_ptr<Exchange>> held;
    {
      std::lock_guard<std::mutex> l(mu_);
      held.swap(held_);
    }
    for (auto& e : held) e->Answer("answered " + e->request().header, e->request().body);
  }
  size_t held() {
    std::lock_guard<std::mutex> l(mu_);
    return held_.size();
  }
  std::set<uint64_t> conversations() {
    std::lock_guard<std::mutex> l(mu_);
    return conversations_;
  }
  std::set<uint64_t> closed() {
    std::lock_guard<std::mutex> l(mu_);
    return closed_;
  }
  bool may_block() {
    std::lock_guard<std::mutex> l(mu_);
    return may_block_;
  }

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<Exchange>> held_;
  std::set<uint64_t> conversations_, closed_;
  bool may_block_ = false;
};

Result<Message> RoundTrip(Connection& c, const std::string& header, const std::string& body = "") {
  RETURN_IF_ERROR(c.Send(header, body));
  return c.Receive();
}

// Two conversations with the service on the in-process network's event thread.
class InProcessAsync : public ::testing::Test {
 protected:
  void SetUp() override {
    net.ListenAsync("svc", &service);
    auto first = net.Connect("svc");
    auto second = net.Connect("svc");
    ASSERT_TRUE(first.ok() && second.ok());
    a = std::move(first).value();
    b = std::move(second).value();
  }
  HoldingEcho service;  // outlives the network, which calls it until it is destroyed
  InProcessNetwork net;
  std::unique_ptr<Connection> a, b;
};

TEST_F(InProcessAsync, AHeldRequestHoldsNoThreadAndIsAnsweredFromAnother) {
  ASSERT_TRUE(a->Send("later-1", "x").ok());
  ASSERT_TRUE(WaitFor([&] { return service.held() == 1; }, 10000));
  // The one event thread is free: another conversation is answered meanwhile, repeatedly.
  for (int i = 0; i < 100; ++i) {
    auto m = RoundTrip(*b, "now-" + std::to_string(i), std::string(static_cast<size_t>(i), 'b'));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->header, "now-" + std::to_string(i));
    EXPECT_EQ(m->body.size(), static_cast<size_t>(i));
  }
  EXPECT_FALSE(a->PeerClosed());  // nothing for it yet
  service.Release();
  auto m = a->Receive();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->header, "answered later-1");
  EXPECT_EQ(m->body, "x");
  EXPECT_EQ(service.conversations().size(), 2u);
  EXPECT_FALSE(service.may_block());
}

TEST_F(InProcessAsync, CloseAndStopTellTheServiceAndLateAnswersGoNowhere) {
  ASSERT_TRUE(RoundTrip(*a, "hello").ok());
  ASSERT_TRUE(b->Send("later").ok());
  ASSERT_TRUE(WaitFor([&] { return service.held() == 1; }, 10000));
  const std::set<uint64_t> both = service.conversations();
  ASSERT_EQ(both.size(), 2u);
  a->Close();
  ASSERT_TRUE(WaitFor([&] { return service.closed().size() == 1; }, 10000));
  EXPECT_FALSE(a->Send("after close").ok());
  net.Stop("svc");  // the open conversation ends too, and the service hears of it
  EXPECT_EQ(service.closed(), both);
  auto m = b->Receive();
  EXPECT_EQ(m.status().code(), StatusCode::kUnavailable);
  service.Release();  // to a closed conversation: dropped
  EXPECT_EQ(net.Connect("svc").status().code(), StatusCode::kUnavailable);
}

TEST(ServeConversation, RunsAnAsyncServiceAThreadPerConversationOverTcp) {
  HoldingEcho service;
  std::atomic<uint64_t> next{1};
  TcpServerOptions options;
  auto server = TcpServer::Start(options, "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e",
                                 [&](Connection& c) { ServeConversation(service, c, next++); });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  TcpTransport t("5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e");
  auto a = t.Connect((*server)->address());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto m = RoundTrip(**a, "now", "body");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->header, "now");
  EXPECT_EQ(m->body, "body");
  EXPECT_TRUE(service.may_block());
  ASSERT_TRUE((*a)->Send("later-2").ok());
  ASSERT_TRUE(WaitFor([&] { return service.held() == 1; }, 10000));
  std::thread releaser([&] { service.Release(); });
  m = (*a)->Receive();
  releaser.join();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->header, "answered later-2");
  (*a)->Close();
  ASSERT_TRUE(WaitFor([&] { return service.closed().size() == 1; }, 10000));
  EXPECT_EQ(service.closed(), service.conversations());
  (*server)->Stop();
}

}  // namespace
}  // namespace sawmill
