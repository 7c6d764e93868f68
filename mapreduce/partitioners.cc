#include <algorithm>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "mapreduce/user_code.h"

namespace sawmill {

int HashPartitioner::Partition(std::string_view key, int num_partitions) const {
  return static_cast<int>(XXH3_64bits(key.data(), key.size()) % static_cast<uint64_t>(num_partitions));
}

RangePartitioner::RangePartitioner(std::vector<std::string> split_points) : points_(std::move(split_points)) {}

int RangePartitioner::Partition(std::string_view key, int num_partitions) const {
  auto it = std::upper_bound(points_.begin(), points_.end(), key,
                             [](std::string_view k, const std::string& p) { return k < std::string_view(p); });
  int p = static_cast<int>(it - points_.begin());
  return p < num_partitions ? p : num_partitions - 1;
}

std::vector<std::string> RangePartitioner::PickSplitPoints(std::vector<std::string>* sample, int num_partitions) {
  std::vector<std::string> points;
  if (num_partitions <= 1 || sample->empty()) return points;
  std::sort(sample->begin(), sample->end());
  for (int i = 1; i < num_partitions; ++i) {
    size_t idx = sample->size() * static_cast<size_t>(i) / static_cast<size_t>(num_partitions);
    const std::string& candidate = (*sample)[std::min(idx, sample->size() - 1)];
    if (points.empty() || candidate > points.back()) points.push_back(candidate);
  }
  return points;
}

}  // namespace sawmill
