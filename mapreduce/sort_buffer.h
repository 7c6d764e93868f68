// The map-side sort buffer: records appended to one reusable arena, with 16-byte index entries
// (partition, 8-byte key prefix, record offset) growing down from the arena's end, sorted by
// (partition, key, emit order) before a spill: a stable radix sort on (partition, prefix) through
// a scratch index kept free below the entries, then the longer keys' ties.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <string_view>
#include <vector>

#include "common/big_buffer.h"

namespace sawmill {

class SortBuffer {
 public:
  struct Entry {
    uint64_t prefix;     // first 8 key bytes, big-endian, zero-padded
    uint32_t partition;
    // The record's offset in the arena (a multiple of 4), or'ed with kExact when the prefix
    // alone gives the key: at most 8 bytes, none of them trailing zeros. Equal prefixes of such
    // keys are equal keys, whose order needs no look at the arena.
    uint32_t offset_bits;
    uint32_t offset() const { return offset_bits & ~kOffsetFlags; }
  };
  static constexpr uint32_t kExact = 1, kOffsetFlags = 3;

  // Reserves `capacity` bytes (at most 4 GiB) once; Clear() keeps them for the next task.
  explicit SortBuffer(size_t capacity);

  // Appends a record; false when it does not fit (spill, Clear, and retry). A record that does
  // not fit an empty buffer never will: callers check Fits() first.
  bool Add(uint32_t partition, std::string_view key, std::string_view value);
  bool Fits(std::string_view key, std::string_view value) const {
    return RecordBytes(key, value) + 2 * sizeof(Entry) <= capacity_;
  }
  // Sorts entries by (partition, key, emit order), within the arena (no memory beyond it for
  // distinct prefixes). entry() reads the sorted order, until the next Clear().
  void Sort();
  void Clear() { data_end_ = 0; index_begin_ = capacity_; sorted_at_ = nullptr; }

  size_t size() const { return (capacity_ - index_begin_) / sizeof(Entry); }
  bool empty() const { return size() == 0; }
  size_t bytes_used() const { return data_end_ + (capacity_ - index_begin_); }
  const Entry& entry(size_t i) const { return sorted_at_[i]; }
  std::string_view key(const Entry& e) const {
    const char* p = buf_.data() + e.offset();
    return {p + 8, Load32(p)};
  }
  void Prefetch(const Entry& e) const { __builtin_prefetch(buf_.data() + e.offset()); }
  std::string_view value(const Entry& e) const {
    const char* p = buf_.data() + e.offset();
    uint32_t klen = Load32(p);
    return {p + 8 + klen, Load32(p + 4)};
  }

 private:
  static size_t RecordBytes(std::string_view k, std::string_view v) { return 8 + k.size() + v.size(); }
  static uint32_t Load32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
  // A run entry re-keyed on the 8 key bytes at one depth: `chunk` (big-endian, zero padded) and
  // `length` = the key's length, capped at depth + 9 (the key goes on past the chunk). Shorter
  // keys, which end before the depth or within the chunk, sort first among equal chunks.
  struct Rekeyed {
    uint64_t chunk;
    uint32_t length;
    uint32_t index;  // into the run
  };
  void SortRun(Entry* b, Entry* e, size_t depth);
  Entry* RadixSortStable(uint32_t partition_diff, uint64_t prefix_diff);
  Entry* entries() const { return reinterpret_cast<Entry*>(buf_.data() + index_begin_); }

  BigBuffer buf_;
  size_t capacity_;
  size_t data_end_ = 0;
  size_t index_begin_;
  Entry* sorted_at_ = nullptr;  // the entries or the scratch below them, after Sort()
  // SortRun's scratch, kept across sorts and tasks: a hot key's run is millions of entries, and
  // fresh vectors would fault in (and zero) their pages on every spill. One per depth level,
  // since a level's keys are still read after recursing into ties.
  std::deque<std::vector<Rekeyed>> rekeyed_;  // a deque: growing keeps references valid
  std::vector<Entry> sorted_;
  std::vector<uint32_t> radix_counts_;
};

}  // namespace sawmill
