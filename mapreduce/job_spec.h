// A job's definition (what user code to run) and the options of one run (inputs, output,
// parallelism, memory). The local runner and, later, the coordinator both take these.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mapreduce/user_code.h"

namespace sawmill {

struct JobSpec {
  std::string name = "job";
  InputFormat input_format = InputFormat::kTextLines;
  size_t fixed_record_bytes = 100;  // kFixedWidth
  size_t fixed_key_bytes = 10;      // kFixedWidth

  std::function<std::unique_ptr<Mapper>()> mapper;    // required
  std::function<std::unique_ptr<Reducer>()> reducer;  // null: map-only, parts are map outputs
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
};

struct JobOptions {
  std::vector<std::string> inputs;  // files or directories (part files; names starting _ or . skipped)
  std::string output;               // directory, created by the job commit
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
  uint64_t spills = 0;
  double seconds = 0;
  uint64_t peak_rss_bytes = 0;
  std::map<std::string, int64_t> counters;
};

}  // namespace sawmill
