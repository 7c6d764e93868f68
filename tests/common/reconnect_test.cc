// ReconnectWait (common/reconnect.h): the backoff between tries, the budget, the two notices.
#include "common/reconnect.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace sawmill {
namespace {

using Clock = std::chrono::steady_clock;

const Status kRefused(StatusCode::kUnavailable,
                      "namenode: cannot connect to 10.0.0.1:9000: Connection refused");

TEST(ReconnectWait, WithoutABudgetTheErrorIsReturnedAtOnceAndNothingIsSaid) {
  std::vector<std::string> notices;
  ReconnectOptions o;
  o.notify = [&](const std::string& l) { notices.push_back(l); };
  ReconnectWait wait(o, "namenode 10.0.0.1:9000");
  const auto t0 = Clock::now();
  Status s = wait.Pause(kRefused);
  EXPECT_EQ(s.code(), kRefused.code());
  EXPECT_EQ(s.message(), kRefused.message());
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(50));
  wait.Reached();
  EXPECT_TRUE(notices.empty());
}

TEST(ReconnectWait, PausesDoubleUpToTheMaximumAndTheBudgetEndsThem) {
  std::vector<std::string> notices;
  ReconnectOptions o;
  o.budget_ms = 400;
  o.first_pause_ms = 10;
  o.max_pause_ms = 80;
  o.notify = [&](const std::string& l) { notices.push_back(l); };
  ReconnectWait wait(o, "namenode 10.0.0.1:9000");
  const auto t0 = Clock::now();
  std::vector<Clock::duration> pauses;
  Status s;
  while (true) {
    const auto before = Clock::now();
    s = wait.Pause(kRefused);
    if (!s.ok()) break;
    pauses.push_back(Clock::now() - before);
  }
  const auto total = Clock::now() - t0;
  EXPECT_GE(total, std::chrono::milliseconds(400));
  EXPECT_LT(total, std::chrono::milliseconds(2000));
  // 10, 20, 40, 80, 80, ... ms (the last cut to the budget): far fewer tries than 10 ms apart.
  ASSERT_GE(pauses.size(), 4u);
  EXPECT_LE(pauses.size(), 9u);
  EXPECT_GE(pauses[0], std::chrono::milliseconds(10));
  EXPECT_GE(pauses[3], std::chrono::milliseconds(80));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("namenode 10.0.0.1:9000 unreachable for 0.4 s ("), std::string::npos)
      << s.message();
  EXPECT_NE(
      s.message().find(
          "--reconnect_s 0.4): namenode: cannot connect to 10.0.0.1:9000: Connection refused"),
      std::string::npos)
      << s.message();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0],
            "namenode 10.0.0.1:9000 unreachable (namenode: cannot connect to 10.0.0.1:9000: "
            "Connection refused); "
            "retrying for up to 0.4 s");
}

TEST(ReconnectWait, SaysOnceThatItWaitsAndOnceThatThePeerIsBack) {
  std::vector<std::string> notices;
  ReconnectOptions o;
  o.budget_ms = 60000;
  o.first_pause_ms = 1;
  o.notify = [&](const std::string& l) { notices.push_back(l); };
  ReconnectWait wait(o, "coordinator 127.0.0.1:7000");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(wait.Pause(kRefused).ok());
  EXPECT_TRUE(wait.waited());
  wait.Reached();
  ASSERT_EQ(notices.size(), 2u);
  EXPECT_EQ(notices[0].rfind("coordinator 127.0.0.1:7000 unreachable (", 0), 0u) << notices[0];
  EXPECT_NE(notices[0].find("retrying for up to 60 s"), std::string::npos) << notices[0];
  EXPECT_EQ(notices[1].rfind("coordinator 127.0.0.1:7000 is back after ", 0), 0u) << notices[1];
}

}  // namespace
}  // namespace sawmill
