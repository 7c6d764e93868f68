// `sawmill bench coordinator`: the real coordinator service (scheduler/coordinator.h) driven in
// process, over the in-process transport, by N simulated workers that register, poll for
// orders, "run" each attempt for --task-ms (no process) and report success (issue 22, item 2).
// It measures what the coordinator costs per task: assignments per second, CPU per scheduled
// task, resident memory per running and per finished task, the time from a freed slot to the
// next order, and whether memory stays bounded over many jobs.
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <capnp/message.h>
#include <glog/logging.h>

#include "cli/args.h"
#include "cli/verb_usage.h"
#include "common/capnp_util.h"
#include "common/memory_fs.h"
#include "common/rpc.h"
#include "common/sha256.h"
#include "scheduler/coordinator.h"
#include "scheduler/coordinator.capnp.h"
#include "scheduler/coordinator_client.h"

namespace sawmill {
namespace {

namespace sp = sched::proto;
constexpr char kCoord[] = "coordinator:1";
constexpr char kBinary[] = "#!/bin/false\n";  // the job binary: only its SHA-256 matters

const CommandUsage& Usage() {
  static const auto* usage = new CommandUsage{
      "bench",
      "sawmill bench: measure a component's costs in this process (docs/scale.md).\n\n",
      {
          {"coordinator",
           "  sawmill bench coordinator [--workers 1000] [--slots 1] [--tasks 10000] [--reduces 0]\n"
           "                            [--jobs 1] [--task-ms 0] [--dir DIR] [--max-growth-mb N]\n"
           "                            [--max-finished-jobs 1000] [--log]\n"
           "      Runs the coordinator service in this process, its directory (journal, history) in\n"
           "      DIR (it must not exist; default a new directory under $TMPDIR; a tmpfs such as\n"
           "      /dev/shm leaves out the journal's fsync) and its store in memory (in a cluster the\n"
           "      store is the namenode on another host: its calls per task are printed), and\n"
           "      --workers simulated workers of --slots slots, one thread each, over the in-process\n"
           "      transport. Each worker registers, polls for orders, holds each attempt --task-ms (no\n"
           "      process runs), writes its part (an empty file) where the attempt says and reports\n"
           "      success, taking its next orders in the report's answer; a reduce also waits until\n"
           "      the coordinator has listed every map's output to it. --jobs jobs of --tasks maps\n"
           "      (and --reduces reduces; 0: map-only) run one after the other. Prints for the first\n"
           "      job, every tenth and the last the assignments per second and the CPU per scheduled\n"
           "      task (the process's, and the coordinator's share: the process's less the simulated\n"
           "      workers' threads, and as assignments per second of one core), context switches and\n"
           "      store calls per task; for the first job the memory per task while it runs and once\n"
           "      it finished (resident set, and the allocator's heap in use); then the time from a\n"
           "      freed slot (its report) to the worker's next order over all jobs (median, p99), and\n"
           "      the memory after the first and the last job. Fails when a job does not succeed, or\n"
           "      when memory grows by more than --max-growth-mb from the first job's end to the\n"
           "      last's. DIR is removed at the end. --log shows the coordinator's log.\n"
           "      --max-finished-jobs: the coordinator's --max_finished_jobs (finished jobs it keeps\n"
           "      in memory; older ones are read from its history directory).\n",
           {"workers", "slots", "tasks", "reduces", "jobs", "task-ms", "dir", "max-growth-mb", "max-finished-jobs", "log"}},
      },
      "",
      {},
  };
  return *usage;
}

std::string BinarySha() {
  Sha256Stream h;
  h.Update(kBinary);
  return h.FinishHex();
}

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Resident bytes of this process after giving freed memory back.
uint64_t ResidentBytes() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// Bytes the allocator has handed out and not had back, over all its arenas: the live heap,
// which the allocator's retained pages (fragmentation over the arenas of 2,000 threads) do not
// blur as they blur the resident set.
uint64_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

double ProcessCpuSeconds(bool system_only = false) {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const double sys = u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
  return system_only ? sys : sys + u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6;
}

// Context switches of every thread of this process (voluntary: a thread blocked; involuntary: it
// was preempted): what the hand-offs between threads per task cost shows here first.
uint64_t ContextSwitches() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_nvcsw + u.ru_nivcsw);
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

double MiB(double bytes) { return bytes / (1 << 20); }

// Latencies in buckets 5% wide (1 us to ~100 s): constant memory however many tasks ran, so that
// the simulation's own bookkeeping does not show in the memory figures.
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 400;
  void Add(double us) {
    const int b = us <= 1 ? 0 : std::min(kBuckets - 1, static_cast<int>(std::log(us) / std::log(1.05)) + 1);
    ++counts_[static_cast<size_t>(b)];
    ++total_;
  }
  void Merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
  }
  uint64_t total() const { return total_; }
  // The upper bound of the bucket holding quantile q.
  double Quantile(double q) const {
    const auto want = static_cast<uint64_t>(q * static_cast<double>(total_));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > want) return std::pow(1.05, static_cast<double>(i));
    }
    return std::pow(1.05, kBuckets);
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

Status WriteStore(FileSystem& store, const std::string& path, std::string_view data) {
  ASSIGN_OR_RETURN(auto f, store.Create(path));
  if (!data.empty()) RETURN_IF_ERROR(f->Append(data));
  return f->Close();
}

// What the simulated workers share with the driver.
struct Sim {
  sched::CoordinatorClient* NewClient(Transport* net) {
    std::lock_guard<std::mutex> l(mu);
    clients.push_back(std::make_unique<sched::CoordinatorClient>(net, kCoord));
    return clients.back().get();
  }
  FileSystem* store = nullptr;
  int64_t task_ms = 0;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> launches{0}, reported{0}, errors{0};
  std::atomic<int64_t> worker_cpu_ns{0};  // the simulated workers' threads, summed
  // Holding reports (to measure memory with attempts running): workers that hold some wait here.
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  int holding = 0;
  std::vector<std::unique_ptr<sched::CoordinatorClient>> clients;
  // From a freed slot (its report sent) to the poll answer with its next order, merged from the
  // workers' as they end.
  LatencyHistogram latencies;
  std::string first_error;
};

struct Running {
  std::string attempt_id, output_path, job;
  double free_at = 0;  // when it ends (a reduce: once it has every map's output too)
  int maps = 0;        // a reduce: the map outputs it waits for
};

// One simulated worker: its own connection (polls and reports on it), one thread.
void RunWorker(Sim* sim, Transport* net, int index, int slots) {
  pthread_setname_np(pthread_self(), "sim-worker");
  const int64_t cpu_start = ThreadCpuNs();
  int64_t cpu_counted = 0;
  auto count_cpu = [&] {
    const int64_t now = ThreadCpuNs() - cpu_start;
    sim->worker_cpu_ns += now - cpu_counted;
    cpu_counted = now;
  };
  auto fail = [&](const std::string& what) {
    sim->errors++;
    std::lock_guard<std::mutex> l(sim->mu);
    if (sim->first_error.empty()) sim->first_error = what;
  };
  sched::CoordinatorClient* client = sim->NewClient(net);
  const std::string host = "sim-host-" + std::to_string(index);
  std::string id;
  {
    capnp::MallocMessageBuilder m;
    auto reg = m.initRoot<sp::CoordinatorRequest>().initRegister();
    reg.setHost(host);
    reg.setShuffleAddress(host + ":7000");
    reg.setSlots(slots);
    auto r = client->Call(m);
    if (!r.ok()) return fail("register: " + r.status().ToString());
    id = Text((*r)->Root<sp::CoordinatorResponse>().getRegistered());
  }
  std::vector<Running> running;
  std::map<std::string, size_t> map_outputs;  // job -> map outputs the coordinator listed
  std::vector<double> free_since;  // one per free slot: when it was freed
  free_since.assign(static_cast<size_t>(slots), Now());
  LatencyHistogram latencies;
  // Orders from a poll's answer or a report's: false when told to register again.
  auto take = [&](sp::Orders::Reader orders) {
    const double got = Now();
    if (orders.getReregister()) {
      fail("told to register again");
      return false;
    }
    for (auto l : orders.getLaunch()) {
      Running a;
      a.attempt_id = Text(l.getAttemptId());
      a.output_path = Text(l.getSpec().getOutputPath());
      a.free_at = got + sim->task_ms / 1000.0;
      if (l.getSpec().getReduce()) {
        a.job = Text(l.getJobId());
        a.maps = l.getMapCount();
      }
      running.push_back(std::move(a));
      if (!free_since.empty()) {
        latencies.Add((got - free_since.back()) * 1e6);
        free_since.pop_back();
      }
      sim->launches++;
    }
    for (auto jm : orders.getMapOutputs()) map_outputs[Text(jm.getJobId())] = jm.getOutputs().size();
    for (auto j : orders.getDropJobs()) map_outputs.erase(Text(j));
    for (auto k : orders.getKill()) {
      const std::string killed = Text(k);
      auto it = std::find_if(running.begin(), running.end(), [&](const Running& a) { return a.attempt_id == killed; });
      if (it != running.end()) {
        running.erase(it);
        free_since.push_back(Now());
      }
    }
    return true;
  };
  auto runnable = [&](const Running& r) { return r.maps == 0 || map_outputs[r.job] >= static_cast<size_t>(r.maps); };
  while (!sim->stop) {
    // Poll until the next attempt of ours ends (or a second); not when one has ended already
    // (its report's answer carries the next orders).
    double next_end = Now() + 1.0;
    for (const auto& r : running) {
      if (runnable(r)) next_end = std::min(next_end, r.free_at);
    }
    if (next_end > Now()) {
      const auto wait_ms = static_cast<uint32_t>(std::max(0.0, (next_end - Now()) * 1000));
      capnp::MallocMessageBuilder m;
      auto p = m.initRoot<sp::CoordinatorRequest>().initPoll();
      p.setWorkerId(id);
      p.setWaitMs(wait_ms);
      auto r = client->Call(m);
      if (!r.ok()) {
        if (!sim->stop) fail("poll: " + r.status().ToString());
        break;
      }
      if (!take((*r)->Root<sp::CoordinatorResponse>().getOrders())) break;
    }
    // Attempts that have ended: their parts written, reported in one report.
    const double now = Now();
    std::vector<Running> done;
    for (auto it = running.begin(); it != running.end();) {
      if (it->free_at <= now && runnable(*it)) {
        done.push_back(std::move(*it));
        it = running.erase(it);
      } else {
        ++it;
      }
    }
    if (done.empty()) {
      count_cpu();
      continue;
    }
    {
      std::unique_lock<std::mutex> l(sim->mu);
      if (sim->hold) {
        ++sim->holding;
        sim->cv.notify_all();
        sim->cv.wait(l, [&] { return !sim->hold || sim->stop; });
        --sim->holding;
      }
    }
    for (const auto& a : done) {
      if (a.output_path.rfind("dfs:", 0) != 0) continue;
      if (Status s = WriteStore(*sim->store, a.output_path.substr(4), ""); !s.ok()) fail("part: " + s.ToString());
    }
    const double freed = Now();
    capnp::MallocMessageBuilder m;
    auto rep = m.initRoot<sp::CoordinatorRequest>().initReport();
    rep.setWorkerId(id);
    rep.setWantOrders(true);
    auto updates = rep.initUpdates(static_cast<unsigned>(done.size()));
    for (unsigned i = 0; i < done.size(); ++i) {
      updates[i].setAttemptId(done[i].attempt_id);
      updates[i].setSeconds(sim->task_ms / 1000.0);
      auto res = updates[i].initResult();
      res.setOk(true);
      res.setRecordsIn(1);
      res.setSorted(true);
      res.setContentHash("sim");
      free_since.push_back(freed);
    }
    auto r = client->Call(m);
    if (!r.ok()) {
      if (!sim->stop) fail("report: " + r.status().ToString());
      break;
    }
    sim->reported += done.size();
    if (!take((*r)->Root<sp::CoordinatorResponse>().getOrders())) break;
    count_cpu();
  }
  count_cpu();
  std::lock_guard<std::mutex> l(sim->mu);
  sim->latencies.Merge(latencies);
}

struct Bench {
  int workers = 1000, slots = 1, jobs = 1, reduces = 0;
  int64_t tasks = 10000, task_ms = 0, max_growth_mb = -1;
  uint64_t max_finished_jobs = 1000;  // CoordinatorOptions::max_finished_jobs
};

Result<std::string> SubmitJob(sched::CoordinatorClient& client, const Bench& b, int k) {
  capnp::MallocMessageBuilder m;
  auto s = m.initRoot<sp::CoordinatorRequest>().initSubmit();
  s.setName("bench-" + std::to_string(k));
  s.setBinarySha256(BinarySha());
  s.initInputs(1).set(0, "dfs:/in/a");
  s.setOutput("dfs:/out/bench-" + std::to_string(k));
  auto splits = s.initSplits(static_cast<unsigned>(b.tasks));
  for (int64_t i = 0; i < b.tasks; ++i) {
    splits[static_cast<unsigned>(i)].setPath("dfs:/in/a");
    splits[static_cast<unsigned>(i)].setOffset(static_cast<uint64_t>(i % 100));
    splits[static_cast<unsigned>(i)].setLength(1);
    splits[static_cast<unsigned>(i)].setBytes(1);
  }
  auto p = s.initPartitioning();
  p.setKind(b.reduces > 0 ? "hash" : "none");
  p.setNumPartitions(b.reduces);
  s.setSeed(7);
  s.setMemoryBytes(1 << 20);
  ASSIGN_OR_RETURN(auto r, client.Call(m));
  return Text(r->Root<sp::CoordinatorResponse>().getSubmitted());
}

// Waits for the job's end: its state ("succeeded", "failed", ...).
Result<std::string> WaitJob(sched::CoordinatorClient& client, const std::string& job) {
  for (;;) {
    capnp::MallocMessageBuilder m;
    auto w = m.initRoot<sp::CoordinatorRequest>().initWait();
    w.setJobId(job);
    w.setWaitMs(10000);
    ASSIGN_OR_RETURN(auto r, client.Call(m));
    auto st = r->Root<sp::CoordinatorResponse>().getStatus();
    std::string state = Text(st.getState());
    if (state != "running" && state != "committing") {
      if (state != "succeeded") state += ": " + Text(st.getError());
      return state;
    }
  }
}

int Run(const Bench& b, const std::string& dir) {
  // The store in memory: in a cluster it is the namenode, on another host; what its calls cost
  // there is `sawmill bench namenode`'s to measure. The calls per task are printed.
  MemoryFileSystem store;
  for (const auto& [path, data] : {std::pair<std::string, std::string>{"/sawmill/binaries/" + BinarySha(), kBinary},
                                   {"/in/a", std::string(100, 'x')}}) {
    if (Status s = WriteStore(store, path, data); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  sched::CoordinatorOptions o;
  o.dir = dir + "/coordinator";
  o.address = kCoord;
  o.max_finished_jobs = b.max_finished_jobs;
  auto coord = std::make_unique<sched::Coordinator>(o, &store);
  if (Status s = coord->Start(); !s.ok()) {
    std::fprintf(stderr, "error: coordinator: %s\n", s.ToString().c_str());
    return 1;
  }
  auto net = std::make_unique<InProcessNetwork>();
  // Served as a daemon with an event loop would serve it: no thread per worker's conversation
  // (a held poll or a report waiting for the journal holds none).
  net->ListenAsync(kCoord, coord->service());
  Sim sim;
  sim.store = &store;
  sim.task_ms = b.task_ms;
  const uint64_t rss_start = ResidentBytes();
  std::printf("sawmill bench coordinator: %d workers x %d slots, %d job(s) of %lld maps + %d reduces, task %lld ms, in %s\n",
              b.workers, b.slots, b.jobs, static_cast<long long>(b.tasks), b.reduces, static_cast<long long>(b.task_ms),
              dir.c_str());
  std::fflush(stdout);
  std::vector<std::thread> threads;
  double t = Now();
  for (int i = 0; i < b.workers; ++i) threads.emplace_back(RunWorker, &sim, net.get(), i, b.slots);
  sched::CoordinatorClient client(net.get(), kCoord);
  // Registered once the coordinator lists them all.
  for (;;) {
    capnp::MallocMessageBuilder m;
    m.initRoot<sp::CoordinatorRequest>().setWorkers();
    auto r = client.Call(m);
    if (r.ok() && static_cast<int>((*r)->Root<sp::CoordinatorResponse>().getWorkers().size()) == b.workers) break;
    if (sim.errors > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf("  %d workers registered in %.2f s\n", b.workers, Now() - t);
  const uint64_t rss_idle = ResidentBytes();
  std::printf("  resident: %.1f MiB at start, %.1f MiB with the workers registered and polling (%.1f KiB per worker,\n"
              "  its simulated thread and connection included)\n",
              MiB(rss_start), MiB(rss_idle), (rss_idle - rss_start) / 1024.0 / b.workers);
  int rc = 0;
  uint64_t rss_after_first = 0, rss_after_last = 0, heap_after_first = 0, heap_after_last = 0;
  const uint64_t heap_idle = HeapInUse();
  const uint64_t total_tasks = static_cast<uint64_t>(b.tasks) + static_cast<uint64_t>(b.reduces);
  for (int k = 1; k <= b.jobs && rc == 0; ++k) {
    const uint64_t launches0 = sim.launches, reported0 = sim.reported;
    const int64_t worker_cpu0 = sim.worker_cpu_ns;
    const double cpu0 = ProcessCpuSeconds(), sys0 = ProcessCpuSeconds(true);
    const uint64_t switches0 = ContextSwitches();
    const uint64_t store_calls0 = store.calls();
    const double start = Now();
    auto id = SubmitJob(client, b, k);
    if (!id.ok()) {
      std::fprintf(stderr, "error: submit: %s\n", id.status().ToString().c_str());
      rc = 1;
      break;
    }
    const double submitted = Now();
    double held_s = 0, cpu_held = 0, sys_held = 0;
    int64_t worker_cpu_held = 0;
    uint64_t switches_held = 0;
    uint64_t rss_running = 0, heap_running = 0;
    // The first job, half done: reports are held until every worker holds its attempts (all
    // slots busy), and the memory is measured with the job running.
    if (k == 1 && b.tasks >= 4LL * b.workers * b.slots) {
      while (sim.reported - reported0 < static_cast<uint64_t>(b.tasks / 2) && sim.errors == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      const double h = Now();
      const double hc = ProcessCpuSeconds(), hs = ProcessCpuSeconds(true);
      const int64_t hw = sim.worker_cpu_ns;
      const uint64_t hx = ContextSwitches();
      std::unique_lock<std::mutex> l(sim.mu);
      sim.hold = true;
      sim.cv.wait_for(l, std::chrono::seconds(30), [&] { return sim.holding == b.workers; });
      const int holding = sim.holding;
      l.unlock();
      rss_running = ResidentBytes();
      heap_running = HeapInUse();
      l.lock();
      sim.hold = false;
      sim.cv.notify_all();
      l.unlock();
      held_s = Now() - h;
      cpu_held = ProcessCpuSeconds() - hc;
      sys_held = ProcessCpuSeconds(true) - hs;
      worker_cpu_held = sim.worker_cpu_ns - hw;
      switches_held = ContextSwitches() - hx;
      if (holding != b.workers) std::printf("  (only %d of %d workers were holding attempts)\n", holding, b.workers);
    }
    auto state = WaitJob(client, *id);
    const double wall = Now() - start - held_s;
    const double cpu = ProcessCpuSeconds() - cpu0 - cpu_held;
    const double sys = ProcessCpuSeconds(true) - sys0 - sys_held;
    const double worker_cpu = static_cast<double>(sim.worker_cpu_ns - worker_cpu0 - worker_cpu_held) / 1e9;
    const uint64_t switches = ContextSwitches() - switches0 - switches_held;
    // The simulated workers' part writes (a create and a close each) are the workers' calls.
    const uint64_t store_calls = store.calls() - store_calls0 - (sim.launches - launches0);
    if (!state.ok() || *state != "succeeded") {
      std::fprintf(stderr, "error: job %s: %s\n", id->c_str(),
                   state.ok() ? state->c_str() : state.status().ToString().c_str());
      rc = 1;
      break;
    }
    const uint64_t launched = sim.launches - launches0;
    (void)store.Delete("/out/bench-" + std::to_string(k), true);
    const uint64_t rss_done = ResidentBytes();
    const uint64_t heap_done = HeapInUse();
    if (k == 1) {
      rss_after_first = rss_done;
      heap_after_first = heap_done;
    }
    rss_after_last = rss_done;
    heap_after_last = heap_done;
    if (k == 1 || k == b.jobs || k % 10 == 0) {
      std::printf("job %d (%s): %llu tasks, %llu attempts launched in %.3f s (submit %.3f s): %.0f assignments/s\n", k,
                  id->c_str(), static_cast<unsigned long long>(total_tasks), static_cast<unsigned long long>(launched),
                  wall, submitted - start, launched / wall);
      std::printf("  CPU: process %.2f s = %.1f us per task (%.2f cores; %.0f%% in the kernel); the coordinator's\n"
                  "  share (process less the simulated workers' threads) %.2f s = %.1f us per task, that is\n"
                  "  %.0f assignments per second of one core; %.1f context switches per task (all threads);\n"
                  "  %.1f store calls per task (the coordinator's); load average %s\n",
                  cpu, cpu * 1e6 / launched, cpu / wall, cpu > 0 ? 100 * sys / cpu : 0.0, cpu - worker_cpu,
                  (cpu - worker_cpu) * 1e6 / launched, cpu > worker_cpu ? launched / (cpu - worker_cpu) : 0.0,
                  static_cast<double>(switches) / launched, static_cast<double>(store_calls) / launched,
                  LoadAverage().c_str());
      if (rss_running) {
        std::printf("  with the job half done and every slot busy: resident %.1f MiB, %.0f bytes per task of the\n"
                    "  running job over the idle cluster's %.1f MiB; heap in use %.1f MiB, %.0f bytes per task\n",
                    MiB(rss_running), (static_cast<double>(rss_running) - rss_idle) / total_tasks, MiB(rss_idle),
                    MiB(heap_running), (static_cast<double>(heap_running) - heap_idle) / total_tasks);
      }
      std::printf("  once it finished: resident %.1f MiB, %.0f bytes per finished task over the idle cluster;\n"
                  "  heap in use %.1f MiB, %.0f bytes per finished task\n",
                  MiB(rss_done), (static_cast<double>(rss_done) - rss_idle) / total_tasks, MiB(heap_done),
                  (static_cast<double>(heap_done) - heap_idle) / total_tasks);
      std::fflush(stdout);
    }
  }
  sim.stop = true;
  {
    std::lock_guard<std::mutex> l(sim.mu);
    sim.cv.notify_all();
    for (auto& c : sim.clients) c->Close();
  }
  for (auto& th : threads) th.join();
  if (rc == 0) {
    std::printf("freed slot to next order over all jobs: median %.0f us, p99 %.0f us (%llu orders; 5%% buckets)\n",
                sim.latencies.Quantile(0.5), sim.latencies.Quantile(0.99),
                static_cast<unsigned long long>(sim.latencies.total()));
    std::printf("after the first job: resident %.1f MiB, heap in use %.1f MiB; after job %d: resident %.1f MiB "
                "(%+.1f), heap in use %.1f MiB (%+.1f)\n",
                MiB(rss_after_first), MiB(heap_after_first), b.jobs, MiB(rss_after_last),
                MiB(static_cast<double>(rss_after_last) - rss_after_first), MiB(heap_after_last),
                MiB(static_cast<double>(heap_after_last) - heap_after_first));
    const double limit = static_cast<double>(b.max_growth_mb) * (1 << 20);
    if (b.max_growth_mb >= 0 && (static_cast<double>(rss_after_last) - rss_after_first > limit ||
                                 static_cast<double>(heap_after_last) - heap_after_first > limit)) {
      std::fprintf(stderr, "error: memory grew by more than %lld MiB from the first job's end to the last's\n",
                   static_cast<long long>(b.max_growth_mb));
      rc = 1;
    }
  }
  if (sim.errors > 0) {
    std::fprintf(stderr, "error: %llu worker errors; the first: %s\n", static_cast<unsigned long long>(sim.errors.load()),
                 sim.first_error.c_str());
    rc = 1;
  }
  client.Close();
  net->Stop(kCoord);
  coord->Stop();
  net.reset();
  coord.reset();
  return rc;
}

}  // namespace

int BenchCoordinatorCommand(int argc, char** argv) {
  const VerbUsage* verb = nullptr;
  if (int code = Usage().Answer(argc, argv, &verb); code != kRunVerb) return code;
  Args args;
  if (!Args::Parse(argc, argv, 3, &args, {"log"}) || !Usage().FlagsOk(args, *verb)) return 2;
  Bench b;
  if (!args.GetNumber("workers", 1000, &b.workers, 1, 100000) || !args.GetNumber("slots", 1, &b.slots, 1, 1000) ||
      !args.GetNumber<int64_t>("tasks", 10000, &b.tasks, 1, 100000) ||
      !args.GetNumber("reduces", 0, &b.reduces, 0, 100000) || !args.GetNumber("jobs", 1, &b.jobs, 1, 100000) ||
      !args.GetNumber<int64_t>("task-ms", 0, &b.task_ms, 0, 3600000) ||
      !args.GetNumber<int64_t>("max-growth-mb", -1, &b.max_growth_mb, -1, 1 << 20) ||
      !args.GetNumber<uint64_t>("max-finished-jobs", 1000, &b.max_finished_jobs, 1)) {
    return 2;
  }
  if (args.Get("log", "false") != "true") FLAGS_minloglevel = google::GLOG_ERROR;
  std::string dir = args.Get("dir", "");
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sawmill-bench-coordinator-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
  } else if (std::filesystem::exists(dir)) {
    std::fprintf(stderr, "error: %s exists; bench coordinator wants a new directory (it removes it at the end)\n",
                 dir.c_str());
    return 2;
  }
  const int rc = Run(b, dir);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}

}  // namespace sawmill
