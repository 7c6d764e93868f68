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
  part_.clear();
  part_.reserve(count_);
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
    part_.push_back(p);
    ++start[p + 1];
  });
  for (int p = 0; p < num_partitions; ++p) start[p + 1] += start[p];
  ordered_.resize(count_);
  partition_of_.resize(count_);
  size_t i = 0;
  for_each_key([&](uint64_t k) {
    uint32_t p = part_[i++];
    size_t at = start[p]++;
    ordered_[at] = k;
    partition_of_[at] = p;
  });
}

void DenseLists::Reset(size_t max_bytes) {
  max_bytes_ = max_bytes;
  // The counting sort's arrays: 16 bytes per key below the largest; keys fit a record's 32 bits.
  limit_ = std::min<uint64_t>(max_bytes / 16, UINT32_MAX);
  Clear();
  // Full() stops both below max_bytes (the arena a record later: at most one value more).
  records_.reserve(max_bytes / sizeof(Record) + 1);
  arena_.reserve(max_bytes + (size_t{1} << 20));
}

void DenseLists::Clear() {
  records_.clear();
  arena_.clear();
  max_key_ = 0;
  value_bytes_ = 0;
}

// One pass counts each key's records and bytes; a second copies every value to its key's place
// in gathered_ (reading records and arena in order, writing each key's values contiguously in
// arrival order). The keys are then ordered by partition, ascending within one.
void DenseLists::Order(const Partitioner* partitioner, int num_partitions) {
  size_t keys = records_.empty() ? 0 : max_key_ + 1;
  // Scratch vectors are members: allocated once, they do not fault pages in on every spill.
  // Both passes touch a random key's entry per record (a cache miss each: a million keys take
  // megabytes), so each prefetches the entries of the records kAhead on; the second one also the
  // place its record's value will go (PageRank's in-links, 5 M records a task: Order 0.40 ->
  // 0.20 core-s).
  constexpr size_t kAhead = 16;
  const Record* rec = records_.data();
  const size_t n = records_.size();
  tally_.assign(keys, Tally{});
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) __builtin_prefetch(&tally_[rec[i + kAhead].key], 1);
    Tally& t = tally_[rec[i].key];
    t.bytes += rec[i].size;
    ++t.count;
  }
  at_.resize(keys);
  uint32_t end = 0;
  for (size_t k = 0; k < keys; ++k) {
    at_[k] = end;
    end += tally_[k].bytes;
  }
  gathered_.resize(value_bytes_);
  char* out = gathered_.data();
  const char* in = arena_.data();
  for (size_t i = 0; i < n; ++i) {
    if (i + 2 * kAhead < n) __builtin_prefetch(&at_[rec[i + 2 * kAhead].key], 1);
    if (i + kAhead < n) __builtin_prefetch(out + at_[rec[i + kAhead].key], 1);
    const Record& r = rec[i];
    char* to = out + at_[r.key];
    if (r.size == sizeof r.data) {
      std::memcpy(to, &r.data, sizeof r.data);
    } else if (r.size < sizeof r.data) {
      // A few bytes: a loop, not a library call per value.
      const char* from = reinterpret_cast<const char*>(&r.data);
      for (uint32_t b = 0; b < r.size; ++b) to[b] = from[b];
    } else {
      std::memcpy(to, in + r.data, r.size);
    }
    at_[r.key] += r.size;  // now where the key's values end
  }
  partition_of_.resize(keys);
  std::vector<size_t> per_partition(static_cast<size_t>(num_partitions) + 1, 0);
  char key[8];
  for (size_t k = 0; k < keys; ++k) {
    if (tally_[k].count == 0) continue;
    uint32_t p = 0;
    if (num_partitions > 1) {
      uint64_t be = __builtin_bswap64(static_cast<uint64_t>(k));
      std::memcpy(key, &be, 8);
      p = static_cast<uint32_t>(partitioner->Partition(std::string_view(key, 8), num_partitions));
    }
    partition_of_[k] = p;
    ++per_partition[p + 1];
  }
  for (int p = 0; p < num_partitions; ++p) per_partition[p + 1] += per_partition[p];
  group_key_.resize(per_partition[static_cast<size_t>(num_partitions)]);
  for (size_t k = 0; k < keys; ++k) {
    if (tally_[k].count != 0) group_key_[per_partition[partition_of_[k]]++] = k;
  }
}

}  // namespace sawmill
