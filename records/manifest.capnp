# The _MANIFEST of a job output directory. Written once at job commit; never modified.
@0x81b1adebb8026cf0;

$import "/capnp/c++.capnp".namespace("sawmill::schema");

struct Manifest {
  formatVersion @0 :UInt32;
  jobName @1 :Text;
  inputs @2 :List(Text);
  partitioner @3 :Text;          # "hash", "range", "custom" or "none" (map-only)
  splitPoints @4 :List(Data);    # range partitioner boundaries
  numPartitions @5 :Int32;
  sorted @6 :Bool;               # every part is sorted by key
  totalOrder @7 :Bool;           # the concatenated parts are sorted by key
  parts @8 :List(Part);
  counters @9 :List(Counter);
  recordCount @10 :UInt64;
  byteCount @11 :UInt64;
  # numPartitions was chosen by the job because --reducers was not given (from the slots that ran
  # it and its input size, docs/local-runtime.md); rerun with --reducers numPartitions for the
  # same parts elsewhere. False in manifests written before it existed.
  reducersAuto @12 :Bool;

  struct Part {
    name @0 :Text;
    partition @1 :Int32;
    recordCount @2 :UInt64;
    byteCount @3 :UInt64;
    contentHash @4 :Text;        # XXH3-128 of the part file, 32 hex digits
  }

  struct Counter {
    name @0 :Text;
    value @1 :Int64;
  }
}
