// The coordinator's durable state: the journal it keeps of workers, accepted jobs and committed
// tasks, the running jobs taken up again after a restart (workers that come back keep their ids,
// attempts and map outputs), and the store thread that keeps slow store calls off the lock.
#include <algorithm>
#include <future>

#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "scheduler/coordinator_state.h"

namespace sawmill::sched {

namespace {
// Large enough that compaction is rare, small enough that a restart replays it in well under a
// second.
constexpr uint64_t kCompactJournalBytes = 64ull << 20;
}  // namespace

Status Coordinator::Impl::Recover() {
  RETURN_IF_ERROR(MakeDirs(opt.dir));
  const std::string path = JoinPath(opt.dir, "journal");
  ASSIGN_OR_RETURN(JournalState st, LoadCoordinatorJournal(path));
  epoch = st.epoch + 1;
  std::set<std::string> running;
  for (const auto& j : st.jobs) {
    if (!j.finished) running.insert(j.id);
  }
  // Jobs whose history record says they ended are not taken up, whatever the journal says.
  RETURN_IF_ERROR(LoadHistory(&running));
  next_job = std::max(next_job, st.next_job);
  next_worker = std::max(next_worker, st.next_worker);
  const int64_t now = MonoMs();
  for (const auto& [id, e] : st.workers) {
    Worker& w = workers[id];
    w.id = id;
    w.host = e.host;
    w.address = e.address;
    w.slots = e.slots;
    w.last_seen_ms = now;  // lost like any silent worker if it does not come back
    w.recovered = true;
    sched.AddWorker(id, e.host, e.slots);
  }
  int recovered = 0;
  for (const auto& j : st.jobs) {
    if (!running.count(j.id)) continue;
    auto sub = j.submission->getRoot<sp::JobSubmission>().asReader();
    Status s = CatchCapnp("journaled job " + j.id, [&] { return AddJob(sub, j.id, j.submit_unix_ms, &j).status(); });
    if (!s.ok()) {
      LOG(ERROR) << "cannot take up job " << j.id << " again: " << s.ToString();
      continue;
    }
    ++recovered;
  }
  if (!workers.empty()) recovery_until_ms = now + opt.worker_timeout_ms;
  LOG(INFO) << "coordinator epoch " << epoch << ": " << recovered << " running jobs taken up from " << path << " ("
            << st.read.records << " records" << (st.read.drop_reason.empty() ? "" : "; " + st.read.drop_reason)
            << "), waiting for " << workers.size() << " workers to come back";
  ASSIGN_OR_RETURN(journal, CoordinatorJournal::Create(path, LiveRecords()));
  for (const auto& id : job_order) {
    Job& job = *jobs[id];
    if (!job.finished) {
      if (Status s = SaveRecord(job); !s.ok()) LOG(WARNING) << "history: " << s.ToString();
      job.record.reset();
    }
  }
  ReapJobs();  // jobs whose tasks were all done: their commit (again)
  return Status::Ok();
}

uint64_t Coordinator::Impl::Journal(std::string record) { return journal ? journal->Append(std::move(record)) : 0; }

Status Coordinator::Impl::Durable(uint64_t seq) {
  if (!journal || seq == 0) return Status::Ok();
  return journal->WaitDurable(seq);
}

void Coordinator::Impl::WhenDurable(uint64_t seq, std::function<void(const Status&)> done) {
  if (!journal || seq == 0) return done(Status::Ok());
  journal->WhenDurable(seq, std::move(done));
}

std::vector<std::string> Coordinator::Impl::LiveRecords() {
  std::vector<std::string> out;
  out.push_back(JournalStartRecord(epoch, next_job, next_worker));
  for (const auto& [id, w] : workers) out.push_back(JournalWorkerRecord({w.id, w.host, w.address, w.slots}));
  for (const auto& id : job_order) {
    Job& job = *jobs[id];
    if (job.finished) continue;
    out.push_back(JournalJobRecord(job.id, job.sub(), job.submit_unix_ms));
    for (const auto& [key, record] : job.task_records) out.push_back(record);
    if (job.commit_started) out.push_back(JournalCommitStartedRecord(job.id));
  }
  return out;
}

void Coordinator::Impl::MaybeCompactJournal() {
  if (journal && journal->size() > kCompactJournalBytes) journal->Compact(LiveRecords());
}

bool Coordinator::Impl::Recovering() {
  if (recovery_until_ms == 0) return false;
  // Until the last known worker is back, or lost (the tick loses those that did not come back in
  // time, before anything is scheduled: their map outputs must not count then).
  if (std::any_of(workers.begin(), workers.end(), [](const auto& w) { return w.second.recovered; })) return true;
  recovery_until_ms = 0;
  LOG(INFO) << "recovery done";
  return false;
}

void Coordinator::Impl::EndRecoveryIfDue() {
  if (recovery_until_ms == 0 || MonoMs() < recovery_until_ms) return;
  std::vector<std::string> gone;
  for (const auto& [id, w] : workers) {
    if (w.recovered) gone.push_back(id);
  }
  for (const auto& id : gone) {
    LostWorker(id, "worker " + id + " did not come back within " + std::to_string(opt.worker_timeout_ms) +
                       " ms of the coordinator's restart");
  }
  Recovering();  // ends it
}

bool Coordinator::Impl::Reregister(const std::string& previous_id, sp::WorkerRegistration::Reader r) {
  auto it = workers.find(previous_id);
  if (it == workers.end()) return false;
  Worker& w = it->second;
  // A live worker's id goes only to the same process (its shuffle address).
  if (!w.recovered && w.address != Text(r.getShuffleAddress())) return false;
  const int64_t now = MonoMs();
  w.host = Text(r.getHost());
  w.address = Text(r.getShuffleAddress());
  w.slots = std::max(1, r.getSlots());
  w.last_seen_ms = now;
  w.recovered = false;
  sched.AddWorker(w.id, w.host, w.slots);
  std::set<std::string> held;
  for (auto a : r.getMapOutputs()) held.insert(Text(a));
  for (const auto& id : job_order) {
    if (jobs[id]->finished) continue;
    for (const MapOutput& o : sched.MapOutputs(id)) {
      if (o.worker == w.id && !held.count(o.attempt_id)) {
        sched.LoseMapOutput(o.attempt_id, "worker " + w.id + " came back without it");
      }
    }
  }
  int adopted = 0, killed = 0;
  for (auto a : r.getRunning()) {
    const std::string attempt = Text(a);
    if (w.running.count(attempt)) continue;
    if (sched.AdoptAttempt(attempt, w.id, now)) {
      AddRunning(w, attempt);
      ++adopted;
      continue;
    }
    w.kills.push_back(attempt);
    ++killed;
    // An attempt of a finished job may still write under its staging directory until it
    // ends: it is that job's late attempt, as if the coordinator had not restarted.
    AttemptName n;
    auto jit = ParseAttemptId(attempt, &n) ? jobs.find(n.job) : jobs.end();
    if (jit != jobs.end() && jit->second->finished && !jit->second->staging.empty()) {
      jit->second->late_attempts.insert(attempt);
      AddRunning(w, attempt);
    }
  }
  for (auto& [jid, job] : jobs) ++job->map_output_version;
  LOG(INFO) << "worker " << w.id << " came back: " << adopted << " running attempts kept, " << killed
            << " to be killed, " << held.size() << " map outputs held";
  return true;
}

void Coordinator::Impl::PostStoreWork(std::function<void()> fn) {
  std::unique_lock<std::mutex> l(store_mu);
  if (store_exited) {  // stopped: nothing would run it (a late report's answer waits for it)
    l.unlock();
    fn();
    return;
  }
  store_queue.push_back(std::move(fn));
  store_cv.notify_one();
}

void Coordinator::Impl::RunStoreWork(std::function<void()> fn) {
  std::unique_lock<std::mutex> l(store_mu);
  if (store_queue.empty() && !store_busy) {
    store_busy = true;
    l.unlock();
    fn();
    l.lock();
    store_busy = false;
    if (!store_queue.empty()) store_cv.notify_one();  // the store thread waits for it
    return;
  }
  // Waited for on a promise of its own: a finished store call wakes only its caller.
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> ran = done->get_future();
  store_queue.push_back([fn = std::move(fn), done] {
    fn();
    done->set_value();
  });
  store_cv.notify_one();
  l.unlock();
  ran.wait();
}

thread_local bool Coordinator::Impl::on_store_thread = false;

void Coordinator::Impl::StoreLoop() {
  on_store_thread = true;
  std::unique_lock<std::mutex> l(store_mu);
  while (true) {
    store_cv.wait(l, [&] { return (store_stopping && store_queue.empty()) || (!store_queue.empty() && !store_busy); });
    if (store_queue.empty()) {
      store_exited = true;
      return;
    }
    // Everything queued, in order, then one journal wait for the reports among it.
    std::deque<std::function<void()>> batch;
    batch.swap(store_queue);
    store_busy = true;
    l.unlock();
    for (auto& fn : batch) fn();
    FlushStoreAnswers();
    l.lock();
    store_busy = false;
  }
}

void Coordinator::Impl::FlushStoreAnswers() {
  if (store_answers.empty()) return;
  std::vector<std::pair<uint64_t, std::function<void(const Status&)>>> answers;
  answers.swap(store_answers);
  uint64_t upto = 0;
  for (const auto& a : answers) upto = std::max(upto, a.first);
  const Status durable = Durable(upto);
  for (auto& [seq, answer] : answers) answer(durable);
}

}  // namespace sawmill::sched
