// Map-side aggregation for dense integer keys: 8-byte big-endian keys below a limit (ids
// numbered from 0) with fixed-size values fold into an array indexed by the key, with no
// hashing, probing or sorting. The hash aggregator takes every other record.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "mapreduce/user_code.h"

namespace sawmill {

class DenseAggregator {
 public:
  // The array holds at most `max_bytes` of values (keys beyond go to the hash aggregator).
  DenseAggregator(const Combiner* combiner, size_t max_bytes) { Reset(combiner, max_bytes); }
  void Reset(const Combiner* combiner, size_t max_bytes);

  // Folds (key, value) in and returns true, or returns false when the record is not for the
  // array (key not 8 bytes or too large, value not the combiner's fixed size). Records wait in
  // a small ring whose slots were prefetched when they arrived, so that a fold rarely waits on
  // memory; they are still folded in arrival order.
  bool Add(std::string_view key, std::string_view value) {
    if (key.size() != 8 || value.size() != value_size_ || value_size_ == 0 || value_size_ > kMaxValue) return false;
    uint64_t k;
    std::memcpy(&k, key.data(), 8);
    k = __builtin_bswap64(k);
    if (k >= limit_) return false;
    if (k >= size_) Grow(k);
    __builtin_prefetch(values_.data() + k * value_size_, 1);
    __builtin_prefetch(&touched_[k >> 6], 1);
    Pending& p = ring_[head_];
    if (pending_ == kAhead) {
      Fold(p.key, p.value);
    } else {
      ++pending_;
    }
    p.key = k;
    std::memcpy(p.value, value.data(), value_size_);
    head_ = (head_ + 1) % kAhead;
    return true;
  }
  bool empty() const { return count_ == 0 && pending_ == 0; }

  // The folded entries in (partition, key) order: fn(partition, key, value) for each.
  template <typename Fn>
  void ForEachSorted(const Partitioner* partitioner, int num_partitions, Fn&& fn) {
    FoldPending();
    Order(partitioner, num_partitions);
    char key[8];
    for (size_t i = 0; i < ordered_.size(); ++i) {
      uint64_t k = ordered_[i];
      uint64_t be = __builtin_bswap64(k);
      std::memcpy(key, &be, 8);
      fn(static_cast<int32_t>(partition_of_[i]), std::string_view(key, 8),
         std::string_view(values_.data() + k * value_size_, value_size_));
    }
  }
  // Forgets the entries; keeps the array for the next spill or task.
  void Clear();

 private:
  static constexpr int kAhead = 16;
  static constexpr size_t kMaxValue = 16;
  struct Pending {
    uint64_t key;
    char value[kMaxValue];
  };
  void Fold(uint64_t k, const char* value) {
    char* slot = values_.data() + k * value_size_;
    uint64_t& word = touched_[k >> 6];
    uint64_t bit = uint64_t{1} << (k & 63);
    if (word & bit) {
      combiner_->CombineFixed(slot, value);
    } else {
      std::memcpy(slot, value, value_size_);
      word |= bit;
      ++count_;
    }
  }
  void FoldPending();
  void Grow(uint64_t key);
  void Order(const Partitioner* partitioner, int num_partitions);

  const Combiner* combiner_ = nullptr;
  size_t value_size_ = 0;
  uint64_t limit_ = 0;  // keys below it fold here
  uint64_t size_ = 0;   // keys the array holds now
  size_t count_ = 0;
  std::vector<char> values_;
  std::vector<uint64_t> touched_;  // a bit per key
  std::vector<uint64_t> ordered_;  // keys by (partition, key), built by Order
  std::vector<uint32_t> partition_of_;
  Pending ring_[kAhead];
  int head_ = 0;  // the oldest pending record when the ring is full, else the next free slot
  int pending_ = 0;
};

}  // namespace sawmill
