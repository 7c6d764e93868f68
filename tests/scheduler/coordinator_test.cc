// Unit tests of the coordinator service (scheduler/coordinator.h) over an in-process network:
// worker registration and polls, submission checks, commit of map-only and map+reduce jobs into a
// store rooted in a temp dir, failures, kills, history across restarts, and lost workers. (The
// worker facing hostile orders is tests/worker/worker_orders_test.cc.)
#include <algorithm>

#include "tests/scheduler/coordinator_fixture.h"

namespace sawmill::sched {
namespace {

TEST_F(CoordinatorTest, RegistersWorkersWithDistinctIds) {
  std::string a = Register("host-a"), b = Register("host-b");
  EXPECT_FALSE(a.empty());
  EXPECT_FALSE(b.empty());
  EXPECT_NE(a, b);
  auto r = Call([](sp::CoordinatorRequest::Builder req) { req.setWorkers(); });
  ASSERT_TRUE(r.ok());
  std::set<std::string> ids;
  for (auto w : (*r)->Root<sp::CoordinatorResponse>().getWorkers()) ids.insert(Text(w.getId()));
  EXPECT_EQ(ids, (std::set<std::string>{a, b}));
}

TEST_F(CoordinatorTest, PollFromUnknownWorkerAsksToReregister) {
  Orders o;
  ASSERT_TRUE(PollOnce("w99-nobody", &o).ok());
  EXPECT_TRUE(o.reregister);
  EXPECT_TRUE(o.launches.empty());
}

TEST_F(CoordinatorTest, ReportFromUnknownWorkerIsNotFound) {
  Status s = Report("w99-nobody", "job-1/m-00000/0", true);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
}

TEST_F(CoordinatorTest, SubmitValidation) {
  JobArgs local;
  local.output = "/tmp/out";
  EXPECT_EQ(Submit(local).status().code(), StatusCode::kInvalidArgument);

  JobArgs no_binary;
  no_binary.sha = std::string(64, 'b');
  auto r = Submit(no_binary);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().ToString().find(no_binary.sha), std::string::npos) << r.status().ToString();

  JobArgs no_input;
  no_input.inputs = {"dfs:/in/a", "dfs:/in/missing"};
  r = Submit(no_input);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().ToString().find("dfs:/in/missing"), std::string::npos) << r.status().ToString();

  PutFile("/out/x/part-00000", "old");
  JobArgs exists;
  r = Submit(exists);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();
  exists.overwrite = true;
  EXPECT_TRUE(Submit(exists).ok());
}

TEST_F(CoordinatorTest, MapOnlyJobCommits) {
  std::string w = Register("host-a", 2);
  JobArgs a;
  a.kind = "none";
  auto id = Submit(a);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "job-1");
  Orders o;
  ASSERT_TRUE(PollForLaunches(w, &o, 2));
  ASSERT_EQ(o.launches.size(), 2u);
  std::set<int> tasks;
  for (size_t i = 0; i < 2; ++i) {
    auto l = o.launch(i);
    auto s = l.getSpec();
    int t = s.getTaskIndex();
    tasks.insert(t);
    char part[16];
    std::snprintf(part, sizeof part, "part-%05d", t);
    char name[16];
    std::snprintf(name, sizeof name, "m-%05d", t);
    EXPECT_EQ(Text(l.getJobId()), "job-1");
    EXPECT_EQ(Text(l.getAttemptId()), std::string("job-1/") + name + "/0");
    EXPECT_EQ(Text(s.getAttemptId()), Text(l.getAttemptId()));
    EXPECT_EQ(Text(l.getBinarySha256()), kSha);
    EXPECT_EQ(l.getArgs().size(), 1u);
    EXPECT_FALSE(s.getReduce());
    EXPECT_EQ(s.getAttempt(), 0);
    EXPECT_EQ(s.getJobSeed(), 7u);
    EXPECT_EQ(Text(s.getSplit().getPath()), "dfs:/in/a");
    EXPECT_EQ(s.getSplit().getOffset(), static_cast<uint64_t>(t) * 50);
    EXPECT_EQ(Text(s.getPartitioning().getKind()), "none");
    EXPECT_EQ(Text(s.getOutputPath()),
              std::string("dfs:/out/.x.staging-job-1/_temporary/") + name + "_0/" + part);
    WritePart(l, "records of " + std::string(part));
  }
  EXPECT_EQ(tasks, (std::set<int>{0, 1}));
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(Report(w, Text(o.launch(i).getAttemptId()), true, 10 + i).ok());
  }
  ASSERT_TRUE(WaitForState("job-1", "succeeded")) << State("job-1");
  EXPECT_TRUE(StoreHas("/out/x/part-00000"));
  EXPECT_TRUE(StoreHas("/out/x/part-00001"));
  EXPECT_FALSE(StoreHas("/out/x/_temporary"));
  EXPECT_FALSE(StoreHas("/out/.x.staging-job-1"));
  auto m = ReadManifest("dfs:/out/x/_MANIFEST");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->partitioner, "none");
  ASSERT_EQ(m->parts.size(), 2u);
  EXPECT_EQ(m->records(), 21u);
  EXPECT_EQ(m->parts[0].name, "part-00000");
  auto st = JobStatus("job-1");
  EXPECT_EQ(st->getRoot<sp::JobStatus>().getRecordsOut(), 21u);
  EXPECT_EQ(st->getRoot<sp::JobStatus>().getMapsDone(), 2);
}

TEST_F(CoordinatorTest, MapReduceJobCommits) {
  std::string w = Register("host-a", 2);
  auto id = Submit(JobArgs{});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  Orders o;
  ASSERT_TRUE(PollForLaunches(w, &o, 2));
  for (size_t i = 0; i < 2; ++i) {
    auto s = o.launch(i).getSpec();
    EXPECT_FALSE(s.getReduce());
    EXPECT_EQ(Text(s.getOutputPath()), "");  // the worker chooses where map outputs go
    EXPECT_EQ(Text(s.getPartitioning().getKind()), "hash");
    EXPECT_EQ(s.getPartitioning().getNumPartitions(), 2);
  }
  for (size_t i = 0; i < 2; ++i) ASSERT_TRUE(Report(w, Text(o.launch(i).getAttemptId()), true, 5).ok());
  ASSERT_TRUE(PollForLaunches(w, &o, 4));
  ASSERT_TRUE(WaitFor([&] {
    EXPECT_TRUE(PollOnce(w, &o).ok());
    return o.map_outputs["job-1"].size() == 2;
  }, 5000));
  EXPECT_EQ(o.map_outputs["job-1"][0], "host-a:7000");
  std::set<int> reduces;
  for (size_t i = 2; i < 4; ++i) {
    auto l = o.launch(i);
    auto s = l.getSpec();
    ASSERT_TRUE(s.getReduce());
    int t = s.getTaskIndex();
    reduces.insert(t);
    EXPECT_EQ(l.getMapCount(), 2);
    char name[16], part[16];
    std::snprintf(name, sizeof name, "r-%05d", t);
    std::snprintf(part, sizeof part, "part-%05d", t);
    EXPECT_EQ(Text(l.getAttemptId()), std::string("job-1/") + name + "/0");
    EXPECT_EQ(Text(s.getOutputPath()),
              std::string("dfs:/out/.x.staging-job-1/_temporary/") + name + "_0/" + part);
    WritePart(l, "reduced " + std::string(part));
    ASSERT_TRUE(Report(w, Text(l.getAttemptId()), true, 3 + t).ok());
  }
  EXPECT_EQ(reduces, (std::set<int>{0, 1}));
  ASSERT_TRUE(WaitForState("job-1", "succeeded")) << State("job-1");
  EXPECT_EQ(ReadAllStore("/out/x/part-00001"), "reduced part-00001");
  auto m = ReadManifest("dfs:/out/x/_MANIFEST");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->partitioner, "hash");
  EXPECT_EQ(m->num_partitions, 2);
  EXPECT_TRUE(m->sorted);
  EXPECT_EQ(m->records(), 7u);
  auto st = JobStatus("job-1");
  EXPECT_EQ(st->getRoot<sp::JobStatus>().getRecordsOut(), 7u);
  EXPECT_EQ(st->getRoot<sp::JobStatus>().getRecordsIn(), 12u);
}

// A reduce's worker reports map 0's output corrupt (what the shuffle's block checks say): on that
// one report the map reruns, and the job's counters show the failure and the rerun.
TEST_F(CoordinatorTest, OneCorruptMapOutputReportRerunsTheMap) {
  std::string w = Register("host-a", 3);
  ASSERT_TRUE(Submit(JobArgs{}).ok());
  Orders o;
  ASSERT_TRUE(PollForLaunches(w, &o, 2));
  const std::string map0 = Text(o.launch(0).getAttemptId());
  ASSERT_EQ(map0, "job-1/m-00000/0");
  for (size_t i = 0; i < 2; ++i) ASSERT_TRUE(Report(w, Text(o.launch(i).getAttemptId()), true, 5).ok());
  ASSERT_TRUE(PollForLaunches(w, &o, 4));
  const std::string reduce = Text(o.launch(2).getAttemptId());
  ASSERT_TRUE(o.launch(2).getSpec().getReduce());
  auto r = Call([&](sp::CoordinatorRequest::Builder req) {
    auto rep = req.initReport();
    rep.setWorkerId(w);
    auto f = rep.initFetchFailures(1)[0];
    f.setReduceAttemptId(reduce);
    f.setMap(0);
    f.setMapAttemptId(map0);
    f.setError("CORRUPTION: fetching partition 0 of map attempt " + map0 + ": map.out: block at offset 0: checksum mismatch");
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(PollForLaunches(w, &o, 5));
  EXPECT_EQ(Text(o.launch(4).getAttemptId()), "job-1/m-00000/1");
  auto st = JobStatus("job-1");
  std::map<std::string, int64_t> counters;
  for (auto c : st->getRoot<sp::JobStatus>().getCounters()) counters[Text(c.getName())] = c.getValue();
  EXPECT_EQ(counters["sawmill.fetch_failures"], 1);
  EXPECT_EQ(counters["sawmill.map_reruns"], 1);
  EXPECT_EQ(st->getRoot<sp::JobStatus>().getMapsDone(), 1);
}

// A job without a task that writes a part (no splits, map-only) commits an empty output with
// its manifest: nothing made its staging directory before the commit.
TEST_F(CoordinatorTest, JobWithoutTasksCommitsAnEmptyOutput) {
  Register("host-a", 1);
  JobArgs a;
  a.kind = "none";
  a.maps = 0;
  ASSERT_TRUE(Submit(a).ok());
  ASSERT_TRUE(WaitForState("job-1", "succeeded")) << State("job-1");
  EXPECT_TRUE(StoreHas("/out/x/_MANIFEST"));
  EXPECT_FALSE(StoreHas("/out/.x.staging-job-1"));
}

// A binary in the store that does not hash to its name (replaced, corrupt) is refused at
// submission, naming the file and what it hashes to; the same bytes under their own name are fine.
TEST_F(CoordinatorTest, BinaryThatIsNotTheSubmittedOneIsRefusedAtSubmission) {
  Register("host-a", 1);
  const std::string other(64, 'b');
  PutFile("/sawmill/binaries/" + other, "#!/bin/false\n");
  JobArgs a;
  a.kind = "none";
  a.maps = 0;
  a.sha = other;
  Status s = Submit(a).status();
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("dfs:/sawmill/binaries/" + other + " is not the submitted binary"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(kSha), std::string::npos) << s.message();
  a.sha = kSha;
  EXPECT_TRUE(Submit(a).ok());
}

// A program (or a stage) whose plan contract is another version than the coordinator's, or none
// (a binary built before versions), is refused at submission with both versions named.
TEST_F(CoordinatorTest, ProgramOfAnotherPlanVersionIsRefused) {
  Register("host-a", 1);
  auto submit = [&](uint32_t version, const std::string& parent) { return SubmitProgram(parent, "", version).status(); };
  for (uint32_t v : {0u, sched::kProgramPlanVersion + 1}) {
    for (const std::string parent : {"", "job-1"}) {
      Status s = submit(v, parent);
      ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << v << " " << parent << ": " << s.ToString();
      EXPECT_NE(s.message().find("this coordinator runs version " + std::to_string(sched::kProgramPlanVersion)),
                std::string::npos)
          << s.message();
    }
  }
  EXPECT_TRUE(submit(sched::kProgramPlanVersion, "").ok());
}

TEST_F(CoordinatorTest, AttemptFailingFourTimesFailsTheJob) {
  std::string w = Register("host-a", 1);
  JobArgs a;
  a.kind = "none";
  a.maps = 1;
  ASSERT_TRUE(Submit(a).ok());
  Orders o;
  for (int k = 0; k < 4; ++k) {
    ASSERT_TRUE(PollForLaunches(w, &o, k + 1)) << "attempt " << k;
    auto l = o.launch(k);
    EXPECT_EQ(Text(l.getAttemptId()), "job-1/m-00000/" + std::to_string(k));
    // Each attempt leaves a part in the staging directory's _temporary, as a failing task may.
    WritePart(l, "partial");
    EXPECT_TRUE(StoreHas("/out/.x.staging-job-1"));
    ASSERT_TRUE(Report(w, Text(l.getAttemptId()), false, 0, "stderr " + std::to_string(k)).ok());
  }
  ASSERT_TRUE(WaitForState("job-1", "failed"));
  auto st = JobStatus("job-1");
  EXPECT_NE(Text(st->getRoot<sp::JobStatus>().getError()).find("boom"), std::string::npos);
  EXPECT_EQ(st->getRoot<sp::JobStatus>().getFailedAttempts(), 4);
  // Removed on the coordinator's store thread, after the job's end.
  EXPECT_TRUE(WaitFor([&] { return !StoreHas("/out/.x.staging-job-1"); }, 5000));
  EXPECT_FALSE(StoreHas("/out/x"));
}

TEST_F(CoordinatorTest, KillStopsARunningJob) {
  Orders o;
  std::string w;
  ASSERT_NO_FATAL_FAILURE(KillRunningOneMapJob(&w, &o));
  EXPECT_NE(Text(JobStatus("job-1")->getRoot<sp::JobStatus>().getError()).find("killed"), std::string::npos);
  ASSERT_TRUE(WaitFor([&] {
    EXPECT_TRUE(PollOnce(w, &o).ok());
    return !o.kills.empty();
  }, 5000));
  EXPECT_EQ(o.kills[0], "job-1/m-00000/0");
  // A finished job cannot be killed again; an unknown one is not found.
  auto r = Call([](sp::CoordinatorRequest::Builder req) { req.setKill("job-1"); });
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = Call([](sp::CoordinatorRequest::Builder req) { req.setKill("job-77"); });
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

// A killed job's attempt that writes its part after the staging directory was removed (the
// store's client makes the parents again) and only then ends: the staging goes again.
TEST_F(CoordinatorTest, KilledJobsLateAttemptLeavesNoStaging) {
  Orders o;
  std::string w;
  ASSERT_NO_FATAL_FAILURE(KillRunningOneMapJob(&w, &o));
  WritePart(o.launch(0), "late");
  ASSERT_TRUE(StoreHas("/out/.x.staging-job-1/_temporary"));
  ASSERT_TRUE(Report(w, "job-1/m-00000/0", false).ok());
  EXPECT_TRUE(WaitFor([&] { return !StoreHas("/out/.x.staging-job-1"); }, 5000)) << "the staging directory stayed";
  EXPECT_FALSE(StoreHas("/out/x"));
}

// The same for a job that failed (one task out of attempts) while two other tasks' attempts ran:
// one reports its end, the other's worker is lost; the staging goes after both.
TEST_F(CoordinatorTest, FailedJobsLateAttemptsLeaveNoStaging) {
  CoordinatorClient doomed(&net_, kCoord);
  std::string w = Register("host-a", 2), lost = Register("host-b", 1, &doomed);
  JobArgs a;
  a.kind = "none";
  a.maps = 3;
  a.max_attempts = 1;
  ASSERT_TRUE(Submit(a).ok());
  Orders o, ol;
  ASSERT_TRUE(WaitFor([&] {
    EXPECT_TRUE(PollOnce(w, &o).ok());
    EXPECT_TRUE(PollOnce(lost, &ol, 20, &doomed).ok());
    return o.launches.size() + ol.launches.size() >= 3;
  }, 5000));
  ASSERT_EQ(o.launches.size(), 2u);
  ASSERT_EQ(ol.launches.size(), 1u);
  ASSERT_TRUE(Report(w, Text(o.launch(0).getAttemptId()), false).ok());
  ASSERT_TRUE(WaitForState("job-1", "failed"));
  EXPECT_TRUE(WaitFor([&] { return !StoreHas("/out/.x.staging-job-1"); }, 5000));
  WritePart(o.launch(1), "late");
  WritePart(ol.launch(0), "late too");
  ASSERT_TRUE(Report(w, Text(o.launch(1).getAttemptId()), true, 1).ok());
  // host-b's attempt has not ended: it may still write.
  EXPECT_TRUE(StoreHas("/out/.x.staging-job-1/_temporary"));
  doomed.Close();  // host-b's worker process died: its attempts with it
  EXPECT_TRUE(WaitFor([&] { return !StoreHas("/out/.x.staging-job-1"); }, 5000)) << "the staging directory stayed";
  EXPECT_FALSE(StoreHas("/out/x"));
}

TEST_F(CoordinatorTest, ListAndLogs) {
  std::string w = Register("host-a", 1);
  JobArgs a;
  a.kind = "none";
  a.maps = 1;
  a.name = "listed";
  ASSERT_TRUE(Submit(a).ok());
  Orders o;
  ASSERT_TRUE(PollForLaunches(w, &o, 1));
  ASSERT_TRUE(Report(w, Text(o.launch(0).getAttemptId()), false, 0, "first attempt's stderr").ok());

  auto logs = Call([](sp::CoordinatorRequest::Builder req) { req.setLogs("job-1"); });
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  auto list = (*logs)->Root<sp::CoordinatorResponse>().getLogs();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(Text(list[0].getAttemptId()), "job-1/m-00000/0");
  EXPECT_EQ(Text(list[0].getStderr()), "first attempt's stderr");
  EXPECT_EQ(Text(list[0].getHost()), "host-a");
  EXPECT_EQ(Text(list[0].getState()), "failed");

  auto jobs = Call([](sp::CoordinatorRequest::Builder req) { req.setList(); });
  ASSERT_TRUE(jobs.ok());
  auto jl = (*jobs)->Root<sp::CoordinatorResponse>().getList();
  ASSERT_EQ(jl.size(), 1u);
  EXPECT_EQ(Text(jl[0].getJobId()), "job-1");
  EXPECT_EQ(Text(jl[0].getName()), "listed");
  EXPECT_EQ(jl[0].getAttempts().size(), 0u);  // lists carry no attempts

  EXPECT_EQ(Call([](sp::CoordinatorRequest::Builder req) { req.setLogs("job-9"); }).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Call([](sp::CoordinatorRequest::Builder req) { req.setStatus("job-9"); }).status().code(),
            StatusCode::kNotFound);
}

// Without its journal (lost with its disk), a restarted coordinator cannot take its running
// jobs up again: their history records say they failed.
TEST_F(CoordinatorTest, RestartWithoutTheJournalRecordsRunningJobsAsFailed) {
  JobArgs a;
  a.kind = "none";
  ASSERT_TRUE(Submit(a).ok());
  a.output = "dfs:/out/y";
  ASSERT_TRUE(Submit(a).ok());
  client_->Close();
  net_.Stop(kCoord);
  coord_->Stop();
  ASSERT_TRUE(RemoveAll(tmp_.Sub("coord") + "/journal").ok());
  old_.push_back(std::move(coord_));
  StartCoordinator();
  auto jobs = Call([](sp::CoordinatorRequest::Builder req) { req.setList(); });
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  auto jl = (*jobs)->Root<sp::CoordinatorResponse>().getList();
  ASSERT_EQ(jl.size(), 2u);
  for (auto j : jl) {
    EXPECT_EQ(Text(j.getState()), "failed") << Text(j.getJobId());
    EXPECT_NE(Text(j.getError()).find("restarted"), std::string::npos) << Text(j.getError());
  }
  a.output = "dfs:/out/z";
  auto id = Submit(a);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "job-3");
  EXPECT_EQ(State("job-1"), "failed");
}

TEST_F(CoordinatorTest, LostWorkersAttemptsGoToAnotherWorker) {
  CoordinatorClient first(&net_, kCoord), second(&net_, kCoord);
  std::string w1 = Register("host-a", 1, &first);
  JobArgs a;
  a.kind = "none";
  a.maps = 1;
  ASSERT_TRUE(Submit(a).ok());
  Orders o1;
  ASSERT_TRUE(PollForLaunches(w1, &o1, 1, &first));
  std::string w2 = Register("host-b", 1, &second);
  first.Close();  // the worker process died: its poll conversation ends
  Orders o2;
  ASSERT_TRUE(PollForLaunches(w2, &o2, 1, &second));
  EXPECT_EQ(Text(o2.launch(0).getAttemptId()), "job-1/m-00000/1");
  // The lost worker is gone: its polls are told to register again.
  Orders again;
  ASSERT_TRUE(PollOnce(w1, &again).ok());
  EXPECT_TRUE(again.reregister);
}

// A submission may not ask for more reduce tasks than the coordinator can hold: each costs
// memory up front (bookkeeping per partition), so 2^31-1 partitions must be refused, not
// allocated. Run in a child process: the coordinator as it is dies of the allocation.
TEST_F(CoordinatorTest, SubmitRefusesAbsurdPartitionCounts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        JobArgs a;
        a.partitions = 0x7fffffff;
        auto r = Submit(a);
        ExitChild(tmp_, r.status().code() == StatusCode::kInvalidArgument ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// The coordinator keeps a submission and reads it again later (launches on the tick thread,
// commit, status), outside the request's CatchCapnp: a field of the wrong kind (here args, a
// struct where a list of texts belongs) must fail the submit, not the coordinator later. Run in a
// child process: the coordinator as it is terminates.
TEST_F(CoordinatorTest, SubmissionWithMalformedFieldIsRefused) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::string w = Register("host-a", 1);
        capnp::MallocMessageBuilder m;
        auto s = m.initRoot<sp::CoordinatorRequest>().initSubmit();
        s.setName("malformed");
        s.setBinarySha256(kSha);
        s.initInputs(1).set(0, "dfs:/in/a");
        s.setOutput("dfs:/out/x");
        auto split = s.initSplits(1)[0];
        split.setPath("dfs:/in/a");
        split.setLength(10);
        s.initPartitioning().setKind("none");
        // Pointer 2 of JobSubmission is args (List(Text)); make it a struct.
        capnp::toAny(s).getPointerSection()[2].initAs<sp::Error>().setMessage("not a list");
        auto r = client_->Call(m);
        Orders o;
        bool polled = true;
        for (int i = 0; i < 4; ++i) polled = polled && PollOnce(w, &o, 50).ok();  // ticks pass
        // Refused as a whole: no job half made (as it is, the job exists and its first attempt
        // was assigned but never launched, so it hangs; a later launch crashes the tick thread).
        auto list = Call([](sp::CoordinatorRequest::Builder req) { req.setList(); });
        bool no_job = list.ok() && (*list)->Root<sp::CoordinatorResponse>().getList().size() == 0;
        ExitChild(tmp_, r.status().code() == StatusCode::kInvalidArgument && polled && no_job ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
// A finished job keeps only its summary in memory (issue 22: memory bounded however many jobs
// ran); its attempts and logs are read again from its history file.
TEST_F(CoordinatorTest, FinishedJobsAttemptsAndLogsComeFromItsHistoryFile) {
  std::string w = Register("host-a", 1);
  JobArgs a;
  a.kind = "none";
  a.maps = 1;
  ASSERT_TRUE(Submit(a).ok());
  Orders o;
  ASSERT_TRUE(PollForLaunches(w, &o, 1));
  ASSERT_TRUE(Report(w, Text(o.launch(0).getAttemptId()), false, 0, "the first attempt's stderr").ok());
  ASSERT_TRUE(PollForLaunches(w, &o, 2));
  WritePart(o.launch(1), "x");
  ASSERT_TRUE(Report(w, Text(o.launch(1).getAttemptId()), true, 1, "the second's").ok());
  ASSERT_TRUE(WaitForState("job-1", "succeeded")) << State("job-1");

  auto st = JobStatus("job-1");
  auto attempts = st->getRoot<sp::JobStatus>().getAttempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(Text(attempts[0].getState()), "failed");
  EXPECT_EQ(Text(attempts[1].getState()), "succeeded");
  EXPECT_EQ(st->getRoot<sp::JobStatus>().getMapsDone(), 1);
  auto logs = Call([](sp::CoordinatorRequest::Builder req) { req.setLogs("job-1"); });
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  auto list = (*logs)->Root<sp::CoordinatorResponse>().getLogs();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(Text(list[0].getStderr()), "the first attempt's stderr");
  auto json = coord_->JobJson("job-1");
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ((*json)["attempts"].size(), 2u) << json->dump();

  // Without the file the summary still answers, with no attempts.
  ASSERT_TRUE(RemoveAll(tmp_.Sub("coord") + "/history/job-1.job").ok());
  auto summary = JobStatus("job-1");
  EXPECT_EQ(Text(summary->getRoot<sp::JobStatus>().getState()), "succeeded");
  EXPECT_EQ(summary->getRoot<sp::JobStatus>().getMapsDone(), 1);
  EXPECT_EQ(summary->getRoot<sp::JobStatus>().getAttempts().size(), 0u);
}

// Memory stays bounded however many jobs have run: beyond max_finished_jobs the oldest finished
// jobs leave the job list, and their status, attempts and logs come from their history files.
TEST_F(CoordinatorTest, OnlyTheNewestFinishedJobsStayInMemory) {
  max_finished_jobs_ = 2;
  RestartCoordinator();
  std::string w = Register("host-a", 1);
  Orders o;
  for (int k = 1; k <= 3; ++k) {
    JobArgs a;
    a.kind = "none";
    a.maps = 1;
    a.output = "dfs:/out/x" + std::to_string(k);
    auto submitted = Submit(a);
    ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
    ASSERT_TRUE(PollForLaunches(w, &o, k));
    WritePart(o.launch(k - 1), "x");
    ASSERT_TRUE(Report(w, Text(o.launch(k - 1).getAttemptId()), true, 1, "job " + std::to_string(k) + "'s").ok());
    const std::string id = "job-" + std::to_string(k);
    ASSERT_TRUE(WaitForState(id, "succeeded")) << State(id);
  }
  auto listed = [&] {
    std::vector<std::string> ids;
    auto list = Call([](sp::CoordinatorRequest::Builder req) { req.setList(); });
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (list.ok()) {
      for (auto s : (*list)->Root<sp::CoordinatorResponse>().getList()) ids.push_back(Text(s.getJobId()));
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_EQ(listed(), (std::vector<std::string>{"job-2", "job-3"}));

  // job-1 is forgotten in memory but answered from history/job-1.job, attempts and logs included.
  auto st = JobStatus("job-1");
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(Text(st->getRoot<sp::JobStatus>().getState()), "succeeded");
  EXPECT_EQ(st->getRoot<sp::JobStatus>().getAttempts().size(), 1u);
  auto logs = Call([](sp::CoordinatorRequest::Builder req) { req.setLogs("job-1"); });
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  ASSERT_EQ((*logs)->Root<sp::CoordinatorResponse>().getLogs().size(), 1u);
  EXPECT_EQ(Text((*logs)->Root<sp::CoordinatorResponse>().getLogs()[0].getStderr()), "job 1's");
  auto json = coord_->JobJson("job-1");
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ((*json)["attempts"].size(), 1u) << json->dump();
  auto waited = Call([](sp::CoordinatorRequest::Builder req) {
    auto wait = req.initWait();
    wait.setJobId("job-1");
    wait.setWaitMs(1);
  });
  ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  EXPECT_EQ(Text((*waited)->Root<sp::CoordinatorResponse>().getStatus().getState()), "succeeded");
  auto missing = Call([](sp::CoordinatorRequest::Builder req) { req.setStatus("job-9"); });
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  auto escape = Call([](sp::CoordinatorRequest::Builder req) { req.setStatus("../history/job-1"); });
  EXPECT_EQ(escape.status().code(), StatusCode::kNotFound) << escape.status().ToString();

  // A restarted coordinator keeps the same newest ones from its history.
  RestartCoordinator();
  EXPECT_EQ(listed(), (std::vector<std::string>{"job-2", "job-3"}));
}

}  // namespace sawmill::sched
