// A warm executor: a job binary that a worker starts once for a job (`JOB ARGS --executor_fd N`)
// and that then runs the job's attempts one at a time, in a loop, each as `JOB ARGS TASKFLAGS
// --task=SPEC` would, without a new process, dynamic linking or static initialization per
// attempt. Protocol: mapreduce/executor.capnp. Internal to task_mode.cc; job authors never call it.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "driver/task_mode.h"

namespace sawmill {

// Serves the worker on socket `fd` until it closes the socket (then returns 0). Each attempt
// runs in its directory, with its stdout and stderr files as fds 1 and 2, its environment and
// its task flags; all of them are put back afterwards. User code that crashes or exits takes
// the process with it, as it would take an attempt's own process.
int RunExecutor(const TaskSpecFactory& make_spec, int fd);

// Sets command-line flags ("--name=value", "--name" or "--noname" for booleans) as the command
// line would; an error names the first it cannot set. Flags set before stay set: callers that
// must undo them hold a gflags::FlagSaver.
Status SetTaskFlags(const std::vector<std::string>& flags);

}  // namespace sawmill
