// The coordinator's status documents: a job's JobStatus (live, or the recorded one), its
// counters, and the JSON of the web page and `sawmill job` (scheduler/web_ui.h).
#include "common/capnp_util.h"
#include "scheduler/coordinator_state.h"
#include "scheduler/web_ui.h"

namespace sawmill::sched {

std::string Coordinator::Impl::StateName(const Job& job) {
  if (job.finished && job.record) return Text(job.record->getRoot<sp::JobRecord>().getStatus().getState());
  return CoordinatorJobStateName(job.state);
}

// The job's status as a message of its own (a finished job's is the recorded one).
std::unique_ptr<capnp::MallocMessageBuilder> Coordinator::Impl::StatusMessage(Job& job, bool with_attempts) {
  auto m = std::make_unique<capnp::MallocMessageBuilder>();
  if (job.finished && job.record) {
    if (with_attempts && job.record_on_disk) {
      m->setRoot(FullRecord(job)->getRoot<sp::JobRecord>().getStatus().asReader());
      return m;
    }
    m->setRoot(job.record->getRoot<sp::JobRecord>().getStatus().asReader());
    if (!with_attempts) m->getRoot<sp::JobStatus>().disownAttempts();
  } else {
    FillLive(job, m->initRoot<sp::JobStatus>(), with_attempts);
  }
  return m;
}

void Coordinator::Impl::FillLive(Job& job, sp::JobStatus::Builder st, bool with_attempts) {
  auto sub = job.sub();
  st.setJobId(job.id);
  st.setName(job.name);
  st.setState(CoordinatorJobStateName(job.state));
  st.setError(job.error);
  st.setOutput(job.output);
  st.setSubmitUnixMs(job.submit_unix_ms);
  st.setElapsedMs((job.end_mono_ms ? job.end_mono_ms : MonoMs()) - job.submit_mono_ms);
  st.setInputBytes(sub.getInputBytes());
  st.setProgram(job.program);
  st.setParentJob(job.parent);
  st.setStageKey(job.stage_key);
  if (job.program) FillStages(job, st, with_attempts);
  auto snap = sched.Snapshot(job.id);
  if (!snap) return;
  if (!snap->error.empty() && job.error.empty()) st.setError(snap->error);
  st.setMaps(snap->maps);
  st.setMapsDone(snap->maps_done);
  st.setMapsRunning(snap->maps_running);
  st.setReduces(snap->reduces);
  st.setReducesDone(snap->reduces_done);
  st.setReducesRunning(snap->reduces_running);
  st.setDataLocalMaps(snap->data_local_maps);
  st.setRemoteMaps(snap->remote_maps);
  st.setFailedAttempts(snap->failed_attempts);
  st.setKilledAttempts(snap->killed_attempts);
  st.setSpeculativeAttempts(snap->speculative_attempts);
  uint64_t bytes_read = 0, records_in = 0, records_out = 0, bytes_out = 0;
  std::map<std::string, int64_t> counters = Counters(job);
  // What the shuffle's failures cost, for every job with a shuffle (zeros included): the scheduler
  // counts them, as they leave no task result behind.
  if (snap->reduces > 0) {
    counters["sawmill.fetch_failures"] = snap->fetch_failures;
    counters["sawmill.map_reruns"] = snap->map_reruns;
  }
  for (const auto& m : job.maps) {
    bytes_read += m.bytes_in;
    records_in += m.records_in;
  }
  for (const auto* tasks : {&job.maps, &job.reduces}) {
    if (tasks == &job.maps ? !MapsWriteParts(job.kind) : job.kind == PartitionKind::kNone) continue;
    for (const auto& t : *tasks) {
      records_out += t.records_out;
      bytes_out += t.bytes_out;
    }
  }
  st.setBytesRead(bytes_read);
  st.setRecordsIn(records_in);
  st.setRecordsOut(records_out);
  st.setBytesOut(bytes_out);
  auto cl = st.initCounters(static_cast<unsigned>(counters.size()));
  unsigned i = 0;
  for (const auto& [k, v] : counters) {
    cl[i].setName(k);
    cl[i].setValue(v);
    ++i;
  }
  if (!with_attempts) return;
  auto al = st.initAttempts(static_cast<unsigned>(snap->attempts.size()));
  for (unsigned k = 0; k < snap->attempts.size(); ++k) {
    const AttemptInfo& a = snap->attempts[k];
    al[k].setAttemptId(a.attempt_id);
    al[k].setReduce(a.reduce);
    al[k].setTask(a.task);
    al[k].setAttempt(a.attempt);
    al[k].setWorker(a.worker);
    al[k].setHost(a.host);
    al[k].setState(AttemptStateName(a.state));
    al[k].setStartMs(a.start_ms - job.submit_mono_ms);
    al[k].setEndMs(a.end_ms ? a.end_ms - job.submit_mono_ms : 0);
    al[k].setLocal(a.local);
    al[k].setSpeculative(a.speculative);
    al[k].setError(a.error);
  }
}

void Coordinator::Impl::FillStages(Job& program, sp::JobStatus::Builder st, bool with_attempts) {
  auto list = st.initStages(static_cast<unsigned>(program.stage_jobs.size()));
  for (unsigned i = 0; i < program.stage_jobs.size(); ++i) {
    auto it = jobs.find(program.stage_jobs[i]);
    if (it == jobs.end()) continue;
    Job& stage = *it->second;
    auto out = list[i];
    auto m = StatusMessage(stage, with_attempts);
    auto s = Root(m);
    auto info = stage.sub().getStage();
    out.setKey(stage.stage_key);
    out.setJobId(stage.id);
    std::string state = Text(s.getState());
    // Killed with its program but not reaped yet: failed already in the scheduler.
    if (!stage.finished) {
      auto snap = sched.Snapshot(stage.id);
      if (snap && snap->state == JobState::kFailed) state = CoordinatorJobStateName(CoordinatorJobState::kFailed);
    }
    out.setState(state);
    out.setOperators(info.getOperators());
    out.setInputs(info.getInputs());
    out.setMaps(s.getMaps());
    out.setMapsDone(s.getMapsDone());
    out.setMapsRunning(s.getMapsRunning());
    out.setReduces(s.getReduces());
    out.setReducesDone(s.getReducesDone());
    out.setReducesRunning(s.getReducesRunning());
    // Both clocks are the coordinator's: a stage recorded by a coordinator is this one's.
    const int64_t offset = stage.submit_unix_ms - program.submit_unix_ms;
    out.setStartMs(offset);
    out.setEndMs(Finished(ParseCoordinatorJobState(state).value_or(CoordinatorJobState::kRunning))
                     ? offset + s.getElapsedMs()
                     : 0);
    out.setRecordsOut(s.getRecordsOut());
    out.setBytesOut(s.getBytesOut());
    out.setSubmissions(stage.submissions);
    if (!with_attempts) continue;
    auto attempts = out.initAttempts(s.getAttempts().size());
    for (unsigned k = 0; k < s.getAttempts().size(); ++k) {
      attempts.setWithCaveats(k, s.getAttempts()[k]);
      attempts[k].setStartMs(s.getAttempts()[k].getStartMs() + offset);
      if (s.getAttempts()[k].getEndMs()) attempts[k].setEndMs(s.getAttempts()[k].getEndMs() + offset);
    }
  }
}

std::map<std::string, int64_t> Coordinator::Impl::Counters(Job& job) {
  std::map<std::string, int64_t> c;
  uint64_t map_out = 0, groups = 0, spills = 0, shuffle = 0, tail = 0;
  const PartitionKind kind = job.kind;
  bool map_only = kind == PartitionKind::kNone;
  for (const auto& m : job.maps) {
    for (const auto& [k, v] : m.counters) c[k] += v;
    map_out += m.records_out;
    spills += m.spills;
    if (!MapsWriteParts(kind)) shuffle += m.bytes_out;
    tail += m.tail_bytes;
  }
  for (const auto& r : job.reduces) {
    for (const auto& [k, v] : r.counters) c[k] += v;
    groups += r.groups;
    spills += r.spills;
  }
  c["sawmill.map_output_records"] = static_cast<int64_t>(map_out);
  if (!map_only) c["sawmill.reduce_groups"] = static_cast<int64_t>(groups);
  c["sawmill.spills"] = static_cast<int64_t>(spills);
  c["sawmill.shuffle_bytes"] = static_cast<int64_t>(shuffle);
  if (kind == PartitionKind::kTail) c["sawmill.tail_bytes"] = static_cast<int64_t>(tail);
  return c;
}

nlohmann::json Coordinator::ClusterJson() {
  Impl* i = impl_.get();
  std::lock_guard<std::mutex> l(i->mu);
  const int64_t now = Impl::MonoMs();
  nlohmann::json doc;
  doc["now_ms"] = Impl::UnixMs();
  doc["coordinator"] = {{"address", i->opt.address}, {"started_ms", i->started_unix_ms}};
  doc["workers"] = nlohmann::json::array();
  for (const auto& [id, w] : i->workers) {
    doc["workers"].push_back({{"id", id},
                              {"host", w.host},
                              {"address", w.address},
                              {"slots", w.slots},
                              {"running", w.running.size()},
                              {"last_seen_ms", Impl::UnixMs() - (now - w.last_seen_ms)},
                              {"live", true}});
  }
  doc["jobs"] = nlohmann::json::array();
  for (auto it = i->job_order.rbegin(); it != i->job_order.rend(); ++it) {
    if (!i->jobs[*it]->parent.empty()) continue;  // a stage: shown in its program's page
    doc["jobs"].push_back(JobStatusToJson(Impl::Root(i->StatusMessage(*i->jobs[*it], false)), false));
  }
  return doc;
}

std::optional<nlohmann::json> Coordinator::JobJson(const std::string& job_id) {
  Impl* i = impl_.get();
  std::lock_guard<std::mutex> l(i->mu);
  auto it = i->jobs.find(job_id);
  if (it == i->jobs.end()) {  // forgotten (ForgetOldJobs): from its history file
    auto record = i->HistoryRecord(job_id);
    if (!record.ok()) return std::nullopt;
    return JobStatusToJson((*record)->getRoot<sp::JobRecord>().getStatus().asReader(), true);
  }
  return JobStatusToJson(Impl::Root(i->StatusMessage(*it->second, true)), true);
}

std::optional<nlohmann::json> Coordinator::LogsJson(const std::string& job_id) {
  Impl* i = impl_.get();
  capnp::MallocMessageBuilder m;
  auto req = m.initRoot<sp::CoordinatorRequest>();
  req.setLogs(job_id);
  capnp::MallocMessageBuilder reply;
  auto resp = reply.initRoot<sp::CoordinatorResponse>();
  Status s = i->Dispatch(req.asReader(), resp);
  if (!s.ok()) return std::nullopt;
  return AttemptLogsToJson(resp.getLogs().asReader());
}

}  // namespace sawmill::sched
