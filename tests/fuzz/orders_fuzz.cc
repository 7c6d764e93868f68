// Fuzz target: what a coordinator answers a worker's poll (scheduler/coordinator.capnp). One
// Worker (worker/worker.h) lives across inputs and talks to a fake coordinator endpoint on an
// in-process network, which answers register with a fixed id and the next poll with the input
// bytes as the response header (later polls with empty orders). Its store fails every call, so
// launched attempts fail early. The worker must not crash, hang or allocate without bound on any
// orders (absurd map counts, ids like "../../x" or "/", empty hashes), and must not remove files
// outside the directories of the jobs and attempts the orders name: a sentinel directory under
// jobs/ whose name no safe id can have, and one beside the worker's directory, must survive.
//
// Seeds (FuzzSeeds) are valid orders: map and reduce launches, kills, map output locations,
// dropped jobs, reregister. Linked with mutation_driver.cc (g++ has no libFuzzer).
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/rpc.h"
#include "scheduler/coordinator.capnp.h"
#include "tests/worker/fake_coordinator.h"
#include "worker/worker.h"

namespace {

using namespace sawmill;
namespace sp = sawmill::sched::proto;
using sawmill::testing::EmptyOrders;
using sawmill::testing::FailingFs;
using sawmill::testing::FakeCoordinator;

constexpr char kCoordinator[] = "coordinator:1";

void Check(bool cond, const std::string& what) {
  if (!cond) {
    std::fprintf(stderr, "orders_fuzz: %s\n", what.c_str());
    std::abort();
  }
}

struct Env {
  std::string root, dir, inside_sentinel, outside_sentinel;
  InProcessNetwork net;
  FakeCoordinator fake{/*record_reports=*/false};  // no test reads them: do not let them pile up
  FailingFs store;
  std::unique_ptr<worker::Worker> worker;
};

// Built once and never destroyed (the process exits after the last input); the temp dir is
// removed at exit.
Env& Get() {
  static Env* env = [] {
    FLAGS_minloglevel = google::GLOG_FATAL;  // every refused or failed attempt would log
    auto* e = new Env;
    std::string tmpl = "/tmp/orders_fuzz.XXXXXX";
    Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    e->root = tmpl;
    std::atexit([] { (void)RemoveAll(Get().root); });
    e->dir = e->root + "/worker";
    e->inside_sentinel = e->dir + "/jobs/keep me/sentinel";
    e->outside_sentinel = e->root + "/outside/sentinel";
    Check(MakeDirs(e->dir + "/jobs/keep me").ok() && MakeDirs(e->root + "/outside").ok(), "dirs");
    Check(WriteStringToFile(e->inside_sentinel, "x").ok(), "sentinel");
    Check(WriteStringToFile(e->outside_sentinel, "x").ok(), "sentinel");
    FakeCoordinator* fake = &e->fake;
    e->net.Listen(kCoordinator, [fake](Connection& c) { fake->Serve(c); });
    worker::WorkerOptions o;
    o.dir = e->dir;
    o.host = "fuzzhost";
    o.coordinator_address = kCoordinator;
    o.shuffle_address = "fuzzhost:1";
    o.slots = 2;
    o.poll_ms = 5;
    o.fetch_threads = 1;
    e->worker = std::make_unique<worker::Worker>(o, &e->net, &e->store);
    e->worker->Start();
    return e;
  }();
  return *env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Env& e = Get();
  // The poll after the one that took the input starts once the worker has carried it out.
  bool served = e.fake.GiveRaw(std::string(reinterpret_cast<const char*>(data), size), std::chrono::seconds(20));
  Check(served, "the worker stopped polling after some orders");
  Check(e.fake.malformed_requests() == 0, "the worker sent a request that does not parse");
  Check(PathExists(e.inside_sentinel), "orders removed a directory under jobs/ that no job owns");
  Check(PathExists(e.outside_sentinel), "orders removed a file outside the worker's directory");
  return 0;
}

namespace {

void Launch(sp::AttemptLaunch::Builder l, const std::string& job, const std::string& attempt, bool reduce, int task,
            const std::string& kind) {
  l.setJobId(job);
  l.setAttemptId(attempt);
  l.setBinarySha256(std::string(64, 'c'));
  l.initArgs(1).set(0, "--x");
  l.setMapCount(reduce ? 2 : 0);
  l.setTimeoutMs(1000);
  auto s = l.initSpec();
  s.setJobId(job);
  s.setAttemptId(attempt);
  s.setReduce(reduce);
  s.setTaskIndex(task);
  s.getPartitioning().setKind(kind);
  s.getPartitioning().setNumPartitions(kind == "none" ? 0 : 2);
  if (!reduce) {
    s.getSplit().setPath("dfs:/in/a");
    s.getSplit().setLength(10);
  }
  if (reduce || kind == "none") s.setOutputPath("dfs:/out/.x.staging-" + job + "/_temporary/x/part-00000");
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  {  // a map and a reduce of a job, with where the maps' outputs are
    capnp::MallocMessageBuilder m;
    auto o = m.initRoot<sp::CoordinatorResponse>().initOrders();
    auto l = o.initLaunch(2);
    Launch(l[0], "job-1", "job-1/m-00000/0", false, 0, "hash");
    Launch(l[1], "job-1", "job-1/r-00001/0", true, 1, "hash");
    auto mo = o.initMapOutputs(1)[0];
    mo.setJobId("job-1");
    auto outs = mo.initOutputs(2);
    for (unsigned i = 0; i < 2; ++i) {
      outs[i].setMap(static_cast<int32_t>(i));
      outs[i].setAttemptId("job-1/m-0000" + std::to_string(i) + "/0");
      outs[i].setAddress("fuzzhost:1");
    }
    seeds.push_back(CapnpToString(m));
  }
  {  // a map-only launch killed in the same orders, and a dropped job
    capnp::MallocMessageBuilder m;
    auto o = m.initRoot<sp::CoordinatorResponse>().initOrders();
    Launch(o.initLaunch(1)[0], "job-2", "job-2/m-00003/1", false, 3, "none");
    o.initKill(1).set(0, "job-2/m-00003/1");
    o.initDropJobs(1).set(0, "job-1");
    seeds.push_back(CapnpToString(m));
  }
  {  // the coordinator forgot the worker
    capnp::MallocMessageBuilder m;
    m.initRoot<sp::CoordinatorResponse>().initOrders().setReregister(true);
    seeds.push_back(CapnpToString(m));
  }
  {  // an error instead of orders
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<sp::CoordinatorResponse>();
    r.initError().setCode(5);
    r.getError().setMessage("no");
    r.setNone();
    seeds.push_back(CapnpToString(m));
  }
  seeds.push_back(EmptyOrders());
  return seeds;
}
