// The coordinator's journal: record encoders, replay, and the group-commit thread.
#include "scheduler/coordinator_journal.h"

#include <pthread.h>

#include <chrono>
#include <cstdio>

#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/fault_point.h"
#include "common/file.h"
#include "scheduler/attempt_id.h"

namespace sawmill::sched {
namespace {

namespace sp = proto;

template <typename Fill>
std::string Record(Fill&& fill) {
  // A record is mostly well under 1 KiB: a builder's default first segment (8 KiB, zeroed) would
  // cost more than the record, once per task; 896 bytes stay under glibc's large-request path.
  capnp::MallocMessageBuilder m(112);
  fill(m.initRoot<sp::JournalRecord>());
  return CapnpToString(m);
}

template <typename Reader>
std::shared_ptr<capnp::MallocMessageBuilder> Copy(Reader r) {
  auto m = std::make_shared<capnp::MallocMessageBuilder>();
  m->setRoot(r);
  return m;
}

// "w12-host" -> 12, else 0.
int WorkerNumber(const std::string& id) {
  int n = 0;
  if (id.size() < 2 || id[0] != 'w') return 0;
  for (size_t i = 1; i < id.size() && id[i] >= '0' && id[i] <= '9' && n < 100000000; ++i) n = n * 10 + (id[i] - '0');
  return n;
}

Status Apply(sp::JournalRecord::Reader r, JournalState* st) {
  switch (r.which()) {
    case sp::JournalRecord::STARTED: {
      auto s = r.getStarted();
      st->epoch = std::max(st->epoch, s.getEpoch());
      st->next_job = std::max(st->next_job, s.getNextJob());
      st->next_worker = std::max(st->next_worker, s.getNextWorker());
      return Status::Ok();
    }
    case sp::JournalRecord::WORKER: {
      auto w = r.getWorker();
      JournalState::Worker e{Text(w.getId()), Text(w.getHost()), Text(w.getShuffleAddress()), std::max(1, w.getSlots())};
      st->next_worker = std::max(st->next_worker, WorkerNumber(e.id) + 1);
      st->workers[e.id] = std::move(e);
      return Status::Ok();
    }
    case sp::JournalRecord::WORKER_LOST:
      st->workers.erase(Text(r.getWorkerLost()));
      return Status::Ok();
    case sp::JournalRecord::JOB: {
      auto j = r.getJob();
      JournalState::Job job;
      job.id = Text(j.getId());
      const int num = ParseJobNumber(job.id);
      if (num < 0) return InvalidArgument("a job record with the id '" + job.id + "'");
      job.submission = Copy(j.getSubmission());
      job.submit_unix_ms = j.getSubmitUnixMs();
      st->next_job = std::max(st->next_job, num + 1);
      st->jobs.push_back(std::move(job));
      return Status::Ok();
    }
    default:
      break;
  }
  // The rest name a job.
  std::string job_id;
  AttemptName n;
  if (r.isTask()) {
    if (!ParseAttemptId(Text(r.getTask().getAttemptId()), &n)) {
      return InvalidArgument("a task record with the attempt id '" + Text(r.getTask().getAttemptId()) + "'");
    }
    job_id = n.job;
  } else if (r.isCommitStarted()) {
    job_id = Text(r.getCommitStarted());
  } else if (r.isFinished()) {
    job_id = Text(r.getFinished());
  } else {
    return InvalidArgument("a record of an unknown kind");
  }
  JournalState::Job* job = nullptr;
  for (auto& j : st->jobs) {
    if (j.id == job_id) job = &j;
  }
  if (!job) return InvalidArgument("a record of job " + job_id + ", which the journal never accepted");
  if (r.isTask()) {
    auto t = r.getTask();
    (void)Text(t.getResult().getError());  // read now: a damaged text fails this record only
    job->tasks[{n.reduce, n.task}] = JournalState::Task{Text(t.getAttemptId()), Text(t.getWorker()), Copy(t.getResult())};
  } else if (r.isCommitStarted()) {
    job->commit_started = true;
  } else {
    job->finished = true;
    job->tasks.clear();
  }
  return Status::Ok();
}

}  // namespace

std::string JournalStartRecord(uint32_t epoch, int next_job, int next_worker) {
  return Record([&](sp::JournalRecord::Builder r) {
    auto s = r.initStarted();
    s.setEpoch(epoch);
    s.setNextJob(next_job);
    s.setNextWorker(next_worker);
  });
}

std::string JournalWorkerRecord(const JournalState::Worker& w) {
  return Record([&](sp::JournalRecord::Builder r) {
    auto e = r.initWorker();
    e.setId(w.id);
    e.setHost(w.host);
    e.setShuffleAddress(w.address);
    e.setSlots(w.slots);
  });
}

std::string JournalWorkerLostRecord(const std::string& id) {
  return Record([&](sp::JournalRecord::Builder r) { r.setWorkerLost(id); });
}

std::string JournalJobRecord(const std::string& id, sp::JobSubmission::Reader sub, int64_t submit_unix_ms) {
  return Record([&](sp::JournalRecord::Builder r) {
    auto j = r.initJob();
    j.setId(id);
    j.setSubmission(sub);
    j.setSubmitUnixMs(submit_unix_ms);
  });
}

std::string JournalTaskRecord(const std::string& attempt_id, const std::string& worker,
                              ::sawmill::proto::AttemptResult::Reader result) {
  return Record([&](sp::JournalRecord::Builder r) {
    auto t = r.initTask();
    t.setAttemptId(attempt_id);
    t.setWorker(worker);
    t.setResult(result);
  });
}

std::string JournalCommitStartedRecord(const std::string& job_id) {
  return Record([&](sp::JournalRecord::Builder r) { r.setCommitStarted(job_id); });
}

std::string JournalFinishedRecord(const std::string& job_id) {
  return Record([&](sp::JournalRecord::Builder r) { r.setFinished(job_id); });
}

Result<JournalState> LoadCoordinatorJournal(const std::string& path) {
  JournalState st;
  if (!PathExists(path)) return st;
  uint64_t index = 0;
  auto read = ReadJournal(path, [&](std::string_view payload) -> Status {
    ++index;
    auto reader = CapnpReader::Parse(payload);
    Status s = reader.ok() ? CatchCapnp("journal record", [&] { return Apply((*reader)->Root<sp::JournalRecord>(), &st); })
                           : reader.status();
    // Checksummed, so written by a coordinator: one it cannot use is skipped, not fatal.
    if (!s.ok()) LOG(WARNING) << path << ": record " << index << " skipped: " << s.ToString();
    return Status::Ok();
  }, /*truncate=*/true);
  if (!read.ok()) return read.status();
  st.read = *read;
  if (!read->drop_reason.empty()) LOG(WARNING) << "coordinator journal: " << read->drop_reason;
  return st;
}

namespace {

// A journal holding `records` replaces the one at `path` (written beside it, synced, renamed
// over it); its writer appends from there.
Result<std::unique_ptr<JournalWriter>> Rewrite(const std::string& path, const std::vector<std::string>& records) {
  const std::string fresh = path + ".new";
  (void)RemoveAll(fresh);
  ASSIGN_OR_RETURN(auto writer, JournalWriter::Open(fresh));
  for (const auto& r : records) writer->Append(r);
  RETURN_IF_ERROR(writer->Sync());
  RETURN_IF_ERROR(Rename(fresh, path));
  RETURN_IF_ERROR(SyncDirectory(Dirname(path)));
  return writer;
}

}  // namespace

Result<std::unique_ptr<CoordinatorJournal>> CoordinatorJournal::Create(const std::string& path,
                                                                      const std::vector<std::string>& records) {
  ASSIGN_OR_RETURN(auto writer, Rewrite(path, records));
  std::unique_ptr<CoordinatorJournal> j(new CoordinatorJournal(path, std::move(writer)));
  return j;
}

CoordinatorJournal::CoordinatorJournal(std::string path, std::unique_ptr<JournalWriter> writer)
    : path_(std::move(path)), writer_(std::move(writer)), size_(writer_->size()) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "coord-journal");
    Loop();
  });
}

CoordinatorJournal::~CoordinatorJournal() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t CoordinatorJournal::Append(std::string record) {
  std::lock_guard<std::mutex> l(mu_);
  pending_.push_back(std::move(record));
  // The thread is woken once per linger, not per record: most records are written by the caller
  // that waits for them (WaitDurable), without a hand-off.
  if (!armed_) {
    armed_ = true;
    cv_.notify_one();
  }
  return ++appended_;
}

Status CoordinatorJournal::WaitDurable(uint64_t seq) {
  std::unique_lock<std::mutex> l(mu_);
  while (durable_ < seq && failed_.ok()) {
    if (writing_) {
      durable_cv_.wait(l);
    } else {
      WriteLocked(l);  // this caller leads the group commit: no thread to wake and wait for
    }
  }
  return durable_ >= seq ? Status::Ok() : failed_;
}

void CoordinatorJournal::WhenDurable(uint64_t seq, std::function<void(const Status&)> done) {
  std::unique_lock<std::mutex> l(mu_);
  if (durable_ >= seq || !failed_.ok()) {
    const Status s = durable_ >= seq ? Status::Ok() : failed_;
    l.unlock();
    done(s);
    return;
  }
  callbacks_.emplace_back(seq, std::move(done));
  cv_.notify_one();  // no caller waits to write it: the thread does, now
}

void CoordinatorJournal::RunCallbacksLocked(std::unique_lock<std::mutex>& l) {
  if (callbacks_.empty()) return;
  std::vector<std::pair<uint64_t, std::function<void(const Status&)>>> ready, waiting;
  for (auto& cb : callbacks_) (cb.first <= durable_ || !failed_.ok() ? ready : waiting).push_back(std::move(cb));
  callbacks_.swap(waiting);
  if (ready.empty()) return;
  const Status failed = failed_;
  const uint64_t durable = durable_;
  l.unlock();
  for (auto& [seq, done] : ready) done(seq <= durable ? Status::Ok() : failed);
  l.lock();
}

void CoordinatorJournal::Compact(std::vector<std::string> records) {
  std::lock_guard<std::mutex> l(mu_);
  // The live state already holds what is pending: those records are dropped, and count as durable
  // once the new file is.
  pending_.clear();
  compact_ = std::make_unique<std::vector<std::string>>(std::move(records));
  cv_.notify_one();
}

uint64_t CoordinatorJournal::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return size_;
}

void CoordinatorJournal::WriteLocked(std::unique_lock<std::mutex>& l) {
  writing_ = true;
  std::vector<std::string> batch;
  batch.swap(pending_);
  std::unique_ptr<std::vector<std::string>> compact = std::move(compact_);
  const uint64_t upto = appended_;
  const bool ok = failed_.ok();
  l.unlock();
  Status s = ok ? Status::Ok() : failed_;
  std::unique_ptr<JournalWriter> writer;
  if (s.ok() && compact) {
    auto w = Rewrite(path_, *compact);
    s = w.status();
    if (s.ok()) writer = std::move(*w);
  }
  l.lock();
  if (writer) writer_ = std::move(writer);
  JournalWriter* w = writer_.get();
  l.unlock();
  if (s.ok()) {
    for (const auto& r : batch) w->Append(r);
    s = FaultPoint("coordinator.journal.sync", upto);
    if (s.ok()) s = w->Sync();
  }
  l.lock();
  if (s.ok()) {
    durable_ = upto;
    size_ = w->size();
  } else if (failed_.ok()) {
    failed_ = s.WithContext("coordinator journal " + path_);
    LOG(ERROR) << failed_.ToString() << ": jobs are not accepted and results not committed until the coordinator "
               << "restarts with a writable journal";
  }
  writing_ = false;
  durable_cv_.notify_all();
  RunCallbacksLocked(l);
}

void CoordinatorJournal::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    if (writing_) {  // a caller is writing: what it leaves is looked at once it is done
      durable_cv_.wait(l);
      continue;
    }
    if (compact_) {
      WriteLocked(l);
      continue;
    }
    if (stop_) {
      if (pending_.empty()) {
        RunCallbacksLocked(l);
        return;
      }
      WriteLocked(l);
      continue;
    }
    if (!callbacks_.empty()) {  // answers wait for these records: no linger
      WriteLocked(l);
      continue;
    }
    if (!armed_) {
      cv_.wait(l);
      continue;
    }
    // Records nobody waits for (a lost worker, a job's end) are written within the linger;
    // the others are written by their waiters before it ends, mostly.
    cv_.wait_for(l, std::chrono::milliseconds(kLingerMs),
                 [&] { return stop_ || compact_ != nullptr || !callbacks_.empty(); });
    if (stop_ || compact_ || writing_ || !callbacks_.empty()) continue;
    if (pending_.empty()) {
      armed_ = false;
    } else {
      WriteLocked(l);
    }
  }
}

}  // namespace sawmill::sched
