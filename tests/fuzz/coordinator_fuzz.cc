// Fuzz target: CoordinatorRequest headers (scheduler/coordinator.capnp) arriving at one
// Coordinator that lives across inputs, with a store rooted in a temp dir. Each input is sent as
// up to kMaxFrames headers over one in-process conversation, then whole as a single header on
// another. The coordinator must answer every header with a CoordinatorResponse that parses, and
// never crash, hang or allocate without bound.
//
// Input format: a sequence of [length: u16 little-endian][length bytes] frames; bytes past the
// last whole frame form one more. To let mutations reach deep states without knowing the ids the
// coordinator hands out, a request that parses is rewritten before sending: a poll's or report's
// worker id "@" becomes the id of the last worker this input registered, a status/kill/logs job
// "@" and a report's attempt ids "@/..." use the last job this input submitted, and a poll's
// waitMs is clamped to 5 ms (holding polls is by design; a poll that cannot be rewritten is
// replaced by a list request), and a submission's numPartitions to 64. Likewise a wait's job and
// waitMs, and a stage submission's parentJob "@" and masterAttempt "@/...". Since the coordinator
// keeps every job in memory, the jobs an input submitted are killed when its conversation ends.
// Seeds (FuzzSeeds) are real
// conversations: register, submit (map-only and map+reduce), poll, report success and failure,
// status, list, logs, kill, workers.
//
// Linked with mutation_driver.cc (g++ has no libFuzzer).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "common/rpc.h"
#include "scheduler/coordinator.capnp.h"
#include "scheduler/coordinator.h"
#include "scheduler/plan_version.h"
#include "tests/scheduler/rooted_fs.h"

namespace {

using namespace sawmill;
namespace sp = sawmill::sched::proto;
using sawmill::testing::RootedFs;

constexpr size_t kMaxFrames = 16;
constexpr char kAddress[] = "coordinator:1";
// SHA-256 of the "binary" put in the store: the coordinator refuses a binary that does not hash
// to its name.
const std::string kSha = "9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd";


void Check(bool cond, const std::string& what) {
  if (!cond) {
    std::fprintf(stderr, "coordinator_fuzz: %s\n", what.c_str());
    std::abort();
  }
}

struct Env {
  std::string dir;
  std::shared_ptr<RootedFs> store;
  std::unique_ptr<sched::Coordinator> coordinator;
  // Replaced every kInputsPerNetwork inputs: an InProcessNetwork joins its conversation threads
  // only when destroyed, and a fuzz run opens thousands of conversations.
  std::unique_ptr<InProcessNetwork> net;
  int inputs = 0;
};

constexpr int kInputsPerNetwork = 256;

// Built once; never destroyed (the process exits after the last input), the temp dir removed at
// exit.
Env& Get() {
  static Env* env = [] {
    FLAGS_minloglevel = google::GLOG_ERROR;  // every bad request would log a warning
    auto* e = new Env;
    std::string tmpl = "/tmp/coordinator_fuzz.XXXXXX";
    Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    e->dir = tmpl;
    std::atexit([] { (void)RemoveAll(Get().dir); });
    Check(MakeDirs(e->dir + "/store").ok(), "store dir");
    e->store = std::make_shared<RootedFs>(e->dir + "/store");
    SetDfs(e->store);
    Check(FsWriteFile("dfs:/sawmill/binaries/" + kSha, "binary").ok(), "binary");
    Check(FsWriteFile("dfs:/in/a", std::string(1000, 'x')).ok(), "input");
    sched::CoordinatorOptions o;
    o.dir = e->dir + "/coordinator";
    o.tick_ms = 5;
    o.worker_timeout_ms = 2000;
    o.scheduler.locality_delay_ms = 0;
    e->coordinator = std::make_unique<sched::Coordinator>(o, e->store.get());
    Check(e->coordinator->Start().ok(), "coordinator start");
    e->net = std::make_unique<InProcessNetwork>();
    e->net->Listen(kAddress, e->coordinator->handler());
    return e;
  }();
  return *env;
}

// The ids of this input's last registered worker and submitted job ("" until then).
struct Names {
  std::string worker, job;
};

std::string Resolve(const std::string& s, const std::string& with) {
  if (with.empty()) return s;
  if (s == "@") return with;
  if (s.rfind("@/", 0) == 0) return with + s.substr(1);
  return s;
}

std::string ListRequest() {
  capnp::MallocMessageBuilder m;
  m.initRoot<sp::CoordinatorRequest>().setList();
  return CapnpToString(m);
}

// The header as sent: rewritten as described at the top when it parses, else as is.
std::string Rewrite(const std::string& header, const Names& names) {
  auto reader = CapnpReader::Parse(header);
  if (!reader.ok()) return header;
  std::string out = header;
  Status copied = CatchCapnp("request", [&]() -> Status {
    capnp::MallocMessageBuilder m;
    m.setRoot((*reader)->Root<sp::CoordinatorRequest>());
    auto req = m.getRoot<sp::CoordinatorRequest>();
    switch (req.which()) {
      case sp::CoordinatorRequest::POLL: {
        auto p = req.getPoll();
        p.setWorkerId(Resolve(Text(p.getWorkerId()), names.worker));
        p.setWaitMs(std::min<uint32_t>(p.getWaitMs(), 5));
        break;
      }
      case sp::CoordinatorRequest::REPORT: {
        auto r = req.getReport();
        r.setWorkerId(Resolve(Text(r.getWorkerId()), names.worker));
        for (auto u : r.getUpdates()) u.setAttemptId(Resolve(Text(u.getAttemptId()), names.job));
        for (auto f : r.getFetchFailures()) {
          f.setReduceAttemptId(Resolve(Text(f.getReduceAttemptId()), names.job));
          f.setMapAttemptId(Resolve(Text(f.getMapAttemptId()), names.job));
        }
        break;
      }
      case sp::CoordinatorRequest::SUBMIT: {
        // Every job stays in the coordinator's memory across inputs: keep them small (absurd
        // counts are CoordinatorTest.SubmitRefusesAbsurdPartitionCounts).
        auto p = req.getSubmit().getPartitioning();
        p.setNumPartitions(std::min(p.getNumPartitions(), 64));
        auto sub = req.getSubmit();
        sub.setParentJob(Resolve(Text(sub.getParentJob()), names.job));
        sub.setMasterAttempt(Resolve(Text(sub.getMasterAttempt()), names.job));
        break;
      }
      case sp::CoordinatorRequest::WAIT: {
        auto w = req.getWait();
        w.setJobId(Resolve(Text(w.getJobId()), names.job));
        w.setWaitMs(std::min<uint32_t>(w.getWaitMs(), 5));
        break;
      }
      case sp::CoordinatorRequest::STATUS: req.setStatus(Resolve(Text(req.getStatus()), names.job)); break;
      case sp::CoordinatorRequest::KILL: req.setKill(Resolve(Text(req.getKill()), names.job)); break;
      case sp::CoordinatorRequest::LOGS: req.setLogs(Resolve(Text(req.getLogs()), names.job)); break;
      default: break;
    }
    out = CapnpToString(m);
    return Status::Ok();
  });
  if (!copied.ok()) {
    // A poll or wait that cannot be rewritten could hold its conversation for seconds.
    bool poll = false;
    (void)CatchCapnp("request", [&]() -> Status {
      auto r = (*reader)->Root<sp::CoordinatorRequest>();
      poll = r.isPoll() || r.isWait();
      return Status::Ok();
    });
    if (poll) return ListRequest();
  }
  return out;
}

// Sends each header on one conversation and checks each answer.
void Converse(const std::vector<std::string>& headers) {
  auto conn = Get().net->Connect(kAddress);
  Check(conn.ok(), "connect");
  Names names;
  std::vector<std::string> jobs;
  for (const std::string& h : headers) {
    if (!(*conn)->Send(Rewrite(h, names)).ok()) break;
    auto reply = (*conn)->Receive();
    Check(reply.ok(), "no answer: " + reply.status().ToString());
    auto r = CapnpReader::Parse(reply->header);
    Check(r.ok(), "an answer does not parse: " + r.status().ToString());
    Status s = CatchCapnp("response", [&]() -> Status {
      auto resp = (*r)->Root<sp::CoordinatorResponse>();
      if (resp.isRegistered()) names.worker = Text(resp.getRegistered());
      if (resp.isSubmitted()) jobs.push_back(names.job = Text(resp.getSubmitted()));
      if (resp.isStatus()) (void)resp.getStatus().getAttempts().size();
      if (resp.isList()) (void)resp.getList().size();
      if (resp.isLogs()) (void)resp.getLogs().size();
      if (resp.isOrders()) (void)resp.getOrders().getLaunch().size();
      (void)resp.getError().getMessage().size();
      return Status::Ok();
    });
    Check(s.ok(), "an answer is malformed: " + s.ToString());
  }
  // Killed jobs release their scheduling state; workers no input polls for time out.
  for (const std::string& job : jobs) {
    capnp::MallocMessageBuilder m;
    m.initRoot<sp::CoordinatorRequest>().setKill(job);
    if (!(*conn)->Send(CapnpToString(m)).ok() || !(*conn)->Receive().ok()) break;
  }
  (*conn)->Close();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Env& e = Get();
  if (++e.inputs % kInputsPerNetwork == 0) {
    e.net.reset();  // closes what is left open and joins every conversation thread
    e.net = std::make_unique<InProcessNetwork>();
    e.net->Listen(kAddress, e.coordinator->handler());
  }
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> frames;
  while (!in.empty() && frames.size() < kMaxFrames) {
    if (in.size() < 2) {
      frames.emplace_back(in);
      break;
    }
    size_t len = static_cast<uint8_t>(in[0]) | static_cast<size_t>(static_cast<uint8_t>(in[1])) << 8;
    in.remove_prefix(2);
    len = std::min(len, in.size());
    frames.emplace_back(in.substr(0, len));
    in.remove_prefix(len);
  }
  Converse(frames);
  Converse({std::string(reinterpret_cast<const char*>(data), size)});
  return 0;
}

namespace {

void AddFrame(capnp::MallocMessageBuilder& m, std::string* out) {
  std::string h = CapnpToString(m);
  Check(h.size() < 65536, "seed frame too long");
  out->push_back(static_cast<char>(h.size() & 0xff));
  out->push_back(static_cast<char>(h.size() >> 8));
  out->append(h);
}

void Register(std::string* out) {
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<sp::CoordinatorRequest>().initRegister();
  r.setHost("fuzzhost");
  r.setShuffleAddress("fuzzhost:1");
  r.setSlots(2);
  AddFrame(m, out);
}

void Submit(std::string* out, const std::string& output, const std::string& kind, int maps, int partitions) {
  capnp::MallocMessageBuilder m;
  auto s = m.initRoot<sp::CoordinatorRequest>().initSubmit();
  s.setName("fuzz");
  s.setBinarySha256(kSha);
  s.initArgs(1).set(0, "--x");
  s.initInputs(1).set(0, "dfs:/in/a");
  s.setOutput(output);
  s.setOverwrite(true);
  auto splits = s.initSplits(static_cast<unsigned>(maps));
  for (int i = 0; i < maps; ++i) {
    splits[i].setPath("dfs:/in/a");
    splits[i].setOffset(static_cast<uint64_t>(i) * 100);
    splits[i].setLength(100);
    splits[i].initHosts(1).set(0, "fuzzhost");
  }
  auto p = s.initPartitioning();
  p.setKind(kind);
  p.setNumPartitions(partitions);
  if (kind == "range") p.initSplitPoints(1).set(0, capnp::Data::Reader(reinterpret_cast<const uint8_t*>("m"), 1));
  s.setMaxAttempts(2);
  s.setSpeculation(true);
  AddFrame(m, out);
}

void Poll(std::string* out) {
  capnp::MallocMessageBuilder m;
  auto p = m.initRoot<sp::CoordinatorRequest>().initPoll();
  p.setWorkerId("@");
  p.setWaitMs(5);
  AddFrame(m, out);
}

void Report(std::string* out, const std::string& attempt, bool ok, bool fetch_failure = false) {
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<sp::CoordinatorRequest>().initReport();
  r.setWorkerId("@");
  auto u = r.initUpdates(1)[0];
  u.setAttemptId(attempt);
  u.setStderrTail("some stderr");
  u.setSeconds(0.25);
  auto res = u.initResult();
  res.setOk(ok);
  res.setError(ok ? "" : "exit 1");
  res.setRecordsOut(3);
  res.setBytesOut(30);
  res.initCounters(1)[0].setName("user.c");
  if (fetch_failure) {
    auto f = r.initFetchFailures(1)[0];
    f.setReduceAttemptId("@/r-00000/0");
    f.setMap(0);
    f.setMapAttemptId("@/m-00000/0");
    f.setError("refused");
  }
  AddFrame(m, out);
}

template <typename Fill>
void Simple(std::string* out, Fill&& fill) {
  capnp::MallocMessageBuilder m;
  fill(m.initRoot<sp::CoordinatorRequest>());
  AddFrame(m, out);
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  {  // a map-only job run to success
    std::string s;
    Register(&s);
    Submit(&s, "dfs:/out/maponly", "none", 2, 0);
    Poll(&s);
    Report(&s, "@/m-00000/0", true);
    Report(&s, "@/m-00001/0", true);
    Simple(&s, [](sp::CoordinatorRequest::Builder r) { r.setStatus("@"); });
    Simple(&s, [](sp::CoordinatorRequest::Builder r) { r.setLogs("@"); });
    seeds.push_back(s);
  }
  {  // a map+reduce job: maps succeed, a fetch failure, reduces
    std::string s;
    Register(&s);
    Submit(&s, "dfs:/out/reduce", "hash", 2, 2);
    Poll(&s);
    Report(&s, "@/m-00000/0", true);
    Report(&s, "@/m-00001/0", true);
    Poll(&s);
    Report(&s, "@/r-00000/0", false, true);
    Poll(&s);
    Report(&s, "@/r-00001/0", true);
    Simple(&s, [](sp::CoordinatorRequest::Builder r) { r.setList(); });
    seeds.push_back(s);
  }
  {  // a range-partitioned job killed
    std::string s;
    Register(&s);
    Submit(&s, "dfs:/out/range", "range", 1, 2);
    Poll(&s);
    Simple(&s, [](sp::CoordinatorRequest::Builder r) { r.setKill("@"); });
    Poll(&s);
    Simple(&s, [](sp::CoordinatorRequest::Builder r) { r.setWorkers(); });
    seeds.push_back(s);
  }
  {  // failures until the job fails
    std::string s;
    Register(&s);
    Submit(&s, "dfs:/out/fails", "none", 1, 0);
    Poll(&s);
    Report(&s, "@/m-00000/0", false);
    Poll(&s);
    Report(&s, "@/m-00000/1", false);
    Simple(&s, [](sp::CoordinatorRequest::Builder r) { r.setStatus("@"); });
    seeds.push_back(s);
  }
  {  // a program: its master launched, a stage submitted by it (twice: the second is answered
     // with the first's job), followed, its map reported
    std::string s;
    Register(&s);
    {
      capnp::MallocMessageBuilder m;
      auto p = m.initRoot<sp::CoordinatorRequest>().initSubmit();
      p.setName("fuzz-program");
      p.setBinarySha256(kSha);
      p.setProgram(true);
      p.setPlanVersion(sched::kProgramPlanVersion);
      p.initArgs(1).set(0, "--x");
      p.initTaskFlags(1).set(0, "--df_scratch=dfs:/tmp/fuzz");
      p.setScratchDir("dfs:/tmp/fuzz");
      p.initPartitioning().setKind("none");
      AddFrame(m, &s);
    }
    Poll(&s);
    for (int i = 0; i < 2; ++i) {
      capnp::MallocMessageBuilder m;
      auto st = m.initRoot<sp::CoordinatorRequest>().initSubmit();
      st.setName("fuzz-stage");
      st.setBinarySha256(kSha);
      st.initInputs(1).set(0, "dfs:/in/a");
      st.setOutput("dfs:/tmp/fuzz/n1");
      st.setOverwrite(true);
      auto split = st.initSplits(1)[0];
      split.setPath("dfs:/in/a");
      split.setLength(100);
      st.initPartitioning().setKind("none");
      st.setParentJob(i == 0 ? "@" : "job-1");
      st.setMasterAttempt("@/m-00000/0");
      st.setPlanVersion(sched::kProgramPlanVersion);
      auto info = st.initStage();
      info.setKey("0.0");
      info.initOperators(2).set(0, "ReadText");
      auto edge = info.initInputs(1)[0];
      edge.setKind("read");
      st.initTaskFlags(1).set(0, "--df_stage=0.0");
      AddFrame(m, &s);
    }
    Simple(&s, [](sp::CoordinatorRequest::Builder r) {
      auto w = r.initWait();
      w.setJobId("@");
      w.setWaitMs(5);
    });
    Poll(&s);
    Report(&s, "@/m-00000/0", true);
    Simple(&s, [](sp::CoordinatorRequest::Builder r) { r.setList(); });
    seeds.push_back(s);
  }
  {  // one header on its own (the raw-input case)
    capnp::MallocMessageBuilder m;
    m.initRoot<sp::CoordinatorRequest>().setList();
    seeds.push_back(CapnpToString(m));
  }
  return seeds;
}
