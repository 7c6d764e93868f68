// The coordinator's jobs: submissions checked and accepted, attempts' reports (a task's part
// committed into the job's staging), and finished jobs committed into place or closed.
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/sha256.h"
#include "records/manifest.h"
#include "scheduler/coordinator_state.h"
#include "scheduler/plan_version.h"

namespace sawmill::sched {
namespace {

// The submission is kept and read again later (launches on the tick thread, commit, status)
// outside any CatchCapnp: every field is read once here, so that a malformed one (a pointer of
// the wrong kind, a text without its NUL) fails this request instead of the coordinator.
void CheckSubmission(sp::JobSubmission::Reader sub) {
  (void)sub.getName();
  (void)sub.getUser();
  for (auto a : sub.getArgs()) (void)a;
  for (auto a : sub.getTaskFlags()) (void)a;
  for (auto in : sub.getInputs()) (void)in;
  for (auto split : sub.getSplits()) {
    (void)split.getPath();
    for (auto h : split.getHosts()) (void)h;
  }
  auto p = sub.getPartitioning();
  (void)p.getKind();
  for (auto point : p.getSplitPoints()) (void)point;
  (void)sub.getParentJob();
  (void)sub.getScratchDir();
  (void)sub.getMasterAttempt();
  auto stage = sub.getStage();
  (void)stage.getKey();
  for (auto op : stage.getOperators()) (void)op;
  for (auto e : stage.getInputs()) {
    (void)e.getFrom();
    (void)e.getKind();
  }
}

}  // namespace

Status Coordinator::Impl::CheckBinary(const std::string& sha) {
  const std::string path = "/sawmill/binaries/" + sha;
  auto st = store->Stat(path);
  if (!st.ok()) {
    return NotFound("job binary " + sha + " is not in the store (dfs:/sawmill/binaries/); submit uploads it first");
  }
  const std::string key = sha + " " + std::to_string(st->size) + " " + std::to_string(st->mtime_ms);
  {
    std::lock_guard<std::mutex> l(mu);
    if (verified_binaries.count(key)) return Status::Ok();
  }
  auto got = Sha256FileHex(*store, path);
  if (!got.ok()) return got.status().WithContext("checking job binary dfs:" + path);
  if (*got != sha) {
    // Workers would refuse to run it anyway; saying so now names the cause at once.
    return InvalidArgument("job binary dfs:" + path + " is not the submitted binary: its bytes hash to " + *got +
                           " (replaced or corrupt in the store); remove it and submit again to upload it afresh");
  }
  std::lock_guard<std::mutex> l(mu);
  verified_binaries.insert(key);
  return Status::Ok();
}

Status Coordinator::Impl::Submit(sp::JobSubmission::Reader sub, std::string* id_out) {
  CheckSubmission(sub);  // throws on a malformed submission: Dispatch's CatchCapnp answers it
  const bool program = sub.getProgram();
  const std::string parent_id = Text(sub.getParentJob());
  if ((program || !parent_id.empty()) && sub.getPlanVersion() != kProgramPlanVersion) {
    const uint32_t v = sub.getPlanVersion();
    return InvalidArgument(std::string(program ? "the program's" : "the stage's") + " plan is " +
                           (v == 0 ? std::string("unversioned (a binary built before plan versions)")
                                   : "version " + std::to_string(v)) +
                           "; this coordinator runs version " + std::to_string(kProgramPlanVersion) +
                           " only: build the job against this cluster's Sawmill, or upgrade the cluster");
  }
  if (!parent_id.empty()) {
    if (program) return InvalidArgument("a program cannot be a stage of another");
    if (sub.getStage().getKey().size() == 0) return InvalidArgument("a stage of " + parent_id + " without a key");
    std::lock_guard<std::mutex> l(mu);
    RETURN_IF_ERROR(CheckMaster(parent_id, Text(sub.getMasterAttempt())));
    if (std::string known = KnownStage(sub); !known.empty()) {
      *id_out = known;
      return Status::Ok();
    }
  }
  const std::string output = Text(sub.getOutput());
  if (program && output.empty()) {
    // A program's outputs are its Write stages'; its own output names the main one, if any.
  } else if (!IsDfsPath(output)) {
    return InvalidArgument("the output of a cluster job must be a dfs:/ path, not " + output);
  }
  const std::string sha = Text(sub.getBinarySha256());
  if (sha.size() != 64) return InvalidArgument("bad binary hash '" + sha + "'");
  RETURN_IF_ERROR(CheckBinary(sha));
  for (auto in : sub.getInputs()) {
    const std::string path = Text(in);
    if (path.rfind("logs:", 0) == 0) continue;  // a log selection: submit resolved it to segments (the splits)
    if (!IsDfsPath(path)) return InvalidArgument("cluster jobs read dfs:/ paths; input " + path + " is local");
    if (!store->Stat(StorePath(path)).ok()) return NotFound("input " + path + " does not exist");
  }
  std::string out = StorePath(output);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (!program && (out == "/" || out.empty())) return InvalidArgument("output " + output + " is the root");
  // A program's Write stages check their outputs when the master submits them (the submitting
  // client checked them before it submitted the program).
  if (!program && store->Stat(out).ok() && !sub.getOverwrite()) {
    return AlreadyExists("output " + output + " exists (pass --overwrite to replace it)");
  }
  ASSIGN_OR_RETURN(const PartitionKind kind, ParsePartitionKind(Text(sub.getPartitioning().getKind())));
  bool map_only = kind == PartitionKind::kNone;
  if (program && !map_only) return InvalidArgument("a program is submitted without partitioning");
  int reduces = map_only ? 0 : sub.getPartitioning().getNumPartitions();
  if (!map_only && reduces < 1) return InvalidArgument("a job with a reducer needs at least one partition");
  if (kind == PartitionKind::kTail && reduces != 1) {
    return InvalidArgument("a job with a tail reducer has one tail partition, not " + std::to_string(reduces));
  }
  // Every task costs bookkeeping up front (here and in the Scheduler): a count no cluster
  // runs is a bad request, not an allocation to attempt.
  constexpr size_t kMaxTasks = 100000;
  if (static_cast<size_t>(reduces) > kMaxTasks || sub.getSplits().size() > kMaxTasks) {
    return InvalidArgument("job asks for " + std::to_string(sub.getSplits().size()) + " maps and " +
                           std::to_string(reduces) + " reduces; at most " + std::to_string(kMaxTasks) + " of each");
  }

  std::lock_guard<std::mutex> l(mu);
  Job* parent_job = nullptr;
  if (!parent_id.empty()) {
    // Asked again under this lock: another submission of the key may have won meanwhile.
    RETURN_IF_ERROR(CheckMaster(parent_id, Text(sub.getMasterAttempt())));
    if (std::string known = KnownStage(sub); !known.empty()) {
      *id_out = known;
      return Status::Ok();
    }
    auto pit = jobs.find(parent_id);
    if (pit == jobs.end() || !pit->second->program) return NotFound("no program " + parent_id);
    if (pit->second->finished) {
      return Aborted("program " + parent_id + " already " + StateName(*pit->second));
    }
    parent_job = pit->second.get();
  }
  auto job = std::make_unique<Job>();
  job->id = JobId(next_job++);
  job->name = Text(sub.getName());
  job->output = out.empty() ? "" : "dfs:" + out;
  job->program = program;
  job->submission = std::make_unique<capnp::MallocMessageBuilder>();
  job->submission->setRoot(sub);
  job->kind = kind;
  // A program's one task is its master.
  job->maps.resize(program ? 1 : sub.getSplits().size());
  job->reduces.resize(static_cast<size_t>(reduces));
  job->submit_unix_ms = UnixMs();
  job->submit_mono_ms = MonoMs();
  if (!program) {
    std::string parent = Dirname(out);
    if (parent.empty()) parent = "/";
    // Made by the first task that writes a part (the store's client makes a new file's parents),
    // or by the commit's manifest: no store mutation (a journal sync) on the way to the launch.
    job->staging = JoinPath(parent, "." + Basename(out) + ".staging-" + job->id);
  }
  JobPlan plan;
  plan.job_id = job->id;
  for (auto split : sub.getSplits()) {
    std::vector<std::string> hosts;
    for (auto h : split.getHosts()) hosts.push_back(Text(h));
    plan.map_hosts.push_back(std::move(hosts));
  }
  if (program) plan.map_hosts.assign(1, {});
  plan.reduces = reduces;
  plan.options = opt.scheduler;
  if (sub.getMaxAttempts() > 0) plan.options.max_attempts = sub.getMaxAttempts();
  plan.options.speculation = opt.scheduler.speculation && sub.getSpeculation() && !program;
  RETURN_IF_ERROR(sched.AddJob(plan, MonoMs()));
  if (parent_job) {
    job->parent = parent_id;
    job->stage_key = Text(sub.getStage().getKey());
    parent_job->stage_jobs.push_back(job->id);
    parent_job->stage_by_key[job->stage_key] = job->id;
  }
  LOG(INFO) << (program ? "program " : "job ") << job->id << " (" << job->name << ") submitted"
            << (job->parent.empty() ? "" : " as stage " + job->stage_key + " of " + job->parent) << ": "
            << (program ? "its master" : std::to_string(plan.map_hosts.size()) + " maps, " + std::to_string(reduces) +
                                            " reduces, output " + job->output);
  *id_out = job->id;
  Job& j = *job;
  job_order.push_back(job->id);
  jobs[job->id] = std::move(job);
  if (Status s = SaveRecord(j); !s.ok()) LOG(WARNING) << "history: " << s.ToString();
  j.record.reset();
  ReapJobs();  // a job with no tasks at all is done at once
  Schedule();
  return Status::Ok();
}

Status Coordinator::Impl::Report(sp::Report::Reader r) {
  std::lock_guard<std::mutex> l(mu);
  const std::string worker_id = Text(r.getWorkerId());
  auto wit = workers.find(worker_id);
  if (wit == workers.end()) return NotFound("unknown worker " + worker_id + " (register again)");
  Worker& w = wit->second;
  w.last_seen_ms = MonoMs();
  const int64_t now = MonoMs();
  for (auto u : r.getUpdates()) {
    const std::string attempt_id = Text(u.getAttemptId());
    w.running.erase(attempt_id);
    EndLateAttempt(attempt_id);
    AttemptName n;
    if (!ParseAttemptId(attempt_id, &n)) continue;
    auto jit = jobs.find(n.job);
    if (jit == jobs.end() || jit->second->finished) continue;
    Job& job = *jit->second;
    job.logs[attempt_id] = LogEntry{w.host, Text(u.getStderrTail())};
    auto res = u.getResult();
    if (!res.getOk()) {
      std::string error = Text(res.getError());
      if (error.empty()) error = "failed without saying why";
      sched.AttemptFailed(attempt_id, error + " (on " + w.host + ")", now);
      continue;
    }
    if (!sched.AttemptSucceeded(attempt_id, now)) {
      DiscardAttempt(job, n);
      continue;
    }
    bool map_only = job.kind == PartitionKind::kNone;
    if (job.program) {
      job.program_error = Text(res.getProgramError());
    } else if (n.reduce || MapsWriteParts(job.kind)) {
      int part = PartIndex(job, n.reduce, n.task);
      const std::string from = JoinPath(JoinPath(JoinPath(job.staging, "_temporary"), n.dir), PartName(part));
      const std::string to = JoinPath(job.staging, PartName(part));
      // A tail job reruns a committed map whose tail output was lost with its worker; its part,
      // deterministic, is already in place.
      const bool in_place = !n.reduce && job.kind == PartitionKind::kTail && store->Stat(to).ok();
      Status s = in_place ? Status::Ok() : store->Rename(from, to);
      if (!s.ok()) {
        sched.KillJob(job.id, "committing " + attempt_id + ": " + s.ToString(), now);
        continue;
      }
      // A moved part leaves an empty attempt directory, which the commit removes with the rest
      // of _temporary: one store mutation (a journal sync) less per task, under this lock.
      if (in_place) DiscardAttempt(job, n);
    }
    auto& results = n.reduce ? job.reduces : job.maps;
    if (n.task < 0 || static_cast<size_t>(n.task) >= results.size()) continue;
    TaskResult& t = results[n.task];
    t.have = true;
    t.records_in = res.getRecordsIn();
    t.records_out = res.getRecordsOut();
    t.bytes_out = res.getBytesOut();
    t.bytes_in = res.getBytesIn();
    t.spills = res.getSpills();
    t.groups = res.getGroups();
    t.content_hash = Text(res.getContentHash());
    t.sorted = res.getSorted();
    t.tail_bytes = res.getTailBytes();
    t.counters.clear();
    for (auto c : res.getCounters()) t.counters[Text(c.getName())] += c.getValue();
    if (!n.reduce && !map_only) ++job.map_output_version;
  }
  for (auto f : r.getFetchFailures()) {
    LOG(WARNING) << Text(f.getReduceAttemptId()) << " could not fetch map " << f.getMap() << ": " << Text(f.getError());
    sched.FetchFailed(Text(f.getReduceAttemptId()), f.getMap(), now, Text(f.getMapAttemptId()));
    AttemptName n;
    if (ParseAttemptId(Text(f.getReduceAttemptId()), &n) && jobs.count(n.job)) ++jobs[n.job]->map_output_version;
  }
  ReapJobs();
  Schedule();
  return Status::Ok();
}

// The part an attempt writes: a map's or reduce's own index, but the tail's follows the maps'.
int Coordinator::Impl::PartIndex(Job& job, bool reduce, int task) {
  bool tail = reduce && job.kind == PartitionKind::kTail;
  return tail ? static_cast<int>(job.sub().getSplits().size()) : task;
}

// Removes what a losing or committed attempt left under _temporary (best effort).
void Coordinator::Impl::DiscardAttempt(Job& job, const AttemptName& n) {
  (void)store->Delete(JoinPath(JoinPath(job.staging, "_temporary"), n.dir), true);
}

void Coordinator::Impl::EndLateAttempt(const std::string& attempt_id) {
  AttemptName n;
  if (!ParseAttemptId(attempt_id, &n)) return;
  auto jit = jobs.find(n.job);
  if (jit == jobs.end() || !jit->second->finished) return;
  Job& job = *jit->second;
  if (job.late_attempts.erase(attempt_id) == 0 || !job.late_attempts.empty()) return;
  // The job committed or removed its staging when it finished; this removes what its late
  // attempts wrote since.
  (void)store->Delete(job.staging, true);
  // A stage's staging lies in its program's scratch directory, which the late write made again.
  auto pit = job.parent.empty() ? jobs.end() : jobs.find(job.parent);
  if (pit != jobs.end() && pit->second->finished) {
    const std::string scratch = StorePath(Text(pit->second->sub().getScratchDir()));
    if (!scratch.empty() && scratch != "/") (void)store->Delete(scratch, true);
  }
  LOG(INFO) << "job " << job.id << ": its last late attempt " << attempt_id << " ended; " << job.staging
            << " removed";
}

// Commits jobs whose tasks are all done and closes failed ones.
void Coordinator::Impl::ReapJobs() {
  for (const std::string& id : job_order) {
    Job& job = *jobs[id];
    if (job.finished) continue;
    auto snap = sched.Snapshot(id);
    if (!snap) continue;
    if (snap->state == JobState::kTasksDone) {
      job.state = CoordinatorJobState::kCommitting;
      Status s = CommitJob(job);
      // A program's master ran to its end: the program's verdict is the master's.
      std::string error = job.program ? job.program_error : s.ok() ? "" : "commit: " + s.ToString();
      sched.FinishJob(id, error.empty(), error, MonoMs());
      snap = sched.Snapshot(id);
    }
    if (snap->state == JobState::kSucceeded || snap->state == JobState::kFailed) {
      job.state = snap->state == JobState::kSucceeded ? CoordinatorJobState::kSucceeded : CoordinatorJobState::kFailed;
      job.error = snap->error;
      job.end_mono_ms = MonoMs();
      if (job.state == CoordinatorJobState::kFailed && !job.staging.empty()) (void)store->Delete(job.staging, true);
      if (job.program) EndProgram(job);
      for (auto& [wid, w] : workers) {
        for (const std::string& a : w.running) {
          AttemptName n;
          if (!job.staging.empty() && ParseAttemptId(a, &n) && n.job == id) job.late_attempts.insert(a);
        }
      }
      LOG(INFO) << "job " << id << " " << CoordinatorJobStateName(job.state) << (job.error.empty() ? "" : ": " + job.error)
                << " in " << (job.end_mono_ms - job.submit_mono_ms) << " ms";
      if (Status s = SaveRecord(job); !s.ok()) LOG(WARNING) << "history: " << s.ToString();
      job.finished = true;
      // What status and logs need now lives in job.record; the per-task results go.
      std::vector<TaskResult>().swap(job.maps);
      std::vector<TaskResult>().swap(job.reduces);
      job.logs.clear();
      for (auto& [wid, w] : workers) w.drop_jobs.push_back(id);
      sched.DropJob(id);
    }
  }
}

// Only the program's running master submits stages: a master whose worker was lost may still
// run, but its attempt has failed and a new master took over.
Status Coordinator::Impl::CheckMaster(const std::string& program_id, const std::string& master_attempt) {
  auto snap = sched.Snapshot(program_id);
  if (!snap) return NotFound("no running program " + program_id);
  for (const auto& a : snap->attempts) {
    if (a.attempt_id == master_attempt && a.state == AttemptState::kRunning) return Status::Ok();
  }
  return Aborted("attempt '" + master_attempt + "' is not the running master of " + program_id);
}

// A stage submission whose key its program already has: counted, and answered with that job.
std::string Coordinator::Impl::KnownStage(sp::JobSubmission::Reader sub) {
  auto pit = jobs.find(Text(sub.getParentJob()));
  if (pit == jobs.end()) return "";
  auto known = pit->second->stage_by_key.find(Text(sub.getStage().getKey()));
  if (known == pit->second->stage_by_key.end()) return "";
  auto sit = jobs.find(known->second);
  if (sit == jobs.end()) return "";
  ++sit->second->submissions;
  LOG(INFO) << "program " << pit->first << " asked again for stage " << known->first << ": " << known->second << " ("
            << StateName(*sit->second) << ")";
  return known->second;
}

// A program that ended: stages still running are killed (a killed or failed program leaves none
// behind) and its intermediates removed.
void Coordinator::Impl::EndProgram(Job& job) {
  for (const std::string& sid : job.stage_jobs) {
    auto it = jobs.find(sid);
    if (it == jobs.end() || it->second->finished) continue;
    sched.KillJob(sid, "its program " + job.id + " ended" + (job.error.empty() ? "" : ": " + job.error), MonoMs());
  }
  const std::string scratch = StorePath(Text(job.sub().getScratchDir()));
  if (!scratch.empty() && scratch != "/") (void)store->Delete(scratch, true);
}

Status Coordinator::Impl::CommitJob(Job& job) {
  if (job.program) return Status::Ok();  // its stages committed their outputs
  auto sub = job.sub();
  const PartitionKind kind = job.kind;
  Manifest m;
  m.job_name = job.name;
  for (auto in : sub.getInputs()) m.inputs.push_back(Text(in));
  m.partitioner = PartitionKindName(kind);
  for (auto p : sub.getPartitioning().getSplitPoints()) m.split_points.emplace_back(p.asChars().begin(), p.size());
  std::vector<TaskResult> outs;
  if (MapsWriteParts(kind)) outs = job.maps;
  if (kind != PartitionKind::kNone) outs.insert(outs.end(), job.reduces.begin(), job.reduces.end());
  m.num_partitions = static_cast<int32_t>(outs.size());
  m.sorted = !MapsWriteParts(kind);
  for (size_t i = 0; i < outs.size(); ++i) {
    m.sorted = m.sorted && outs[i].sorted;
    m.parts.push_back({PartName(static_cast<int>(i)), static_cast<int32_t>(i), outs[i].records_out, outs[i].bytes_out,
                       outs[i].content_hash});
  }
  m.total_order = kind == PartitionKind::kRange && m.sorted;
  for (const auto& [k, v] : Counters(job)) {
    if (k.rfind("sawmill.", 0) != 0) m.counters[k] = v;
  }
  // Absent when no task wrote a part.
  if (Status s = store->Delete(JoinPath(job.staging, "_temporary"), true); !s.ok() && s.code() != StatusCode::kNotFound) {
    return s;
  }
  RETURN_IF_ERROR(WriteManifest("dfs:" + JoinPath(job.staging, kManifestName), m));
  const std::string out = StorePath(job.output);
  if (store->Stat(out).ok()) {
    // The store has no exchange: readers may briefly find no output between the two renames.
    const std::string old = job.staging + ".old";
    RETURN_IF_ERROR(store->Rename(out, old));
    RETURN_IF_ERROR(store->Rename(job.staging, out));
    (void)store->Delete(old, true);
  } else {
    RETURN_IF_ERROR(store->Rename(job.staging, out));
  }
  return Status::Ok();
}

}  // namespace sawmill::sched
