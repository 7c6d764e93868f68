// Scheduler unit tests: locality and delay scheduling, slow start, retries, lost workers, fetch
// failures, blacklisting, speculation, kills and job order, all on a hand-driven clock.
#include "scheduler/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace sawmill::sched {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using Hosts = std::vector<std::vector<std::string>>;

JobPlan Plan(const std::string& id, Hosts map_hosts, int reduces, SchedulerOptions opt = {}) {
  JobPlan p;
  p.job_id = id;
  p.map_hosts = std::move(map_hosts);
  p.reduces = reduces;
  p.options = opt;
  return p;
}

// Maps without locality: every map can run anywhere at once.
Hosts Anywhere(int maps) { return Hosts(maps); }

std::vector<std::string> Ids(const std::vector<Assignment>& as) {
  std::vector<std::string> ids;
  for (const auto& a : as) ids.push_back(a.attempt_id);
  return ids;
}

JobSnapshot Snap(const Scheduler& s, const std::string& job) {
  auto snap = s.Snapshot(job);
  EXPECT_TRUE(snap.has_value()) << job;
  return snap.value_or(JobSnapshot{});
}

TEST(SchedulerTest, NodeLocalFirstThenRemoteAfterLocalityDelay) {
  Scheduler s;
  s.AddWorker("w1", "h1", 1);
  s.AddWorker("w3", "h3", 1);
  SchedulerOptions opt;
  opt.locality_delay_ms = 3000;
  // Three maps for two slots: not the job's tail, so w3 waits for a local slot first.
  ASSERT_TRUE(s.AddJob(Plan("j", {{"h1", "h2"}, {"h1", "h2"}, {"h1", "h2"}}, 0, opt), 0).ok());

  EXPECT_THAT(s.Assign("w3", 1, 100), IsEmpty());  // h1 holds the input: wait for it
  auto a = s.Assign("w1", 1, 100);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].attempt_id, "j/m-00000/0");
  EXPECT_TRUE(a[0].local);
  EXPECT_THAT(s.Assign("w3", 1, 3099), IsEmpty());  // 2999 ms since w3 started waiting
  a = s.Assign("w3", 1, 3100);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].attempt_id, "j/m-00001/0");
  EXPECT_FALSE(a[0].local);

  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.data_local_maps, 1);
  EXPECT_EQ(snap.remote_maps, 1);
  EXPECT_EQ(snap.maps_running, 2);
  ASSERT_EQ(snap.attempts.size(), 2u);
  EXPECT_EQ(snap.attempts[1].host, "h3");
  EXPECT_EQ(snap.attempts[1].start_ms, 3100);
}

TEST(SchedulerTest, MapWithoutLiveHostRunsAnywhereAtOnce) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  s.AddWorker("w2", "h2", 1);
  ASSERT_TRUE(s.AddJob(Plan("j", {{}, {"h2"}, {"gone"}}, 0), 0).ok());
  // m-00001's host h2 is live: w1 waits for it; the other two have no live host.
  EXPECT_THAT(Ids(s.Assign("w1", 2, 10)), ElementsAre("j/m-00000/0", "j/m-00002/0"));
  s.RemoveWorker("w2", "heartbeat timeout", 20);
  EXPECT_THAT(Ids(s.Assign("w1", 1, 30)), ElementsAre("j/m-00001/0"));
}

// 4 workers, 2 slots each; each map's input on 2 of the 4 hosts; workers heartbeat in rounds
// of 500 ms and maps take 1-3 rounds.
TEST(SchedulerTest, NinetyPercentNodeLocalOnFourHosts) {
  Scheduler s;
  const std::vector<std::string> hosts = {"h0", "h1", "h2", "h3"};
  for (int i = 0; i < 4; ++i) s.AddWorker("w" + std::to_string(i), hosts[i], 2);
  const int kMaps = 200;
  Hosts map_hosts;
  // Skewed placement: h3 holds only every 8th input, so w3 runs out of local work early and
  // would take remote maps all along without the locality delay.
  for (int m = 0; m < kMaps; ++m)
    map_hosts.push_back({hosts[m % 3], m % 8 == 0 ? hosts[3] : hosts[(m + 1) % 3]});
  ASSERT_TRUE(s.AddJob(Plan("j", map_hosts, 0), 0).ok());

  std::map<std::string, std::vector<std::pair<std::string, int64_t>>>
      running;  // worker -> (id, end)
  int64_t now = 0;
  for (int round = 0; round < 1000 && Snap(s, "j").state == JobState::kRunning; ++round) {
    now += 500;
    for (int i = 0; i < 4; ++i) {
      std::string w = "w" + std::to_string(i);
      auto& mine = running[w];
      std::erase_if(mine, [&](const auto& r) {
        if (r.second > now) return false;
        EXPECT_TRUE(s.AttemptSucceeded(r.first, now));
        return true;
      });
      for (const auto& a : s.Assign(w, 2 - static_cast<int>(mine.size()), now))
        mine.push_back({a.attempt_id, now + 500 * (1 + (a.task * 7) % 3)});
    }
  }
  JobSnapshot snap = Snap(s, "j");
  ASSERT_EQ(snap.state, JobState::kTasksDone);
  EXPECT_EQ(snap.maps_done, kMaps);
  EXPECT_EQ(snap.data_local_maps + snap.remote_maps, kMaps);
  EXPECT_GE(snap.data_local_maps * 10, kMaps * 9) << snap.data_local_maps << " local";
}

TEST(SchedulerTest, SlowStartHoldsReducesUntilShareOfMapsDone) {
  Scheduler s;
  s.AddWorker("w", "h", 30);
  SchedulerOptions opt;
  opt.slow_start = 0.5;
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(20), 2, opt), 0).ok());
  auto maps = s.Assign("w", 30, 1);
  ASSERT_EQ(maps.size(), 20u);  // reduces wait for 10 maps
  for (int m = 0; m < 9; ++m) EXPECT_TRUE(s.AttemptSucceeded(maps[m].attempt_id, 2));
  EXPECT_THAT(s.Assign("w", 10, 3), IsEmpty());
  EXPECT_TRUE(s.AttemptSucceeded(maps[9].attempt_id, 4));
  EXPECT_THAT(Ids(s.Assign("w", 10, 5)), ElementsAre("j/r-00000/0", "j/r-00001/0"));
}

TEST(SchedulerTest, ReducesLeaveOneSlotForMaps) {
  Scheduler s;
  s.AddWorker("w1", "h1", 1);
  s.AddWorker("w2", "h2", 1);
  SchedulerOptions opt;
  opt.slow_start = 0;
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(2), 3, opt), 0).ok());
  EXPECT_THAT(Ids(s.Assign("w1", 1, 1)), ElementsAre("j/m-00000/0"));
  EXPECT_THAT(Ids(s.Assign("w2", 1, 1)), ElementsAre("j/m-00001/0"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/0", 2));
  EXPECT_THAT(Ids(s.Assign("w1", 1, 3)), ElementsAre("j/r-00000/0"));
  // A second running reduce would fill the 2-slot cluster while m-00001 is unfinished.
  EXPECT_THAT(s.Assign("w1", 1, 4), IsEmpty());
  // m-00001 fails; w1 is busy with the reduce, so after retry_delay_ms the retry runs on w2
  // where it failed.
  s.AttemptFailed("j/m-00001/0", "disk full", 5);
  EXPECT_THAT(s.Assign("w2", 1, 6), IsEmpty());
  EXPECT_THAT(Ids(s.Assign("w2", 1, 1005)), ElementsAre("j/m-00001/1"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00001/1", 1007));
  EXPECT_THAT(Ids(s.Assign("w2", 2, 1008)), ElementsAre("j/r-00001/0", "j/r-00002/0"));
}

TEST(SchedulerTest, SingleSlotClusterRunsReducesAfterAllMaps) {
  Scheduler s;
  s.AddWorker("w", "h", 1);
  SchedulerOptions opt;
  opt.slow_start = 0;
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(2), 1, opt), 0).ok());
  EXPECT_THAT(Ids(s.Assign("w", 1, 1)), ElementsAre("j/m-00000/0"));
  EXPECT_THAT(Ids(s.Assign("w", 1, 1)), ElementsAre("j/m-00001/0"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/0", 2));
  EXPECT_THAT(s.Assign("w", 1, 3), IsEmpty());
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00001/0", 4));
  EXPECT_THAT(Ids(s.Assign("w", 1, 5)), ElementsAre("j/r-00000/0"));
}

TEST(SchedulerTest, RetryPrefersAnotherWorker) {
  Scheduler s;
  s.AddWorker("w1", "h1", 1);
  s.AddWorker("w2", "h2", 1);
  ASSERT_TRUE(s.AddJob(Plan("j", {{"h1"}}, 0), 0).ok());
  EXPECT_THAT(Ids(s.Assign("w1", 1, 10)), ElementsAre("j/m-00000/0"));
  s.AttemptFailed("j/m-00000/0", "segfault", 20);
  EXPECT_THAT(s.Assign("w1", 1, 30), IsEmpty());  // w2 is free and has not failed it
  EXPECT_THAT(s.Assign("w2", 1, 40), IsEmpty());  // remote: w2 starts waiting for local work
  EXPECT_THAT(s.Assign("w2", 1, 3030), IsEmpty());  // ... for the locality delay
  auto a = s.Assign("w2", 1, 3040);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].attempt_id, "j/m-00000/1");
  EXPECT_EQ(a[0].attempt, 1);
  EXPECT_TRUE(s.AttemptSucceeded("j/m-00000/1", 3020));
  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.state, JobState::kTasksDone);
  EXPECT_EQ(snap.failed_attempts, 1);
  EXPECT_EQ(snap.attempts[0].error, "segfault");
  EXPECT_THAT(s.CommittedAttempts("j", false), ElementsAre("j/m-00000/1"));
}

TEST(SchedulerTest, JobFailsAfterMaxAttempts) {
  Scheduler s;
  s.AddWorker("w", "h", 2);
  SchedulerOptions opt;
  opt.blacklist_failures = 100;
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(5), 1, opt), 0).ok());
  auto a = s.Assign("w", 2, 1);
  ASSERT_THAT(Ids(a), ElementsAre("j/m-00000/0", "j/m-00001/0"));
  for (int i = 0; i < 3; ++i) {
    s.AttemptFailed("j/m-00000/" + std::to_string(i), "boom " + std::to_string(i), 2 + i);
    EXPECT_THAT(Ids(s.Assign("w", 1, 2 + i)),
                ElementsAre("j/m-00000/" + std::to_string(i + 1)));  // only worker: runs there
  }
  s.AttemptFailed("j/m-00000/3", "boom 3", 10);
  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.state, JobState::kFailed);
  EXPECT_EQ(snap.error, "task m-00000 failed 4 times; last error: boom 3");
  EXPECT_EQ(snap.failed_attempts, 4);
  EXPECT_EQ(snap.killed_attempts, 1);
  EXPECT_THAT(s.TakeKills("w"), ElementsAre("j/m-00001/0"));
  EXPECT_THAT(s.TakeKills("w"), IsEmpty());
  EXPECT_FALSE(s.AttemptSucceeded("j/m-00001/0", 11));
  EXPECT_THAT(s.Assign("w", 2, 12), IsEmpty());
}

TEST(SchedulerTest, LostWorkerInMapPhaseRerunsItsMapsUncounted) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  s.AddWorker("w2", "h2", 2);
  SchedulerOptions opt;
  opt.max_attempts = 1;  // a counted failure would fail the job
  opt.slow_start = 1;
  ASSERT_TRUE(s.AddJob(Plan("j", {{"h1"}, {"h1"}, {"h2"}, {"h2"}}, 1, opt), 0).ok());
  EXPECT_THAT(Ids(s.Assign("w1", 2, 1)), ElementsAre("j/m-00000/0", "j/m-00001/0"));
  EXPECT_THAT(Ids(s.Assign("w2", 2, 1)), ElementsAre("j/m-00002/0", "j/m-00003/0"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/0", 2));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00002/0", 2));
  s.RemoveWorker("w1", "worker w1 lost", 3);
  EXPECT_FALSE(s.HasWorker("w1"));

  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.state, JobState::kRunning);
  EXPECT_EQ(snap.maps_done, 1);
  EXPECT_EQ(snap.failed_attempts, 1);
  EXPECT_EQ(snap.attempts[1].state, AttemptState::kFailed);
  EXPECT_EQ(snap.attempts[1].error, "worker w1 lost");
  ASSERT_EQ(s.MapOutputs("j").size(), 1u);
  EXPECT_EQ(s.MapOutputs("j")[0].worker, "w2");
  // h1 has no live worker: w2 takes both at once, despite the delay.
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00003/0", 4));
  EXPECT_THAT(Ids(s.Assign("w2", 2, 4)), ElementsAre("j/m-00000/1", "j/m-00001/1"));
  EXPECT_FALSE(s.AttemptSucceeded("j/m-00001/0", 5));  // the lost attempt reports late
}

TEST(SchedulerTest, LostWorkerInReducePhaseRerunsOnlyItsMaps) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  s.AddWorker("w2", "h2", 2);
  ASSERT_TRUE(s.AddJob(Plan("j", {{"h1"}, {"h2"}}, 2), 0).ok());
  ASSERT_THAT(Ids(s.Assign("w1", 1, 1)), ElementsAre("j/m-00000/0"));
  ASSERT_THAT(Ids(s.Assign("w2", 1, 1)), ElementsAre("j/m-00001/0"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/0", 2));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00001/0", 2));
  EXPECT_THAT(Ids(s.Assign("w1", 1, 3)), ElementsAre("j/r-00000/0"));
  EXPECT_THAT(Ids(s.Assign("w2", 1, 3)), ElementsAre("j/r-00001/0"));
  ASSERT_TRUE(s.AttemptSucceeded("j/r-00001/0", 4));
  s.RemoveWorker("w1", "connection dropped", 5);

  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.maps_done, 1);
  EXPECT_EQ(snap.reduces_done, 1);
  EXPECT_EQ(snap.attempts[0].state, AttemptState::kSucceeded);
  auto outputs = s.MapOutputs("j");
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].map, 1);
  // Maps first; the reduce still leaves one of w2's 2 slots to maps.
  EXPECT_THAT(Ids(s.Assign("w2", 2, 6)), ElementsAre("j/m-00000/1", "j/r-00000/1"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/1", 7));
  ASSERT_TRUE(s.AttemptSucceeded("j/r-00000/1", 9));
  EXPECT_EQ(Snap(s, "j").state, JobState::kTasksDone);
  EXPECT_THAT(s.CommittedAttempts("j", true), ElementsAre("j/r-00000/1", "j/r-00001/0"));
}

TEST(SchedulerTest, LostWorkerKeepsMapsOfMapOnlyAndFinishedJobs) {
  Scheduler s;
  s.AddWorker("w1", "h1", 4);
  s.AddWorker("w2", "h2", 4);
  ASSERT_TRUE(s.AddJob(Plan("maponly", Anywhere(2), 0), 0).ok());
  ASSERT_TRUE(s.AddJob(Plan("reduced", Anywhere(1), 1), 0).ok());
  ASSERT_TRUE(s.AddJob(Plan("other", Anywhere(1), 0), 0).ok());
  auto a = s.Assign("w1", 4, 1);
  ASSERT_THAT(Ids(a), ElementsAre("maponly/m-00000/0", "maponly/m-00001/0", "reduced/m-00000/0",
                                  "other/m-00000/0"));
  ASSERT_TRUE(s.AttemptSucceeded("maponly/m-00000/0", 2));
  ASSERT_TRUE(s.AttemptSucceeded("reduced/m-00000/0", 2));
  EXPECT_THAT(Ids(s.Assign("w2", 1, 3)), ElementsAre("reduced/r-00000/0"));
  ASSERT_TRUE(s.AttemptSucceeded("reduced/r-00000/0", 4));
  EXPECT_EQ(Snap(s, "reduced").state, JobState::kTasksDone);
  s.RemoveWorker("w1", "lost", 5);

  JobSnapshot snap = Snap(s, "maponly");
  EXPECT_EQ(snap.maps_done, 1);  // committed output is in the store
  EXPECT_EQ(snap.maps_running, 0);
  EXPECT_THAT(s.CommittedAttempts("maponly", false), ElementsAre("maponly/m-00000/0", ""));
  EXPECT_EQ(Snap(s, "reduced").maps_done, 1);
  EXPECT_THAT(Ids(s.Assign("w2", 4, 6)), ElementsAre("maponly/m-00001/1", "other/m-00000/1"));
}

// Job "j" on workers w1 and w2 of `slots` slots each: map 0 committed on w1, map 1 on w2, and its
// one reduce running on w2.
void MapsDoneAndTheReduceOnW2(Scheduler& s, int slots) {
  s.AddWorker("w1", "h1", slots);
  s.AddWorker("w2", "h2", slots);
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(2), 1), 0).ok());
  ASSERT_THAT(Ids(s.Assign("w1", 1, 1)), ElementsAre("j/m-00000/0"));
  ASSERT_THAT(Ids(s.Assign("w2", 1, 1)), ElementsAre("j/m-00001/0"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/0", 2));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00001/0", 2));
  ASSERT_THAT(Ids(s.Assign("w2", 1, 3)), ElementsAre("j/r-00000/0"));
}

TEST(SchedulerTest, FetchFailureRerunsTheMap) {
  Scheduler s;
  ASSERT_NO_FATAL_FAILURE(MapsDoneAndTheReduceOnW2(s, 2));

  s.FetchFailed("j/r-00000/0", 0, 4);
  EXPECT_EQ(Snap(s, "j").maps_done, 1);
  s.FetchFailed("j/r-00000/0", 0, 4);  // already dropped: no effect
  s.FetchFailed("j/r-00000/0", 7, 4);  // no such map
  s.FetchFailed("j/nope", 1, 4);       // unknown attempt
  s.FetchFailed("j/m-00001/0", 1, 4);  // not a reduce
  EXPECT_EQ(Snap(s, "j").maps_done, 1);
  auto outputs = s.MapOutputs("j");
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].attempt_id, "j/m-00001/0");

  // The rerun goes elsewhere: w1 held the output that could not be fetched (its disk may be
  // bad), and w2 has a free slot.
  EXPECT_THAT(Ids(s.Assign("w1", 1, 5)), ElementsAre());
  EXPECT_THAT(Ids(s.Assign("w2", 1, 5)), ElementsAre("j/m-00000/1"));
  EXPECT_EQ(Snap(s, "j").reduces_running, 1);  // the reduce keeps running
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/1", 6));
  s.FetchFailed("j/r-00000/0", 0, 7, "j/m-00000/0");  // about the replaced output
  EXPECT_EQ(Snap(s, "j").maps_done, 2);
  EXPECT_EQ(s.MapOutputs("j")[0].attempt_id, "j/m-00000/1");
  EXPECT_EQ(Snap(s, "j").attempts[0].error,
            "output lost: reduce attempt j/r-00000/0 could not fetch it");
  // Three reports about map 0 (the others named no map of a running reduce), one rerun.
  EXPECT_EQ(Snap(s, "j").fetch_failures, 3);
  EXPECT_EQ(Snap(s, "j").map_reruns, 1);
}

TEST(SchedulerTest, FetchFailureRerunsTheMapWhereItRanWhenNoOtherWorkerIsFree) {
  Scheduler s;
  ASSERT_NO_FATAL_FAILURE(MapsDoneAndTheReduceOnW2(s, 1));
  s.FetchFailed("j/r-00000/0", 0, 4, "j/m-00000/0");
  // w2's one slot runs the reduce: the map reruns on w1 rather than wait.
  EXPECT_THAT(Ids(s.Assign("w1", 1, 5)), ElementsAre("j/m-00000/1"));
}

TEST(SchedulerTest, BlacklistedWorkerGetsNoMoreTasksOfTheJob) {
  Scheduler s;
  s.AddWorker("w1", "h1", 1);
  s.AddWorker("w2", "h2", 1);
  SchedulerOptions opt;
  opt.blacklist_failures = 2;  // distinct tasks failed on one worker
  opt.max_attempts = 10;
  opt.retry_delay_ms = 0;  // retries run where they failed at once when nothing else is free
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(3), 0, opt), 0).ok());
  ASSERT_TRUE(s.AddJob(Plan("k", Anywhere(1), 0, opt), 0).ok());
  EXPECT_THAT(Ids(s.Assign("w1", 1, 1)), ElementsAre("j/m-00000/0"));
  EXPECT_THAT(Ids(s.Assign("w2", 1, 1)), ElementsAre("j/m-00001/0"));
  s.AttemptFailed("j/m-00000/0", "bad disk", 2);
  // w2 is busy: the retry runs where it failed rather than wait; failing again there is the
  // task's problem, not the worker's.
  EXPECT_THAT(Ids(s.Assign("w1", 1, 3)), ElementsAre("j/m-00000/1"));
  s.AttemptFailed("j/m-00000/1", "bad disk", 4);
  EXPECT_THAT(Ids(s.Assign("w1", 1, 5)), ElementsAre("j/m-00000/2"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/2", 6));
  EXPECT_THAT(Ids(s.Assign("w1", 1, 7)), ElementsAre("j/m-00002/0"));
  s.AttemptFailed("j/m-00002/0", "bad disk", 8);
  // w1 failed 2 different tasks of j: nothing more of j, but k's map.
  EXPECT_THAT(Ids(s.Assign("w1", 1, 9)), ElementsAre("k/m-00000/0"));
  EXPECT_THAT(s.Assign("w1", 1, 9), IsEmpty());
  s.AttemptFailed("j/m-00001/0", "bad disk", 10);
  EXPECT_THAT(Ids(s.Assign("w2", 1, 11)), ElementsAre("j/m-00001/1"));
  EXPECT_EQ(Snap(s, "j").state, JobState::kRunning);
  s.AttemptFailed("j/m-00001/1", "bad disk", 12);
  EXPECT_THAT(Ids(s.Assign("w2", 1, 13)), ElementsAre("j/m-00001/2"));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00001/2", 14));
  EXPECT_THAT(Ids(s.Assign("w2", 1, 15)), ElementsAre("j/m-00002/1"));
  s.AttemptFailed("j/m-00002/1", "bad disk", 16);
  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.state, JobState::kFailed);
  EXPECT_EQ(snap.error, "every worker is blacklisted for job j");
  EXPECT_EQ(Snap(s, "k").state, JobState::kRunning);
}

TEST(SchedulerTest, SpeculativeTwinWinsAndTheStragglerIsKilled) {
  Scheduler s;
  for (int i = 1; i <= 3; ++i) s.AddWorker("w" + std::to_string(i), "h" + std::to_string(i), 1);
  SchedulerOptions opt;
  opt.speculation_factor = 2;
  opt.speculation_min_ms = 1000;
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(3), 0, opt), 0).ok());
  ASSERT_THAT(Ids(s.Assign("w1", 1, 0)), ElementsAre("j/m-00000/0"));
  ASSERT_THAT(Ids(s.Assign("w2", 1, 0)), ElementsAre("j/m-00001/0"));
  ASSERT_THAT(Ids(s.Assign("w3", 1, 0)), ElementsAre("j/m-00002/0"));
  s.Tick(5000);  // nothing finished yet: no median to compare with
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/0", 100));
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00001/0", 5200));
  // Median 2650 ms: a straggler runs longer than 5300 ms.
  s.Tick(5300);
  EXPECT_THAT(s.Assign("w1", 1, 5300), IsEmpty());
  s.Tick(5301);
  EXPECT_THAT(s.Assign("w3", 1, 5302), IsEmpty());  // runs the straggler itself
  auto a = s.Assign("w1", 1, 5303);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].attempt_id, "j/m-00002/1");
  EXPECT_TRUE(a[0].speculative);
  s.Tick(20000);  // one speculative attempt per task
  EXPECT_THAT(s.Assign("w2", 1, 20000), IsEmpty());

  EXPECT_TRUE(s.AttemptSucceeded("j/m-00002/1", 20001));
  EXPECT_THAT(s.TakeKills("w3"), ElementsAre("j/m-00002/0"));
  EXPECT_THAT(s.TakeKills("w3"), IsEmpty());
  EXPECT_FALSE(s.AttemptSucceeded("j/m-00002/0", 20002));
  s.AttemptFailed("j/m-00002/0", "killed", 20003);  // ignored

  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.state, JobState::kTasksDone);
  EXPECT_EQ(snap.speculative_attempts, 1);
  EXPECT_EQ(snap.killed_attempts, 1);
  EXPECT_EQ(snap.failed_attempts, 0);
  EXPECT_EQ(snap.attempts[2].state, AttemptState::kKilled);
  EXPECT_THAT(s.CommittedAttempts("j", false),
              ElementsAre("j/m-00000/0", "j/m-00001/0", "j/m-00002/1"));
}

TEST(SchedulerTest, NoSpeculationWhenDisabledOrUnderMinimum) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  s.AddWorker("w2", "h2", 2);
  SchedulerOptions off;
  off.speculation = false;
  ASSERT_TRUE(s.AddJob(Plan("off", Anywhere(2), 0, off), 0).ok());
  ASSERT_TRUE(s.AddJob(Plan("on", Anywhere(2), 0), 0).ok());  // min 1000 ms
  ASSERT_EQ(s.Assign("w1", 2, 0).size(), 2u);
  ASSERT_EQ(s.Assign("w2", 2, 0).size(), 2u);
  ASSERT_TRUE(s.AttemptSucceeded("off/m-00000/0", 10));
  ASSERT_TRUE(s.AttemptSucceeded("on/m-00000/0", 10));
  s.Tick(1000);  // 1000 ms is not longer than the 1000 ms minimum
  EXPECT_THAT(s.Assign("w1", 2, 1000), IsEmpty());
  s.Tick(1001);
  EXPECT_THAT(Ids(s.Assign("w1", 2, 1001)), ElementsAre("on/m-00001/1"));
}

TEST(SchedulerTest, KillJobKillsRunningAttempts) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  s.AddWorker("w2", "h2", 2);
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(3), 1), 0).ok());
  ASSERT_EQ(s.Assign("w1", 2, 1).size(), 2u);
  ASSERT_EQ(s.Assign("w2", 1, 1).size(), 1u);
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00000/0", 2));
  s.KillJob("j", "killed by user", 3);
  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.state, JobState::kFailed);
  EXPECT_EQ(snap.error, "killed by user");
  EXPECT_EQ(snap.killed_attempts, 2);
  EXPECT_THAT(s.TakeKills("w1"), ElementsAre("j/m-00001/0"));
  EXPECT_THAT(s.TakeKills("w2"), ElementsAre("j/m-00002/0"));
  EXPECT_FALSE(s.AttemptSucceeded("j/m-00001/0", 4));
  EXPECT_THAT(s.Assign("w1", 2, 5), IsEmpty());
  s.FinishJob("j", true, "", 6);  // not kTasksDone: ignored
  EXPECT_EQ(Snap(s, "j").state, JobState::kFailed);
  s.DropJob("j");
  EXPECT_FALSE(s.Snapshot("j").has_value());
}

TEST(SchedulerTest, JobsAreServedInSubmissionOrder) {
  Scheduler s;
  s.AddWorker("w", "h", 8);
  ASSERT_TRUE(s.AddJob(Plan("b", Anywhere(2), 0), 0).ok());
  ASSERT_TRUE(s.AddJob(Plan("a", Anywhere(2), 0), 1).ok());
  EXPECT_THAT(Ids(s.Assign("w", 3, 2)), ElementsAre("b/m-00000/0", "b/m-00001/0", "a/m-00000/0"));
  EXPECT_THAT(Ids(s.Assign("w", 3, 3)), ElementsAre("a/m-00001/0"));
}

TEST(SchedulerTest, MapOnlyJobFinishes) {
  Scheduler s;
  s.AddWorker("w", "h", 2);
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(2), 0), 0).ok());
  ASSERT_EQ(s.Assign("w", 2, 1).size(), 2u);
  EXPECT_TRUE(s.AttemptSucceeded("j/m-00001/0", 2));
  EXPECT_EQ(Snap(s, "j").state, JobState::kRunning);
  EXPECT_TRUE(s.AttemptSucceeded("j/m-00000/0", 3));
  EXPECT_EQ(Snap(s, "j").state, JobState::kTasksDone);
  EXPECT_THAT(s.CommittedAttempts("j", false), ElementsAre("j/m-00000/0", "j/m-00001/0"));
  EXPECT_THAT(s.CommittedAttempts("j", true), IsEmpty());
  s.FinishJob("j", true, "", 4);
  EXPECT_EQ(Snap(s, "j").state, JobState::kSucceeded);
  s.DropJob("j");
  EXPECT_FALSE(s.Snapshot("j").has_value());
  EXPECT_TRUE(s.AddJob(Plan("j", Anywhere(1), 0), 5).ok());  // the id is free again
}

TEST(SchedulerTest, JobWithoutMapsRunsReducesAtOnce) {
  Scheduler s;
  s.AddWorker("w", "h", 1);
  ASSERT_TRUE(s.AddJob(Plan("j", {}, 2), 0).ok());
  EXPECT_THAT(Ids(s.Assign("w", 2, 1)), ElementsAre("j/r-00000/0", "j/r-00001/0"));
  EXPECT_TRUE(s.AttemptSucceeded("j/r-00000/0", 2));
  EXPECT_TRUE(s.AttemptSucceeded("j/r-00001/0", 2));
  EXPECT_EQ(Snap(s, "j").state, JobState::kTasksDone);
  s.FinishJob("j", false, "rename failed: _temporary", 3);
  EXPECT_EQ(Snap(s, "j").state, JobState::kFailed);
  EXPECT_EQ(Snap(s, "j").error, "rename failed: _temporary");

  ASSERT_TRUE(s.AddJob(Plan("empty", {}, 0), 4).ok());
  EXPECT_EQ(Snap(s, "empty").state, JobState::kTasksDone);
}

TEST(SchedulerTest, UnknownIdsAndBadPlansAreRejectedOrIgnored) {
  Scheduler s;
  s.AddWorker("w", "h", 1);
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(1), 0), 0).ok());
  EXPECT_EQ(s.AddJob(Plan("j", Anywhere(1), 0), 0).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.AddJob(Plan("k", Anywhere(1), -1), 0).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(s.AttemptSucceeded("j/m-00000/0", 1));  // not launched yet
  EXPECT_FALSE(s.AttemptSucceeded("nope", 1));
  s.AttemptFailed("nope", "x", 1);
  s.FetchFailed("nope", 0, 1);
  s.KillJob("nope", "x", 1);
  s.FinishJob("nope", true, "", 1);
  s.RemoveWorker("nope", "x", 1);
  s.DropJob("j");  // still running: kept
  EXPECT_THAT(s.TakeKills("nope"), IsEmpty());
  EXPECT_THAT(s.MapOutputs("nope"), IsEmpty());
  EXPECT_FALSE(s.Snapshot("nope").has_value());
  EXPECT_THAT(s.Assign("nope", 1, 1), IsEmpty());
  EXPECT_THAT(Ids(s.Assign("w", 1, 1)), ElementsAre("j/m-00000/0"));
  EXPECT_EQ(Snap(s, "j").failed_attempts, 0);
}

}  // namespace
}  // namespace sawmill::sched

namespace sawmill::sched {
namespace {

// Losing a worker can leave reduces on every remaining slot while a map must rerun: the
// youngest reduce gives its slot back, uncounted.
TEST(SchedulerPreemptionTest, ReducesYieldASlotToARerunMap) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  s.AddWorker("w2", "h2", 1);
  JobPlan plan;
  plan.job_id = "j";
  plan.map_hosts = {{"h1"}, {"h1"}};
  plan.reduces = 2;
  plan.options.slow_start = 0;
  plan.options.max_attempts = 1;
  ASSERT_TRUE(s.AddJob(plan, 0).ok());
  auto a1 = s.Assign("w1", 2, 0);
  ASSERT_EQ(a1.size(), 2u);  // both maps, node-local
  EXPECT_TRUE(s.AttemptSucceeded(a1[0].attempt_id, 10));
  auto a2 = s.Assign("w2", 1, 10);  // a reduce (two slots busy, one left for maps... of 3)
  ASSERT_EQ(a2.size(), 1u);
  EXPECT_TRUE(a2[0].reduce);
  EXPECT_TRUE(s.AttemptSucceeded(a1[1].attempt_id, 20));
  auto a3 = s.Assign("w1", 2, 20);  // the other reduce; maps are all done now
  ASSERT_EQ(a3.size(), 1u);
  // w1 dies: both map outputs are lost; w2's reduce holds the only slot.
  s.RemoveWorker("w1", "gone", 30);
  auto kills = s.TakeKills("w2");
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0], a2[0].attempt_id);
  auto a4 = s.Assign("w2", 1, 40);
  ASSERT_EQ(a4.size(), 1u);
  EXPECT_FALSE(a4[0].reduce);
  auto snap = s.Snapshot("j");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->state, JobState::kRunning);  // the preemption did not count against the job
}

}  // namespace
}  // namespace sawmill::sched

namespace sawmill::sched {
namespace {

// An idle worker with no local input is not held back forever by local launches elsewhere (the
// delay counts per worker), and reduces do not take slots while maps wait to be launched.
TEST(SchedulerDelayTest, IdleWorkerTakesARemoteMapAfterItsOwnWait) {
  Scheduler s;
  s.AddWorker("w1", "h1", 1);
  s.AddWorker("w2", "h2", 1);
  JobPlan plan;
  plan.job_id = "j";
  plan.map_hosts.assign(6, {"h1"});
  plan.reduces = 1;
  ASSERT_TRUE(s.AddJob(plan, 0).ok());
  int64_t now = 0;
  std::string w1_attempt = s.Assign("w1", 1, now)[0].attempt_id;
  EXPECT_THAT(s.Assign("w2", 1, now), IsEmpty());  // no reduce either: maps wait to be launched
  // w1 keeps launching local maps every second; w2 gets a remote map after its own 3 s.
  int remote_at = -1;
  for (now = 1000; now <= 6000 && remote_at < 0; now += 1000) {
    ASSERT_TRUE(s.AttemptSucceeded(w1_attempt, now));
    w1_attempt = s.Assign("w1", 1, now)[0].attempt_id;
    auto a = s.Assign("w2", 1, now);
    if (!a.empty()) {
      EXPECT_FALSE(a[0].reduce);
      EXPECT_FALSE(a[0].local);
      remote_at = static_cast<int>(now);
    }
  }
  EXPECT_EQ(remote_at, 3000);
}

}  // namespace
}  // namespace sawmill::sched

namespace sawmill::sched {
namespace {

// At a job's tail (no more maps to launch than free slots) a map whose hosts are all busy runs
// on an idle worker at once: waiting would only wait for the job's own running maps.
TEST(SchedulerDelayTest, TailMapRunsRemotelyWhenItsHostsAreBusy) {
  Scheduler s;
  s.AddWorker("w1", "h1", 1);
  s.AddWorker("w2", "h2", 1);
  JobPlan plan;
  plan.job_id = "j";
  plan.map_hosts = {{"h1"}, {"h1"}};
  ASSERT_TRUE(s.AddJob(plan, 0).ok());
  EXPECT_THAT(Ids(s.Assign("w1", 1, 10)), ElementsAre("j/m-00000/0"));
  auto a = s.Assign("w2", 1, 20);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].attempt_id, "j/m-00001/0");
  EXPECT_FALSE(a[0].local);
}

}  // namespace
}  // namespace sawmill::sched

namespace sawmill::sched {
namespace {

// Reduces waiting for a straggling map hold every other slot: the map's twin takes its own
// worker's free slot once speculation_min_ms has passed since the mark, instead of never.
TEST(SchedulerSpeculationTest, TwinTakesTheStragglersWorkerWhenNothingElseFrees) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  s.AddWorker("w2", "h2", 1);
  JobPlan plan;
  plan.job_id = "j";
  plan.map_hosts = {{"h1"}, {"h1"}};
  plan.reduces = 1;
  plan.options.slow_start = 0;
  plan.options.speculation_min_ms = 1000;
  ASSERT_TRUE(s.AddJob(plan, 0).ok());
  auto maps = s.Assign("w1", 2, 0);
  ASSERT_EQ(maps.size(), 2u);
  ASSERT_TRUE(s.AttemptSucceeded(maps[0].attempt_id, 100));
  auto reduce = s.Assign("w2", 1, 100);  // every map launched: the reduce may start
  ASSERT_EQ(reduce.size(), 1u);
  ASSERT_TRUE(reduce[0].reduce);
  s.Tick(5000);  // m-00001 is a straggler; only w1 (running it) has a free slot
  EXPECT_THAT(s.Assign("w1", 1, 5000), IsEmpty());
  auto twin = s.Assign("w1", 1, 6000);
  ASSERT_EQ(twin.size(), 1u);
  EXPECT_EQ(twin[0].attempt_id, "j/m-00001/1");
  EXPECT_TRUE(twin[0].speculative);
}

// A restarted coordinator's job: committed tasks stay done (a map's output only while its worker
// is known), new attempts are numbered from first_attempt, and a worker's running attempt is
// adopted instead of run again.
TEST(SchedulerTest, RestoredJobKeepsCommittedTasksAndNumbersNewAttemptsAbove) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  std::vector<Scheduler::RestoredTask> done = {{"j/m-00000/0", "w1"},
                                               {"j/m-00001/2", "w-gone"},  // its worker did not come back
                                               {"j/r-00000/1", "w-gone"}}; // a part in the store
  ASSERT_TRUE(s.RestoreJob(Plan("j", Anywhere(3), 2), done, 200, 50).ok());
  JobSnapshot snap = Snap(s, "j");
  EXPECT_EQ(snap.maps_done, 1);
  EXPECT_EQ(snap.reduces_done, 1);
  std::vector<MapOutput> outs = s.MapOutputs("j");
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].attempt_id, "j/m-00000/0");
  EXPECT_EQ(outs[0].worker, "w1");

  // m-00002 was running on w1 when the coordinator died: adopted, not run again.
  EXPECT_TRUE(s.AdoptAttempt("j/m-00002/0", "w1", 60));
  EXPECT_FALSE(s.AdoptAttempt("j/m-00002/0", "w1", 60));  // once
  EXPECT_FALSE(s.AdoptAttempt("j/m-00000/1", "w1", 60));  // its task is done
  EXPECT_FALSE(s.AdoptAttempt("j/m-00009/0", "w1", 60));  // no such task
  EXPECT_FALSE(s.AdoptAttempt("other/m-00000/0", "w1", 60));
  EXPECT_FALSE(s.AdoptAttempt("j/m-00001/0", "w-unknown", 60));
  EXPECT_FALSE(s.AdoptAttempt("j/m-00001/x", "w1", 60));
  EXPECT_EQ(Snap(s, "j").maps_running, 1);

  // m-00001 runs again, numbered above anything the coordinator before may have launched.
  EXPECT_THAT(Ids(s.Assign("w1", 1, 70)), ElementsAre("j/m-00001/200"));
  EXPECT_TRUE(s.AttemptSucceeded("j/m-00002/0", 80));
  EXPECT_TRUE(s.AttemptSucceeded("j/m-00001/200", 90));
  EXPECT_THAT(Ids(s.Assign("w1", 2, 100)), ElementsAre("j/r-00001/200"));
  EXPECT_TRUE(s.AttemptSucceeded("j/r-00001/200", 110));
  EXPECT_EQ(Snap(s, "j").state, JobState::kTasksDone);
}

// Restored attempts have no known duration: they do not make a kept attempt look like a straggler.
TEST(SchedulerTest, RestoredAttemptsDoNotMakeKeptOnesStragglers) {
  Scheduler s;
  s.AddWorker("w1", "h1", 2);
  s.AddWorker("w2", "h2", 2);
  SchedulerOptions opt;
  opt.speculation_min_ms = 100;
  ASSERT_TRUE(s.RestoreJob(Plan("j", Anywhere(3), 0, opt), {{"j/m-00000/0", "w1"}, {"j/m-00001/0", "w1"}}, 100, 0).ok());
  ASSERT_TRUE(s.AdoptAttempt("j/m-00002/0", "w1", 0));
  s.Tick(5000);
  EXPECT_THAT(s.Assign("w2", 2, 5000), IsEmpty());
}

TEST(SchedulerTest, RestoredJobWithEveryTaskDoneIsReadyToCommit) {
  Scheduler s;
  ASSERT_TRUE(s.RestoreJob(Plan("j", Anywhere(2), 0), {{"j/m-00000/0", "w1"}, {"j/m-00001/3", "w2"}}, 100, 0).ok());
  EXPECT_EQ(Snap(s, "j").state, JobState::kTasksDone);
  EXPECT_THAT(s.CommittedAttempts("j", false), ElementsAre("j/m-00000/0", "j/m-00001/3"));
}

TEST(SchedulerTest, AdoptedAttemptOnALostWorkerRunsAgain) {
  Scheduler s;
  s.AddWorker("w1", "h1", 1);
  s.AddWorker("w2", "h2", 1);
  ASSERT_TRUE(s.RestoreJob(Plan("j", Anywhere(1), 0), {}, 100, 0).ok());
  ASSERT_TRUE(s.AdoptAttempt("j/m-00000/4", "w1", 10));
  EXPECT_THAT(s.Assign("w2", 1, 20), IsEmpty());  // it runs on w1
  s.RemoveWorker("w1", "lost", 30);
  EXPECT_THAT(Ids(s.Assign("w2", 1, 40)), ElementsAre("j/m-00000/100"));
}

// A worker whose disk is full fails every attempt at once: a retry there would use up the task's
// attempts in a second. It waits retry_delay_ms per failure for another worker's slot first.
TEST(SchedulerTest, RetryWaitsForAnotherWorkersSlotBeforeRunningWhereItFailed) {
  Scheduler s;
  s.AddWorker("w1", "h1", 1);
  s.AddWorker("w2", "h2", 1);
  ASSERT_TRUE(s.AddJob(Plan("j", Anywhere(2), 0), 0).ok());
  EXPECT_THAT(Ids(s.Assign("w1", 1, 0)), ElementsAre("j/m-00000/0"));
  EXPECT_THAT(Ids(s.Assign("w2", 1, 0)), ElementsAre("j/m-00001/0"));
  s.AttemptFailed("j/m-00000/0", "no space left on device", 10);
  EXPECT_THAT(s.Assign("w1", 1, 500), IsEmpty());  // w2 may free its slot soon
  ASSERT_TRUE(s.AttemptSucceeded("j/m-00001/0", 600));
  EXPECT_THAT(Ids(s.Assign("w2", 1, 600)), ElementsAre("j/m-00000/1"));
  s.AttemptFailed("j/m-00000/1", "boom", 700);
  // Failed on both now: no other worker to wait for, so it runs at once.
  EXPECT_THAT(Ids(s.Assign("w1", 1, 701)), ElementsAre("j/m-00000/2"));
}

}  // namespace
}  // namespace sawmill::sched
