// The coordinator's scheduling decisions as pure logic over a clock it is handed: which attempt
// of which task runs on which worker (node-local maps first, delay scheduling, slow start),
// retries, lost workers, fetch failures, blacklisting and speculation. No I/O and no threads:
// the coordinator service calls it under its lock and carries out what it returns.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sawmill::sched {

struct SchedulerOptions {
  int max_attempts = 4;              // failed attempts of one task before the job fails
  int64_t locality_delay_ms = 3000;  // how long a worker waits for a map local to it
  double slow_start = 0.05;          // share of maps finished before reduces are assigned
  bool speculation = true;
  double speculation_factor = 2.0;   // straggler: running > factor x median finished attempt
  int64_t speculation_min_ms = 1000; // ... and longer than this
  int blacklist_failures = 3;        // distinct tasks of a job failed on one worker before it is avoided
  int64_t retry_delay_ms = 1000;     // per failure: how long a retry waits for another worker's slot
};

struct JobPlan {
  std::string job_id;
  // Per map task (index = map task index): the hosts holding its input (may be empty).
  std::vector<std::vector<std::string>> map_hosts;
  int reduces = 0;  // 0: a map-only job
  SchedulerOptions options;
};

enum class AttemptState { kRunning, kSucceeded, kFailed, kKilled };
enum class JobState { kRunning, kTasksDone, kSucceeded, kFailed };
const char* AttemptStateName(AttemptState s);
const char* JobStateName(JobState s);

struct Assignment {
  std::string job_id;
  std::string attempt_id;  // "<job>/m-00007/1" or "<job>/r-00002/0": unique for the cluster
  bool reduce = false;
  int task = 0;
  int attempt = 0;         // per task, from 0
  bool speculative = false;
  bool local = false;      // map whose input has a replica on the worker's host
};

struct AttemptInfo {
  std::string attempt_id;
  bool reduce = false;
  int task = 0;
  int attempt = 0;
  std::string worker, host;
  AttemptState state = AttemptState::kRunning;
  int64_t start_ms = 0, end_ms = 0;  // end_ms 0 while running
  bool local = false, speculative = false;
  bool restored = false;   // committed before a coordinator restart (RestoreJob): no duration known
  std::string error;       // failed or killed: why
};

// Where a finished map's output can be fetched from (the worker that ran its committed attempt).
struct MapOutput {
  int map = 0;
  std::string attempt_id;
  std::string worker;
};

struct JobSnapshot {
  std::string job_id;
  JobState state = JobState::kRunning;
  std::string error;       // kFailed: the reason (the last failed attempt's error, or the kill)
  int maps = 0, maps_done = 0, maps_running = 0;
  int reduces = 0, reduces_done = 0, reduces_running = 0;
  int data_local_maps = 0, remote_maps = 0;  // over every map attempt launched
  int failed_attempts = 0, killed_attempts = 0, speculative_attempts = 0;
  int fetch_failures = 0;  // reports that a reduce attempt could not fetch (or verify) a map's output
  int map_reruns = 0;      // committed map outputs dropped (unfetchable, or lost with their worker)
  std::vector<AttemptInfo> attempts;  // every attempt, in launch order
};

class Scheduler {
 public:
  Scheduler();
  ~Scheduler();
  Scheduler(Scheduler&&) noexcept;
  Scheduler& operator=(Scheduler&&) noexcept;

  // Workers: `worker` is an id unique for the cluster's life; `host` is the locality name.
  void AddWorker(const std::string& worker, const std::string& host, int slots);
  // A lost worker (heartbeat timeout, dropped connection): its running attempts become kFailed
  // with `reason` (not counted against max_attempts) and their tasks pending again; its committed
  // map outputs that an unfinished reduce still needs are dropped and those maps rerun.
  void RemoveWorker(const std::string& worker, const std::string& reason, int64_t now_ms);
  bool HasWorker(const std::string& worker) const;

  // kAlreadyExists for a known job id, kInvalidArgument for a plan with reduces < 0.
  Status AddJob(const JobPlan& plan, int64_t now_ms);
  // A job a restarted coordinator found in its journal (docs/reliability.md): the tasks in
  // `committed` are done by those attempts (a map's output held by the attempt's worker, which
  // must have been added: a map whose worker is unknown runs again), every other task pending.
  // Attempt numbers of every task start at `first_attempt`, above any that the coordinator
  // before may have launched, so that no attempt id is used twice.
  struct RestoredTask {
    std::string attempt_id;  // "<job>/m-00007/3"
    std::string worker;
  };
  Status RestoreJob(const JobPlan& plan, const std::vector<RestoredTask>& committed, int first_attempt,
                    int64_t now_ms);
  // A running attempt that a worker reports as it registers again with a restarted coordinator:
  // it runs on as if launched now (work-preserving). False when no running job wants it (its
  // job unknown or not running, its task done, the id malformed, the worker unknown): the
  // caller has it killed.
  bool AdoptAttempt(const std::string& attempt_id, const std::string& worker, int64_t now_ms);
  // A committed map output its worker no longer has (it said so as it registered again): the
  // map runs again. False when `attempt_id` is not a running job's committed map output.
  bool LoseMapOutput(const std::string& attempt_id, const std::string& why);
  // Fails a running job: its running attempts are to be killed (TakeKills), state kFailed.
  void KillJob(const std::string& job_id, const std::string& reason, int64_t now_ms);

  // Work for `worker`, which has `free_slots` free: at most that many assignments, jobs in
  // submission order. Maps first: node-local, else (once this worker has been offered the job's
  // maps for locality_delay_ms without a local one, or when no live host holds the input) any.
  // Reduces once slow_start of the job's maps finished and every map has been launched, leaving
  // one slot of the cluster to maps while maps are unfinished. Retries avoid the workers a task
  // failed on, when another is free. Speculative attempts go to a worker not running that task.
  std::vector<Assignment> Assign(const std::string& worker, int free_slots, int64_t now_ms);
  // False when Assign would give no worker anything: no running job has a task waiting for an
  // attempt or marked for speculation. O(jobs): asked before offering every free worker.
  bool MayAssign() const;

  // The first success of a task returns true: the caller commits that attempt. A later success
  // of another attempt of the same task (a speculative twin) returns false: discard its output.
  // Unknown or no longer running attempts return false. Once every task has a success the job
  // is kTasksDone; the caller commits the job and calls FinishJob.
  bool AttemptSucceeded(const std::string& attempt_id, int64_t now_ms);
  // Counts against max_attempts; the task is pending again, or the job fails with `error`.
  void AttemptFailed(const std::string& attempt_id, const std::string& error, int64_t now_ms);
  // A reduce attempt could not fetch map `map`'s output (unreachable, unreadable or corrupt): on
  // this first report the map is rerun (its output dropped), on another worker than the one that
  // held it while another has a free slot (as a retry avoids a worker it failed on); the reduce
  // attempt keeps running. With `map_attempt_id` (the attempt MapOutputs named), a report about
  // an output that was already replaced by a rerun is ignored (but counted in fetch_failures).
  void FetchFailed(const std::string& reduce_attempt_id, int map, int64_t now_ms,
                   const std::string& map_attempt_id = "");

  // Marks stragglers for speculation (see Assign). Call every few hundred ms.
  void Tick(int64_t now_ms);

  // Attempts on `worker` that should be killed (a twin won, the job failed or was killed); each
  // is returned once and is kKilled from then on.
  std::vector<std::string> TakeKills(const std::string& worker);
  // The workers that have kills for TakeKills, without taking them: the caller need not ask
  // every worker after each event.
  std::vector<std::string> WorkersWithKills() const;

  // The committed outputs of finished maps of the job, by map index (maps without one omitted).
  std::vector<MapOutput> MapOutputs(const std::string& job_id) const;

  // After kTasksDone: kSucceeded, or kFailed with `error` (commit failed).
  void FinishJob(const std::string& job_id, bool ok, const std::string& error, int64_t now_ms);

  std::optional<JobSnapshot> Snapshot(const std::string& job_id) const;
  // The job's state and error (Snapshot's first fields) without copying its attempts: cheap
  // enough to ask after every report. nullopt for an unknown job.
  std::optional<std::pair<JobState, std::string>> State(const std::string& job_id) const;
  // The committed attempt of each task of a job (reduces, or maps of a map-only job), by index;
  // "" for a task without one.
  std::vector<std::string> CommittedAttempts(const std::string& job_id, bool reduce) const;
  // Forgets a finished job (kSucceeded/kFailed) once the caller has recorded it.
  void DropJob(const std::string& job_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sawmill::sched
