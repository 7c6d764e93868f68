// A worker's attempts: accepting or refusing a launch, running it (binary, inputs, spec, its
// process in attempt_processes.cc, outcome), reporting its result, and reaping finished attempts
// and dropped jobs.
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "scheduler/attempt_id.h"
#include "worker/launch_checks.h"
#include "worker/worker_impl.h"

namespace sawmill::worker {
namespace {

namespace sp = sched::proto;

std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// An attempt whose process ended without a result, on a disk with less free than this, most
// likely could not write its result (or its stderr) because the disk is full.
constexpr uint64_t kFullDiskBytes = 64 << 10;

// "; DIR: no space left on device (N bytes free)" when the file system holding `dir` is full, so
// that the attempt's error says why when its own words could not be written; "" otherwise.
std::string FullDiskNote(const std::string& dir) {
  struct statvfs v;
  if (::statvfs(dir.c_str(), &v) != 0) return "";
  const uint64_t free = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  if (free >= kFullDiskBytes) return "";
  return "; " + dir + ": " + std::string(kNoSpaceText) + " (" + std::to_string(free) + " bytes free)";
}

}  // namespace

void Worker::Impl::Launch(sp::AttemptLaunch::Reader launch) {
  CheckTexts(launch);  // throws on a malformed launch (the orders' CatchCapnp reports it)
  auto run = std::make_unique<Run>();
  run->job_id = Text(launch.getJobId());
  run->attempt_id = Text(launch.getAttemptId());
  run->reduce = launch.getSpec().getReduce();
  run->launch = std::make_unique<capnp::MallocMessageBuilder>();
  run->launch->setRoot(launch);
  if (!SafeJobId(run->job_id) || !SafeName(run->attempt_id)) {
    Refuse(run->attempt_id, "unsafe job or attempt id");
    return;
  }
  auto kind = ParsePartitionKind(Text(launch.getSpec().getPartitioning().getKind()));
  if (!kind.ok()) {
    Refuse(run->attempt_id, kind.status().message());
    return;
  }
  run->kind = *kind;
  if (run->reduce && (launch.getMapCount() < 0 || launch.getMapCount() > kMaxMapCount)) {
    Refuse(run->attempt_id, "a reduce of " + std::to_string(launch.getMapCount()) + " maps");
    return;
  }
  run->dir = JoinPath(JoinPath(JoinPath(opt.dir, "jobs"), run->job_id), sched::AttemptDirName(run->job_id, run->attempt_id));
  if (run->reduce) {
    run->segments.assign(static_cast<size_t>(std::max(launch.getMapCount(), 0)), "");
    run->missing = static_cast<int>(run->segments.size());
  }
  {
    std::lock_guard<std::mutex> l(mu);
    if (stopping || runs.count(run->attempt_id)) return;
  }
  // The directory is made before the run is visible: fetches for it may start at once (from
  // this thread's next ScheduleFetches), and nothing may clear it under them afterwards.
  Status made = RemoveAll(run->dir);
  if (made.ok()) made = MakeDirs(run->reduce ? JoinPath(run->dir, "segments") : run->dir);
  if (made.ok() && run->reduce && shuffle_memory.enabled()) {
    std::string memory_dir =
        JoinPath(shuffle_memory.dir(), run->job_id + "-" + sched::AttemptDirName(run->job_id, run->attempt_id));
    // Without its folder in memory the reduce fetches every segment to disk.
    if (RemoveAll(memory_dir).ok() && MakeDirs(memory_dir).ok()) run->memory_dir = std::move(memory_dir);
  }
  if (!made.ok()) {
    Refuse(run->attempt_id, "cannot make its directory: " + made.ToString());
    return;
  }
  std::lock_guard<std::mutex> l(mu);
  if (stopping || runs.count(run->attempt_id)) return;
  Run* r = run.get();
  runs[run->attempt_id] = std::move(run);
  r->thread = std::thread([this, r] { RunAttempt(r); });
}

void Worker::Impl::Refuse(const std::string& attempt_id, const std::string& why) {
  LOG(ERROR) << "refusing attempt " << attempt_id << ": " << why;
  capnp::MallocMessageBuilder m;
  auto res = m.initRoot<proto::AttemptResult>();
  res.setOk(false);
  res.setError("refused by worker " + opt.host + ": " + why);
  std::lock_guard<std::mutex> l(mu);
  updates.push_back(Update{attempt_id, CapnpToString(m), "", 0});
  cv.notify_all();
}

void Worker::Impl::KillLocked(Run* r) {
  r->kill = true;
  r->kill_requested = true;
  if (r->child) r->child->Kill();
  cv.notify_all();
}

Status Worker::Impl::WriteSpec(Run* r, const std::string& spec_path, const std::string& result_path) {
  auto launch = r->launch->getRoot<sp::AttemptLaunch>().asReader();
  capnp::MallocMessageBuilder m;
  m.setRoot(launch.getSpec());
  auto s = m.getRoot<proto::AttemptSpec>();
  s.setWorkDir(JoinPath(r->dir, "work"));
  // Beside the attempt directories, so DropJob removes it with them.
  s.setCacheDir(JoinPath(JoinPath(JoinPath(opt.dir, "jobs"), r->job_id), "cache"));
  s.setResultPath(result_path);
  s.setSecretFile(opt.secret_file);
  s.setHost(opt.host);
  s.setCoordinator(opt.coordinator_address);  // a program master submits its stages there
  if (s.getNamenode().size() == 0) s.setNamenode(opt.namenode_address);
  if (r->reduce) {
    auto outs = s.initMapOutputs(static_cast<unsigned>(r->segments.size()));
    for (unsigned i = 0; i < r->segments.size(); ++i) outs.set(i, r->segments[i]);
  } else if (r->kind == PartitionKind::kTail) {
    s.setTailOutputPath(JoinPath(r->dir, "map.out"));  // its part goes to the store
  } else if (r->kind != PartitionKind::kNone) {
    s.setOutputPath(JoinPath(r->dir, "map.out"));
  }
  return WriteStringToFile(spec_path, CapnpToString(m));
}

void Worker::Impl::RunAttempt(Run* r) {
  auto start = Clock::now();
  auto launch = r->launch->getRoot<sp::AttemptLaunch>().asReader();
  Status s;
  std::string binary;
  if (s.ok()) {
    auto b = binaries.Get(Text(launch.getBinarySha256()));
    if (b.ok()) binary = *b;
    else s = b.status();
  }
  if (s.ok() && r->reduce) s = AwaitSegments(r);
  const std::string spec_path = JoinPath(r->dir, "spec"), result_path = JoinPath(r->dir, "result");
  if (s.ok()) s = WriteSpec(r, spec_path, result_path);
  std::string result_bytes;
  if (s.ok()) {
    LaunchOptions lo;
    lo.binary = binary;
    for (auto a : launch.getArgs()) lo.args.push_back(Text(a));
    std::vector<std::string> task_flags;
    for (auto a : launch.getTaskFlags()) task_flags.push_back(Text(a));
    lo.dir = r->dir;
    lo.memory_mb = launch.getMemoryMb();
    lo.timeout_ms = static_cast<int64_t>(launch.getTimeoutMs());
    // For the job's own logs, and for tests that fail chosen attempts.
    lo.env = {"SAWMILL_ATTEMPT_ID=" + r->attempt_id, "SAWMILL_JOB_ID=" + r->job_id, "SAWMILL_HOST=" + opt.host};
    ProcessOutcome o;
    s = RunProcess(r, lo, task_flags, spec_path, &o);
    if (s.ok()) {
      bool clean = o.exited && o.exit_code == 0;
      if (PathExists(result_path)) (void)ReadFileToString(result_path, &result_bytes);
      if (!clean || result_bytes.empty()) {
        std::string why = DescribeOutcome(o, lo);
        std::string last = LastLine(ReadTail(JoinPath(r->dir, "stderr"), 4096));
        if (lo.memory_mb > 0 && last.find("bad_alloc") != std::string::npos) {
          why += " (out of memory under the attempt's memory limit " + std::to_string(lo.memory_mb) + " MiB)";
        }
        if (result_bytes.empty()) why += FullDiskNote(r->dir);
        s = Aborted(why + (last.empty() ? "" : ": " + last));
      }
    }
  }
  if (s.ok()) {
    // The task's own verdict (it exits 1 with ok=false on a failed attempt).
    auto res = CapnpReader::Parse(result_bytes);
    if (!res.ok()) s = res.status();
  }
  Update u;
  u.attempt_id = r->attempt_id;
  u.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  u.stderr_tail = ReadTail(JoinPath(r->dir, "stderr"), opt.stderr_tail_bytes);
  bool ok = false;
  if (s.ok()) {
    u.result = result_bytes;
    (void)CatchCapnp("result", [&] {
      auto res = CapnpReader::Parse(result_bytes);
      ok = res.ok() && (*res)->Root<proto::AttemptResult>().getOk();
      return Status::Ok();
    });
  } else {
    capnp::MallocMessageBuilder m;
    auto res = m.initRoot<proto::AttemptResult>();
    res.setOk(false);
    res.setError(s.ToString());
    u.result = CapnpToString(m);
  }
  bool keep_output = ok && !r->reduce && r->kind != PartitionKind::kNone;
  // Only a map's output outlives its attempt; segments fetched from others are copies.
  if (r->reduce) (void)RemoveAll(JoinPath(r->dir, "segments"));
  if (!keep_output) (void)RemoveAll(JoinPath(r->dir, "map.out"));
  std::string memory_dir;
  {
    std::lock_guard<std::mutex> l(mu);
    memory_dir = ReleaseSegmentMemoryLocked(r);
    if (keep_output && !dropped_jobs.count(r->job_id)) {
      map_outputs[{r->job_id, r->attempt_id}] = JoinPath(r->dir, "map.out");
    }
    LOG(INFO) << "attempt " << r->attempt_id << (ok ? " succeeded" : " failed") << " in " << u.seconds << " s"
              << (ok ? "" : ": " + s.ToString());
    updates.push_back(std::move(u));
    r->done = true;
  }
  if (!memory_dir.empty()) (void)RemoveAll(memory_dir);
  cv.notify_all();
}

void Worker::Impl::DropJob(const std::string& job) {
  std::vector<std::unique_ptr<Run>> finished;
  {
    std::lock_guard<std::mutex> l(mu);
    dropped_jobs.insert(job);
    locations.erase(job);
    for (auto it = map_outputs.begin(); it != map_outputs.end();) {
      it = it->first.first == job ? map_outputs.erase(it) : std::next(it);
    }
    for (auto& [id, r] : runs) {
      if (r->job_id == job) KillLocked(r.get());
    }
  }
  Reap(/*wait_for_job=*/job);
  executors.DropJob(job);  // its attempts are over: their executors are idle or gone
  if (SafeJobId(job)) (void)RemoveAll(JoinPath(JoinPath(opt.dir, "jobs"), job));
}

void Worker::Impl::Reap(const std::string& wait_for_job) {
  std::vector<std::unique_ptr<Run>> done;
  {
    std::unique_lock<std::mutex> l(mu);
    if (!wait_for_job.empty()) {
      cv.wait(l, [&] {
        for (auto& [id, r] : runs) {
          if (r->job_id == wait_for_job && !r->done) return false;
        }
        return true;
      });
    }
    for (auto it = runs.begin(); it != runs.end();) {
      if (it->second->done) {
        done.push_back(std::move(it->second));
        it = runs.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& r : done) {
    if (r->thread.joinable()) r->thread.join();
  }
}

}  // namespace sawmill::worker
