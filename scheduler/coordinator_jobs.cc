// The coordinator's jobs: submissions checked and accepted, attempts' reports (a task's part
// committed into the job's staging), and finished jobs committed into place or closed.

#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/sha256.h"
#include "records/manifest.h"
#include "scheduler/coordinator_state.h"
#include "scheduler/job_commit.h"
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
  {
    uint64_t seq = 0;
    bool repeat = false;
    {
      std::lock_guard<std::mutex> l(mu);
      if (Job* known = KnownSubmission(sub)) {
        *id_out = known->id;
        seq = known->accepted_seq;
        repeat = true;
      }
    }
    if (repeat) return Durable(seq);  // answered as the first, once that one is accepted
  }
  if (!parent_id.empty()) {
    if (program) return InvalidArgument("a program cannot be a stage of another");
    if (sub.getStage().getKey().size() == 0) return InvalidArgument("a stage of " + parent_id + " without a key");
    std::unique_lock<std::mutex> l(mu);
    const std::string master = Text(sub.getMasterAttempt());
    // After a restart a master runs on before its worker has registered again (which adopts it):
    // its stage submissions wait for that, or for the recovery's end.
    if (Recovering()) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(recovery_until_ms - MonoMs());
      cv.wait_until(l, until, [&] { return stopping || CheckMaster(parent_id, master).ok() || !Recovering(); });
    }
    RETURN_IF_ERROR(CheckMaster(parent_id, master));
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

  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> l(mu);
    if (Job* known = KnownSubmission(sub)) {  // asked again under this lock, as below
      *id_out = known->id;
      seq = known->accepted_seq;
    } else {
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
      }
      const int64_t submitted = UnixMs();
      ASSIGN_OR_RETURN(Job * job, AddJob(sub, JobId(next_job++), submitted, nullptr));
      *id_out = job->id;
      seq = Journal(JournalJobRecord(job->id, sub, submitted));
      job->accepted_seq = seq;
      if (Status s = SaveRecord(*job); !s.ok()) LOG(WARNING) << "history: " << s.ToString();
      job->record.reset();
      ReapJobs();  // a job with no tasks at all is done at once
      Schedule();
    }
  }
  // Accepted once the journal has it: a restarted coordinator goes on with it.
  return Durable(seq);
}

Result<Coordinator::Impl::Job*> Coordinator::Impl::AddJob(sp::JobSubmission::Reader sub, const std::string& id,
                                                          int64_t submit_unix_ms, const JournalState::Job* restored) {
  const bool program = sub.getProgram();
  const std::string parent_id = Text(sub.getParentJob());
  ASSIGN_OR_RETURN(const PartitionKind kind, ParsePartitionKind(Text(sub.getPartitioning().getKind())));
  const int reduces = kind == PartitionKind::kNone ? 0 : sub.getPartitioning().getNumPartitions();
  std::string out = StorePath(Text(sub.getOutput()));
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  Job* parent_job = nullptr;
  if (auto pit = jobs.find(parent_id); !parent_id.empty() && pit != jobs.end()) parent_job = pit->second.get();
  auto job = std::make_unique<Job>();
  job->id = id;
  job->name = Text(sub.getName());
  job->output = out.empty() ? "" : "dfs:" + out;
  job->program = program;
  job->submission = std::make_unique<capnp::MallocMessageBuilder>();
  job->submission->setRoot(sub);
  job->kind = kind;
  // A program's one task is its master.
  job->maps.resize(program ? 1 : sub.getSplits().size());
  job->reduces.resize(static_cast<size_t>(std::max(0, reduces)));
  job->submit_unix_ms = submit_unix_ms;
  job->submit_mono_ms = MonoMs() - std::max<int64_t>(0, UnixMs() - submit_unix_ms);
  // Made by the first task that writes a part (the store's client makes a new file's parents),
  // or by the commit's manifest: no store mutation (a journal sync) on the way to the launch.
  if (!program) job->staging = StagingDir(out, job->id);
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
  if (restored) {
    std::vector<Scheduler::RestoredTask> done;
    for (const auto& [key, t] : restored->tasks) done.push_back({t.attempt_id, t.worker});
    // Attempt numbers of this coordinator's epoch: above any the ones before may have launched.
    RETURN_IF_ERROR(sched.RestoreJob(plan, done, static_cast<int>(epoch) * 1000, MonoMs()));
    for (const auto& [key, t] : restored->tasks) {
      auto res = t.result->getRoot<::sawmill::proto::AttemptResult>().asReader();
      auto& results = key.first ? job->reduces : job->maps;
      if (key.second < 0 || static_cast<size_t>(key.second) >= results.size()) continue;
      ApplyResult(res, &results[key.second]);
      if (program) job->program_error = Text(res.getProgramError());
      job->task_records[key] = JournalTaskRecord(t.attempt_id, t.worker, res);
    }
    job->commit_started = restored->commit_started;
  } else {
    RETURN_IF_ERROR(sched.AddJob(plan, MonoMs()));
  }
  if (parent_job) {
    job->parent = parent_id;
    job->stage_key = Text(sub.getStage().getKey());
    parent_job->stage_jobs.push_back(job->id);
    parent_job->stage_by_key[job->stage_key] = job->id;
  }
  LOG(INFO) << (program ? "program " : "job ") << job->id << " (" << job->name << ") "
            << (restored ? "recovered" : "submitted")
            << (job->parent.empty() ? "" : " as stage " + job->stage_key + " of " + job->parent) << ": "
            << (program ? "its master" : std::to_string(plan.map_hosts.size()) + " maps, " + std::to_string(reduces) +
                                            " reduces, output " + job->output);
  if (std::string token = Text(sub.getClientToken()); !token.empty()) job_by_token[token] = job->id;
  Job* j = job.get();
  job_order.push_back(job->id);
  jobs[job->id] = std::move(job);
  return j;
}

namespace {

// Moves a task's part into the staging directory. The name may be taken already by the same
// bytes (outputs are deterministic): a tail job's rerun map whose part stayed, or a part whose
// report was answered by a coordinator that died before it journaled the commit.
Status MovePart(FileSystem& store, const std::string& from, const std::string& to, const std::string& attempt_dir) {
  if (store.Stat(to).ok()) {
    (void)store.Delete(attempt_dir, true);
    return Status::Ok();
  }
  Status s = store.Rename(from, to);
  if (!s.ok() && store.Stat(to).ok() && !store.Stat(from).ok()) return Status::Ok();
  return s;
}

}  // namespace

void Coordinator::Impl::ApplyResult(::sawmill::proto::AttemptResult::Reader res, TaskResult* t) {
  t->have = true;
  t->records_in = res.getRecordsIn();
  t->records_out = res.getRecordsOut();
  t->bytes_out = res.getBytesOut();
  t->bytes_in = res.getBytesIn();
  t->spills = res.getSpills();
  t->groups = res.getGroups();
  t->content_hash = Text(res.getContentHash());
  t->sorted = res.getSorted();
  t->tail_bytes = res.getTailBytes();
  t->counters.clear();
  for (auto c : res.getCounters()) t->counters[Text(c.getName())] += c.getValue();
}

Status Coordinator::Impl::ReportLocked(sp::Report::Reader r, std::vector<PartMove>* moves, uint64_t* seq) {
  const std::string worker_id = Text(r.getWorkerId());
  auto wit = workers.find(worker_id);
  if (wit == workers.end() || wit->second.recovered) {
    return NotFound("unknown worker " + worker_id + " (register again)");
  }
  Worker& w = wit->second;
  w.last_seen_ms = MonoMs();
  const int64_t now = MonoMs();
  for (auto u : r.getUpdates()) {
    const std::string attempt_id = Text(u.getAttemptId());
    EraseRunning(w, attempt_id);
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
    auto& results = n.reduce ? job.reduces : job.maps;
    if (n.task < 0 || static_cast<size_t>(n.task) >= results.size()) continue;
    ApplyResult(res, &results[n.task]);
    if (job.program) job.program_error = Text(res.getProgramError());
    if (!n.reduce && job.kind != PartitionKind::kNone) {
      ++job.map_output_version;
      WakeReduceWorkers(job);
    }
    std::string record = JournalTaskRecord(attempt_id, w.id, res);
    if (!job.program && (n.reduce || MapsWriteParts(job.kind))) {
      const int part = PartIndex(job, n.reduce, n.task);
      const std::string attempt_dir = JoinPath(JoinPath(job.staging, "_temporary"), n.dir);
      moves->push_back({job.id, attempt_id, JoinPath(attempt_dir, PartName(part)), JoinPath(job.staging, PartName(part)),
                       attempt_dir, std::move(record), n.reduce, n.task});
      ++job.part_commits;  // not committed before its part is in place
      continue;
    }
    *seq = Journal(record);
    job.task_records[{n.reduce, n.task}] = std::move(record);
  }
  for (auto f : r.getFetchFailures()) {
    LOG(WARNING) << Text(f.getReduceAttemptId()) << " could not fetch map " << f.getMap() << ": " << Text(f.getError());
    sched.FetchFailed(Text(f.getReduceAttemptId()), f.getMap(), now, Text(f.getMapAttemptId()));
    AttemptName n;
    if (ParseAttemptId(Text(f.getReduceAttemptId()), &n) && jobs.count(n.job)) {
      ++jobs[n.job]->map_output_version;
      WakeReduceWorkers(*jobs[n.job]);
    }
  }
  ReapJobs();
  Schedule();
  return Status::Ok();
}

std::vector<uint64_t> Coordinator::Impl::CommitParts(const std::vector<PendingCommit>& batch) {
  std::vector<std::vector<Status>> moved(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    for (const auto& m : batch[i].moves) moved[i].push_back(MovePart(*store, m.from, m.to, m.attempt_dir));
  }
  std::vector<uint64_t> upto(batch.size());
  AnswersAfterUnlock answers;  // sent once mu is released
  std::lock_guard<std::mutex> l(mu);
  for (size_t i = 0; i < batch.size(); ++i) {
    upto[i] = batch[i].seq;
    const std::vector<PartMove>& moves = batch[i].moves;
    for (size_t k = 0; k < moves.size(); ++k) {
      auto jit = jobs.find(moves[k].job);
      if (jit == jobs.end()) continue;
      Job& job = *jit->second;
      --job.part_commits;
      if (job.finished) continue;
      if (!moved[i][k].ok()) {
        sched.KillJob(job.id, "committing " + moves[k].attempt + ": " + moved[i][k].ToString(), MonoMs());
        continue;
      }
      upto[i] = std::max(upto[i], Journal(moves[k].record));
      job.task_records[{moves[k].reduce, moves[k].task}] = moves[k].record;
    }
  }
  ReapJobs();
  Schedule();
  for (const auto& c : batch) {
    if (c.take_orders) c.take_orders();
  }
  return upto;
}

void Coordinator::Impl::CommitPending() {
  std::vector<PendingCommit> batch;
  {
    std::lock_guard<std::mutex> l(store_mu);
    batch.swap(pending_commits);
  }
  const std::vector<uint64_t> upto = CommitParts(batch);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (on_store_thread) {
      store_answers.emplace_back(upto[i], std::move(batch[i].answer));  // after this batch of store work
    } else {
      WhenDurable(upto[i], std::move(batch[i].answer));  // run where it was posted (the store thread had stopped)
    }
  }
}

void Coordinator::Impl::TakeReportOrders(const std::string& worker_id, sp::Orders::Builder orders) {
  auto it = workers.find(worker_id);
  if (it == workers.end() || it->second.recovered) {
    orders.setReregister(true);
  } else {
    TakeOrders(it->second, orders);
  }
}

Status Coordinator::Impl::Report(sp::Report::Reader r, const std::function<void()>& take_orders) {
  std::vector<PendingCommit> commit(1);
  commit[0].take_orders = take_orders;
  {
    AnswersAfterUnlock answers;  // sent once mu is released
    std::lock_guard<std::mutex> l(mu);
    RETURN_IF_ERROR(ReportLocked(r, &commit[0].moves, &commit[0].seq));
    if (commit[0].moves.empty() && take_orders) take_orders();
  }
  uint64_t seq = commit[0].seq;
  if (!commit[0].moves.empty()) RunStoreWork([&] { seq = CommitParts(commit)[0]; });
  // Answered once the journal has the commits: a worker that hears nothing reports them again.
  return Durable(seq);
}

Status Coordinator::Impl::ReportAsync(const std::shared_ptr<Call>& call) {
  auto r = call->req().getReport();
  // The orders go into the call's answer, which outlives this: `answer` below keeps the call.
  std::function<void()> take_orders;
  if (r.getWantOrders()) {
    take_orders = [this, worker_id = Text(r.getWorkerId()), orders = call->resp.initOrders()] {
      TakeReportOrders(worker_id, orders);
    };
  } else {
    call->resp.setNone();
  }
  if (call->exchange->may_block()) {  // this conversation's own thread: wait here
    call->Finish(Report(r, take_orders));
    return Status::Ok();
  }
  PendingCommit commit;
  {
    AnswersAfterUnlock answers;  // sent once mu is released
    std::lock_guard<std::mutex> l(mu);
    if (Status s = ReportLocked(r, &commit.moves, &commit.seq); !s.ok()) {
      call->Finish(s);
      return Status::Ok();
    }
    if (commit.moves.empty() && take_orders) take_orders();
  }
  commit.answer = [call](const Status& s) { call->Finish(s); };
  if (commit.moves.empty()) {
    WhenDurable(commit.seq, std::move(commit.answer));
    return Status::Ok();
  }
  // Joins the reports' commits waiting for the store thread; the first of them posts the work
  // that takes them all (CommitPending).
  commit.take_orders = std::move(take_orders);
  bool first = false;
  {
    std::lock_guard<std::mutex> l(store_mu);
    first = pending_commits.empty();
    pending_commits.push_back(std::move(commit));
  }
  if (first) PostStoreWork([this] { CommitPending(); });
  return Status::Ok();
}

// The part an attempt writes: a map's or reduce's own index, but the tail's follows the maps'.
int Coordinator::Impl::PartIndex(Job& job, bool reduce, int task) {
  bool tail = reduce && job.kind == PartitionKind::kTail;
  return tail ? static_cast<int>(job.sub().getSplits().size()) : task;
}

// Removes what a losing or committed attempt left under _temporary (best effort).
void Coordinator::Impl::DiscardAttempt(Job& job, const AttemptName& n) {
  PostStoreWork([this, dir = JoinPath(JoinPath(job.staging, "_temporary"), n.dir)] { (void)store->Delete(dir, true); });
}

std::string Coordinator::Impl::StagingDir(const std::string& out, const std::string& job_id) {
  std::string parent = Dirname(out);
  if (parent.empty()) parent = "/";
  return JoinPath(parent, "." + Basename(out) + ".staging-" + job_id);
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
  std::vector<std::string> remove = {job.staging};
  // A stage's staging lies in its program's scratch directory, which the late write made again.
  // (A program restored from the history has no submission left to name it: not removed.)
  auto pit = job.parent.empty() ? jobs.end() : jobs.find(job.parent);
  if (pit != jobs.end() && pit->second->finished && pit->second->submission) {
    const std::string scratch = StorePath(Text(pit->second->sub().getScratchDir()));
    if (!scratch.empty() && scratch != "/") remove.push_back(scratch);
  }
  PostStoreWork([this, remove] {
    for (const auto& p : remove) (void)store->Delete(p, true);
  });
  LOG(INFO) << "job " << job.id << ": its last late attempt " << attempt_id << " ended; " << job.staging
            << " removed";
}

// Commits jobs whose tasks are all done and closes failed ones. Runs after every report: it
// looks at the unfinished jobs only, and asks the scheduler their states (no snapshots).
void Coordinator::Impl::ReapJobs() {
  while (reap_from < job_order.size() && jobs[job_order[reap_from]]->finished) ++reap_from;
  bool ended = false;
  for (size_t at = reap_from; at < job_order.size(); ++at) {
    const std::string& id = job_order[at];
    Job& job = *jobs[id];
    if (job.finished) continue;
    auto snap = sched.State(id);
    if (!snap) continue;
    if (snap->first == JobState::kTasksDone) {
      if (job.part_commits > 0 || job.committing) continue;
      job.state = CoordinatorJobState::kCommitting;
      if (!job.program) {
        StartCommit(job);
        continue;
      }
      // A program's master ran to its end: the program's verdict is the master's (its stages
      // committed their outputs).
      sched.FinishJob(id, job.program_error.empty(), job.program_error, MonoMs());
      snap = sched.State(id);
    }
    if (snap->first == JobState::kSucceeded || snap->first == JobState::kFailed) {
      job.state = snap->first == JobState::kSucceeded ? CoordinatorJobState::kSucceeded : CoordinatorJobState::kFailed;
      job.error = snap->second;
      job.end_mono_ms = MonoMs();
      if (job.state == CoordinatorJobState::kFailed && !job.staging.empty()) {
        PostStoreWork([this, staging = job.staging] { (void)store->Delete(staging, true); });
      }
      if (job.program) EndProgram(job);
      for (auto& [wid, w] : workers) {
        for (const std::string& a : w.running) {
          AttemptName n;
          if (!job.staging.empty() && ParseAttemptId(a, &n) && n.job == id) job.late_attempts.insert(a);
        }
      }
      LOG(INFO) << "job " << id << " " << CoordinatorJobStateName(job.state) << (job.error.empty() ? "" : ": " + job.error)
                << " in " << (job.end_mono_ms - job.submit_mono_ms) << " ms";
      const Status saved = SaveRecord(job);
      if (!saved.ok()) LOG(WARNING) << "history: " << saved.ToString();
      // The history has it now; the journal forgets it.
      Journal(JournalFinishedRecord(id));
      std::map<std::pair<bool, int>, std::string>().swap(job.task_records);
      job.finished = true;
      // What status and logs need now lives in job.record (and its history file); the per-task
      // results go, so that memory does not grow with the jobs that have run.
      std::vector<TaskResult>().swap(job.maps);
      std::vector<TaskResult>().swap(job.reduces);
      std::map<std::string, LogEntry>().swap(job.logs);
      job.record_on_disk = saved.ok();
      ReleaseDetail(job);
      for (auto& [wid, w] : workers) {
        w.drop_jobs.push_back(id);
        w.sent_version.erase(id);
      }
      sched.DropJob(id);
      WakeAll();  // drop orders for every worker; followers waiting for the job
      ended = true;
    }
  }
  if (ended) ForgetOldJobs();
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
Coordinator::Impl::Job* Coordinator::Impl::KnownSubmission(sp::JobSubmission::Reader sub) {
  auto known = job_by_token.find(Text(sub.getClientToken()));
  if (sub.getClientToken().size() == 0 || known == job_by_token.end()) return nullptr;
  auto it = jobs.find(known->second);
  if (it == jobs.end()) return nullptr;
  LOG(INFO) << "submission of " << it->first << " (" << it->second->name << ") repeated: answered with it";
  return it->second.get();
}

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
  if (!scratch.empty() && scratch != "/") PostStoreWork([this, scratch] { (void)store->Delete(scratch, true); });
}

void Coordinator::Impl::StartCommit(Job& job) {
  auto sub = job.sub();
  const PartitionKind kind = job.kind;
  JobCommit c;
  c.staging = job.staging;
  c.output = StorePath(job.output);
  c.resume = job.commit_started;
  Manifest& m = c.manifest;
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
  m.reducers_auto = sub.getReducersAuto();
  for (const auto& [k, v] : Counters(job)) {
    if (k.rfind("sawmill.", 0) != 0) m.counters[k] = v;
  }
  job.committing = true;
  job.commit_started = true;
  // On disk before the first store mutation: a restarted coordinator then knows that a missing
  // staging directory means the commit was done.
  const uint64_t seq = Journal(JournalCommitStartedRecord(job.id));
  PostStoreWork([this, id = job.id, c = std::move(c), seq] {
    Status s = Durable(seq);
    if (s.ok()) s = CommitJobOutput(*store, c);
    std::lock_guard<std::mutex> l(mu);
    FinishCommit(id, s);
  });
}

void Coordinator::Impl::FinishCommit(const std::string& job_id, const Status& s) {
  auto it = jobs.find(job_id);
  if (it == jobs.end() || it->second->finished) return;
  it->second->committing = false;
  sched.FinishJob(job_id, s.ok(), s.ok() ? "" : "commit: " + s.ToString(), MonoMs());
  ReapJobs();
  Schedule();
}

}  // namespace sawmill::sched
