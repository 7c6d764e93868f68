// A job's definition (what user code to run) and the options of one run (inputs, output,
// parallelism, memory). The local runner and, later, the coordinator both take these.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mapreduce/reducer_choice.h"
#include "mapreduce/user_code.h"

namespace sawmill {

struct JobSpec {
  std::string name = "job";
  InputFormat input_format = InputFormat::kTextLines;
  size_t fixed_record_bytes = 100;  // kFixedWidth
  size_t fixed_key_bytes = 10;      // kFixedWidth

  std::function<std::unique_ptr<Mapper>()> mapper;    // required, unless mapper_for_input is set
  // Tagged inputs (Hadoop's MultipleInputs): the mapper of the input at this position of the
  // job's input list; when set, it is used instead of `mapper`.
  std::function<std::unique_ptr<Mapper>(int input_index)> mapper_for_input;
  // Inputs the job chooses itself (e.g. a join's two sides); when non-empty they replace --input.
  std::vector<std::string> inputs;
  // The format of each input, by position; inputs past its end (or all, when empty) use
  // input_format.
  std::vector<InputFormat> input_formats;
  // One split per input file, never cut (for jobs that pair part i of one input with part i
  // of another).
  bool whole_file_splits = false;
  // Splits follow --split_mb only, never the thread count: for jobs whose output depends on map
  // task boundaries (floating-point folds), so that it does not depend on --threads.
  bool keep_split_size = false;
  // Local mode: splits as large as --split_mb allows (not cut down for the thread count), but
  // evened out to a multiple of the threads so that no thread runs a last task alone. For folds
  // of dense keys, which shuffle up to one record per key per task: fewer tasks shuffle less.
  // The output does not depend on the splits.
  bool large_splits = false;
  std::function<std::unique_ptr<Reducer>()> reducer;  // null: map-only, parts are map outputs
  // Map-only jobs (no reducer) may end in one tail reduce task: map tasks write their parts as
  // usual and send it records through TaskContext::EmitToTail; it runs once every map task is
  // done, over their tail records sorted and grouped by key (in map task order within a key),
  // and writes one more part after the map tasks' parts. For what no single map task can know,
  // e.g. a broadcast full outer join's unmatched broadcast rows.
  std::function<std::unique_ptr<Reducer>()> tail_reducer;
  std::function<std::unique_ptr<Combiner>()> combiner;
  // Null: HashPartitioner, or a sampled RangePartitioner when total_order is set.
  std::function<std::unique_ptr<Partitioner>()> partitioner;
  // Sample map output keys before the job and range-partition them, so that the concatenated
  // parts are globally sorted.
  bool total_order = false;
  size_t sample_records = 100000;
  // With a combiner: aggregate map output in a hash table before sorting (true), or combine
  // only while spilling sorted runs (false).
  bool hash_aggregation = true;
  // With a fixed-size combiner (or an appending one, Combiner::appends): map output keys are
  // mostly 8-byte big-endian unsigned integers numbered from 0 (dense ids), which then fold into
  // an array indexed by the key (or are grouped by a counting sort on the key) instead of going
  // through the hash table; other keys still do. Values fold in emit order either way.
  bool dense_keys = false;

  // Secondary sort. Map output keys may be composite: a grouping part, then bytes that order
  // the values within a group (the sort is always on the whole key). group_prefix(key) returns
  // the length of the grouping part; the reducer is called once per run of equal grouping parts
  // (with the first key of the run) and ValueIterator::key() gives each value's whole key.
  std::function<size_t(std::string_view key)> group_prefix;
  // What the partitioner sees of a map output key (default: the whole key), so that every key
  // of a group meets in one reducer; may decode into *scratch.
  std::function<std::string_view(std::string_view key, std::string* scratch)> partition_key;

  // Flags added to the command line of every task on a cluster: decisions the job takes once,
  // at submission (sampling, sizes), that its tasks must share.
  std::vector<std::string> task_flags;
  // Replicas of each output part in the store (0: the store's default); intermediate data that
  // can be recomputed uses 1. Local outputs ignore it. The job's _MANIFEST keeps the default.
  uint32_t output_replication = 0;
  // LZ4 blocks in the output parts (a block that does not shrink is stored raw anyway). Data
  // written to be read back once and soon, such as a dataflow's intermediate datasets, is
  // cheaper raw: on PageRank, compressing them cost 0.7 s of 4.4 s.
  bool compress_output = true;
  // Record block size of the output parts in KiB (0: the job's --block_kb, as for spills). Outputs
  // read by random lookups want small blocks: each lookup decompresses one block.
  size_t output_block_kb = 0;

  InputFormat FormatOf(int input_index) const {
    return input_index >= 0 && static_cast<size_t>(input_index) < input_formats.size() ? input_formats[input_index]
                                                                                        : input_format;
  }
  bool has_mapper() const { return mapper_for_input || mapper; }
  std::unique_ptr<Mapper> NewMapper(int input_index) const {
    return mapper_for_input ? mapper_for_input(input_index) : mapper();
  }
};

struct JobOptions {
  std::vector<std::string> inputs;  // files or directories (part files; names starting _ or . skipped)
  std::string output;               // directory, created by the job commit
  // Reduce tasks; 0: chosen at planning from the slots and the input (ChooseReducers), as a job
  // binary does when --reducers is not given.
  int reducers = 1;
  int threads = 2;
  size_t memory_mb = 512;           // all tasks together: sort buffers, merges, writers
  bool overwrite = false;
  uint64_t split_bytes = 64 << 20;  // target input split size
  uint64_t seed = 0;                // job seed; task seeds derive from it
  int merge_factor = 0;             // 0: derived from the memory budget
  size_t block_kb = 64;             // record block size of outputs and spills
  bool progress = false;            // show a progress line on stderr
};

struct JobResult {
  bool ok = false;
  int exit_code = 1;   // 0 ok, 2 bad usage or input, 1 job failure
  std::string error;
  uint64_t records_in = 0, records_out = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  int map_tasks = 0, reduce_tasks = 0;
  ReducerChoice reducers;                      // how reduce_tasks was decided (jobs with a reducer)
  uint64_t spills = 0;
  double seconds = 0;
  uint64_t peak_rss_bytes = 0;
  std::map<std::string, int64_t> counters;
  uint64_t shuffle_bytes = 0;                  // map output bytes read by reduces (0: map-only)
  uint64_t tail_bytes = 0;                     // map tasks' records for the tail reducer
  std::vector<uint64_t> reduce_records_in;     // per reduce task, for skew
  std::vector<double> reduce_seconds;          // per reduce task
};

}  // namespace sawmill
