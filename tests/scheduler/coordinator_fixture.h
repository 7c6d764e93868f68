// The coordinator service over an in-process network with a store rooted in a temp dir, and a
// hand-driven "worker" (register, poll, report), for coordinator_test and coordinator_recovery_test.
// Built twice: served a thread per conversation, and (SAWMILL_COORDINATOR_ASYNC) from one event
// thread, where held polls, reports and waits are answered later without a thread.
#pragma once

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


namespace sp = proto;
using sawmill::testing::ExitChild;
using sawmill::testing::RootedFs;
using sawmill::testing::TempDir;
using sawmill::testing::WaitFor;

// SHA-256 of the binary the fixture puts in the store ("#!/bin/false\n"): the coordinator checks
// that a job's binary hashes to its name.
inline const std::string kSha = "022036a28655c76d3ac5e1584872c898d161687b7578de171ac3447b7447bf68";
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
  std::string client_token;  // JobSubmission.clientToken
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

  void StartCoordinator(const std::string& dir = "") {
    CoordinatorOptions o;
    o.dir = dir.empty() ? tmp_.Sub("coord") : dir;
    o.tick_ms = 10;
    o.worker_timeout_ms = worker_timeout_ms_;
    o.max_finished_jobs = max_finished_jobs_;
    o.scheduler.locality_delay_ms = 0;
    o.scheduler.speculation = false;
    coord_ = std::make_unique<Coordinator>(o, store_.get());
    ASSERT_TRUE(coord_->Start().ok());
#if SAWMILL_COORDINATOR_ASYNC
    net_.ListenAsync(kCoord, coord_->service());  // every request on one event thread
#else
    net_.Listen(kCoord, coord_->handler());  // a thread per conversation
#endif
  }
  // Like a coordinator process dying and another starting on its directory. The old object stays
  // alive until the test ends: its conversation threads may still be unwinding.
  void RestartCoordinator() {
    coord_->Stop();  // first: the connections it sees close are its own stopping, no worker lost
    client_->Close();
    net_.Stop(kCoord);
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

  // Registers a worker; with `previous`, registers again asking for that id back, running
  // `running` and serving the map outputs of `outputs` (attempt ids).
  std::string Register(const std::string& host, int slots = 2, CoordinatorClient* c = nullptr,
                       const std::string& previous = "", const std::vector<std::string>& running = {},
                       const std::vector<std::string>& outputs = {}) {
    auto r = Call([&](sp::CoordinatorRequest::Builder req) {
      auto reg = req.initRegister();
      reg.setHost(host);
      reg.setShuffleAddress(host + ":7000");
      reg.setSlots(slots);
      reg.setPreviousId(previous);
      auto rl = reg.initRunning(static_cast<unsigned>(running.size()));
      for (unsigned i = 0; i < running.size(); ++i) rl.set(i, running[i]);
      auto ol = reg.initMapOutputs(static_cast<unsigned>(outputs.size()));
      for (unsigned i = 0; i < outputs.size(); ++i) ol.set(i, outputs[i]);
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
    }, 10000);
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
      s.setClientToken(a.client_token);
    }));
    return Text(r->Root<sp::CoordinatorResponse>().getSubmitted());
  }

  // Submits a program (no `parent`) or, from its master attempt `master`, a stage of it (key "0.0").
  Result<std::unique_ptr<CapnpReader>> SubmitProgram(const std::string& parent, const std::string& master = "",
                                                     uint32_t version = kProgramPlanVersion,
                                                     CoordinatorClient* c = nullptr) {
    return Call([&](sp::CoordinatorRequest::Builder req) {
      auto s = req.initSubmit();
      s.setName("p");
      s.setBinarySha256(kSha);
      s.setProgram(parent.empty());
      s.setParentJob(parent);
      s.setMasterAttempt(master);
      s.setPlanVersion(version);
      s.setScratchDir("dfs:/tmp/p");
      s.setOutput("dfs:/out/stage");
      s.initStage().setKey("0.0");
      s.initPartitioning().setKind("none");
    }, c);
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

  int64_t worker_timeout_ms_ = 60000;  // set before StartCoordinator
  size_t max_finished_jobs_ = 1000;    // ditto
  TempDir tmp_;
  std::shared_ptr<RootedFs> store_;
  std::vector<std::unique_ptr<Coordinator>> old_;
  std::unique_ptr<Coordinator> coord_;
  InProcessNetwork net_;  // destroyed before the coordinators: joins their conversation threads
  std::unique_ptr<CoordinatorClient> client_;
};

}  // namespace sawmill::sched
