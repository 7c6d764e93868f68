// A spare executor: a job binary that a worker starts as `JOB --executor_spare` before any job
// needs it (worker/executor.h), so that a job's first attempt on the worker finds the process
// already loaded. It runs nothing until the worker hands it a job's arguments; then it is the
// executor that `JOB ARGS --executor_fd=0` would have been. Internal to job_main.cc.
#pragma once

namespace sawmill {

// Returns at once unless the command line is `JOB --executor_spare` (kExecutorSpareArg,
// mapreduce/executor_channel.h). Then blocks on fd 0 for the worker's ExecutorHandoff
// (mapreduce/executor.capnp), takes on its working directory, log (as fds 1 and 2), environment
// and RLIMIT_AS, and replaces *argc/*argv by `JOB ARGS --executor_fd=0`, which the caller parses
// as if the process had started with it. Exits 0 when the socket closes before a handoff (the
// worker is done with the spare), 2 on a malformed one, and 127 when the log or directory cannot
// be entered (what a start there exits with).
void BecomeExecutorIfSpare(int* argc, char*** argv);

}  // namespace sawmill
