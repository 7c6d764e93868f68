// Scheduler: delay-scheduled map attempts, slow start, retries, blacklists, lost workers, fetch
// failures and speculation over ordered containers only, so every decision is deterministic.
#include "scheduler/scheduler.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "scheduler/attempt_id.h"

namespace sawmill::sched {

const char* AttemptStateName(AttemptState s) {
  switch (s) {
    case AttemptState::kRunning:
      return "running";
    case AttemptState::kSucceeded:
      return "succeeded";
    case AttemptState::kFailed:
      return "failed";
    case AttemptState::kKilled:
      return "killed";
  }
  return "unknown";
}

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kRunning:
      return "running";
    case JobState::kTasksDone:
      return "tasks_done";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace {

constexpr int kMap = 0, kReduce = 1;  // index of Job::tasks and friends

struct Task {
  std::vector<std::string> hosts;  // maps: the hosts holding the input
  std::vector<int> running;        // indices into Job::attempts
  int committed = -1;              // the attempt whose output counts; -1: none (yet, or lost)
  int launched = 0;                // attempts so far: the next attempt number
  int failures = 0;                // failed attempts counted against max_attempts
  int64_t last_failed_ms = 0;      // when the last counted failure was reported
  std::set<std::string> failed_on;
  bool speculated = false;  // got its one speculative attempt
};

struct Job {
  std::string id;
  int reduces = 0;
  SchedulerOptions opt;
  JobState state = JobState::kRunning;
  std::string error;
  // Delay scheduling, per worker: since when the worker has been offered this job's maps with
  // none of them local to it (erased by a local launch there).
  std::map<std::string, int64_t> waiting_since;
  // Reduces were preempted for this job's pending maps: those run anywhere at once, and no
  // reduce of the job takes a slot until they have all started.
  bool urgent_maps = false;
  std::vector<Task> tasks[2];
  std::set<int> pending[2];                              // tasks waiting for an attempt
  std::map<std::string, std::set<int>> pending_on_host;  // host -> pending maps with input there
  std::map<std::pair<int, int>, int64_t> speculate;      // (kind, task) -> when Tick marked it
  int done[2] = {0, 0};                                  // tasks with a committed attempt
  std::map<std::string, int> failures_on;                // distinct tasks failed per worker
  std::vector<AttemptInfo> attempts;                     // launch order
  int fetch_failures = 0;  // reports of a reduce attempt that could not fetch a map's output
  int map_reruns = 0;      // committed map outputs dropped (lost or unfetchable): maps run again
};

struct Worker {
  std::string host;
  int slots = 0;
  std::set<std::pair<std::string, int>> running;  // (job, attempt index)
  std::vector<std::string> kills;                 // not yet handed out by TakeKills
};

int Kind(const AttemptInfo& a) { return a.reduce ? kReduce : kMap; }

}  // namespace

struct Scheduler::Impl {
  std::map<std::string, Worker> workers;
  std::map<std::string, int> live_hosts;  // host -> live workers on it
  int total_slots = 0;
  int running_reduces = 0;  // over all jobs: the one-slot-for-maps rule is cluster-wide
  std::map<std::string, Job> jobs;
  std::vector<Job*> fifo;  // submission order; std::map nodes do not move
  std::map<std::string, std::pair<Job*, int>> attempt_index;
  std::set<std::string> with_kills;  // workers whose kills are not empty

  Job* FindJob(const std::string& id) {
    auto it = jobs.find(id);
    return it == jobs.end() ? nullptr : &it->second;
  }

  // A running attempt of a running job, or {nullptr, -1}: results for anything else are stale.
  std::pair<Job*, int> FindRunning(const std::string& attempt_id) {
    auto it = attempt_index.find(attempt_id);
    if (it == attempt_index.end()) return {nullptr, -1};
    auto [job, idx] = it->second;
    if (job->state != JobState::kRunning || job->attempts[idx].state != AttemptState::kRunning)
      return {nullptr, -1};
    return it->second;
  }

  // --- Task bookkeeping ---

  // Appends an attempt to its job and indexes it by id; its index in Job::attempts.
  int AddAttempt(Job& j, const AttemptInfo& a) {
    const int idx = static_cast<int>(j.attempts.size());
    attempt_index[a.attempt_id] = {&j, idx};
    j.attempts.push_back(a);
    return idx;
  }

  void SetPending(Job& j, int kind, int t) {
    const Task& task = j.tasks[kind][t];
    if (j.state != JobState::kRunning || task.committed >= 0 || !task.running.empty()) return;
    j.pending[kind].insert(t);
    if (kind == kMap)
      for (const auto& h : task.hosts) j.pending_on_host[h].insert(t);
  }

  void ClearPending(Job& j, int kind, int t) {
    j.pending[kind].erase(t);
    if (kind != kMap) return;
    for (const auto& h : j.tasks[kind][t].hosts) {
      auto it = j.pending_on_host.find(h);
      if (it == j.pending_on_host.end()) continue;
      it->second.erase(t);
      if (it->second.empty()) j.pending_on_host.erase(it);
    }
  }

  Assignment Launch(Job& j, int kind, int t, const std::string& worker, bool speculative,
                    int64_t now) {
    Task& task = j.tasks[kind][t];
    Worker& w = workers.at(worker);
    AttemptInfo a;
    a.reduce = kind == kReduce;
    a.task = t;
    a.attempt = task.launched++;
    a.attempt_id = AttemptId(j.id, a.reduce, t, a.attempt);
    a.worker = worker;
    a.host = w.host;
    a.start_ms = now;
    a.speculative = speculative;
    a.local = kind == kMap && std::ranges::find(task.hosts, w.host) != task.hosts.end();
    // A local launch ends the worker's wait; a remote one starts the next, so a worker without
    // local input takes a remote map once per delay while local slots elsewhere may catch up.
    if (a.local) {
      j.waiting_since.erase(worker);
    } else if (kind == kMap) {
      j.waiting_since[worker] = now;
    }
    int idx = AddAttempt(j, a);
    task.running.push_back(idx);
    w.running.insert({j.id, idx});
    if (a.reduce) ++running_reduces;
    ClearPending(j, kind, t);
    if (j.pending[kMap].empty()) j.urgent_maps = false;
    if (speculative) task.speculated = true;
    j.speculate.erase({kind, t});
    return Assignment{j.id, a.attempt_id, a.reduce, t, a.attempt, speculative, a.local};
  }

  // Takes a running attempt off its task and worker; kills are queued for TakeKills. The caller
  // decides what becomes of the task.
  void End(Job& j, int idx, AttemptState state, const std::string& error, int64_t now) {
    AttemptInfo& a = j.attempts[idx];
    a.state = state;
    a.end_ms = now;
    a.error = error;
    std::erase(j.tasks[Kind(a)][a.task].running, idx);
    j.speculate.erase({Kind(a), a.task});
    if (auto it = workers.find(a.worker); it != workers.end()) {
      it->second.running.erase({j.id, idx});
      if (state == AttemptState::kKilled) {
        it->second.kills.push_back(a.attempt_id);
        with_kills.insert(a.worker);
      }
    }
    if (a.reduce) --running_reduces;
  }

  // Leaves kRunning: no more pending work, every running attempt to be killed.
  void Stop(Job& j, JobState state, const std::string& error, const std::string& kill_reason,
            int64_t now) {
    j.state = state;
    j.error = error;
    for (auto& tasks : j.tasks)
      for (auto& task : tasks)
        while (!task.running.empty())
          End(j, task.running.back(), AttemptState::kKilled, kill_reason, now);
    for (auto& p : j.pending) p.clear();
    j.pending_on_host.clear();
    j.speculate.clear();
  }

  void CheckDone(Job& j, int64_t now) {
    int out = j.reduces > 0 ? kReduce : kMap;  // the tasks whose output is the job's output
    if (j.state == JobState::kRunning && j.done[out] == static_cast<int>(j.tasks[out].size()))
      Stop(j, JobState::kTasksDone, "", "the job's tasks are done", now);
  }

  void DropMapOutput(Job& j, int t, const std::string& why) {
    Task& task = j.tasks[kMap][t];
    j.attempts[task.committed].error = "output lost: " + why;
    task.committed = -1;
    --j.done[kMap];
    ++j.map_reruns;
    SetPending(j, kMap, t);
  }

  // --- Placement rules ---

  bool Blacklisted(const Job& j, const std::string& worker) const {
    if (j.opt.blacklist_failures <= 0) return false;  // disabled
    auto it = j.failures_on.find(worker);
    return it != j.failures_on.end() && it->second >= j.opt.blacklist_failures;
  }

  void CheckBlacklists(Job& j, int64_t now) {
    if (j.state != JobState::kRunning || workers.empty()) return;
    if (j.pending[kMap].empty() && j.pending[kReduce].empty()) return;
    for (const auto& [id, w] : workers)
      if (!Blacklisted(j, id)) return;
    Stop(j, JobState::kFailed, "every worker is blacklisted for job " + j.id,
         "every worker is blacklisted for the job", now);
  }

  // A retry skips a worker it failed on while another usable worker has a free slot (by our
  // count of its running attempts). When none has, it waits retry_delay_ms per failure so far for
  // one (a full disk fails a retry there at once, and would use up the task's attempts in a
  // second), then runs where it failed rather than wait longer.
  bool Avoid(const Job& j, const Task& task, const std::string& worker, int64_t now) const {
    if (!task.failed_on.contains(worker)) return false;
    bool other = false;
    for (const auto& [id, w] : workers) {
      if (id == worker || task.failed_on.contains(id) || Blacklisted(j, id)) continue;
      if (w.slots > static_cast<int>(w.running.size())) return true;
      other = true;
    }
    return other && now - task.last_failed_ms < j.opt.retry_delay_ms * task.failures;
  }

  int FreeSlots() const {
    int free = 0;
    for (const auto& [id, w] : workers) free += std::max(0, w.slots - static_cast<int>(w.running.size()));
    return free;
  }

  // Whether a worker on one of the task's input hosts has a free slot.
  bool LocalSlotFree(const Task& task) const {
    for (const auto& [id, w] : workers) {
      if (w.slots > static_cast<int>(w.running.size()) && std::ranges::find(task.hosts, w.host) != task.hosts.end())
        return true;
    }
    return false;
  }

  bool HasLiveHost(const Task& task) const {
    return std::ranges::any_of(task.hosts, [&](const auto& h) { return live_hosts.contains(h); });
  }

  std::optional<int> PickMap(Job& j, const std::string& worker, const std::string& host, int64_t now) {
    if (auto it = j.pending_on_host.find(host); it != j.pending_on_host.end()) {
      for (int t : it->second)
        if (!Avoid(j, j.tasks[kMap][t], worker, now)) return t;
    }
    if (j.pending[kMap].empty()) return std::nullopt;
    // Delay scheduling: a worker with no local input waits a little (a local slot elsewhere may
    // come) before it reads over the network; counted per worker, so that an idle worker is not
    // held back by local launches on other hosts.
    auto [since, first] = j.waiting_since.try_emplace(worker, now);
    bool waited = j.urgent_maps || now - since->second >= j.opt.locality_delay_ms;
    // At the job's tail (no more maps left to launch than free slots in the cluster), a map whose
    // hosts are all busy would wait for this job's own running maps: waiting gains nothing then.
    // Asked only when needed: FreeSlots walks every worker.
    std::optional<bool> tail;
    auto at_tail = [&] {
      if (!tail) tail = static_cast<int>(j.pending[kMap].size()) <= FreeSlots();
      return *tail;
    };
    for (int t : j.pending[kMap]) {
      const Task& task = j.tasks[kMap][t];
      if (Avoid(j, task, worker, now)) continue;
      if (waited || !HasLiveHost(task) || (at_tail() && !LocalSlotFree(task))) return t;
    }
    return std::nullopt;
  }

  bool ReducesAllowed(const Job& j) const {
    int maps = static_cast<int>(j.tasks[kMap].size());
    // The epsilon keeps 0.1 * 30 from rounding up to 4.
    int needed = static_cast<int>(std::ceil(j.opt.slow_start * maps - 1e-9));
    if (j.done[kMap] < needed) return false;
    // A slot is worth more to a map than to a reduce that would wait for it: reduces start once
    // every map has been launched (they still fetch while the last maps run).
    if (!j.pending[kMap].empty()) return false;
    // Reduces waiting for maps must never take the last slot a (re)run map could use.
    return j.done[kMap] >= maps || running_reduces + 1 < total_slots;
  }

  std::optional<int> PickReduce(const Job& j, const std::string& worker, int64_t now) const {
    if (j.pending[kReduce].empty() || !ReducesAllowed(j)) return std::nullopt;
    for (int t : j.pending[kReduce])
      if (!Avoid(j, j.tasks[kReduce][t], worker, now)) return t;
    return std::nullopt;
  }

  // A twin goes to another worker; if for speculation_min_ms after the mark no other worker had
  // a slot for it (e.g. reduces waiting for this very map hold them), the straggler's own worker
  // takes it rather than the job waiting on a hung attempt forever.
  std::optional<std::pair<int, int>> PickSpeculative(const Job& j, const std::string& worker,
                                                     int64_t now) const {
    for (auto [key, marked] : j.speculate) {
      auto [kind, t] = key;
      const Task& task = j.tasks[kind][t];
      if (kind == kReduce && !ReducesAllowed(j)) continue;
      if (task.running.size() != 1) continue;
      if (j.attempts[task.running[0]].worker != worker || now - marked >= j.opt.speculation_min_ms)
        return std::pair{kind, t};
    }
    return std::nullopt;
  }

  std::optional<Assignment> Next(Job& j, const std::string& worker, const std::string& host,
                                 int64_t now) {
    if (j.state != JobState::kRunning || Blacklisted(j, worker)) return std::nullopt;
    if (auto t = PickMap(j, worker, host, now)) return Launch(j, kMap, *t, worker, false, now);
    if (auto t = PickReduce(j, worker, now)) return Launch(j, kReduce, *t, worker, false, now);
    if (auto s = PickSpeculative(j, worker, now))
      return Launch(j, s->first, s->second, worker, true, now);
    return std::nullopt;
  }

  // A lost worker (or a blacklist) can leave reduces holding every slot a job's maps may use
  // while none of its maps runs and some must (re)run: the youngest such reduces give their
  // slots back (killed, not counted, pending again).
  void PreemptReduces(int64_t now) {
    while (true) {
      // A job with pending maps and no free slot it may use (its blacklist counts).
      bool starved = false;
      for (Job* j : fifo) {
        if (j->state != JobState::kRunning || j->pending[kMap].empty()) continue;
        // Maps still running free their slots soon: waiting for them is not starving.
        bool maps_running = std::ranges::any_of(j->tasks[kMap], [](const Task& t) { return !t.running.empty(); });
        if (maps_running) continue;
        int usable = 0;
        for (const auto& [id, w] : workers) {
          if (!Blacklisted(*j, id)) usable += std::max(0, w.slots - static_cast<int>(w.running.size()));
        }
        if (usable == 0) {
          starved = true;
          j->urgent_maps = true;
        }
      }
      if (!starved) return;
      Job* victim_job = nullptr;
      int victim = -1;
      for (Job* j : fifo) {
        if (j->state != JobState::kRunning || j->done[kMap] == static_cast<int>(j->tasks[kMap].size())) continue;
        for (const auto& task : j->tasks[kReduce]) {
          for (int idx : task.running) {
            if (!victim_job || j->attempts[idx].start_ms >= victim_job->attempts[victim].start_ms) {
              victim_job = j;
              victim = idx;
            }
          }
        }
      }
      if (!victim_job) return;
      int t = victim_job->attempts[victim].task;
      End(*victim_job, victim, AttemptState::kKilled, "preempted: a map that must rerun needs the slot", now);
      SetPending(*victim_job, kReduce, t);
    }
  }

  // --- Speculation ---

  void MarkStragglers(Job& j, int kind, int64_t now) {
    std::vector<int64_t> d;
    for (const auto& a : j.attempts)
      if (a.state == AttemptState::kSucceeded && Kind(a) == kind && !a.restored)
        d.push_back(a.end_ms - a.start_ms);
    if (d.empty()) return;
    std::ranges::sort(d);
    size_t n = d.size();
    double median = n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2.0;
    double limit =
        std::max(j.opt.speculation_factor * median, static_cast<double>(j.opt.speculation_min_ms));
    for (int t = 0; t < static_cast<int>(j.tasks[kind].size()); ++t) {
      const Task& task = j.tasks[kind][t];
      if (task.committed >= 0 || task.speculated || task.running.size() != 1) continue;
      if (now - j.attempts[task.running[0]].start_ms > limit) j.speculate.try_emplace({kind, t}, now);
    }
  }
};

Scheduler::Scheduler() : impl_(std::make_unique<Impl>()) {}
Scheduler::~Scheduler() = default;
Scheduler::Scheduler(Scheduler&&) noexcept = default;
Scheduler& Scheduler::operator=(Scheduler&&) noexcept = default;

void Scheduler::AddWorker(const std::string& worker, const std::string& host, int slots) {
  auto [it, fresh] = impl_->workers.try_emplace(worker);
  Worker& w = it->second;
  if (!fresh) {  // re-registration: new host or slot count, same attempts
    impl_->total_slots -= w.slots;
    if (--impl_->live_hosts[w.host] == 0) impl_->live_hosts.erase(w.host);
  }
  w.host = host;
  w.slots = slots;
  impl_->total_slots += slots;
  ++impl_->live_hosts[host];
}

void Scheduler::RemoveWorker(const std::string& worker, const std::string& reason, int64_t now_ms) {
  Impl& m = *impl_;
  auto it = m.workers.find(worker);
  if (it == m.workers.end()) return;
  auto running = it->second.running;  // End() erases from the original
  for (const auto& [job_id, idx] : running) {
    Job& j = m.jobs.at(job_id);
    const AttemptInfo& a = j.attempts[idx];
    m.End(j, idx, AttemptState::kFailed, reason, now_ms);  // not counted: not the task's fault
    m.SetPending(j, Kind(a), a.task);
  }
  m.total_slots -= it->second.slots;
  if (--m.live_hosts[it->second.host] == 0) m.live_hosts.erase(it->second.host);
  m.workers.erase(it);
  m.with_kills.erase(worker);
  for (Job* j : m.fifo) {
    if (j->state != JobState::kRunning) continue;
    // Map outputs live on the worker's disk; a map-only job's are already in the store.
    if (j->reduces > 0 && j->done[kReduce] < j->reduces) {
      for (int t = 0; t < static_cast<int>(j->tasks[kMap].size()); ++t) {
        int c = j->tasks[kMap][t].committed;
        if (c >= 0 && j->attempts[c].worker == worker)
          m.DropMapOutput(*j, t, "worker " + worker + " lost: " + reason);
      }
    }
    m.CheckBlacklists(*j, now_ms);
  }
  m.PreemptReduces(now_ms);
}

bool Scheduler::HasWorker(const std::string& worker) const {
  return impl_->workers.contains(worker);
}

Status Scheduler::AddJob(const JobPlan& plan, int64_t now_ms) {
  if (impl_->jobs.contains(plan.job_id)) return AlreadyExists("job " + plan.job_id + " exists");
  if (plan.reduces < 0)
    return InvalidArgument("job " + plan.job_id + ": reduces " + std::to_string(plan.reduces) +
                           " < 0");
  Job& j = impl_->jobs[plan.job_id];
  j.id = plan.job_id;
  j.reduces = plan.reduces;
  j.opt = plan.options;
  j.tasks[kMap].resize(plan.map_hosts.size());
  j.tasks[kReduce].resize(plan.reduces);
  for (size_t t = 0; t < plan.map_hosts.size(); ++t) j.tasks[kMap][t].hosts = plan.map_hosts[t];
  for (int kind : {kMap, kReduce})
    for (int t = 0; t < static_cast<int>(j.tasks[kind].size()); ++t) impl_->SetPending(j, kind, t);
  impl_->fifo.push_back(&j);
  impl_->CheckDone(j, now_ms);  // nothing to run at all
  return Status::Ok();
}

Status Scheduler::RestoreJob(const JobPlan& plan, const std::vector<RestoredTask>& committed, int first_attempt,
                             int64_t now_ms) {
  RETURN_IF_ERROR(AddJob(plan, now_ms));
  Impl& m = *impl_;
  Job& j = m.jobs.at(plan.job_id);
  for (int kind : {kMap, kReduce})
    for (auto& task : j.tasks[kind]) task.launched = first_attempt;
  for (const RestoredTask& r : committed) {
    AttemptName n;
    if (!ParseAttemptId(r.attempt_id, &n) || n.attempt < 0 || n.job != j.id) continue;
    const int kind = n.reduce ? kReduce : kMap;
    if (n.task < 0 || n.task >= static_cast<int>(j.tasks[kind].size())) continue;
    Task& task = j.tasks[kind][n.task];
    if (task.committed >= 0) continue;
    // A map output lives on its worker's disk: without the worker it is gone.
    const bool on_worker = kind == kMap && j.reduces > 0;
    auto w = m.workers.find(r.worker);
    if (on_worker && w == m.workers.end()) continue;
    AttemptInfo a;
    a.attempt_id = r.attempt_id;
    a.reduce = n.reduce;
    a.task = n.task;
    a.attempt = n.attempt;
    a.worker = r.worker;
    a.host = w == m.workers.end() ? "" : w->second.host;
    a.state = AttemptState::kSucceeded;
    a.start_ms = a.end_ms = now_ms;
    a.restored = true;
    const int idx = m.AddAttempt(j, a);
    task.committed = idx;
    ++j.done[kind];
    m.ClearPending(j, kind, n.task);
  }
  if (j.pending[kMap].empty()) j.urgent_maps = false;
  m.CheckDone(j, now_ms);
  return Status::Ok();
}

bool Scheduler::AdoptAttempt(const std::string& attempt_id, const std::string& worker, int64_t now_ms) {
  Impl& m = *impl_;
  AttemptName n;
  if (!ParseAttemptId(attempt_id, &n) || n.attempt < 0 || m.attempt_index.contains(attempt_id)) return false;
  Job* j = m.FindJob(n.job);
  auto w = m.workers.find(worker);
  if (!j || j->state != JobState::kRunning || w == m.workers.end()) return false;
  const int kind = n.reduce ? kReduce : kMap;
  if (n.task < 0 || n.task >= static_cast<int>(j->tasks[kind].size())) return false;
  Task& task = j->tasks[kind][n.task];
  if (task.committed >= 0) return false;
  AttemptInfo a;
  a.attempt_id = attempt_id;
  a.reduce = n.reduce;
  a.task = n.task;
  a.attempt = n.attempt;
  a.worker = worker;
  a.host = w->second.host;
  a.start_ms = now_ms;
  a.local = kind == kMap && std::ranges::find(task.hosts, a.host) != task.hosts.end();
  const int idx = m.AddAttempt(*j, a);
  task.running.push_back(idx);
  task.launched = std::max(task.launched, a.attempt + 1);
  w->second.running.insert({j->id, idx});
  if (a.reduce) ++m.running_reduces;
  m.ClearPending(*j, kind, n.task);
  if (j->pending[kMap].empty()) j->urgent_maps = false;
  return true;
}

bool Scheduler::LoseMapOutput(const std::string& attempt_id, const std::string& why) {
  auto it = impl_->attempt_index.find(attempt_id);
  if (it == impl_->attempt_index.end()) return false;
  auto [j, idx] = it->second;
  const AttemptInfo& a = j->attempts[idx];
  if (j->state != JobState::kRunning || a.reduce || j->reduces == 0) return false;
  if (j->tasks[kMap][a.task].committed != idx) return false;
  impl_->DropMapOutput(*j, a.task, why);
  return true;
}

void Scheduler::KillJob(const std::string& job_id, const std::string& reason, int64_t now_ms) {
  Job* j = impl_->FindJob(job_id);
  if (j && j->state == JobState::kRunning)
    impl_->Stop(*j, JobState::kFailed, reason, "job killed: " + reason, now_ms);
}

std::vector<Assignment> Scheduler::Assign(const std::string& worker, int free_slots,
                                          int64_t now_ms) {
  std::vector<Assignment> out;
  auto it = impl_->workers.find(worker);
  if (it == impl_->workers.end()) return out;
  const std::string host = it->second.host;
  while (static_cast<int>(out.size()) < free_slots) {
    std::optional<Assignment> a;
    for (Job* j : impl_->fifo)
      if ((a = impl_->Next(*j, worker, host, now_ms))) break;
    if (!a) break;
    out.push_back(std::move(*a));
  }
  return out;
}

bool Scheduler::MayAssign() const {
  return std::ranges::any_of(impl_->fifo, [](const Job* j) {
    return j->state == JobState::kRunning &&
           (!j->pending[kMap].empty() || !j->pending[kReduce].empty() || !j->speculate.empty());
  });
}

bool Scheduler::AttemptSucceeded(const std::string& attempt_id, int64_t now_ms) {
  auto [j, idx] = impl_->FindRunning(attempt_id);
  if (!j) return false;
  const AttemptInfo& a = j->attempts[idx];
  Task& task = j->tasks[Kind(a)][a.task];
  impl_->End(*j, idx, AttemptState::kSucceeded, "", now_ms);
  task.committed = idx;
  ++j->done[Kind(a)];
  while (!task.running.empty())
    impl_->End(*j, task.running.back(), AttemptState::kKilled,
               "attempt " + attempt_id + " succeeded first", now_ms);
  impl_->CheckDone(*j, now_ms);
  return true;
}

void Scheduler::AttemptFailed(const std::string& attempt_id, const std::string& error,
                              int64_t now_ms) {
  auto [j, idx] = impl_->FindRunning(attempt_id);
  if (!j) return;
  const AttemptInfo& a = j->attempts[idx];
  Task& task = j->tasks[Kind(a)][a.task];
  impl_->End(*j, idx, AttemptState::kFailed, error, now_ms);
  ++task.failures;
  task.last_failed_ms = now_ms;
  // A worker is suspect when different tasks fail on it; one task failing again and again
  // there is that task's problem (it moves elsewhere when it can, see Avoid).
  if (task.failed_on.insert(a.worker).second) ++j->failures_on[a.worker];
  if (task.failures >= j->opt.max_attempts) {
    std::string why = "task " + TaskName(a.reduce, a.task) + " failed " +
                      std::to_string(task.failures) + " times; last error: " + error;
    impl_->Stop(*j, JobState::kFailed, why, "job failed: " + why, now_ms);
    return;
  }
  impl_->SetPending(*j, Kind(a), a.task);
  impl_->CheckBlacklists(*j, now_ms);
}

void Scheduler::FetchFailed(const std::string& reduce_attempt_id, int map, int64_t now_ms,
                            const std::string& map_attempt_id) {
  (void)now_ms;
  auto [j, idx] = impl_->FindRunning(reduce_attempt_id);
  if (!j || !j->attempts[idx].reduce) return;
  if (map < 0 || map >= static_cast<int>(j->tasks[kMap].size())) return;
  ++j->fetch_failures;
  Task& task = j->tasks[kMap][map];
  int c = task.committed;
  if (c < 0) return;  // already dropped and not yet rerun
  const AttemptInfo& out = j->attempts[c];
  if (!map_attempt_id.empty() && out.attempt_id != map_attempt_id) return;  // already rerun
  // A lost worker's outputs were dropped by RemoveWorker.
  if (!impl_->workers.contains(out.worker)) return;
  // Rerun elsewhere when another worker is free (Avoid): the output may be bad because that
  // worker's disk is. Not counted toward blacklisting the worker, which may be fine.
  task.failed_on.insert(out.worker);
  impl_->DropMapOutput(*j, map, "reduce attempt " + reduce_attempt_id + " could not fetch it");
}

void Scheduler::Tick(int64_t now_ms) {
  impl_->PreemptReduces(now_ms);
  for (Job* j : impl_->fifo) {
    if (j->state != JobState::kRunning || !j->opt.speculation) continue;
    for (int kind : {kMap, kReduce}) impl_->MarkStragglers(*j, kind, now_ms);
  }
}

std::vector<std::string> Scheduler::TakeKills(const std::string& worker) {
  auto it = impl_->workers.find(worker);
  if (it == impl_->workers.end()) return {};
  impl_->with_kills.erase(worker);
  return std::exchange(it->second.kills, {});
}

std::vector<std::string> Scheduler::WorkersWithKills() const {
  return {impl_->with_kills.begin(), impl_->with_kills.end()};
}

std::vector<MapOutput> Scheduler::MapOutputs(const std::string& job_id) const {
  std::vector<MapOutput> out;
  Job* j = impl_->FindJob(job_id);
  if (!j) return out;
  for (int t = 0; t < static_cast<int>(j->tasks[kMap].size()); ++t) {
    int c = j->tasks[kMap][t].committed;
    if (c >= 0) out.push_back({t, j->attempts[c].attempt_id, j->attempts[c].worker});
  }
  return out;
}

void Scheduler::FinishJob(const std::string& job_id, bool ok, const std::string& error,
                          int64_t now_ms) {
  (void)now_ms;
  Job* j = impl_->FindJob(job_id);
  if (!j || j->state != JobState::kTasksDone) return;
  j->state = ok ? JobState::kSucceeded : JobState::kFailed;
  j->error = ok ? "" : error;
}

std::optional<JobSnapshot> Scheduler::Snapshot(const std::string& job_id) const {
  const Job* j = impl_->FindJob(job_id);
  if (!j) return std::nullopt;
  JobSnapshot s;
  s.job_id = j->id;
  s.state = j->state;
  s.error = j->error;
  s.maps = static_cast<int>(j->tasks[kMap].size());
  s.reduces = j->reduces;
  s.maps_done = j->done[kMap];
  s.reduces_done = j->done[kReduce];
  for (const auto& t : j->tasks[kMap]) s.maps_running += !t.running.empty();
  for (const auto& t : j->tasks[kReduce]) s.reduces_running += !t.running.empty();
  for (const auto& a : j->attempts) {
    if (!a.reduce) ++(a.local ? s.data_local_maps : s.remote_maps);
    s.failed_attempts += a.state == AttemptState::kFailed;
    s.killed_attempts += a.state == AttemptState::kKilled;
    s.speculative_attempts += a.speculative;
  }
  s.fetch_failures = j->fetch_failures;
  s.map_reruns = j->map_reruns;
  s.attempts = j->attempts;
  return s;
}

std::optional<std::pair<JobState, std::string>> Scheduler::State(const std::string& job_id) const {
  const Job* j = impl_->FindJob(job_id);
  if (!j) return std::nullopt;
  return std::pair{j->state, j->error};
}

std::vector<std::string> Scheduler::CommittedAttempts(const std::string& job_id,
                                                      bool reduce) const {
  std::vector<std::string> out;
  const Job* j = impl_->FindJob(job_id);
  if (!j) return out;
  for (const auto& t : j->tasks[reduce ? kReduce : kMap])
    out.push_back(t.committed >= 0 ? j->attempts[t.committed].attempt_id : "");
  return out;
}

void Scheduler::DropJob(const std::string& job_id) {
  Job* j = impl_->FindJob(job_id);
  if (!j || (j->state != JobState::kSucceeded && j->state != JobState::kFailed)) return;
  for (const auto& a : j->attempts) impl_->attempt_index.erase(a.attempt_id);
  std::erase(impl_->fifo, j);
  impl_->jobs.erase(job_id);
}

}  // namespace sawmill::sched
