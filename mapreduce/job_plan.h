// Decisions taken once per job, before any task runs, that every task must share: how map
// outputs are partitioned (sampling the input for total-order jobs) and each task's memory
// budget. The local runner and cluster submission both take them from here, so a job's tasks
// see the same partitioning wherever they run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "mapreduce/job_spec.h"
#include "mapreduce/partition_kind.h"

namespace sawmill {

struct PartitionPlan {
  PartitionKind kind = PartitionKind::kNone;
  int num_partitions = 0;     // reducers; 0 for map-only jobs, 1 with a tail
  std::vector<std::string> split_points;  // range
};

// Samples the inputs (running the mapper over the first records of a few splits) when the job
// wants a total order; errors name the input.
Result<PartitionPlan> PlanPartitioning(const JobSpec& spec, const JobOptions& options);

// The partitioner a plan describes; null for kNone and kTail. kInvalidArgument for kCustom when
// the spec has no partitioner.
Result<std::unique_ptr<Partitioner>> MakePartitioner(const JobSpec& spec, const PartitionPlan& plan);

struct TaskBudget {
  size_t memory_bytes = 0;  // one task's sort buffer
  int merge_factor = 64;
};

// Each of options.threads concurrent tasks gets an equal share of options.memory_mb.
TaskBudget ComputeTaskBudget(const JobOptions& options);

}  // namespace sawmill
