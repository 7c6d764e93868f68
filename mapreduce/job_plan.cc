#include "mapreduce/job_plan.h"

#include <algorithm>

#include "mapreduce/input_split.h"
#include "mapreduce/split_reader.h"
#include "mapreduce/task.h"
#include "mapreduce/task_context.h"

namespace sawmill {
namespace {

// Sampling reads fixed-size splits, so the boundaries (and the output) do not depend on
// --split_mb.
constexpr uint64_t kSampleSplitBytes = 64 << 20;

// Collects the keys a mapper emits while sampling for range partitioning.
struct SampleSink {
  std::vector<std::string>* keys;
  Status Add(std::string_view key, std::string_view) {
    keys->emplace_back(key);
    return Status::Ok();
  }
};

// Runs the mapper over the first records of up to 10 evenly spaced splits and picks split points.
Result<std::vector<std::string>> SampleSplitPoints(const JobSpec& spec, const std::vector<InputSplit>& splits,
                                                   int partitions) {
  std::vector<std::string> keys;
  if (splits.empty() || partitions <= 1) return keys;
  size_t picks = std::min<size_t>(10, splits.size());
  size_t per_split = std::max<size_t>(1, spec.sample_records / picks);
  TaskConfig config;
  config.spec = &spec;
  config.num_partitions = partitions;
  for (size_t i = 0; i < picks; ++i) {
    const InputSplit& split = splits[i * splits.size() / picks];
    ASSIGN_OR_RETURN(auto reader, OpenSplit(split, SplitReaderOptionsFor(spec, split)));
    TaskStats stats;
    std::vector<std::string> emitted;
    SampleSink sink{&emitted};
    TaskContextImpl<SampleSink> ctx(config, &stats, &sink);
    // As in a map task: mappers may depend on their input (tagged inputs, co-partitioned parts).
    ctx.set_input_path(split.path);
    ctx.set_input_index(split.input_index);
    std::unique_ptr<Mapper> mapper = spec.NewMapper(split.input_index);
    std::string_view k, v;
    RETURN_IF_ERROR(CallUserCode([&] { return "sampling " + split.path; }, [&] {
      mapper->Setup(ctx);
      for (size_t n = 0; n < per_split && reader->Next(&k, &v); ++n) mapper->Map(k, v, ctx);
    }));
    // Split points are in the partitioner's terms: the part of each key it sees.
    std::string scratch;
    for (auto& key : emitted) {
      keys.push_back(spec.partition_key ? std::string(spec.partition_key(key, &scratch)) : std::move(key));
    }
    RETURN_IF_ERROR(reader->status());
  }
  return RangePartitioner::PickSplitPoints(&keys, partitions);
}

}  // namespace

Result<PartitionPlan> PlanPartitioning(const JobSpec& spec, const JobOptions& options) {
  PartitionPlan plan;
  if (!spec.reducer) {
    if (spec.tail_reducer) {
      plan.kind = PartitionKind::kTail;
      plan.num_partitions = 1;
    }
    return plan;
  }
  plan.num_partitions = options.reducers;
  if (spec.partitioner) {
    plan.kind = PartitionKind::kCustom;
  } else if (spec.total_order) {
    ASSIGN_OR_RETURN(auto splits,
                     ComputeJobSplits(spec, options.inputs, kSampleSplitBytes));
    ASSIGN_OR_RETURN(plan.split_points, SampleSplitPoints(spec, splits, plan.num_partitions));
    plan.kind = PartitionKind::kRange;
  } else {
    plan.kind = PartitionKind::kHash;
  }
  return plan;
}

namespace {

// Applies JobSpec::partition_key before the partitioner proper. Shared by a job's map threads,
// hence the per-thread scratch.
class KeyPartPartitioner final : public Partitioner {
 public:
  KeyPartPartitioner(std::unique_ptr<Partitioner> inner,
                     std::function<std::string_view(std::string_view, std::string*)> part)
      : inner_(std::move(inner)), part_(std::move(part)) {}
  int Partition(std::string_view key, int num_partitions) const override {
    thread_local std::string scratch;
    return inner_->Partition(part_(key, &scratch), num_partitions);
  }

 private:
  std::unique_ptr<Partitioner> inner_;
  std::function<std::string_view(std::string_view, std::string*)> part_;
};

Result<std::unique_ptr<Partitioner>> MakeWholeKeyPartitioner(const JobSpec& spec, const PartitionPlan& plan) {
  switch (plan.kind) {
    case PartitionKind::kHash: return std::unique_ptr<Partitioner>(std::make_unique<HashPartitioner>());
    case PartitionKind::kRange:
      return std::unique_ptr<Partitioner>(std::make_unique<RangePartitioner>(plan.split_points));
    case PartitionKind::kCustom:
      if (!spec.partitioner) return InvalidArgument("job " + spec.name + " has no partitioner of its own");
      return spec.partitioner();
    case PartitionKind::kNone:
    case PartitionKind::kTail: break;
  }
  return InvalidArgument("partitioning '" + std::string(PartitionKindName(plan.kind)) + "' has no partitioner");
}

}  // namespace

Result<std::unique_ptr<Partitioner>> MakePartitioner(const JobSpec& spec, const PartitionPlan& plan) {
  if (MapsWriteParts(plan.kind)) return std::unique_ptr<Partitioner>();
  ASSIGN_OR_RETURN(auto p, MakeWholeKeyPartitioner(spec, plan));
  if (!spec.partition_key) return p;
  return std::unique_ptr<Partitioner>(std::make_unique<KeyPartPartitioner>(std::move(p), spec.partition_key));
}

TaskBudget ComputeTaskBudget(const JobOptions& options) {
  TaskBudget b;
  size_t share = (options.memory_mb << 20) / static_cast<size_t>(std::max(options.threads, 1));
  // Readers, writers and block buffers take a few MiB beside the sort buffer.
  size_t reserve = std::min<size_t>(share / 4, 4 << 20);
  b.memory_bytes = share - reserve;
  size_t block_bytes = options.block_kb << 10;
  b.merge_factor = options.merge_factor > 0
                       ? options.merge_factor
                       : static_cast<int>(std::clamp<size_t>(share / (4 * block_bytes + (64 << 10)), 2, 64));
  return b;
}

}  // namespace sawmill
