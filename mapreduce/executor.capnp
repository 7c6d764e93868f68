# A worker's conversation with a warm executor: the job binary started once per job with
# --executor_fd, which then runs the job's task attempts one at a time, in a loop, instead of one
# process per attempt (docs/distributed.md). Over a stream socket, each message a u32
# little-endian length and then the message (mapreduce/executor_channel.h). The executor speaks
# first (ExecutorHello); then each ExecutorRequest gets one ExecutorReply. A spare executor
# (`JOB --executor_spare`, started before a job needed it) first reads one ExecutorHandoff, then
# speaks as any executor does.
@0xc3039238ce051623;

$import "/capnp/c++.capnp".namespace("sawmill::proto");

# To a spare: become the executor that `JOB ARGS --executor_fd=0` would have been, started in
# `dir` with stdout and stderr appended to `logPath`, `env` added and RLIMIT_AS `memoryMb`.
struct ExecutorHandoff {
  args @0 :List(Text);   # argv[1..] before --executor_fd
  dir @1 :Text;
  logPath @2 :Text;      # made by the worker
  env @3 :List(Text);    # NAME=value
  memoryMb @4 :UInt64;   # 0: no limit
}

# The executor is ready for attempts.
struct ExecutorHello {
  pid @0 :Int32;
}

# Run one attempt, exactly as `JOB ARGS TASKFLAGS --task=specPath` would in `dir`.
struct ExecutorRequest {
  specPath @0 :Text;          # the AttemptSpec (attempt.capnp); its resultPath gets the result
  dir @1 :Text;               # working directory; its files stdout and stderr (made by the worker) get the attempt's output
  env @2 :List(Text);         # NAME=value, set for this attempt only
  taskFlags @3 :List(Text);   # --name=value, set for this attempt only (AttemptLaunch.taskFlags)
}

# The attempt ended: the exit code its own process would have had (0 ok, 1 failed, 2 bad flags).
struct ExecutorReply {
  exitCode @0 :Int32;
}
