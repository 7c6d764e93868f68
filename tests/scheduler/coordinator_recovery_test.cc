// A coordinator restarted on its directory takes up the jobs it was running (its journal):
// workers that come back keep their ids, running attempts and map outputs; a worker that does not
// come back loses its map outputs; job ids are never given out twice; a commit cut off at any
// step is finished by the next coordinator; no worker is lost while a slow store commits.
#include <filesystem>
#include <future>

#include "tests/scheduler/coordinator_fixture.h"

namespace sawmill::sched {
namespace {

class CoordinatorRecoveryTest : public CoordinatorTest {
 protected:
  // A 2-map, 2-reduce job on one 2-slot worker whose map 0 has committed and map 1 still runs.
  void MapZeroDoneMapOneRunning() {
    w_ = Register("host-a", 2);
    ASSERT_TRUE(Submit(JobArgs{}).ok());
    ASSERT_TRUE(PollForLaunches(w_, &o_, 2));
    ASSERT_EQ(Text(o_.launch(0).getAttemptId()), "job-1/m-00000/0");
    ASSERT_EQ(Text(o_.launch(1).getAttemptId()), "job-1/m-00001/0");
    ASSERT_TRUE(Report(w_, "job-1/m-00000/0", true, 5).ok());
  }

  // Polls until the poll says to register again (the restarted coordinator's answer to an old id).
  bool PollUntilReregister(const std::string& w) {
    Orders o;
    return WaitFor([&] { return PollOnce(w, &o).ok() && o.reregister; }, 5000);
  }

  // Runs the reduces launched in `o` from index `from` on: each writes its part and succeeds.
  void RunReduces(const std::string& w, Orders* o, size_t from) {
    ASSERT_TRUE(PollForLaunches(w, o, from + 2));
    for (size_t i = from; i < from + 2; ++i) {
      WritePart(o->launch(i), "reduce output " + std::to_string(i - from));
      ASSERT_TRUE(Report(w, Text(o->launch(i).getAttemptId()), true, 3).ok());
    }
  }

  std::string w_;
  Orders o_;
};

TEST_F(CoordinatorRecoveryTest, RunningJobGoesOnWithItsAttemptsAndMapOutputsKept) {
  MapZeroDoneMapOneRunning();
  RestartCoordinator();
  ASSERT_TRUE(PollUntilReregister(w_));
  EXPECT_EQ(State("job-1"), "running");
  // The worker comes back with the same id, map 1 still running and map 0's output on its disk.
  ASSERT_EQ(Register("host-a", 2, nullptr, w_, {"job-1/m-00001/0"}, {"job-1/m-00000/0"}), w_);
  ASSERT_TRUE(Report(w_, "job-1/m-00001/0", true, 7).ok());
  Orders o;
  RunReduces(w_, &o, 0);
  ASSERT_TRUE(WaitForState("job-1", "succeeded")) << State("job-1");
  // No map ran again; the reduces are attempts of the new coordinator's epoch.
  for (auto& l : o.launches) {
    EXPECT_TRUE(l->getRoot<sp::AttemptLaunch>().getSpec().getReduce()) << Text(l->getRoot<sp::AttemptLaunch>().getAttemptId());
  }
  EXPECT_EQ(Text(o.launch(0).getAttemptId()), "job-1/r-00000/2000");
  EXPECT_EQ(o.map_outputs["job-1"].size(), 2u);
  auto status = JobStatus("job-1");
  auto st = status->getRoot<sp::JobStatus>();
  EXPECT_EQ(st.getMapsDone(), 2);
  EXPECT_EQ(st.getRecordsIn(), 6u + 8u);  // both maps' results counted, the one from before the restart too
  EXPECT_EQ(ReadAllStore("/out/x/part-00001"), "reduce output 1");
  auto m = ReadManifest("dfs:/out/x/_MANIFEST");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->parts.size(), 2u);
}

TEST_F(CoordinatorRecoveryTest, ResultReportedBeforeTheWorkerRegistersAgainIsRefusedThenAccepted) {
  MapZeroDoneMapOneRunning();
  RestartCoordinator();
  // The report thread may reach the new coordinator first: not known yet, so not found.
  EXPECT_EQ(Report(w_, "job-1/m-00001/0", true, 7).code(), StatusCode::kNotFound);
  // The worker keeps the result, lists its attempt as running while it registers again, then
  // reports it again.
  ASSERT_EQ(Register("host-a", 2, nullptr, w_, {"job-1/m-00001/0"}, {"job-1/m-00000/0"}), w_);
  ASSERT_TRUE(Report(w_, "job-1/m-00001/0", true, 7).ok());
  Orders o;
  RunReduces(w_, &o, 0);
  ASSERT_TRUE(WaitForState("job-1", "succeeded")) << State("job-1");
}

TEST_F(CoordinatorRecoveryTest, WorkerThatDoesNotComeBackLosesItsMapOutputs) {
  MapZeroDoneMapOneRunning();
  worker_timeout_ms_ = 3000;  // short, yet long enough for the test's own gaps between polls under load
  RestartCoordinator();
  std::string w2 = Register("host-b", 2);
  ASSERT_NE(w2, w_);  // ids are not given out twice
  // Nothing is handed out while host-a may still come back; then both maps run again on host-b.
  Orders o;
  ASSERT_TRUE(PollForLaunches(w2, &o, 2));
  EXPECT_EQ(Text(o.launch(0).getAttemptId()), "job-1/m-00000/2000");
  EXPECT_EQ(Text(o.launch(1).getAttemptId()), "job-1/m-00001/2000");
  ASSERT_TRUE(Report(w2, "job-1/m-00000/2000", true, 5).ok());
  ASSERT_TRUE(Report(w2, "job-1/m-00001/2000", true, 7).ok());
  RunReduces(w2, &o, 2);
  ASSERT_TRUE(WaitForState("job-1", "succeeded")) << State("job-1");
  // host-a turns up after all: its id is gone, so it gets a new one (and kills what it ran).
  // (Registered only now: a worker that took reduces and never polled would hold them until
  // it is lost in turn.)
  std::string again = Register("host-a", 2, nullptr, w_, {"job-1/m-00001/0"}, {"job-1/m-00000/0"});
  EXPECT_NE(again, w_);
}

TEST_F(CoordinatorRecoveryTest, AttemptsOfAFinishedTaskAreKilledWhenTheWorkerComesBack) {
  MapZeroDoneMapOneRunning();
  RestartCoordinator();
  // It says it runs map 0 again (a twin) and a task of a job nobody knows.
  ASSERT_EQ(Register("host-a", 2, nullptr, w_, {"job-1/m-00000/1", "job-1/m-00001/0", "job-9/m-00000/0"},
                     {"job-1/m-00000/0"}),
            w_);
  Orders o;
  ASSERT_TRUE(WaitFor([&] { return PollOnce(w_, &o).ok() && o.kills.size() >= 2; }, 5000));
  EXPECT_EQ(std::set<std::string>(o.kills.begin(), o.kills.end()),
            (std::set<std::string>{"job-1/m-00000/1", "job-9/m-00000/0"}));
}

// A killed job's attempt still runs when the coordinator restarts: the new coordinator orders
// it killed when its worker comes back, and once it ends, what it wrote meanwhile (the staging
// directory, made again by the store's client) goes, as without the restart.
TEST_F(CoordinatorRecoveryTest, KilledJobsLateAttemptAcrossARestartLeavesNoStaging) {
  Orders o;
  std::string w;
  ASSERT_NO_FATAL_FAILURE(KillRunningOneMapJob(&w, &o));
  const std::string attempt = Text(o.launch(0).getAttemptId());
  RestartCoordinator();
  ASSERT_EQ(Register("host-a", 1, nullptr, w, {attempt}, {}), w);
  Orders k;
  ASSERT_TRUE(WaitFor([&] { return PollOnce(w, &k).ok() && !k.kills.empty(); }, 5000));
  EXPECT_EQ(k.kills, (std::vector<std::string>{attempt}));
  WritePart(o.launch(0), "late");
  ASSERT_TRUE(StoreHas("/out/.x.staging-job-1/_temporary"));
  ASSERT_TRUE(Report(w, attempt, false).ok());
  EXPECT_TRUE(WaitFor([&] { return !StoreHas("/out/.x.staging-job-1"); }, 5000)) << "the staging directory stayed";
  EXPECT_FALSE(StoreHas("/out/x"));
}

TEST_F(CoordinatorRecoveryTest, MapOutputTheWorkerNoLongerHasRunsAgain) {
  MapZeroDoneMapOneRunning();
  RestartCoordinator();
  ASSERT_EQ(Register("host-a", 2, nullptr, w_, {"job-1/m-00001/0"}, {}), w_);
  Orders o;
  ASSERT_TRUE(PollForLaunches(w_, &o, 1));
  EXPECT_EQ(Text(o.launch(0).getAttemptId()), "job-1/m-00000/2000");
}

// A program's master runs on through the restart; a stage it submits before its worker has
// registered again waits for the worker (which brings the master back), and is accepted.
TEST_F(CoordinatorRecoveryTest, MastersStageSubmittedBeforeItsWorkerCameBackWaitsForIt) {
  std::string w = Register("host-a", 1);
  ASSERT_TRUE(SubmitProgram("").ok());
  Orders o;
  ASSERT_TRUE(PollForLaunches(w, &o, 1));
  ASSERT_EQ(Text(o.launch(0).getAttemptId()), "job-1/m-00000/0");
  RestartCoordinator();
  CoordinatorClient master(&net_, kCoord);
  auto stage = std::async(std::launch::async, [&] { return SubmitProgram("job-1", "job-1/m-00000/0", kProgramPlanVersion, &master); });
  EXPECT_EQ(stage.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);  // waits for the worker
  ASSERT_EQ(Register("host-a", 1, nullptr, w, {"job-1/m-00000/0"}, {}), w);
  auto r = stage.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Text((*r)->Root<sp::CoordinatorResponse>().getSubmitted()), "job-2");
}

TEST_F(CoordinatorRecoveryTest, JobIdsAreNeverGivenOutTwice) {
  ASSERT_EQ(Submit(JobArgs{}).value(), "job-1");
  // Even with the history gone, the journal remembers the next id.
  ASSERT_TRUE(RemoveAll(tmp_.Sub("coord") + "/history").ok());
  RestartCoordinator();
  JobArgs b;
  b.output = "dfs:/out/y";
  EXPECT_EQ(Submit(b).value(), "job-2");
  RestartCoordinator();
  b.output = "dfs:/out/z";
  EXPECT_EQ(Submit(b).value(), "job-3");
}

// A client whose submission's answer was lost sends it again: its token makes the repeat answer
// the job the first made, before a restart (a lost answer) and after one (a dead coordinator).
TEST_F(CoordinatorRecoveryTest, ARepeatedSubmissionAnswersTheJobTheFirstMade) {
  JobArgs a;
  a.client_token = "0123456789abcdef0123456789abcdef";
  ASSERT_EQ(Submit(a).value(), "job-1");
  EXPECT_EQ(Submit(a).value(), "job-1") << "not refused as an existing output, not a second job";
  RestartCoordinator();
  EXPECT_EQ(Submit(a).value(), "job-1");
  a.client_token = "another submission";
  a.output = "dfs:/out/y";
  EXPECT_EQ(Submit(a).value(), "job-2");
  JobArgs none;  // without a token, every submission is a new one
  none.output = "dfs:/out/z";
  EXPECT_EQ(Submit(none).value(), "job-3");
  none.output = "dfs:/out/w";
  EXPECT_EQ(Submit(none).value(), "job-4");
}

TEST_F(CoordinatorRecoveryTest, KilledJobStaysKilledAcrossARestart) {
  MapZeroDoneMapOneRunning();
  ASSERT_TRUE(Call([](sp::CoordinatorRequest::Builder req) { req.setKill("job-1"); }).ok());
  ASSERT_TRUE(WaitForState("job-1", "failed"));
  RestartCoordinator();
  EXPECT_EQ(State("job-1"), "failed");
  ASSERT_EQ(Register("host-a", 2, nullptr, w_, {"job-1/m-00001/0"}, {}), w_);
  Orders o;
  ASSERT_TRUE(WaitFor([&] { return PollOnce(w_, &o).ok() && !o.kills.empty(); }, 5000));
  EXPECT_EQ(o.kills[0], "job-1/m-00001/0");
  EXPECT_TRUE(o.launches.empty());
}

// The coordinator dies at each store mutation of a job's commit (its directory as it was then is
// copied, and a new coordinator starts on the copy while the old one stays stuck): the new one
// finishes the commit, and the output was at every moment the old one, the new one or (between
// the two renames) absent.
TEST_F(CoordinatorRecoveryTest, CommitCutOffAtEachStepIsFinishedByTheNextCoordinator) {
  // Where the commit of the current step is held; set once, so that no thread ever calls a hook
  // that is being replaced.
  struct Cut {
    std::string out, staging;
    int step = 0;
    std::atomic<int> mutations{0};
    std::promise<void> reached, release;
    std::shared_future<void> released = release.get_future().share();
  };
  std::mutex mu;
  std::shared_ptr<Cut> current;
  store_->before_mutation = [&](const std::string& op, const std::string& path) -> Status {
    std::shared_ptr<Cut> cut;
    {
      std::lock_guard<std::mutex> l(mu);
      cut = current;
    }
    // Only the commit's own mutations count (not the parts the attempts write and move).
    if (!cut || path.find("_temporary/") != std::string::npos) return Status::Ok();
    if (path.rfind(cut->out, 0) != 0 && path.rfind(cut->staging, 0) != 0) return Status::Ok();
    if (cut->mutations++ != cut->step) return Status::Ok();
    cut->reached.set_value();
    cut->released.wait();
    return IOError("the coordinator died");
  };
  std::vector<std::shared_ptr<Cut>> cuts;
  for (int step = 0;; ++step) {
    SCOPED_TRACE("cut off before mutation " + std::to_string(step));
    const std::string name = "c" + std::to_string(step);
    const std::string out = "/out/" + name;
    PutFile(out + "/part-00000", "old output");
    PutFile(out + "/_MANIFEST", "old manifest");
    const std::string dir = tmp_.Sub("coord-" + name);
    client_->Close();
    net_.Stop(kCoord);
    coord_->Stop();
    old_.push_back(std::move(coord_));
    StartCoordinator(dir);
    std::string w = Register("host-a", 2);
    JobArgs a;
    a.kind = "none";
    a.output = "dfs:" + out;
    a.overwrite = true;
    auto id = Submit(a);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    Orders o;
    ASSERT_TRUE(PollForLaunches(w, &o, 2));
    for (int i = 0; i < 2; ++i) WritePart(o.launch(i), "new part " + std::to_string(i));
    auto cut = std::make_shared<Cut>();
    cut->out = out;
    cut->staging = "/out/." + name + ".staging-" + *id;
    cut->step = step;
    cuts.push_back(cut);
    {
      std::lock_guard<std::mutex> l(mu);
      current = cut;
    }
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(Report(w, Text(o.launch(i).getAttemptId()), true, 1).ok());
    if (cut->reached.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      // The commit has fewer mutations than `step`: every point was tried.
      ASSERT_GT(step, 3);
      ASSERT_TRUE(WaitForState(*id, "succeeded"));
      break;
    }
    // Never a mix: the old output whole, the new one whole (its manifest written first), or none.
    if (StoreHas(out)) {
      const std::string part = ReadAllStore(out + "/part-00000");
      EXPECT_TRUE(part == "old output" || (part == "new part 0" && StoreHas(out + "/_MANIFEST"))) << part;
    }
    const std::string copy = tmp_.Sub("coord-copy-" + name);
    std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
    {
      std::lock_guard<std::mutex> l(mu);
      current = nullptr;
    }
    // The old coordinator stays stuck in the store call, as if dead; a new one takes over.
    client_->Close();
    net_.Stop(kCoord);
    auto stuck = std::move(coord_);
    StartCoordinator(copy);
    ASSERT_EQ(Register("host-a", 2, nullptr, w, {}, {}), w);
    ASSERT_TRUE(WaitForState(*id, "succeeded")) << State(*id);
    EXPECT_EQ(ReadAllStore(out + "/part-00000"), "new part 0");
    EXPECT_EQ(ReadAllStore(out + "/part-00001"), "new part 1");
    auto m = ReadManifest("dfs:" + out + "/_MANIFEST");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->parts.size(), 2u);
    EXPECT_FALSE(StoreHas(cut->staging));
    EXPECT_FALSE(StoreHas(cut->staging + ".old"));
    // Its store call fails now: what it does next touches only what the new one already finished.
    cut->release.set_value();
    stuck->Stop();
    old_.push_back(std::move(stuck));
    EXPECT_EQ(ReadAllStore(out + "/part-00000"), "new part 0");
  }
  store_->before_mutation = nullptr;
}

// Nothing slow runs under the coordinator's lock: while a commit waits 15 s on the store, workers
// keep polling and none is declared lost, and status answers.
TEST_F(CoordinatorRecoveryTest, SlowStoreCommitLosesNoWorker) {
  worker_timeout_ms_ = 1000;
  store_->before_mutation = [&](const std::string& op, const std::string& path) -> Status {
    if (op == std::string("rename") && path.find("staging-job-1") != std::string::npos &&
        path.find("_temporary") == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::seconds(15));  // the store answers late, on purpose
    }
    return Status::Ok();
  };
  RestartCoordinator();
  std::string w = Register("host-a", 2);
  JobArgs a;
  a.kind = "none";
  ASSERT_TRUE(Submit(a).ok());
  Orders o;
  ASSERT_TRUE(PollForLaunches(w, &o, 2));
  for (int i = 0; i < 2; ++i) {
    WritePart(o.launch(i), "part");
    ASSERT_TRUE(Report(w, Text(o.launch(i).getAttemptId()), true, 1).ok());
  }
  ASSERT_TRUE(WaitForState("job-1", "committing"));
  // Polls and status calls during the commit: each answered within its wait, the worker kept.
  const auto start = std::chrono::steady_clock::now();
  while (State("job-1") == "committing") {
    auto before = std::chrono::steady_clock::now();
    ASSERT_TRUE(PollOnce(w, &o, 200).ok());
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(2));
    ASSERT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(40));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(State("job-1"), "succeeded");
  EXPECT_FALSE(o.reregister);
  auto r = Call([](sp::CoordinatorRequest::Builder req) { req.setWorkers(); });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)->Root<sp::CoordinatorResponse>().getWorkers().size(), 1u);
  EXPECT_EQ(Text((*r)->Root<sp::CoordinatorResponse>().getWorkers()[0].getId()), w);
}

}  // namespace
}  // namespace sawmill::sched
