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

}  // namespace sawmill
