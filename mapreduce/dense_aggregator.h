// Map-side aggregation for dense integer keys: 8-byte big-endian keys below a limit (ids
// numbered from 0) with fixed-size values fold into an array indexed by the key, with no
// hashing, probing or sorting. The hash aggregator takes every other record.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/big_buffer.h"
#include "mapreduce/user_code.h"
#include "mapreduce/user_code_errors.h"

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
      try {
        combiner_->CombineFixed(slot, value);
      } catch (...) {
        // The combiner's exception (e.g. an int64 sum past its range) leaves naming the key.
        uint64_t be = __builtin_bswap64(k);
        RethrowNamingKey(std::string_view(reinterpret_cast<const char*>(&be), 8));
      }
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
  // On huge pages: they grow to millions of keys in a task's first spill (PageRank's degrees).
  HugeVector<char> values_;
  HugeVector<uint64_t> touched_;  // a bit per key
  HugeVector<uint64_t> ordered_;  // keys by (partition, key), built by Order
  HugeVector<uint32_t> partition_of_;
  HugeVector<uint32_t> part_;  // Order's scratch: each touched key's partition, in key order
  Pending ring_[kAhead];
  int head_ = 0;  // the oldest pending record when the ring is full, else the next free slot
  int pending_ = 0;
};

// The same for an appending combiner (Combiner::appends) and dense keys: values are kept in
// arrival order and gathered per key by a counting sort on the key at spill time, instead of
// growing a string per key through the hash table.
class DenseLists {
 public:
  // Keys below max_bytes / 16 are taken; Full() once the values and their index reach max_bytes.
  void Reset(size_t max_bytes);
  bool Add(std::string_view key, std::string_view value) {
    if (key.size() != 8) return false;
    uint64_t k;
    std::memcpy(&k, key.data(), 8);
    k = __builtin_bswap64(k);
    if (k >= limit_) return false;
    Record r{static_cast<uint32_t>(k), static_cast<uint32_t>(value.size()), 0};
    if (value.size() <= sizeof r.data) {
      std::memcpy(&r.data, value.data(), value.size());
    } else {
      r.data = arena_.size();
      arena_.insert(arena_.end(), value.begin(), value.end());
    }
    records_.push_back(r);
    value_bytes_ += value.size();
    if (k > max_key_) max_key_ = k;
    return true;
  }
  bool Full() const { return arena_.size() + records_.size() * sizeof(Record) >= max_bytes_ || value_bytes_ > (1u << 31); }
  bool empty() const { return records_.empty(); }
  // fn(partition, key, the key's values concatenated in arrival order) in (partition, key) order.
  template <typename Fn>
  void ForEachSorted(const Partitioner* partitioner, int num_partitions, Fn&& fn) {
    Order(partitioner, num_partitions);
    char key[8];
    for (uint64_t k : group_key_) {
      uint64_t be = __builtin_bswap64(k);
      std::memcpy(key, &be, 8);
      fn(static_cast<int32_t>(partition_of_[k]), std::string_view(key, 8),
         std::string_view(gathered_.data() + at_[k] - tally_[k].bytes, tally_[k].bytes));
    }
  }
  void Clear();

 private:
  // A value of up to 8 bytes (a list element: an id, a number) is kept in its record, not in
  // the arena: one array to fill and scan instead of two (PageRank's in-links: 16 of 24 bytes
  // an edge, and the arena's pages never touched).
  struct Record {
    uint32_t key;   // below limit_, which is below 2^32
    uint32_t size;
    uint64_t data;  // the value's bytes if size <= 8, else its offset in arena_
  };
  void Order(const Partitioner* partitioner, int num_partitions);

  size_t max_bytes_ = 0;
  uint64_t limit_ = 0;
  uint64_t max_key_ = 0;
  size_t value_bytes_ = 0;  // of the records' values, inline or in the arena
  // Reserved for max_bytes at the first Reset: no copies as they grow. On ordinary pages, not
  // huge ones: they are filled and read in order (a TLB miss per 4 KiB is cheap then), mostly
  // on a process's first stage, and on our VMs a huge page's first touch costs 2-3x a 4 KiB
  // page's per byte (0.5-0.8 against 1.9 GB/s zeroed). The scratch below is read at random.
  std::vector<Record> records_;
  std::vector<char> arena_;
  // Order's results: the values regrouped by key (each key's in arrival order), and the keys
  // in (partition, key) order. Per key below max_key_: its values' bytes and record count (one
  // entry: one cache miss per record), where they end in gathered_ (once gathered), its
  // partition.
  struct Tally {
    uint32_t bytes = 0, count = 0;
  };
  HugeVector<char> gathered_;
  HugeVector<uint64_t> group_key_;
  HugeVector<Tally> tally_;
  HugeVector<uint32_t> at_, partition_of_;
};

}  // namespace sawmill
