# The coordinator's protocol (frame headers, common/frame.h; every connection authenticated):
# clients submit and follow jobs; workers register, long-poll for orders (launch, kill, where map
# outputs are) and report attempt results. Job binaries travel through the file store
# (dfs:/sawmill/binaries/<sha256>), never through these messages. Design: docs/distributed.md.
@0x884b3518aa9500f9;

using Attempt = import "/mapreduce/attempt.capnp";

$import "/capnp/c++.capnp".namespace("sawmill::sched::proto");

# A failed request: code is a sawmill::StatusCode (0 = ok).
struct Error {
  code @0 :UInt16;
  message @1 :Text;
}

struct JobSubmission {
  name @0 :Text;
  binarySha256 @1 :Text;          # hex; the binary is dfs:/sawmill/binaries/<binarySha256>
  args @2 :List(Text);            # the binary's own flags, passed again in task mode
  inputs @3 :List(Text);
  output @4 :Text;                # dfs:/...
  overwrite @5 :Bool;
  splits @6 :List(Attempt.Split); # map task i reads splits[i]
  partitioning @7 :Attempt.Partitioning;
  seed @8 :UInt64;
  memoryBytes @9 :UInt64;         # each task's sort buffer
  mergeFactor @10 :Int32;
  blockBytes @11 :UInt64;
  maxAttempts @12 :Int32;         # 0: the coordinator's default
  taskTimeoutMs @13 :UInt64;      # 0: the coordinator's default
  taskMemoryMb @14 :UInt64;       # address-space limit of each attempt; 0: the default
  speculation @15 :Bool;
  inputBytes @16 :UInt64;
  user @17 :Text;
  outputReplication @18 :UInt32;  # replicas of each output part (JobSpec::output_replication; 0: the store's default)
  # Per-task flags after args (JobSpec::task_flags, e.g. a dataflow stage's --df_stage/--df_bind):
  # the part of the command line that differs between the jobs a warm executor may serve.
  taskFlags @19 :List(Text);
  # A whole dataflow program: the coordinator runs its program master (one task of the binary in
  # master mode), which submits the stages; splits and partitioning are then empty.
  program @20 :Bool;
  # A stage of a program, submitted by its master: parentJob is the program's job id. A stage
  # whose key the program already ran or is running is not run again: the submission answers
  # that stage's job id.
  parentJob @21 :Text;
  stage @22 :StageInfo;
  scratchDir @23 :Text;           # a program's intermediates (dfs:/...): removed when it ends
  # A stage: the attempt id of the master submitting it. Only the program's running master may
  # submit (one that lost its worker may still run, cut off: it is refused).
  masterAttempt @24 :Text;
  # A program and its stages: the plan contract its binary was built with
  # (scheduler/plan_version.h); a coordinator refuses another version at submission.
  planVersion @25 :UInt32;
  # A job or program submitted by a client (not a stage): a random token of that submission. A
  # repeat, sent again after its answer was lost to a coordinator restart, answers the job the
  # first one made instead of making another.
  clientToken @26 :Text;
  # The submitter chose partitioning.numPartitions itself (--reducers not given: from the live
  # workers' slots and the input size); the output's _MANIFEST says so (reducersAuto).
  reducersAuto @27 :Bool;
}

# One edge into a stage of a program's DAG.
struct StageEdge {
  from @0 :Text;                  # the producing stage's key; "" for the program's input
  kind @1 :Text;                  # "shuffle", "broadcast" or "read"
}

# What a program master says about a stage when it submits it.
struct StageInfo {
  key @0 :Text;                   # unique in the program: the plan's stage tag, "-i<N>" in loop
                                  # iteration N, "-r<K>" when recomputed through lineage
  operators @1 :List(Text);       # its fused operators in order, e.g. ReadText, FlatMap, ReduceByKey
  inputs @2 :List(StageEdge);
}

# A program's stage as its job's status shows it.
struct StageStatus {
  key @0 :Text;
  jobId @1 :Text;                 # the stage's own job (its attempts: `status` of that id)
  state @2 :Text;                 # running, committing, succeeded, failed
  operators @3 :List(Text);
  inputs @4 :List(StageEdge);
  maps @5 :Int32;
  mapsDone @6 :Int32;
  mapsRunning @7 :Int32;
  reduces @8 :Int32;
  reducesDone @9 :Int32;
  reducesRunning @10 :Int32;
  startMs @11 :Int64;             # since the program's submission
  endMs @12 :Int64;               # 0 while it runs
  recordsOut @13 :UInt64;
  bytesOut @14 :UInt64;
  submissions @15 :Int32;         # 1, plus once per restarted master that asked for it again
  attempts @16 :List(AttemptStatus);  # with the program's attempts only; times since the program's submission
}

struct AttemptStatus {
  attemptId @0 :Text;
  reduce @1 :Bool;
  task @2 :Int32;
  attempt @3 :Int32;
  worker @4 :Text;
  host @5 :Text;
  state @6 :Text;                 # running, succeeded, failed, killed
  startMs @7 :Int64;              # since the job's submission
  endMs @8 :Int64;
  local @9 :Bool;
  speculative @10 :Bool;
  error @11 :Text;
}

struct JobStatus {
  jobId @0 :Text;
  name @1 :Text;
  state @2 :Text;                 # running, committing, succeeded, failed
  error @3 :Text;
  output @4 :Text;
  submitUnixMs @5 :Int64;
  elapsedMs @6 :Int64;
  maps @7 :Int32;
  mapsDone @8 :Int32;
  mapsRunning @9 :Int32;
  reduces @10 :Int32;
  reducesDone @11 :Int32;
  reducesRunning @12 :Int32;
  inputBytes @13 :UInt64;
  bytesRead @14 :UInt64;          # input bytes of finished maps
  dataLocalMaps @15 :Int32;
  remoteMaps @16 :Int32;
  failedAttempts @17 :Int32;
  killedAttempts @18 :Int32;
  speculativeAttempts @19 :Int32;
  counters @20 :List(Attempt.Counter);
  attempts @21 :List(AttemptStatus);
  recordsIn @22 :UInt64;
  recordsOut @23 :UInt64;
  bytesOut @24 :UInt64;
  program @25 :Bool;              # a dataflow program: attempts are its master's, stages its stages
  stages @26 :List(StageStatus);  # in submission order
  parentJob @27 :Text;            # a stage: the program it belongs to
  stageKey @28 :Text;
}

struct AttemptLog {
  attemptId @0 :Text;
  host @1 :Text;
  state @2 :Text;
  stderr @3 :Text;                # the tail the worker kept (at most 64 KiB)
}

struct WorkerRegistration {
  host @0 :Text;                  # placement host (the datanode's beside it)
  shuffleAddress @1 :Text;        # "ip:port" reducers fetch map outputs from
  slots @2 :Int32;
  pid @3 :Int32;
  # Registering again (the coordinator restarted, or forgot this worker): the id it had, the
  # attempts it still runs (or whose results it has not yet reported) and the map outputs it
  # serves. A restarted coordinator that knew the id gives it back and keeps those attempts and
  # outputs (work-preserving); otherwise the worker gets a new id and kills its attempts.
  previousId @4 :Text;
  running @5 :List(Text);         # attempt ids
  mapOutputs @6 :List(Text);      # attempt ids of committed map outputs on its disk
}

struct WorkerEntry {
  id @0 :Text;
  host @1 :Text;
  shuffleAddress @2 :Text;
  slots @3 :Int32;
  running @4 :Int32;
}

struct AttemptLaunch {
  jobId @0 :Text;
  attemptId @1 :Text;
  binarySha256 @2 :Text;
  args @3 :List(Text);
  # Filled by the coordinator except workDir, resultPath, secretFile, host, mapOutputs (reduce)
  # and outputPath of maps with reducers, which the worker chooses.
  spec @4 :Attempt.AttemptSpec;
  mapCount @5 :Int32;             # reduce: segments to fetch before it starts
  timeoutMs @6 :UInt64;
  memoryMb @7 :UInt64;
  taskFlags @8 :List(Text);       # JobSubmission.taskFlags: passed after args
  program @9 :Bool;               # a program master: run as a process of its own, never in a warm executor
  # Whose warm executors may run it: the job's id, or its program's for a stage of a program (a
  # program's stages share executors; they go when that id is dropped).
  executorGroup @10 :Text;
}

struct MapOutputLocation {
  map @0 :Int32;
  attemptId @1 :Text;
  address @2 :Text;               # the shuffle server holding it
}

struct JobMapOutputs {
  jobId @0 :Text;
  outputs @1 :List(MapOutputLocation);  # every committed map output of the job now
}

# What a worker is to do; returned by poll.
struct Orders {
  launch @0 :List(AttemptLaunch);
  kill @1 :List(Text);            # attempt ids
  mapOutputs @2 :List(JobMapOutputs);
  dropJobs @3 :List(Text);        # finished jobs: their map outputs may be deleted
  reregister @4 :Bool;            # the coordinator does not know this worker (it restarted)
}

struct AttemptUpdate {
  attemptId @0 :Text;
  result @1 :Attempt.AttemptResult;  # ok or not; a failure's error says why (exit, signal, timeout)
  stderrTail @2 :Text;
  seconds @3 :Float64;
}

struct FetchFailure {
  reduceAttemptId @0 :Text;
  map @1 :Int32;
  error @2 :Text;
  mapAttemptId @3 :Text;          # the output that could not be fetched
}

struct Report {
  workerId @0 :Text;
  updates @1 :List(AttemptUpdate);
  fetchFailures @2 :List(FetchFailure);
  wantOrders @3 :Bool;            # answer with this worker's orders (a poll that does not wait), not none
}

struct Poll {
  workerId @0 :Text;
  waitMs @1 :UInt32;              # hold the answer up to this long while there are no orders
}

struct WaitJob {
  jobId @0 :Text;
  waitMs @1 :UInt32;              # hold the answer up to this long while the job runs
}

struct CoordinatorRequest {
  union {
    register @0 :WorkerRegistration;
    poll @1 :Poll;
    report @2 :Report;
    submit @3 :JobSubmission;
    status @4 :Text;              # job id
    list @5 :Void;
    kill @6 :Text;                # job id
    logs @7 :Text;                # job id
    workers @8 :Void;
    wait @9 :WaitJob;             # status without attempts, once the job has ended or waitMs passed
  }
}

struct CoordinatorResponse {
  error @0 :Error;
  union {
    none @1 :Void;
    registered @2 :Text;          # the worker's id
    orders @3 :Orders;
    submitted @4 :Text;           # the job's id
    status @5 :JobStatus;
    list @6 :List(JobStatus);     # without attempts
    logs @7 :List(AttemptLog);
    workers @8 :List(WorkerEntry);
  }
}

# What the coordinator keeps of a job in <dir>/history/<job id>.job: written at submission
# (state running) and again when the job ends.
struct JobRecord {
  status @0 :JobStatus;
  logs @1 :List(AttemptLog);
}

# The coordinator's journal (<dir>/journal, common/journal.h records): what a restarted
# coordinator must not forget about running jobs. Finished jobs live in history/; the journal is
# rewritten with only the live state at every start (docs/reliability.md).
struct JournalRecord {
  union {
    started @0 :JournalStart;
    worker @1 :WorkerEntry;       # registered: id, host, shuffleAddress, slots
    workerLost @2 :Text;          # its id
    job @3 :JournaledJob;         # accepted
    task @4 :JournaledTask;       # a task's attempt committed
    commitStarted @5 :Text;       # a job's output commit began (its id)
    finished @6 :Text;            # a job ended; its history record is final (its id)
  }
}

struct JournalStart {
  epoch @0 :UInt32;               # coordinators started on this directory so far
  nextJob @1 :Int32;              # ids never given out again
  nextWorker @2 :Int32;
}

struct JournaledJob {
  id @0 :Text;
  submission @1 :JobSubmission;
  submitUnixMs @2 :Int64;
}

struct JournaledTask {
  attemptId @0 :Text;             # names the job and the task
  worker @1 :Text;                # where a map's output is served from
  result @2 :Attempt.AttemptResult;
}
