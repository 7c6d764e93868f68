// The coordinator's workers: polls held until there are orders, attempts handed out as launches
// and kills, map output locations for reduces, lost and silent workers, and the tick.
#include <algorithm>

#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "scheduler/coordinator_state.h"

namespace sawmill::sched {

Status Coordinator::Impl::PollAsync(const std::shared_ptr<Call>& call) {
  auto p = call->req().getPoll();
  const std::string worker_id = Text(p.getWorkerId());
  const uint32_t wait_ms = std::min<uint32_t>(p.getWaitMs(), 30000);
  const uint64_t conversation = call->exchange->conversation();
  AnswersAfterUnlock answers;  // sent once mu is released
  std::lock_guard<std::mutex> l(mu);
  auto it = workers.find(worker_id);
  // One known from the journal registers again, saying what it runs and holds.
  if (it == workers.end() || it->second.recovered) {
    call->resp.initOrders().setReregister(true);
    call->Finish(Status::Ok());
    return Status::Ok();
  }
  conversation_worker[conversation] = worker_id;
  Worker& w = it->second;
  w.poll_conversation = conversation;
  w.last_seen_ms = MonoMs();
  // A poll still held from before: its client gave up on it (this one has the orders).
  if (w.parked_poll) {
    std::shared_ptr<Call> old = std::move(w.parked_poll);
    Unpark(*old);
    old->resp.initOrders();
    old->Finish(Status::Ok());
  }
  if (stopping || wait_ms == 0 || HasOrders(w)) {
    TakeOrders(w, call->resp.initOrders());
    call->Finish(Status::Ok());
    return Status::Ok();
  }
  call->parked_worker = worker_id;
  w.parked_poll = call;
  Park(call, MonoMs() + wait_ms);
  return Status::Ok();
}

void Coordinator::Impl::AnswerPoll(Worker& w, bool reregister) {
  std::shared_ptr<Call> call = std::move(w.parked_poll);
  if (!call) return;
  Unpark(*call);
  if (reregister) {
    call->resp.initOrders().setReregister(true);
  } else {
    TakeOrders(w, call->resp.initOrders());
  }
  call->Finish(Status::Ok());
}

void Coordinator::Impl::WakePoll(Worker& w) {
  if (w.parked_poll && (stopping || HasOrders(w))) AnswerPoll(w);
}

void Coordinator::Impl::TakeOrders(Worker& w, sp::Orders::Builder orders) {
  w.last_seen_ms = MonoMs();
  auto launch = orders.initLaunch(static_cast<unsigned>(w.launches.size()));
  for (unsigned i = 0; i < w.launches.size(); ++i) launch.setWithCaveats(i, w.launches[i]->getRoot<sp::AttemptLaunch>().asReader());
  w.launches.clear();
  auto kills = orders.initKill(static_cast<unsigned>(w.kills.size()));
  for (unsigned i = 0; i < w.kills.size(); ++i) kills.set(i, w.kills[i]);
  w.kills.clear();
  std::vector<std::string> jobs_to_send = OutputJobsToSend(w);
  auto mo = orders.initMapOutputs(static_cast<unsigned>(jobs_to_send.size()));
  for (unsigned i = 0; i < jobs_to_send.size(); ++i) {
    const std::string& job_id = jobs_to_send[i];
    auto outs = sched.MapOutputs(job_id);
    mo[i].setJobId(job_id);
    auto list = mo[i].initOutputs(static_cast<unsigned>(outs.size()));
    for (unsigned k = 0; k < outs.size(); ++k) {
      list[k].setMap(outs[k].map);
      list[k].setAttemptId(outs[k].attempt_id);
      auto wit = workers.find(outs[k].worker);
      list[k].setAddress(wit == workers.end() ? "" : wit->second.address);
    }
    w.sent_version[job_id] = jobs[job_id]->map_output_version;
  }
  auto drops = orders.initDropJobs(static_cast<unsigned>(w.drop_jobs.size()));
  for (unsigned i = 0; i < w.drop_jobs.size(); ++i) drops.set(i, w.drop_jobs[i]);
  w.drop_jobs.clear();
}

// Jobs with a reduce attempt on `w` whose map outputs changed since `w` last heard of them.
std::vector<std::string> Coordinator::Impl::OutputJobsToSend(Worker& w) {
  std::set<std::string> out;
  for (const auto& a : w.running) {
    AttemptName n;
    if (!ParseAttemptId(a, &n) || !n.reduce) continue;
    auto j = jobs.find(n.job);
    if (j == jobs.end() || j->second->finished) continue;
    if (w.sent_version[n.job] != j->second->map_output_version) out.insert(n.job);
  }
  return {out.begin(), out.end()};
}

bool Coordinator::Impl::HasOrders(Worker& w) {
  return !w.launches.empty() || !w.kills.empty() || !w.drop_jobs.empty() || !OutputJobsToSend(w).empty();
}

// Hands out work to every live worker with free slots, and kill orders; wakes the polls of the
// workers that got any. O(workers) plus the assignments: it runs after every report.
void Coordinator::Impl::Schedule() {
  const int64_t now = MonoMs();
  const bool hold = Recovering();
  // Copied: AddRunning takes a worker out of free_workers as its slots fill.
  const std::vector<std::string> free_now =
      hold || !sched.MayAssign() ? std::vector<std::string>{}
                                 : std::vector<std::string>(free_workers.begin(), free_workers.end());
  for (const std::string& id : free_now) {
    Worker& w = workers.at(id);
    // A program's master mostly waits for its stages: it takes no slot from them.
    const int free = w.slots - static_cast<int>(w.running.size()) + w.masters;
    if (free <= 0 || w.recovered) continue;
    bool launched = false;
    for (const Assignment& a : sched.Assign(id, free, now)) {
      auto jit = jobs.find(a.job_id);
      if (jit == jobs.end()) continue;
      w.launches.push_back(BuildLaunch(*jit->second, a));
      AddRunning(w, a.attempt_id);
      launched = true;
    }
    if (launched) WakePoll(w);
  }
  for (const std::string& id : sched.WorkersWithKills()) {
    auto it = workers.find(id);
    if (it == workers.end() || it->second.recovered) continue;
    Worker& w = it->second;
    for (auto& k : sched.TakeKills(id)) {
      // Not sent yet: withdrawing the launch is the kill.
      auto queued = std::find_if(w.launches.begin(), w.launches.end(), [&](const auto& m) {
        return Text(m->template getRoot<sp::AttemptLaunch>().getAttemptId()) == k;
      });
      if (queued != w.launches.end()) {
        w.launches.erase(queued);
        EraseRunning(w, k);
      } else {
        w.kills.push_back(std::move(k));
      }
    }
    WakePoll(w);
  }
}

void Coordinator::Impl::AddRunning(Worker& w, const std::string& attempt_id) {
  if (!w.running.insert(attempt_id).second) return;
  AttemptName n;
  auto j = ParseAttemptId(attempt_id, &n) ? jobs.find(n.job) : jobs.end();
  if (j != jobs.end()) {
    w.masters += j->second->program;
    if (n.reduce) ++j->second->reduce_workers[w.id];
  }
  UpdateFree(w);
}

bool Coordinator::Impl::EraseRunning(Worker& w, const std::string& attempt_id) {
  if (w.running.erase(attempt_id) == 0) return false;
  AttemptName n;
  auto j = ParseAttemptId(attempt_id, &n) ? jobs.find(n.job) : jobs.end();
  if (j != jobs.end()) {
    w.masters -= j->second->program;
    if (n.reduce) {
      auto r = j->second->reduce_workers.find(w.id);
      if (r != j->second->reduce_workers.end() && --r->second <= 0) j->second->reduce_workers.erase(r);
    }
  }
  UpdateFree(w);
  return true;
}

void Coordinator::Impl::UpdateFree(Worker& w) {
  if (!w.recovered && w.slots - static_cast<int>(w.running.size()) + w.masters > 0) {
    free_workers.insert(w.id);
  } else {
    free_workers.erase(w.id);
  }
}

void Coordinator::Impl::WakeReduceWorkers(Job& job) {
  for (const auto& [id, count] : job.reduce_workers) {
    auto it = workers.find(id);
    if (it != workers.end()) WakePoll(it->second);
  }
}

void Coordinator::Impl::WakeAll() {
  for (auto& [id, w] : workers) WakePoll(w);
  AnswerWaits();
  cv.notify_all();
}

std::unique_ptr<capnp::MallocMessageBuilder> Coordinator::Impl::BuildLaunch(Job& job, const Assignment& a) {
  // Sized for a launch (its split, partitioning and arguments: mostly under 1 KiB), not the
  // default 8 KiB first segment, zeroed for every task.
  auto m = std::make_unique<capnp::MallocMessageBuilder>(kSmallMessageWords);
  auto l = m->initRoot<sp::AttemptLaunch>();
  auto sub = job.sub();
  l.setJobId(job.id);
  l.setAttemptId(a.attempt_id);
  l.setBinarySha256(sub.getBinarySha256());
  l.setArgs(sub.getArgs());
  l.setTaskFlags(sub.getTaskFlags());
  l.setMapCount(static_cast<int32_t>(sub.getSplits().size()));
  // A program's master runs as long as its program: no timeout.
  l.setTimeoutMs(job.program ? 0 : sub.getTaskTimeoutMs() ? sub.getTaskTimeoutMs() : opt.task_timeout_ms);
  l.setProgram(job.program);
  l.setExecutorGroup(job.parent.empty() ? job.id : job.parent);
  l.setMemoryMb(sub.getTaskMemoryMb() ? sub.getTaskMemoryMb() : opt.task_memory_mb);
  auto s = l.initSpec();
  s.setJobId(job.id);
  s.setAttemptId(a.attempt_id);
  s.setReduce(a.reduce);
  s.setTaskIndex(PartIndex(job, a.reduce, a.task));
  s.setAttempt(a.attempt);
  s.setJobSeed(sub.getSeed());
  if (!a.reduce && !job.program) s.setSplit(sub.getSplits()[static_cast<unsigned>(a.task)]);  // a master reads no split
  s.setPartitioning(sub.getPartitioning());
  s.setMemoryBytes(sub.getMemoryBytes());
  s.setMergeFactor(sub.getMergeFactor());
  s.setBlockBytes(sub.getBlockBytes());
  s.setOutputReplication(sub.getOutputReplication());
  s.setNamenode(opt.namenode_address);
  s.setMaster(job.program);
  if (!job.program && (a.reduce || MapsWriteParts(job.kind))) {
    AttemptName n;
    ParseAttemptId(a.attempt_id, &n);
    s.setOutputPath("dfs:" + JoinPath(JoinPath(JoinPath(job.staging, "_temporary"), n.dir),
                                      PartName(PartIndex(job, a.reduce, a.task))));
  }
  return m;
}

void Coordinator::Impl::LostWorker(const std::string& id, const std::string& reason) {
  auto it = workers.find(id);
  if (it == workers.end()) return;
  LOG(WARNING) << "lost " << reason;
  sched.RemoveWorker(id, reason, MonoMs());
  Journal(JournalWorkerLostRecord(id));
  for (auto& [jid, job] : jobs) ++job->map_output_version;
  // Its attempts count as ended: a worker kills them as it stops, or once told to register again.
  const std::set<std::string> running = it->second.running;
  for (const std::string& a : running) EraseRunning(it->second, a);
  AnswerPoll(it->second, /*reregister=*/true);  // its poll, if one is held
  free_workers.erase(id);
  workers.erase(it);
  for (const std::string& a : running) EndLateAttempt(a);
  ReapJobs();
  Schedule();
  WakeAll();  // the map outputs changed; a job may have ended
}

void Coordinator::Impl::TickLoop() {
  std::unique_lock<std::mutex> l(mu);
  while (!stopping) {
    // Every tick_ms, however often cv is notified (it is for every job that ends).
    cv.wait_until(l, std::chrono::steady_clock::now() + std::chrono::milliseconds(opt.tick_ms),
                  [&] { return stopping; });
    if (stopping) break;
    const int64_t now = MonoMs();
    sched.Tick(now);
    EndRecoveryIfDue();
    std::vector<std::string> silent;
    for (auto& [id, w] : workers) {
      if (now - w.last_seen_ms > opt.worker_timeout_ms) silent.push_back(id);
    }
    for (const auto& id : silent) LostWorker(id, "worker " + id + " silent for " + std::to_string(opt.worker_timeout_ms) + " ms");
    MaybeCompactJournal();
    ReapJobs();
    Schedule();
  }
}

}  // namespace sawmill::sched
