# One task attempt as the cluster runs it: what the worker hands the job binary in task mode
# (`JOB --task FILE`, an AttemptSpec) and what the binary leaves behind (an AttemptResult).
# Both are files in the attempt's directory on the worker, written and read by the same build of
# Sawmill, so fields only ever get added.
@0x97ffd7a94c289b11;

$import "/capnp/c++.capnp".namespace("sawmill::proto");

struct Split {
  path @0 :Text;       # dfs:/... or a local path
  offset @1 :UInt64;   # bytes, or first block of a record file
  length @2 :UInt64;   # bytes, or block count
  bytes @3 :UInt64;    # approximate input bytes (progress)
  hosts @4 :List(Text);  # hosts holding a replica of the split's first block (locality)
  inputIndex @5 :Int32;  # position of the split's input in the job's input list (tagged inputs)
  # Log segments selected by a range: only records within these inclusive bounds are read.
  logFilter @6 :Bool;
  minOffset @7 :UInt64;
  maxOffset @8 :UInt64;
  minTimeMs @9 :Int64;
  maxTimeMs @10 :Int64;
}

# How map outputs are partitioned: the same in every map attempt of a job.
struct Partitioning {
  kind @0 :Text;                 # "hash", "range", "custom" (the job's own), "none" (map-only) or
                                 # "tail" (map-only with a tail reducer: maps write parts and a
                                 # one-partition tail output; the one reduce is the tail)
  numPartitions @1 :Int32;
  splitPoints @2 :List(Data);    # range
}

struct AttemptSpec {
  jobId @0 :Text;
  attemptId @1 :Text;            # e.g. job-3/m-00007/1
  reduce @2 :Bool;
  taskIndex @3 :Int32;
  attempt @4 :Int32;
  jobSeed @5 :UInt64;
  split @6 :Split;               # map
  mapOutputs @7 :List(Text);     # reduce: local segment files in map index order
  partitioning @8 :Partitioning;
  memoryBytes @9 :UInt64;
  mergeFactor @10 :Int32;
  blockBytes @11 :UInt64;
  workDir @12 :Text;             # private scratch directory (spills, merges)
  outputPath @13 :Text;          # map output file (local), or the attempt's part (dfs:/...)
  namenode @14 :Text;            # "ip:port" of the store, "" when no dfs: path is involved
  secretFile @15 :Text;
  resultPath @16 :Text;          # where the binary writes its AttemptResult
  host @17 :Text;                # the worker's placement host (first replica of written blocks)
  cacheDir @18 :Text;            # shared by the job's attempts on this worker, removed with the job
  tailOutputPath @19 :Text;      # maps of "tail" jobs: the local tail output the reduce fetches
  outputReplication @20 :UInt32; # replicas of the part written on the store (0: the store's default)
  master @21 :Bool;              # the program master of a program job (runs the program's stages)
  coordinator @22 :Text;         # "ip:port" of the coordinator (filled by the worker)
}

struct Counter {
  name @0 :Text;
  value @1 :Int64;
}

struct AttemptResult {
  ok @0 :Bool;
  error @1 :Text;
  recordsIn @2 :UInt64;
  recordsOut @3 :UInt64;
  bytesOut @4 :UInt64;
  spills @5 :UInt64;
  groups @6 :UInt64;
  counters @7 :List(Counter);
  contentHash @8 :Text;
  sorted @9 :Bool;
  bytesIn @10 :UInt64;
  tailBytes @11 :UInt64;         # maps of "tail" jobs: the tail output's size
  # A program master that ran to its end but whose program failed (a stage failed its attempts):
  # ok is true (the master is not retried) and the program fails with this error.
  programError @12 :Text;
}
