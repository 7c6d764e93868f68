#include "mapreduce/dense_aggregator.h"

#include <algorithm>

namespace sawmill {

void DenseAggregator::Reset(const Combiner* combiner, size_t max_bytes) {
  combiner_ = combiner;
  size_t vs = combiner ? combiner->fixed_size() : 0;
  if (vs != value_size_) {
    values_.clear();
    touched_.clear();
    size_ = 0;
  }
  value_size_ = vs;
  limit_ = vs ? max_bytes / vs : 0;
  if (size_ > limit_) {
    size_ = limit_;
    values_.resize(size_ * value_size_);
    touched_.resize((size_ + 63) / 64);
  }
  Clear();
}

void DenseAggregator::Grow(uint64_t key) {
  uint64_t want = std::min<uint64_t>(limit_, std::max<uint64_t>({key + 1, size_ * 2, 1024}));
  size_ = want;
  values_.resize(size_ * value_size_);
  touched_.resize((size_ + 63) / 64, 0);
}

void DenseAggregator::FoldPending() {
  int first = (head_ - pending_ + kAhead) % kAhead;
  for (int i = 0; i < pending_; ++i) {
    const Pending& p = ring_[(first + i) % kAhead];
    Fold(p.key, p.value);
  }
  pending_ = 0;
  head_ = 0;
}

void DenseAggregator::Clear() {
  std::fill(touched_.begin(), touched_.end(), 0);
  count_ = 0;
  pending_ = 0;
  head_ = 0;
}

// Keys in order within each partition: a counting sort by partition of the touched keys,
// which the bitmap yields in ascending order.
void DenseAggregator::Order(const Partitioner* partitioner, int num_partitions) {
  std::vector<uint32_t> part;
  part.reserve(count_);
  std::vector<size_t> start(static_cast<size_t>(num_partitions) + 1, 0);
  char key[8];
  auto for_each_key = [&](auto&& fn) {
    for (size_t w = 0; w < touched_.size(); ++w) {
      for (uint64_t bits = touched_[w]; bits != 0; bits &= bits - 1) {
        fn(w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits)));
      }
    }
  };
  for_each_key([&](uint64_t k) {
    uint32_t p = 0;
    if (num_partitions > 1) {
      uint64_t be = __builtin_bswap64(k);
      std::memcpy(key, &be, 8);
      p = static_cast<uint32_t>(partitioner->Partition(std::string_view(key, 8), num_partitions));
    }
    part.push_back(p);
    ++start[p + 1];
  });
  for (int p = 0; p < num_partitions; ++p) start[p + 1] += start[p];
  ordered_.resize(count_);
  partition_of_.resize(count_);
  size_t i = 0;
  for_each_key([&](uint64_t k) {
    uint32_t p = part[i++];
    size_t at = start[p]++;
    ordered_[at] = k;
    partition_of_[at] = p;
  });
}

void DenseLists::Reset(size_t max_bytes) {
  max_bytes_ = max_bytes;
  limit_ = max_bytes / 16;  // the counting sort's array: 4 bytes per key below the largest
  Clear();
  // Full() stops both below max_bytes (the arena a record later: at most one value more).
  records_.reserve(max_bytes / sizeof(Record) + 1);
  arena_.reserve(max_bytes + (size_t{1} << 20));
}

void DenseLists::Clear() {
  records_.clear();
  arena_.clear();
  max_key_ = 0;
}

// A counting sort of the records by key (stable: arrival order within a key), then of the keys
// by partition (ascending keys within a partition).
void DenseLists::Order(const Partitioner* partitioner, int num_partitions) {
  // Scratch vectors are members: allocated once, they do not fault pages in on every spill.
  count_.assign(records_.empty() ? 1 : max_key_ + 2, 0);
  for (const Record& r : records_) ++count_[r.key + 1];
  for (size_t k = 1; k < count_.size(); ++k) count_[k] += count_[k - 1];
  by_key_.resize(records_.size());
  next_.assign(count_.begin(), count_.end() - 1);
  for (uint32_t i = 0; i < records_.size(); ++i) by_key_[next_[records_[i].key]++] = i;
  // The distinct keys, ascending, with their partition and where their records start.
  keys_.clear();
  first_.clear();
  part_.clear();
  std::vector<size_t> per_partition(static_cast<size_t>(num_partitions) + 1, 0);
  char key[8];
  for (size_t k = 0; k + 1 < count_.size(); ++k) {
    if (count_[k + 1] == count_[k]) continue;
    uint32_t p = 0;
    if (num_partitions > 1) {
      uint64_t be = __builtin_bswap64(static_cast<uint64_t>(k));
      std::memcpy(key, &be, 8);
      p = static_cast<uint32_t>(partitioner->Partition(std::string_view(key, 8), num_partitions));
    }
    keys_.push_back(k);
    first_.push_back(count_[k]);
    part_.push_back(p);
    ++per_partition[p + 1];
  }
  for (int p = 0; p < num_partitions; ++p) per_partition[p + 1] += per_partition[p];
  size_t groups = keys_.size();
  group_key_.resize(groups);
  group_partition_.resize(groups);
  group_start_.assign(groups + 1, 0);
  order_.resize(records_.size());
  // Each key's group goes to its partition's next slot; its record indices keep their order.
  std::vector<size_t> slot(per_partition.begin(), per_partition.end() - 1);
  group_of_.resize(groups);
  sizes_.resize(groups);
  for (size_t g = 0; g < groups; ++g) {
    uint32_t at = static_cast<uint32_t>(slot[part_[g]]++);
    uint32_t end = g + 1 < groups ? first_[g + 1] : static_cast<uint32_t>(records_.size());
    group_of_[g] = at;
    sizes_[at] = end - first_[g];
    group_key_[at] = keys_[g];
    group_partition_[at] = part_[g];
  }
  for (size_t g = 0; g < groups; ++g) group_start_[g + 1] = group_start_[g] + sizes_[g];
  for (size_t g = 0; g < groups; ++g) {
    uint32_t end = g + 1 < groups ? first_[g + 1] : static_cast<uint32_t>(records_.size());
    std::copy(by_key_.begin() + first_[g], by_key_.begin() + end, order_.begin() + group_start_[group_of_[g]]);
  }
}

}  // namespace sawmill
