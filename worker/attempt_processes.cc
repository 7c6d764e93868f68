// An attempt's process: a warm executor of its job (worker/executor_pool.h), taken idle, or
// started (from the binary's spare when there is one), or a child process of its own
// (worker/launcher.h). Either way the attempt gets the same directory, stdout and stderr files,
// environment, address-space limit, timeout and kill, and its end reads the same (ProcessOutcome).
// And the spares: started while the worker runs no attempt.
#include <algorithm>

#include <glog/logging.h>

#include "common/file.h"
#include "worker/launch_checks.h"
#include "worker/worker_impl.h"

namespace sawmill::worker {

namespace sp = sched::proto;

Status Worker::Impl::RunInChild(Run* r, LaunchOptions lo,
                                const std::vector<std::string>& task_flags,
                                const std::string& spec_path, ProcessOutcome* o) {
  lo.args.insert(lo.args.end(), task_flags.begin(), task_flags.end());
  lo.args.push_back("--task=" + spec_path);
  ASSIGN_OR_RETURN(auto child, ChildProcess::Start(lo));
  std::shared_ptr<ChildProcess> c(std::move(child));
  {
    std::lock_guard<std::mutex> l(mu);
    r->child = c;
    if (r->kill) c->Kill();
  }
  *o = c->Wait();
  return Status::Ok();
}

Status Worker::Impl::RunProcess(Run* r, const LaunchOptions& lo,
                                const std::vector<std::string>& task_flags,
                                const std::string& spec_path, ProcessOutcome* o) {
  auto launch = r->launch->getRoot<sp::AttemptLaunch>().asReader();
  // A program master runs for the whole program, beside its stages' attempts: a process of its own.
  if (!opt.warm_executors || launch.getProgram())
    return RunInChild(r, lo, task_flags, spec_path, o);
  // A program's stages share their executors (executorGroup: the program's id), which live in the
  // program's directory and go when the program is dropped.
  std::string group = Text(launch.getExecutorGroup());
  if (!SafeJobId(group)) group = r->job_id;
  ExecutorKey key{group, Text(launch.getBinarySha256()), lo.args, lo.memory_mb};
  if (executors.Refused(key)) return RunInChild(r, lo, task_flags, spec_path, o);
  RETURN_IF_ERROR(MakeAttemptOutputFiles(lo.dir));
  ExecutorAttempt attempt{spec_path, lo.dir, lo.env, task_flags, lo.timeout_ms};
  // A second try when an idle executor died just before it got the attempt.
  for (int tries = 0; tries < 2; ++tries) {
    std::unique_ptr<Executor> e = executors.Take(key);
    if (!e) {
      const std::string job_dir = JoinPath(JoinPath(opt.dir, "jobs"), group);
      RETURN_IF_ERROR(MakeDirs(job_dir));
      ExecutorOptions eo;
      eo.binary = lo.binary;
      eo.args = lo.args;
      eo.dir = job_dir;
      eo.log_path = JoinPath(job_dir, executors.NextLogName());
      eo.memory_mb = lo.memory_mb;
      eo.env = {"SAWMILL_JOB_ID=" + r->job_id, "SAWMILL_HOST=" + opt.host};
      // A start that takes longer than the attempt may take is not waited for.
      if (lo.timeout_ms > 0) eo.start_timeout_ms = std::min(eo.start_timeout_ms, lo.timeout_ms);
      auto started = StartExecutor(key.binary_sha256, eo, r->kill_requested);
      if (!started.ok()) {
        if (started.status().code() == StatusCode::kAborted) {
          o->killed = true;
          return Status::Ok();
        }
        if (started.status().code() != StatusCode::kInvalidArgument) return started.status();
        // Not an executor (built before them, or it fails as it starts): its attempts run as
        // processes of their own, which fail as such a process does when it cannot start.
        LOG(WARNING) << started.status().message() << "; attempts of " << r->job_id
                     << " run as processes of their own";
        executors.Refuse(key);
        return RunInChild(r, lo, task_flags, spec_path, o);
      }
      e = std::move(started).value();
      LOG(INFO) << "executor " << e->pid() << " started for " << group;
    }
    auto outcome = e->Run(attempt, r->kill_requested);
    if (!outcome.ok()) continue;  // it died idle; the next one is new
    *o = *outcome;
    // After a failure the executor is not trusted with another attempt (user code may have left
    // it in any state); a clean one waits for the job's next attempt.
    if (o->exited && o->exit_code == 0) executors.Give(key, std::move(e));
    return Status::Ok();
  }
  return Status(StatusCode::kUnavailable,
                "no executor of " + r->job_id + " would take the attempt");
}

Result<std::unique_ptr<Executor>> Worker::Impl::StartExecutor(const std::string& sha,
                                                              const ExecutorOptions& eo,
                                                              const std::atomic<bool>& kill) {
  if (auto spare = executors.TakeSpare(sha)) {
    const int pid = spare->pid();
    auto e = Executor::FromSpare(std::move(spare), eo, kill);
    if (e.ok() || e.status().code() == StatusCode::kAborted) {
      if (e.ok()) {
        LOG(INFO) << "spare executor " << pid << " of binary " << sha.substr(0, 12) << " taken";
        executors.WantSpare(sha);
      }
      return e;
    }
    // The spare failed, not necessarily the start: a fresh one says whether the binary can.
    LOG(WARNING) << "spare executor " << pid << ": " << e.status().message();
  }
  auto e = Executor::Start(eo, kill);
  if (e.ok()) executors.WantSpare(sha);
  return e;
}

void Worker::Impl::StartSpares() {
  if (!opt.warm_executors) return;
  {
    // Not beside a running attempt: on a small machine the start would take a core from it.
    std::lock_guard<std::mutex> l(mu);
    if (stopping) return;
    for (const auto& [id, r] : runs) {
      if (!r->done) return;
    }
  }
  for (const std::string& sha : executors.SparesWanted()) {
    auto binary = binaries.Get(sha);  // checked again, as before any start
    if (!binary.ok()) {
      executors.DropSpare(sha);
      continue;
    }
    auto spare = Executor::StartSpare(SpareOptions{*binary, opt.dir});
    if (!spare.ok()) {
      LOG(WARNING) << "spare executor of binary " << sha.substr(0, 12) << ": "
                   << spare.status().ToString();
      executors.DropSpare(sha);
      continue;
    }
    LOG(INFO) << "spare executor " << (*spare)->pid() << " started for binary "
              << sha.substr(0, 12);
    executors.GiveSpare(sha, std::move(spare).value());
  }
}

}  // namespace sawmill::worker
