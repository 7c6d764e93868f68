// Task mode of a job binary (`JOB --task FILE`): how a worker runs one map or reduce attempt of
// the job in a child process. Internal to job_main.cc; job authors never call it.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "mapreduce/job_spec.h"

namespace sawmill {

// Runs the attempt that the AttemptSpec (mapreduce/attempt.capnp) at `spec_path` describes and
// writes its AttemptResult to the spec's resultPath. The job's spec is made after the attempt's
// store is connected (a spec may read its inputs' manifests); `make_spec` reports a spec it
// cannot make as a Status (a job's own factory is user code: the caller converts its
// exceptions). Returns the process exit code: 0 when the attempt succeeded, 1 when it failed
// (the reason is in the result and on stderr).
int RunTaskMode(const std::function<Result<JobSpec>()>& make_spec, const std::string& spec_path);

}  // namespace sawmill
