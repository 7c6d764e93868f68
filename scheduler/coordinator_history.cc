// The coordinator's job history: a JobRecord file per job under D/history/, written when a job
// is submitted and when it ends, and loaded at start (a running job that the journal does not
// take up again is failed then).
#include <algorithm>

#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "scheduler/coordinator_state.h"

namespace sawmill::sched {

Status Coordinator::Impl::LoadHistory(std::set<std::string>* running) {
  RETURN_IF_ERROR(MakeDirs(HistoryDir()));
  ASSIGN_OR_RETURN(auto names, ListDir(HistoryDir()));
  std::vector<std::pair<int, std::string>> found;
  for (const auto& n : names) {
    if (n.size() < 5 || n.substr(n.size() - 4) != ".job") continue;
    int num = ParseJobNumber(std::string_view(n).substr(0, n.size() - 4));
    if (num < 0) continue;
    found.emplace_back(num, n);
  }
  std::sort(found.begin(), found.end());
  for (const auto& [num, n] : found) {
    next_job = std::max(next_job, num + 1);
    std::string bytes;
    const std::string path = JoinPath(HistoryDir(), n);
    if (Status s = ReadFileToString(path, &bytes); !s.ok()) {
      LOG(WARNING) << "history: " << s.ToString();
      continue;
    }
    auto reader = CapnpReader::Parse(bytes);
    if (!reader.ok()) {
      LOG(WARNING) << "history: " << path << ": " << reader.status().ToString();
      continue;
    }
    auto job = std::make_unique<Job>();
    Status s = CatchCapnp(path, [&]() -> Status {
      auto rec = (*reader)->Root<sp::JobRecord>();
      // Status pages read these texts later, outside any CatchCapnp: a damaged file must
      // fail here, where it is only skipped.
      for (auto t : {rec.getStatus().getJobId(), rec.getStatus().getName(), rec.getStatus().getState(),
                     rec.getStatus().getError(), rec.getStatus().getOutput()}) {
        (void)t;
      }
      for (auto c : rec.getStatus().getCounters()) (void)c.getName();
      for (auto a : rec.getStatus().getAttempts()) {
        for (auto t : {a.getAttemptId(), a.getWorker(), a.getHost(), a.getState(), a.getError()}) (void)t;
      }
      for (auto l : rec.getLogs()) {
        for (auto t : {l.getAttemptId(), l.getHost(), l.getState(), l.getStderr()}) (void)t;
      }
      job->record = std::make_unique<capnp::MallocMessageBuilder>();
      job->record->setRoot(rec);
      auto st = job->record->getRoot<sp::JobRecord>().getStatus();
      job->id = Text(st.getJobId());
      job->program = st.getProgram();
      job->parent = Text(st.getParentJob());
      job->stage_key = Text(st.getStageKey());
      job->output = Text(st.getOutput());
      // For an attempt still running when its worker comes back (Reregister: a late attempt).
      if (!job->program && IsDfsPath(job->output)) job->staging = StagingDir(StorePath(job->output), job->id);
      for (auto stage : st.getStages()) (void)stage.getKey(), (void)stage.getJobId(), (void)stage.getState();
      // A state this coordinator never writes is a finished job's all the same: its text is shown
      // from the record (StateName), never from job->state.
      job->state = ParseCoordinatorJobState(Text(st.getState())).value_or(CoordinatorJobState::kFailed);
      const bool ended = job->state != CoordinatorJobState::kRunning && job->state != CoordinatorJobState::kCommitting;
      if (running->count(job->id)) {
        if (!ended) return Aborted("taken up from the journal");
        running->erase(job->id);  // it ended; the journal's last record of it was lost
      }
      if (!ended) {
        job->state = CoordinatorJobState::kFailed;
        st.setState(CoordinatorJobStateName(job->state));
        st.setError("the coordinator restarted while the job ran");
        return WriteRecordFile(*job);
      }
      return Status::Ok();
    });
    if (s.code() == StatusCode::kAborted) continue;
    if (!s.ok()) {
      LOG(WARNING) << "history: " << s.ToString();
      continue;
    }
    job->finished = true;
    job->record_on_disk = true;
    ReleaseDetail(*job);
    job_order.push_back(job->id);
    jobs[job->id] = std::move(job);
  }
  ForgetOldJobs();
  LOG(INFO) << "history: " << jobs.size() << " jobs kept in memory; next id " << JobId(next_job);
  return Status::Ok();
}

Status Coordinator::Impl::WriteRecordFile(Job& job) {
  const std::string path = JoinPath(HistoryDir(), job.id + ".job");
  RETURN_IF_ERROR(WriteStringToFile(path + ".tmp", CapnpToString(*job.record)));
  return Rename(path + ".tmp", path);
}

// Snapshot of a live job into job.record (status with attempts, and logs), persisted.
Status Coordinator::Impl::SaveRecord(Job& job) {
  job.record = std::make_unique<capnp::MallocMessageBuilder>();
  auto rec = job.record->initRoot<sp::JobRecord>();
  rec.setStatus(Root(StatusMessage(job, true)));
  FillLogs(job, rec.initLogs(static_cast<unsigned>(job.logs.size())));
  return WriteRecordFile(job);
}

namespace {

// A copy of `root` in a message sized to it (a MallocMessageBuilder's first segment is 8 KiB
// otherwise): what every finished job keeps costs its bytes, not a segment.
template <typename Reader>
std::unique_ptr<capnp::MallocMessageBuilder> CompactCopy(Reader root) {
  const auto words = static_cast<unsigned>(root.totalSize().wordCount + 1);
  auto m = std::make_unique<capnp::MallocMessageBuilder>(words, capnp::AllocationStrategy::FIXED_SIZE);
  m->setRoot(root);
  return m;
}

}  // namespace

void Coordinator::Impl::ReleaseDetail(Job& job) {
  if (job.record_on_disk && job.record) {
    auto full = job.record->getRoot<sp::JobRecord>().asReader();
    capnp::MallocMessageBuilder summary;
    auto rec = summary.initRoot<sp::JobRecord>();
    rec.setStatus(full.getStatus());
    rec.getStatus().disownAttempts();
    // A program's stages keep their summaries, not their attempts.
    for (auto stage : rec.getStatus().getStages()) stage.disownAttempts();
    job.record = CompactCopy(summary.getRoot<sp::JobRecord>().asReader());
  }
  if (job.submission && job.submission->getRoot<sp::JobSubmission>().hasSplits()) {
    auto old = job.submission->getRoot<sp::JobSubmission>();
    old.disownSplits();
    job.submission = CompactCopy(old.asReader());
  }
}

Result<std::unique_ptr<capnp::MallocMessageBuilder>> Coordinator::Impl::HistoryRecord(const std::string& id) {
  // Job ids name files here: nothing else may reach the history directory through one.
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.') return NotFound("no job " + id);
  const std::string path = JoinPath(HistoryDir(), id + ".job");
  std::string bytes;
  Status s = ReadFileToString(path, &bytes);
  if (!s.ok()) return s.code() == StatusCode::kNotFound ? NotFound("no job " + id) : s;
  ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(bytes));
  auto m = std::make_unique<capnp::MallocMessageBuilder>();
  RETURN_IF_ERROR(CatchCapnp(path, [&]() -> Status {
    m->setRoot(reader->Root<sp::JobRecord>());
    return Status::Ok();
  }));
  return m;
}

std::unique_ptr<capnp::MallocMessageBuilder> Coordinator::Impl::FullRecord(Job& job) {
  if (job.record_on_disk) {
    auto full = HistoryRecord(job.id);
    if (full.ok()) return std::move(*full);
    LOG(WARNING) << "history: " << full.status().ToString() << "; job " << job.id << " shown without its attempts";
  }
  auto m = std::make_unique<capnp::MallocMessageBuilder>();
  if (job.record) m->setRoot(job.record->getRoot<sp::JobRecord>().asReader());
  return m;
}

void Coordinator::Impl::ForgetOldJobs() {
  // Finished top-level jobs, oldest first; a program's stages go with it.
  std::vector<std::string> finished;
  for (const std::string& id : job_order) {
    const Job& job = *jobs[id];
    if (job.parent.empty() && job.finished && job.record_on_disk) finished.push_back(id);
  }
  if (finished.size() <= opt.max_finished_jobs) return;
  std::set<std::string> forget;
  for (size_t i = 0; i + opt.max_finished_jobs < finished.size(); ++i) {
    const Job& job = *jobs[finished[i]];
    // Attempts still running past its end need the job to clean its staging up (EndLateAttempt).
    bool done = job.late_attempts.empty();
    for (const std::string& sid : job.stage_jobs) {
      auto it = jobs.find(sid);
      done = done && (it == jobs.end() || (it->second->finished && it->second->late_attempts.empty()));
    }
    if (!done) continue;
    forget.insert(job.id);
    forget.insert(job.stage_jobs.begin(), job.stage_jobs.end());
  }
  if (forget.empty()) return;
  std::vector<std::string> kept;
  kept.reserve(job_order.size() - forget.size());
  for (std::string& id : job_order) {
    if (forget.count(id)) {
      jobs.erase(id);
    } else {
      kept.push_back(std::move(id));
    }
  }
  job_order = std::move(kept);
  reap_from = 0;  // ReapJobs skips the finished prefix again
  for (auto it = job_by_token.begin(); it != job_by_token.end();) {
    it = forget.count(it->second) ? job_by_token.erase(it) : std::next(it);
  }
}

// The stderr tails of a live job's attempts, each with its state (one snapshot for all).
void Coordinator::Impl::FillLogs(Job& job, capnp::List<sp::AttemptLog>::Builder logs) {
  std::map<std::string, std::string> states;
  if (auto snap = sched.Snapshot(job.id)) {
    for (const auto& a : snap->attempts) states[a.attempt_id] = AttemptStateName(a.state);
  }
  unsigned i = 0;
  for (const auto& [id, e] : job.logs) {
    auto state = states.find(id);
    logs[i].setAttemptId(id);
    logs[i].setHost(e.host);
    logs[i].setState(state == states.end() ? "unknown" : state->second);
    logs[i].setStderr(e.stderr_tail);
    ++i;
  }
}

}  // namespace sawmill::sched
