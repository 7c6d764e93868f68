// How a job's map outputs are partitioned, as the runtime, the coordinator and the worker all
// name it. On the wire (attempt.capnp, coordinator.capnp) and in _MANIFEST it is the lowercase name.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sawmill {

// kHash, kRange, kCustom (the job's own partitioner), kNone (map-only) or kTail (map-only with a
// tail reducer: map tasks write parts, and their tail records go to one reduce task).
enum class PartitionKind { kNone, kHash, kRange, kCustom, kTail };

// "none", "hash", "range", "custom", "tail".
inline std::string_view PartitionKindName(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kNone: return "none";
    case PartitionKind::kHash: return "hash";
    case PartitionKind::kRange: return "range";
    case PartitionKind::kCustom: return "custom";
    case PartitionKind::kTail: return "tail";
  }
  return "none";
}

// The kind a name gives; kInvalidArgument naming it when it is none of the names.
inline Result<PartitionKind> ParsePartitionKind(std::string_view name) {
  for (auto k : {PartitionKind::kNone, PartitionKind::kHash, PartitionKind::kRange, PartitionKind::kCustom,
                 PartitionKind::kTail}) {
    if (PartitionKindName(k) == name) return k;
  }
  return InvalidArgument("unknown partitioning kind '" + std::string(name) + "'");
}

// Map tasks write the job's output parts themselves (no reduce task writes them).
inline bool MapsWriteParts(PartitionKind kind) { return kind == PartitionKind::kNone || kind == PartitionKind::kTail; }

}  // namespace sawmill
