// Worker::Impl, internal to worker/: the state the worker's threads share under one mutex, and
// the methods that worker.cc (lifecycle), coordinator_link.cc (register, poll, report),
// attempts.cc (launch, run, reap), attempt_processes.cc (an attempt's process: a warm executor or
// a child of its own) and segment_fetches.cc (a reduce's inputs) define.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <capnp/message.h>

#include "mapreduce/partition_kind.h"
#include "scheduler/coordinator_client.h"
#include "worker/binary_cache.h"
#include "worker/executor_pool.h"
#include "worker/launcher.h"
#include "worker/shuffle_memory.h"
#include "worker/shuffle_server.h"
#include "worker/worker.h"

namespace sawmill::worker {

struct Worker::Impl {
  using Clock = std::chrono::steady_clock;

  // A finished attempt (or a refused launch), queued for the next report.
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
  // Where a map's output is: the attempt that wrote it, and its worker's shuffle address.
  struct Location {
    std::string attempt_id;
    std::string address;
  };
  // One running attempt.
  struct Run {
    std::string job_id, attempt_id, dir;
    bool reduce = false;
    PartitionKind kind = PartitionKind::kNone;  // the job's partitioning
    std::unique_ptr<capnp::MallocMessageBuilder> launch;  // the AttemptLaunch, copied
    std::shared_ptr<ChildProcess> child;
    bool kill = false;
    std::atomic<bool> kill_requested{false};  // = kill, for an executor running the attempt
    // Reduce: one segment path per map ("" until fetched), and the fetches under way.
    std::vector<std::string> segments;
    std::set<int> fetching;
    std::map<int, std::pair<std::string, Clock::time_point>> failed;  // map -> (attempt, when)
    int missing = 0;
    // Reduce: its folder of the shuffle memory ("" when off), and the budget its segments there hold.
    std::string memory_dir;
    uint64_t memory_bytes = 0;
    std::thread thread;
    bool done = false;
  };
  struct Fetch {
    std::string attempt_id;  // the reduce attempt
    int map = 0;
    Location from;
    int partition = 0;
    std::string job_id, dest;
    std::string memory_dest;  // where the segment goes instead while it fits the memory budget
    // A map that ran here: its map.out, whose partition is verified and then read in place (no
    // copy); "" for a fetch.
    std::string in_place;
  };

  Impl(WorkerOptions o, Transport* t, FileSystem* s);

  // ---- the coordinator conversation (coordinator_link.cc) ----
  Status Register();
  void PollLoop();
  void Execute(sched::proto::Orders::Reader orders);
  void ReportLoop();
  // The coordinator does not know this worker as `id` (any more): register again, asking for it
  // back. Nothing when the worker has registered since.
  void ForgetIdLocked(const std::string& id);

  // ---- attempts (attempts.cc) ----
  void Launch(sched::proto::AttemptLaunch::Reader launch);
  // A launch this worker will not run is reported failed at once, so the coordinator need not
  // wait for the attempt's timeout to reschedule it.
  void Refuse(const std::string& attempt_id, const std::string& why);
  void KillLocked(Run* r);
  // Writes the spec the child reads: the coordinator's part plus where things are on this worker.
  Status WriteSpec(Run* r, const std::string& spec_path, const std::string& result_path);
  void RunAttempt(Run* r);
  // Runs the attempt's process on the spec at `spec_path` and says how it ended
  // (attempt_processes.cc): in a warm executor of its job (`task_flags` sent with the attempt),
  // or as a child process of its own (a program master, executors off, or a binary that is no
  // executor; `task_flags` after the args). An error when it could not start.
  Status RunProcess(Run* r, const LaunchOptions& lo, const std::vector<std::string>& task_flags,
                    const std::string& spec_path, ProcessOutcome* o);
  Status RunInChild(Run* r, LaunchOptions lo, const std::vector<std::string>& task_flags,
                    const std::string& spec_path, ProcessOutcome* o);
  // A new executor of binary `sha`: its spare handed `eo`, or Executor::Start(eo).
  Result<std::unique_ptr<Executor>> StartExecutor(const std::string& sha, const ExecutorOptions& eo,
                                                  const std::atomic<bool>& kill);
  // Starts the spares the executor pool wants, unless an attempt runs (poll thread).
  void StartSpares();
  void DropJob(const std::string& job);
  // Joins finished attempt threads (all of `wait_for_job`'s, waiting for them).
  void Reap(const std::string& wait_for_job = "");

  // ---- a reduce's inputs (segment_fetches.cc) ----
  // A reduce attempt starts only once it holds every map's segment (fetched as maps finish).
  Status AwaitSegments(Run* r);
  // Queues fetches for every reduce attempt's missing segments whose location is known; segments
  // of maps that ran here are verified (as a fetch verifies what it copies) and read in place.
  void ScheduleFetches();
  void FetchLoop();
  // Verifies the blocks of a map output's partition that ran here; an error names the attempt.
  static Status VerifyInPlace(const Fetch& f);
  // Records how one fetch ended (`path`: where the segment is; `reserved`: the memory budget its
  // file there holds).
  void FetchDone(const Fetch& f, const Status& s, const std::string& path, uint64_t reserved);
  // At most this many fetches from one worker go in one pipelined exchange.
  static constexpr size_t kFetchBatch = 16;
  // Hands a finished reduce's segments in memory back to the budget (call with mu held, once the
  // run is done; the caller removes the returned folder, unlocked).
  std::string ReleaseSegmentMemoryLocked(Run* r);

  // ---- helpers (worker.cc) ----
  bool Stopping();
  void SleepUnlessStopping(int ms);

  WorkerOptions opt;
  Transport* transport;
  FileSystem* store;
  sched::CoordinatorClient poll_client, report_client;
  std::unique_ptr<ShuffleServer> shuffle;
  BinaryCache binaries;  // opt.dir/binaries/<sha256>
  ExecutorPool executors;
  ShuffleMemory shuffle_memory;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::string worker_id;  // "" until registered
  std::string previous_worker_id;  // the id to ask back for while registering again
  std::map<std::string, std::unique_ptr<Run>> runs;
  std::map<std::pair<std::string, std::string>, std::string> map_outputs;  // (job, attempt) -> map.out
  std::map<std::string, std::map<int, Location>> locations;                 // job -> map -> where
  std::vector<Update> updates;
  std::vector<FetchFailureNote> fetch_failures;
  std::deque<Fetch> fetch_queue;
  std::set<std::string> dropped_jobs;

  std::thread poll_thread, report_thread;
  std::vector<std::thread> fetchers;
};

}  // namespace sawmill::worker
