// Map and reduce tasks of the local runtime: what each needs to run (TaskConfig), what it
// reports (TaskStats), and the two entry points. The coordinator's task mode reuses them.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "mapreduce/dense_aggregator.h"
#include "mapreduce/hash_aggregator.h"
#include "mapreduce/input_split.h"
#include "mapreduce/job_spec.h"
#include "mapreduce/sort_buffer.h"

namespace sawmill {

// Shared progress counters, updated per chunk or block (not per record).
struct Progress {
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<int> maps_done{0};
  std::atomic<int> reduces_done{0};
};

struct TaskStats {
  uint64_t records_in = 0;   // map input records / reduce input records
  uint64_t records_out = 0;  // map output (before combining) / output records
  uint64_t bytes_out = 0;    // bytes of the file the task wrote
  uint64_t spills = 0;
  uint64_t groups = 0;       // reduce: distinct keys
  std::map<std::string, int64_t, std::less<>> counters;  // user counters
  std::string content_hash;  // of the written file
  uint64_t tail_bytes = 0;   // map tasks of jobs with a tail reducer: the tail output's size
  bool sorted = false;       // the written file's keys are in order
};

struct TaskConfig {
  const JobSpec* spec = nullptr;
  int task_index = 0;
  int num_partitions = 1;
  const Partitioner* partitioner = nullptr;  // map tasks of jobs with reducers
  uint64_t seed = 0;
  std::string work_dir;          // private scratch directory of this attempt (spills, merges)
  std::string cache_dir;         // shared by the job's attempts on this machine (cluster only)
  std::string output_path;       // map output file, or the part file (map-only and reduce)
  // Jobs with a tail reducer: a map task's tail output (one partition, sorted), or, true, this
  // reduce task is the tail (task_index = its part index = the map task count).
  std::string tail_output_path;
  bool tail = false;
  uint32_t output_replication = 0;  // of a part file on the store (JobSpec::output_replication)
  size_t memory_bytes = 64 << 20;  // this task's share of the job's memory budget
  int merge_factor = 64;
  size_t block_bytes = 64 << 10;
  // LZ4 in spills, map outputs and merge passes. Local mode stores them raw: they never leave
  // the machine and are read back within seconds, mostly from the page cache, and compressing
  // cost more than the bytes saved (TeraSort 10 M: 19 % of the CPU). A cluster's map outputs
  // cross the network, so workers keep it.
  bool compress_intermediate = true;
  Progress* progress = nullptr;
};

// Per-thread buffers reused across map tasks (allocated once; see BigBuffer).
struct MapBuffers {
  std::unique_ptr<SortBuffer> sort_buffer;
  std::unique_ptr<HashAggregator> aggregator;
  std::unique_ptr<DenseAggregator> dense;
  std::unique_ptr<DenseLists> lists;
};

// Runs a map task over `split`. Errors (bad input, a throwing mapper) name the split.
Status RunMapTask(const TaskConfig& config, const InputSplit& split, MapBuffers* buffers, TaskStats* stats);

// Runs reduce task `config.task_index` over that partition of `map_outputs` (in map order).
Status RunReduceTask(const TaskConfig& config, const std::vector<std::string>& map_outputs, TaskStats* stats);

// Seeds of tasks: a mix of the job seed and the task's kind and index.
uint64_t TaskSeed(uint64_t job_seed, bool reduce, int index);

}  // namespace sawmill
