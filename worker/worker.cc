#include "worker/worker.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/sha256.h"
#include "mapreduce/partition_kind.h"
#include "scheduler/attempt_id.h"
#include "scheduler/coordinator_client.h"
#include "worker/launcher.h"
#include "worker/shuffle_client.h"
#include "worker/shuffle_server.h"

namespace sawmill::worker {
namespace {

namespace sp = sched::proto;
using Clock = std::chrono::steady_clock;


bool SafeName(const std::string& s) {
  // Every '/'-separated part non-empty and not "." or "..": "/", "./", "job-1/." or "job-1/"
  // would otherwise name a parent of the directory meant (jobs/, or the job's own directory).
  if (s.empty() || s.front() == '/' || s.back() == '/' || s.find("//") != std::string::npos) return false;
  if (s == "." || s.rfind("./", 0) == 0 || s.find("/./") != std::string::npos ||
      (s.size() >= 2 && s.compare(s.size() - 2, 2, "/.") == 0)) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  }) && s.find("..") == std::string::npos;
}

// A job id is one directory name under jobs/.
bool SafeJobId(const std::string& s) { return SafeName(s) && s.find('/') == std::string::npos; }

// The most map outputs a reduce attempt may wait for: its segment table is allocated up front.
constexpr int32_t kMaxMapCount = 1 << 20;

// Reads every text of a launch that the attempt's thread reads again: capnp throws on a
// malformed one (no NUL terminator), and that must happen while the orders are parsed, under
// their CatchCapnp, not on the attempt's thread.
void CheckTexts(sp::AttemptLaunch::Reader l) {
  (void)l.getJobId();
  (void)l.getAttemptId();
  (void)l.getBinarySha256();
  for (auto a : l.getArgs()) (void)a;
  auto s = l.getSpec();
  for (auto t : {s.getJobId(), s.getAttemptId(), s.getOutputPath(), s.getNamenode(), s.getWorkDir(),
                 s.getSecretFile(), s.getResultPath(), s.getHost(), s.getPartitioning().getKind(),
                 s.getSplit().getPath()}) {
    (void)t;
  }
  for (auto t : s.getMapOutputs()) (void)t;
  for (auto h : s.getSplit().getHosts()) (void)h;
}

struct Update {
  std::string attempt_id;
  std::string result;  // an encoded AttemptResult message
  std::string stderr_tail;
  double seconds = 0;
};

struct FetchFailureNote {
  std::string reduce_attempt_id;
  int map = 0;
  std::string map_attempt_id;
  std::string error;
};

struct Location {
  std::string attempt_id;
  std::string address;
};

}  // namespace

struct Worker::Impl {
  // One running attempt.
  struct Run {
    std::string job_id, attempt_id, dir;
    bool reduce = false;
    PartitionKind kind = PartitionKind::kNone;  // the job's partitioning
    std::unique_ptr<capnp::MallocMessageBuilder> launch;  // the AttemptLaunch, copied
    std::shared_ptr<ChildProcess> child;
    bool kill = false;
    // Reduce: one segment path per map ("" until fetched), and the fetches under way.
    std::vector<std::string> segments;
    std::set<int> fetching;
    std::map<int, std::pair<std::string, Clock::time_point>> failed;  // map -> (attempt, when)
    int missing = 0;
    std::thread thread;
    bool done = false;
  };
  struct Fetch {
    std::string attempt_id;  // the reduce attempt
    int map = 0;
    Location from;
    int partition = 0;
    std::string job_id, dest;
  };

  WorkerOptions opt;
  Transport* transport;
  FileSystem* store;
  sched::CoordinatorClient poll_client, report_client;
  std::unique_ptr<ShuffleServer> shuffle;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::string worker_id;  // "" until registered
  std::map<std::string, std::unique_ptr<Run>> runs;
  std::map<std::pair<std::string, std::string>, std::string> map_outputs;  // (job, attempt) -> map.out
  std::map<std::string, std::map<int, Location>> locations;                 // job -> map -> where
  std::vector<Update> updates;
  std::vector<FetchFailureNote> fetch_failures;
  std::deque<Fetch> fetch_queue;
  std::set<std::string> dropped_jobs;
  std::mutex binary_mu;
  std::map<std::string, std::string> verified;  // sha -> "size:mtime:ino" of the checked file

  std::thread poll_thread, report_thread;
  std::vector<std::thread> fetchers;

  Impl(WorkerOptions o, Transport* t, FileSystem* s)
      : opt(std::move(o)), transport(t), store(s), poll_client(t, opt.coordinator_address),
        report_client(t, opt.coordinator_address) {
    shuffle = std::make_unique<ShuffleServer>(
        [this](const std::string& job, const std::string& attempt) -> Result<std::string> {
          std::lock_guard<std::mutex> l(mu);
          auto it = map_outputs.find({job, attempt});
          if (it == map_outputs.end()) return NotFound("no map output of " + attempt + " on " + opt.host);
          return it->second;
        });
  }

  // ---- coordinator conversation ----

  Status Register() {
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<sp::CoordinatorRequest>().initRegister();
    r.setHost(opt.host);
    r.setShuffleAddress(opt.shuffle_address);
    r.setSlots(opt.slots);
    r.setPid(::getpid());
    ASSIGN_OR_RETURN(auto reply, poll_client.Call(m));
    std::string id;
    RETURN_IF_ERROR(CatchCapnp("register response", [&]() -> Status {
      auto resp = reply->Root<sp::CoordinatorResponse>();
      if (!resp.isRegistered()) return InvalidArgument("coordinator answered register with something else");
      id = Text(resp.getRegistered());
      return Status::Ok();
    }));
    std::lock_guard<std::mutex> l(mu);
    worker_id = id;
    LOG(INFO) << "registered with coordinator " << opt.coordinator_address << " as " << id;
    return Status::Ok();
  }

  void PollLoop() {
    int backoff_ms = 50;
    while (!Stopping()) {
      std::string id;
      {
        std::lock_guard<std::mutex> l(mu);
        id = worker_id;
      }
      if (id.empty()) {
        Status s = Register();
        if (!s.ok()) {
          LOG_EVERY_N(WARNING, 20) << "registering: " << s.ToString();
          SleepUnlessStopping(backoff_ms);
          backoff_ms = std::min(backoff_ms * 2, 2000);
        } else {
          backoff_ms = 50;
          cv.notify_all();
        }
        continue;
      }
      capnp::MallocMessageBuilder m;
      auto p = m.initRoot<sp::CoordinatorRequest>().initPoll();
      p.setWorkerId(id);
      p.setWaitMs(opt.poll_ms);
      auto reply = poll_client.Call(m);
      if (!reply.ok()) {
        if (!Stopping()) {
          LOG_EVERY_N(WARNING, 20) << "poll: " << reply.status().ToString();
        }
        SleepUnlessStopping(backoff_ms);
        backoff_ms = std::min(backoff_ms * 2, 2000);
        continue;
      }
      backoff_ms = 50;
      Status s = CatchCapnp("orders", [&]() -> Status {
        auto resp = (*reply)->Root<sp::CoordinatorResponse>();
        if (!resp.isOrders()) return InvalidArgument("coordinator answered poll with something else");
        Execute(resp.getOrders());
        return Status::Ok();
      });
      if (!s.ok()) LOG(WARNING) << s.ToString();
      ScheduleFetches();
      Reap();
    }
  }

  void Execute(sp::Orders::Reader orders) {
    if (orders.getReregister()) {
      LOG(WARNING) << "the coordinator does not know this worker: killing its attempts and registering again";
      std::lock_guard<std::mutex> l(mu);
      worker_id.clear();
      for (auto& [id, run] : runs) KillLocked(run.get());
      return;
    }
    for (auto jm : orders.getMapOutputs()) {
      std::lock_guard<std::mutex> l(mu);
      auto& locs = locations[Text(jm.getJobId())];
      locs.clear();
      for (auto o : jm.getOutputs()) locs[o.getMap()] = Location{Text(o.getAttemptId()), Text(o.getAddress())};
    }
    // Launches first: a kill in the same orders may be for one of them.
    for (auto launch : orders.getLaunch()) Launch(launch);
    for (auto id : orders.getKill()) {
      std::lock_guard<std::mutex> l(mu);
      auto it = runs.find(Text(id));
      if (it != runs.end()) KillLocked(it->second.get());
    }
    for (auto job : orders.getDropJobs()) DropJob(Text(job));
  }

  void ReportLoop() {
    while (true) {
      std::vector<Update> ups;
      std::vector<FetchFailureNote> ffs;
      std::string id;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return stopping || (!worker_id.empty() && (!updates.empty() || !fetch_failures.empty())); });
        if (stopping) return;
        ups.swap(updates);
        ffs.swap(fetch_failures);
        id = worker_id;
      }
      capnp::MallocMessageBuilder m;
      auto r = m.initRoot<sp::CoordinatorRequest>().initReport();
      r.setWorkerId(id);
      auto list = r.initUpdates(static_cast<unsigned>(ups.size()));
      for (unsigned i = 0; i < ups.size(); ++i) {
        list[i].setAttemptId(ups[i].attempt_id);
        list[i].setStderrTail(ups[i].stderr_tail);
        list[i].setSeconds(ups[i].seconds);
        auto res = CapnpReader::Parse(ups[i].result);
        if (res.ok()) (void)CatchCapnp("result", [&] {
          list[i].setResult((*res)->Root<proto::AttemptResult>());
          return Status::Ok();
        });
      }
      auto fl = r.initFetchFailures(static_cast<unsigned>(ffs.size()));
      for (unsigned i = 0; i < ffs.size(); ++i) {
        fl[i].setReduceAttemptId(ffs[i].reduce_attempt_id);
        fl[i].setMap(ffs[i].map);
        fl[i].setMapAttemptId(ffs[i].map_attempt_id);
        fl[i].setError(ffs[i].error);
      }
      auto reply = report_client.Call(m);
      if (!reply.ok()) {
        if (Stopping()) return;
        LOG_EVERY_N(WARNING, 20) << "report: " << reply.status().ToString();
        {
          // Keep them for the next try (in order, before anything newer).
          std::lock_guard<std::mutex> l(mu);
          if (reply.status().code() == StatusCode::kNotFound) {
            worker_id.clear();  // an unknown worker: its results are void; register again
            continue;
          }
          updates.insert(updates.begin(), ups.begin(), ups.end());
          fetch_failures.insert(fetch_failures.begin(), ffs.begin(), ffs.end());
        }
        SleepUnlessStopping(100);
      }
    }
  }

  // ---- attempts ----

  void Launch(sp::AttemptLaunch::Reader launch) {
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

  // A launch this worker will not run is reported failed at once, so the coordinator need not
  // wait for the attempt's timeout to reschedule it.
  void Refuse(const std::string& attempt_id, const std::string& why) {
    LOG(ERROR) << "refusing attempt " << attempt_id << ": " << why;
    capnp::MallocMessageBuilder m;
    auto res = m.initRoot<proto::AttemptResult>();
    res.setOk(false);
    res.setError("refused by worker " + opt.host + ": " + why);
    std::lock_guard<std::mutex> l(mu);
    updates.push_back(Update{attempt_id, CapnpToString(m), "", 0});
    cv.notify_all();
  }

  void KillLocked(Run* r) {
    r->kill = true;
    if (r->child) r->child->Kill();
    cv.notify_all();
  }

  Result<std::string> EnsureBinary(const std::string& sha) {
    std::lock_guard<std::mutex> l(binary_mu);
    if (sha.size() != 64 || !SafeName(sha)) return InvalidArgument("bad binary hash '" + sha + "'");
    const std::string dir = JoinPath(opt.dir, "binaries");
    const std::string path = JoinPath(dir, sha);
    auto signature = [](const std::string& p) -> std::string {
      struct stat st;
      if (::stat(p.c_str(), &st) != 0) return "";
      return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
    };
    std::string sig = signature(path);
    if (!sig.empty() && verified[sha] == sig) return path;
    if (sig.empty()) {
      RETURN_IF_ERROR(MakeDirs(dir));
      const std::string source = "/sawmill/binaries/" + sha;
      ASSIGN_OR_RETURN(auto in, store->OpenRead(source));
      const std::string tmp = path + ".tmp";
      {
        ASSIGN_OR_RETURN(auto out, WritableFile::Create(tmp));
        std::string buf;
        for (uint64_t off = 0; off < in->size();) {
          size_t n = static_cast<size_t>(std::min<uint64_t>(4 << 20, in->size() - off));
          buf.resize(n);
          RETURN_IF_ERROR(in->ReadAt(off, n, buf.data()));
          RETURN_IF_ERROR(out->Append(buf));
          off += n;
        }
        RETURN_IF_ERROR(out->Close());
      }
      ::chmod(tmp.c_str(), 0555);
      RETURN_IF_ERROR(Rename(tmp, path));
      sig = signature(path);
    }
    // Checked before every first exec of this file version: the store's copy or the local one
    // may have been replaced by someone, and we run only what was submitted.
    ASSIGN_OR_RETURN(std::string actual, Sha256FileHex(path));
    if (actual != sha) {
      (void)RemoveAll(path);
      return Corruption("job binary dfs:/sawmill/binaries/" + sha + " has SHA-256 " + actual +
                        ": refusing to run a binary that is not the one submitted");
    }
    verified[sha] = sig;
    return path;
  }

  // Writes the spec the child reads: the coordinator's part plus where things are on this worker.
  Status WriteSpec(Run* r, const std::string& spec_path, const std::string& result_path) {
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

  void RunAttempt(Run* r) {
    auto start = Clock::now();
    auto launch = r->launch->getRoot<sp::AttemptLaunch>().asReader();
    Status s;
    std::string binary;
    if (s.ok()) {
      auto b = EnsureBinary(Text(launch.getBinarySha256()));
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
      lo.args.push_back("--task=" + spec_path);
      lo.dir = r->dir;
      lo.memory_mb = launch.getMemoryMb();
      lo.timeout_ms = static_cast<int64_t>(launch.getTimeoutMs());
      // For the job's own logs, and for tests that fail chosen attempts.
      lo.env = {"SAWMILL_ATTEMPT_ID=" + r->attempt_id, "SAWMILL_JOB_ID=" + r->job_id, "SAWMILL_HOST=" + opt.host};
      auto child = ChildProcess::Start(lo);
      if (!child.ok()) {
        s = child.status();
      } else {
        std::shared_ptr<ChildProcess> c(std::move(child).value());
        {
          std::lock_guard<std::mutex> l(mu);
          r->child = c;
          if (r->kill) c->Kill();
        }
        ProcessOutcome o = c->Wait();
        bool clean = o.exited && o.exit_code == 0;
        if (PathExists(result_path)) (void)ReadFileToString(result_path, &result_bytes);
        if (!clean || result_bytes.empty()) {
          std::string why = DescribeOutcome(o, lo);
          std::string last = LastLine(ReadTail(JoinPath(r->dir, "stderr"), 4096));
          if (lo.memory_mb > 0 && last.find("bad_alloc") != std::string::npos) {
            why += " (out of memory under the attempt's memory limit " + std::to_string(lo.memory_mb) + " MiB)";
          }
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
    {
      std::lock_guard<std::mutex> l(mu);
      if (keep_output && !dropped_jobs.count(r->job_id)) {
        map_outputs[{r->job_id, r->attempt_id}] = JoinPath(r->dir, "map.out");
      }
      LOG(INFO) << "attempt " << r->attempt_id << (ok ? " succeeded" : " failed") << " in " << u.seconds << " s"
                << (ok ? "" : ": " + s.ToString());
      updates.push_back(std::move(u));
      r->done = true;
    }
    cv.notify_all();
  }

  static std::string LastLine(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    size_t nl = text.rfind('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
  }

  // A reduce attempt starts only once it holds every map's segment (fetched as maps finish).
  Status AwaitSegments(Run* r) {
    ScheduleFetches();
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return stopping || r->kill || r->missing == 0; });
    if (stopping || r->kill) return Aborted("killed while fetching map outputs");
    return Status::Ok();
  }

  // Queues fetches for every reduce attempt's missing segments whose location is known; segments
  // of maps that ran here are read in place.
  void ScheduleFetches() {
    std::lock_guard<std::mutex> l(mu);
    auto now = Clock::now();
    for (auto& [id, run] : runs) {
      Run* r = run.get();
      if (!r->reduce || r->done || r->kill || r->missing == 0) continue;
      auto locs = locations.find(r->job_id);
      if (locs == locations.end()) continue;
      auto spec = r->launch->getRoot<sp::AttemptLaunch>().getSpec();
      // A tail reduce's task index is its part's; the map tasks' tail outputs have one partition.
      int partition = r->kind == PartitionKind::kTail ? 0 : spec.getTaskIndex();
      for (const auto& [m, loc] : locs->second) {
        if (m < 0 || static_cast<size_t>(m) >= r->segments.size() || !r->segments[m].empty() || r->fetching.count(m)) {
          continue;
        }
        auto f = r->failed.find(m);
        if (f != r->failed.end() && f->second.first == loc.attempt_id && now - f->second.second < std::chrono::seconds(2)) {
          continue;  // the coordinator was told; wait for a rerun (or retry later)
        }
        auto local = map_outputs.find({r->job_id, loc.attempt_id});
        if (local != map_outputs.end()) {
          r->segments[m] = local->second;
          --r->missing;
          continue;
        }
        r->fetching.insert(m);
        char name[32];
        std::snprintf(name, sizeof name, "map-%05d", m);
        fetch_queue.push_back(Fetch{r->attempt_id, m, loc, partition, r->job_id, JoinPath(JoinPath(r->dir, "segments"), name)});
      }
    }
    cv.notify_all();
  }

  void FetchLoop() {
    while (true) {
      Fetch f;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return stopping || !fetch_queue.empty(); });
        if (stopping) return;
        f = std::move(fetch_queue.front());
        fetch_queue.pop_front();
      }
      Status s = FetchSegment(*transport, f.from.address, f.job_id, f.from.attempt_id, f.partition, f.dest, nullptr);
      std::lock_guard<std::mutex> l(mu);
      auto it = runs.find(f.attempt_id);
      if (it == runs.end()) continue;
      Run* r = it->second.get();
      r->fetching.erase(f.map);
      if (s.ok()) {
        if (r->segments[f.map].empty()) {
          r->segments[f.map] = f.dest;
          --r->missing;
        }
      } else {
        LOG(WARNING) << "fetching map " << f.map << " (" << f.from.attempt_id << ") from " << f.from.address
                     << " for " << f.attempt_id << ": " << s.ToString();
        r->failed[f.map] = {f.from.attempt_id, Clock::now()};
        fetch_failures.push_back({f.attempt_id, f.map, f.from.attempt_id, s.ToString()});
      }
      cv.notify_all();
    }
  }

  void DropJob(const std::string& job) {
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
    if (SafeJobId(job)) (void)RemoveAll(JoinPath(JoinPath(opt.dir, "jobs"), job));
  }

  // Joins finished attempt threads (all of `wait_for_job`'s, waiting for them).
  void Reap(const std::string& wait_for_job = "") {
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

  // ---- helpers ----

  bool Stopping() {
    std::lock_guard<std::mutex> l(mu);
    return stopping;
  }
  void SleepUnlessStopping(int ms) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::milliseconds(ms), [&] { return stopping; });
  }
};

Worker::Worker(WorkerOptions options, Transport* transport, FileSystem* store)
    : impl_(std::make_unique<Impl>(std::move(options), transport, store)) {}

Worker::~Worker() { Stop(); }

Handler Worker::shuffle_handler() { return impl_->shuffle->handler(); }

void Worker::Start() {
  Impl* i = impl_.get();
  i->poll_thread = std::thread([i] { i->PollLoop(); });
  i->report_thread = std::thread([i] { i->ReportLoop(); });
  for (int k = 0; k < std::max(1, i->opt.fetch_threads); ++k) i->fetchers.emplace_back([i] { i->FetchLoop(); });
}

void Worker::Stop() {
  Impl* i = impl_.get();
  {
    std::lock_guard<std::mutex> l(i->mu);
    if (i->stopping) return;
    i->stopping = true;
    for (auto& [id, r] : i->runs) i->KillLocked(r.get());
  }
  i->cv.notify_all();
  i->poll_client.Close();
  i->report_client.Close();
  if (i->poll_thread.joinable()) i->poll_thread.join();
  if (i->report_thread.joinable()) i->report_thread.join();
  for (auto& t : i->fetchers) t.join();
  i->fetchers.clear();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(i->mu);
    for (auto& [id, r] : i->runs) threads.push_back(std::move(r->thread));
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace sawmill::worker
