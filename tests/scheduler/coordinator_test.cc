// Unit tests of the coordinator service (scheduler/coordinator.h) over an in-process network:
// worker registration and polls, submission checks, commit of map-only and map+reduce jobs into a
// store rooted in a temp dir, failures, kills, history across restarts, and lost workers. (The
// worker facing hostile orders is tests/worker/worker_orders_test.cc.)
#include "scheduler/coordinator.h"
#include "scheduler/plan_version.h"

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <capnp/any.h>
#include <capnp/message.h>
#include <gtest/gtest.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "common/rpc.h"
#include "records/manifest.h"
#include "scheduler/coordinator.capnp.h"
#include "scheduler/coordinator_client.h"
#include "tests/common/temp_dir.h"
#include "tests/common/wait_for.h"
#include "tests/scheduler/rooted_fs.h"

namespace sawmill::sched {
namespace {

namespace sp = proto;
using sawmill::testing::ExitChild;
using sawmill::testing::RootedFs;
using sawmill::testing::TempDir;
using sawmill::testing::WaitFor;

// SHA-256 of the binary the fixture puts in the store ("#!/bin/false\n"): the coordinator checks
// that a job's binary hashes to its name.
const std::string kSha = "022036a28655c76d3ac5e1584872c898d161687b7578de171ac3447b7447bf68";
constexpr char kCoord[] = "coordinator:1";


struct JobArgs {
  std::string name = "test-job";
  std::string output = "dfs:/out/x";
  std::string sha = kSha;
  std::vector<std::string> inputs = {"dfs:/in/a"};
  int maps = 2;
  std::string kind = "hash";  // "none": map-only
  int partitions = 2;
  bool overwrite = false;
  int max_attempts = 0;
};

// What a worker has been told over its polls so far (copies of the launches).
struct Orders {
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> launches;
  std::vector<std::string> kills;
  std::map<std::string, std::map<int, std::string>> map_outputs;  // job -> map -> address
  bool reregister = false;
  sp::AttemptLaunch::Reader launch(size_t i) { return launches[i]->getRoot<sp::AttemptLaunch>().asReader(); }
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeDirs(tmp_.Sub("store")).ok());
    store_ = std::make_shared<RootedFs>(tmp_.Sub("store"));
    SetDfs(store_);
    PutFile("/sawmill/binaries/" + kSha, "#!/bin/false\n");
    PutFile("/in/a", std::string(100, 'x'));
    StartCoordinator();
    client_ = std::make_unique<CoordinatorClient>(&net_, kCoord);
  }
  void TearDown() override {
    client_.reset();
    net_.Stop(kCoord);
    if (coord_) coord_->Stop();
    for (auto& c : old_) c->Stop();
    SetDfs(nullptr);
  }

  void StartCoordinator() {
    CoordinatorOptions o;
    o.dir = tmp_.Sub("coord");
    o.tick_ms = 10;
    o.worker_timeout_ms = 60000;
    o.scheduler.locality_delay_ms = 0;
    o.scheduler.speculation = false;
    coord_ = std::make_unique<Coordinator>(o, store_.get());
    ASSERT_TRUE(coord_->Start().ok());
    net_.Listen(kCoord, coord_->handler());
  }
  // Like a coordinator process dying and another starting on its directory. The old object stays
  // alive until the test ends: its conversation threads may still be unwinding.
  void RestartCoordinator() {
    client_->Close();
    net_.Stop(kCoord);
    coord_->Stop();
    old_.push_back(std::move(coord_));
    StartCoordinator();
  }

  void PutFile(const std::string& store_path, const std::string& data) {
    ASSERT_TRUE(FsWriteFile("dfs:" + store_path, data).ok()) << store_path;
  }
  bool StoreHas(const std::string& store_path) { return store_->Stat(store_path).ok(); }
  std::string ReadAllStore(const std::string& store_path) {
    std::string data;
    EXPECT_TRUE(FsReadFile("dfs:" + store_path, &data).ok()) << store_path;
    return data;
  }

  template <typename Fill>
  Result<std::unique_ptr<CapnpReader>> Call(Fill&& fill, CoordinatorClient* c = nullptr) {
    capnp::MallocMessageBuilder m;
    fill(m.initRoot<sp::CoordinatorRequest>());
    return (c ? c : client_.get())->Call(m);
  }

  std::string Register(const std::string& host, int slots = 2, CoordinatorClient* c = nullptr) {
    auto r = Call([&](sp::CoordinatorRequest::Builder req) {
      auto reg = req.initRegister();
      reg.setHost(host);
      reg.setShuffleAddress(host + ":7000");
      reg.setSlots(slots);
    }, c);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    auto resp = (*r)->Root<sp::CoordinatorResponse>();
    EXPECT_TRUE(resp.isRegistered());
    return Text(resp.getRegistered());
  }

  // One poll; its orders are added to *o.
  Status PollOnce(const std::string& worker, Orders* o, uint32_t wait_ms = 20, CoordinatorClient* c = nullptr) {
    ASSIGN_OR_RETURN(auto r, Call([&](sp::CoordinatorRequest::Builder req) {
      auto p = req.initPoll();
      p.setWorkerId(worker);
      p.setWaitMs(wait_ms);
    }, c));
    auto resp = r->Root<sp::CoordinatorResponse>();
    if (!resp.isOrders()) return InvalidArgument("poll answered with something else");
    auto orders = resp.getOrders();
    o->reregister = o->reregister || orders.getReregister();
    for (auto l : orders.getLaunch()) {
      o->launches.push_back(std::make_unique<capnp::MallocMessageBuilder>());
      o->launches.back()->setRoot(l);
    }
    for (auto k : orders.getKill()) o->kills.push_back(Text(k));
    for (auto jm : orders.getMapOutputs()) {
      auto& m = o->map_outputs[Text(jm.getJobId())];
      m.clear();
      for (auto out : jm.getOutputs()) m[out.getMap()] = Text(out.getAddress());
    }
    return Status::Ok();
  }
  // Polls until `n` launches have arrived in total (or a deadline passes).
  bool PollForLaunches(const std::string& worker, Orders* o, size_t n, CoordinatorClient* c = nullptr) {
    return WaitFor([&] {
      EXPECT_TRUE(PollOnce(worker, o, 20, c).ok());
      return o->launches.size() >= n;
    }, 5000);
  }

  Result<std::string> Submit(const JobArgs& a) {
    ASSIGN_OR_RETURN(auto r, Call([&](sp::CoordinatorRequest::Builder req) {
      auto s = req.initSubmit();
      s.setName(a.name);
      s.setBinarySha256(a.sha);
      auto args = s.initArgs(1);
      args.set(0, "--flag=1");
      auto in = s.initInputs(static_cast<unsigned>(a.inputs.size()));
      for (unsigned i = 0; i < a.inputs.size(); ++i) in.set(i, a.inputs[i]);
      s.setOutput(a.output);
      s.setOverwrite(a.overwrite);
      auto splits = s.initSplits(static_cast<unsigned>(a.maps));
      for (int i = 0; i < a.maps; ++i) {
        splits[i].setPath("dfs:/in/a");
        splits[i].setOffset(static_cast<uint64_t>(i) * 50);
        splits[i].setLength(50);
        splits[i].setBytes(50);
      }
      auto p = s.initPartitioning();
      p.setKind(a.kind);
      p.setNumPartitions(a.kind == "none" ? 0 : a.partitions);
      s.setSeed(7);
      s.setMemoryBytes(1 << 20);
      s.setMaxAttempts(a.max_attempts);
    }));
    return Text(r->Root<sp::CoordinatorResponse>().getSubmitted());
  }

  // Reports one attempt's result from `worker`.
  Status Report(const std::string& worker, const std::string& attempt_id, bool ok, uint64_t records_out = 0,
                const std::string& stderr_tail = "", CoordinatorClient* c = nullptr) {
    auto r = Call([&](sp::CoordinatorRequest::Builder req) {
      auto rep = req.initReport();
      rep.setWorkerId(worker);
      auto u = rep.initUpdates(1)[0];
      u.setAttemptId(attempt_id);
      u.setStderrTail(stderr_tail);
      u.setSeconds(0.5);
      auto res = u.initResult();
      res.setOk(ok);
      if (!ok) res.setError("exit 1: boom");
      res.setRecordsIn(records_out + 1);
      res.setRecordsOut(records_out);
      res.setBytesOut(records_out * 10);
      res.setSorted(true);
      res.setContentHash("hash-" + attempt_id);
    }, c);
    return r.status();
  }

  // The job's status (a copy).
  std::unique_ptr<capnp::MallocMessageBuilder> JobStatus(const std::string& id) {
    auto r = Call([&](sp::CoordinatorRequest::Builder req) { req.setStatus(id); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto m = std::make_unique<capnp::MallocMessageBuilder>();
    if (r.ok()) m->setRoot((*r)->Root<sp::CoordinatorResponse>().getStatus());
    return m;
  }
  std::string State(const std::string& id) {
    return Text(JobStatus(id)->getRoot<sp::JobStatus>().getState());
  }
  bool WaitForState(const std::string& id, const std::string& state) {
    return WaitFor([&] { return State(id) == state; }, 5000);
  }

  // A map-only job of one map (job-1) launched on a new 1-slot worker (*w, its orders in *o),
  // then killed: it has failed, its attempt not yet ended.
  void KillRunningOneMapJob(std::string* w, Orders* o) {
    *w = Register("host-a", 1);
    JobArgs a;
    a.kind = "none";
    a.maps = 1;
    ASSERT_TRUE(Submit(a).ok());
    ASSERT_TRUE(PollForLaunches(*w, o, 1));
    auto r = Call([](sp::CoordinatorRequest::Builder req) { req.setKill("job-1"); });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(WaitForState("job-1", "failed"));
  }

  // Writes the part an attempt was told to write (an outputPath "dfs:/...").
  void WritePart(sp::AttemptLaunch::Reader l, const std::string& data) {
    std::string out = Text(l.getSpec().getOutputPath());
    ASSERT_EQ(out.rfind("dfs:/", 0), 0u) << out;
    PutFile(out.substr(4), data);
  }

  TempDir tmp_;
  std::shared_ptr<RootedFs> store_;
  std::vector<std::unique_ptr<Coordinator>> old_;
  std::unique_ptr<Coordinator> coord_;
  InProcessNetwork net_;  // destroyed before the coordinators: joins their conversation threads
  std::unique_ptr<CoordinatorClient> client_;
};

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
  auto submit = [&](uint32_t version, const std::string& parent) {
    return Call([&](sp::CoordinatorRequest::Builder req) {
      auto s = req.initSubmit();
      s.setName("p");
      s.setBinarySha256(kSha);
      s.setProgram(parent.empty());
      s.setParentJob(parent);
      s.setPlanVersion(version);
      s.setScratchDir("dfs:/tmp/p");
      s.initPartitioning().setKind("none");
    }).status();
  };
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
  EXPECT_FALSE(StoreHas("/out/.x.staging-job-1"));
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
  EXPECT_FALSE(StoreHas("/out/.x.staging-job-1"));
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

TEST_F(CoordinatorTest, RestartRecordsRunningJobsAsFailed) {
  JobArgs a;
  a.kind = "none";
  ASSERT_TRUE(Submit(a).ok());
  a.output = "dfs:/out/y";
  ASSERT_TRUE(Submit(a).ok());
  RestartCoordinator();
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
}  // namespace sawmill::sched
