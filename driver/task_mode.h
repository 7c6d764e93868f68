// Task mode of a job binary: how a worker runs the job's map and reduce attempts, either one
// attempt in a process of its own (`JOB --task FILE`) or many in a warm executor (`JOB
// --executor_fd N`, driver/executor.h). Both run an attempt through TaskRunner. Internal to
// job_main.cc and dataflow_run.cc; job authors never call it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "mapreduce/job_spec.h"

namespace sawmill {

// Makes the job's spec for an attempt, once its store is connected (a spec may read its inputs'
// manifests), with the attempt's task flags set; a spec it cannot make is a Status (a job's own
// factory is user code: the caller converts its exceptions).
using TaskSpecFactory = std::function<Result<JobSpec>()>;

// Runs attempts one after another in this process, keeping what the next one can reuse: the
// store connection (while the namenode, host and secret stay the same) and the map tasks'
// buffers (sort buffer, aggregators), as the local runner's threads do.
class TaskRunner {
 public:
  TaskRunner();
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  // Runs the attempt that the AttemptSpec (mapreduce/attempt.capnp) at `spec_path` describes and
  // writes its AttemptResult to the spec's resultPath. Returns the exit code a process of its
  // own would have: 0 when the attempt succeeded, 1 when it failed (the reason is in the result
  // and on stderr).
  int Run(const TaskSpecFactory& make_spec, const std::string& spec_path);

 private:
  struct Warm;
  std::unique_ptr<Warm> warm_;
};

// One attempt in a fresh TaskRunner: `JOB --task FILE`.
int RunTaskMode(const TaskSpecFactory& make_spec, const std::string& spec_path);

// Whether a worker started this process to run attempts (--task or --executor_fd).
bool RunsForWorker();

// Runs what the worker asked for: RunTaskMode for --task, RunExecutor (driver/executor.h) for
// --executor_fd. Returns the process's exit code.
int RunForWorker(const TaskSpecFactory& make_spec);

}  // namespace sawmill
