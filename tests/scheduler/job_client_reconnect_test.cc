// Clients of the coordinator waiting out a coordinator that cannot be reached (common/reconnect.h,
// common/rpc_client.h): a fake coordinator over the in-process network that is down for a while
// (connections refused, a call closed unanswered) and then answers.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/capnp_util.h"
#include "common/rpc.h"
#include "scheduler/coordinator_client.h"
#include "scheduler/job_client.h"

namespace sawmill::sched {
namespace {

const std::string kCoord = "coord:1";

// Refuses connects while `refusals` is positive (counting it down), like a restarting process.
class FlakyTransport : public Transport {
 public:
  explicit FlakyTransport(Transport* real) : real_(real) {}
  Result<std::unique_ptr<Connection>> Connect(const std::string& address) override {
    ++connects;
    if (refusals.load() > 0) {
      --refusals;
      return Status(StatusCode::kUnavailable,
                    "cannot connect to " + address + ": Connection refused");
    }
    return real_->Connect(address);
  }
  std::atomic<int> refusals{0};
  std::atomic<int> connects{0};

 private:
  Transport* real_;
};

// What the fake coordinator does with a request: answer it, or close the connection unanswered.
struct Answer {
  bool drop = false;
  Status error;           // answered as the response's error
  std::string state;      // for status and wait
  std::string submitted;  // for submit
};

Answer Dropped() {
  Answer a;
  a.drop = true;
  return a;
}
Answer WithState(std::string state) {
  Answer a;
  a.state = std::move(state);
  return a;
}
Answer WithSubmitted(std::string id) {
  Answer a;
  a.submitted = std::move(id);
  return a;
}
Answer WithError(Status error) {
  Answer a;
  a.error = std::move(error);
  return a;
}

class FakeCoordinator {
 public:
  // `decide` sees each request (its which() and the count of requests so far, 1-based).
  using Decide = std::function<Answer(proto::CoordinatorRequest::Reader, int)>;

  void Serve(InProcessNetwork& net, Decide decide) {
    decide_ = std::move(decide);
    net.Listen(kCoord, [this](Connection& c) { Converse(c); });
  }
  int requests() const { return requests_.load(); }
  std::vector<std::string> job_ids() {
    std::lock_guard<std::mutex> l(mu_);
    return job_ids_;
  }

 private:
  void Converse(Connection& c) {
    while (true) {
      auto m = c.Receive();
      if (!m.ok()) return;
      auto reader = CapnpReader::Parse(m->header);
      ASSERT_TRUE(reader.ok());
      auto req = (*reader)->Root<proto::CoordinatorRequest>();
      const int n = ++requests_;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (req.isWait()) job_ids_.push_back(Text(req.getWait().getJobId()));
      }
      Answer a = decide_(req, n);
      if (a.drop) return;  // the conversation closes without an answer
      capnp::MallocMessageBuilder out;
      auto resp = out.initRoot<proto::CoordinatorResponse>();
      SetError(resp.initError(), a.error);
      if (!a.submitted.empty()) resp.setSubmitted(a.submitted);
      if (!a.state.empty()) {
        auto s = resp.initStatus();
        s.setJobId(req.isWait() ? req.getWait().getJobId() : capnp::Text::Reader("job-?"));
        s.setState(a.state);
      }
      if (!c.Send(CapnpToString(out)).ok()) return;
    }
  }

  Decide decide_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<std::string> job_ids_;
};

ReconnectOptions Budget(int64_t ms, std::vector<std::string>* notices) {
  ReconnectOptions r;
  r.budget_ms = ms;
  r.first_pause_ms = 5;
  r.max_pause_ms = 40;
  r.notify = [notices](const std::string& line) { notices->push_back(line); };
  return r;
}

void Submit(capnp::MallocMessageBuilder& m, bool stage) {
  auto sub = m.initRoot<proto::CoordinatorRequest>().initSubmit();
  sub.setName("wordcount");
  if (stage) {
    sub.setParentJob("job-1");
    sub.initStage().setKey("s1");
  }
}

TEST(JobClientReconnect, AFollowerWaitsOutACoordinatorRestartAndFollowsTheSameJob) {
  InProcessNetwork net;
  FlakyTransport flaky(&net);
  FakeCoordinator coord;
  coord.Serve(net, [&](proto::CoordinatorRequest::Reader, int n) {
    if (n == 1) return WithState("running");
    if (n == 2) {
      flaky.refusals = 4;  // dies while it holds the long poll, and takes a while to come back
      return Dropped();
    }
    return WithState(n < 4 ? "running" : "succeeded");
  });
  std::vector<std::string> notices;
  CoordinatorClient client(&flaky, kCoord, Budget(5000, &notices));
  auto final = WaitForJob(client, "job-7", /*progress=*/false);
  ASSERT_TRUE(final.ok()) << final.status().ToString();
  EXPECT_EQ(Text((*final)->Root<proto::CoordinatorResponse>().getStatus().getState()), "succeeded");
  EXPECT_EQ(flaky.refusals.load(), 0);
  EXPECT_EQ(coord.job_ids(), std::vector<std::string>(4, "job-7"));
  ASSERT_EQ(notices.size(), 2u) << ::testing::PrintToString(notices);
  EXPECT_NE(notices[0].find("coordinator coord:1 unreachable ("), std::string::npos) << notices[0];
  EXPECT_NE(notices[0].find("retrying for up to 5 s"), std::string::npos) << notices[0];
  EXPECT_NE(notices[1].find("coordinator coord:1 is back after"), std::string::npos) << notices[1];
}

TEST(JobClientReconnect, ACoordinatorThatStaysDownIsGivenUpNamingItAndTheTimeWaited) {
  InProcessNetwork net;
  FlakyTransport flaky(&net);
  flaky.refusals = 1 << 30;
  std::vector<std::string> notices;
  CoordinatorClient client(&flaky, kCoord, Budget(300, &notices));
  const auto t0 = std::chrono::steady_clock::now();
  auto final = WaitForJob(client, "job-7", false);
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(final.ok());
  EXPECT_EQ(final.status().code(), StatusCode::kUnavailable);
  const std::string& msg = final.status().message();
  EXPECT_NE(msg.find("coordinator coord:1 unreachable for 0."), std::string::npos) << msg;
  EXPECT_NE(msg.find("--reconnect_s 0.3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Connection refused"), std::string::npos) << msg;
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_GT(flaky.connects.load(), 3);  // backoff, not one try
  EXPECT_EQ(notices.size(), 1u);
}

TEST(JobClientReconnect, WithoutABudgetTheFirstRefusalIsTheError) {
  InProcessNetwork net;
  FlakyTransport flaky(&net);
  flaky.refusals = 1 << 30;
  CoordinatorClient client(&flaky, kCoord);
  auto status = GetJobStatus(client, "job-7");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message(),
            "coordinator: cannot connect to coord:1: Connection refused");
  EXPECT_EQ(flaky.connects.load(), 1);
}

TEST(JobClientReconnect, AnAnswerIsNotRetriedAndAnUnknownJobIsReportedClearly) {
  InProcessNetwork net;
  FakeCoordinator coord;
  coord.Serve(net, [](proto::CoordinatorRequest::Reader, int) {
    return WithError(NotFound("no job job-9"));
  });
  std::vector<std::string> notices;
  CoordinatorClient client(&net, kCoord, Budget(5000, &notices));
  auto final = WaitForJob(client, "job-9", false);
  ASSERT_FALSE(final.ok());
  EXPECT_EQ(final.status().code(), StatusCode::kNotFound);
  EXPECT_NE(final.status().message().find(
                "does not know job-9 (a wrong id, or a restart that lost it): no job job-9"),
            std::string::npos)
      << final.status().message();
  EXPECT_EQ(coord.requests(), 1);
  EXPECT_TRUE(notices.empty());
}

TEST(JobClientReconnect, ASubmissionThatMayHaveBeenAppliedIsNotSentAgain) {
  InProcessNetwork net;
  FakeCoordinator coord;
  coord.Serve(net, [](proto::CoordinatorRequest::Reader, int) { return Dropped(); });
  std::vector<std::string> notices;
  CoordinatorClient client(&net, kCoord, Budget(5000, &notices));
  capnp::MallocMessageBuilder m;
  Submit(m, /*stage=*/false);
  auto reply = client.Call(m);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(reply.status().message().find("may have been applied"), std::string::npos)
      << reply.status().message();
  EXPECT_EQ(coord.requests(), 1);  // a second job would run beside the first
}

TEST(JobClientReconnect, ASubmissionThatReachedNoCoordinatorIsSentOnceItAnswers) {
  InProcessNetwork net;
  FlakyTransport flaky(&net);
  flaky.refusals = 3;
  FakeCoordinator coord;
  coord.Serve(net, [](proto::CoordinatorRequest::Reader, int) { return WithSubmitted("job-3"); });
  std::vector<std::string> notices;
  CoordinatorClient client(&flaky, kCoord, Budget(5000, &notices));
  capnp::MallocMessageBuilder m;
  Submit(m, false);
  auto reply = client.Call(m);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(Text((*reply)->Root<proto::CoordinatorResponse>().getSubmitted()), "job-3");
  EXPECT_EQ(coord.requests(), 1);
  EXPECT_EQ(notices.size(), 2u);
}

TEST(JobClientReconnect, AStageSubmissionIsSentAgainItsKeyMakesTheRepeatHarmless) {
  InProcessNetwork net;
  FakeCoordinator coord;
  coord.Serve(net, [](proto::CoordinatorRequest::Reader, int n) {
    return n == 1 ? Dropped() : WithSubmitted("job-2");
  });
  std::vector<std::string> notices;
  CoordinatorClient client(&net, kCoord, Budget(5000, &notices));
  capnp::MallocMessageBuilder m;
  Submit(m, /*stage=*/true);
  auto reply = client.Call(m);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(coord.requests(), 2);
  EXPECT_EQ(RequestKind(m.getRoot<proto::CoordinatorRequest>().asReader()), CallKind::kIdempotent);
}

TEST(JobClientReconnect, AnIdleConnectionTheCoordinatorClosedIsReopenedBeforeAMutationIsSent) {
  InProcessNetwork net;
  FakeCoordinator coord;
  coord.Serve(net, [](proto::CoordinatorRequest::Reader, int) { return WithState("running"); });
  std::vector<std::string> notices;
  CoordinatorClient client(&net, kCoord, Budget(5000, &notices));
  ASSERT_TRUE(GetJobStatus(client, "job-1").ok());
  net.Stop(kCoord);  // a restart: the open conversation is closed
  coord.Serve(net, [](proto::CoordinatorRequest::Reader, int) { return Answer(); });
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::CoordinatorRequest>().setKill("job-1");
  auto reply = client.Call(m);
  EXPECT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(coord.requests(), 2);
  EXPECT_TRUE(notices.empty());
}

}  // namespace
}  // namespace sawmill::sched
