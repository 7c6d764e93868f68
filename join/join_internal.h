// Pieces the join strategies share (not for job authors): reading one side's rows with the
// malformed-row rules, and a side's rows loaded whole into a hash table.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/big_buffer.h"
#include "common/status.h"
#include "join/join.h"

namespace sawmill {

// Applies a side's extractor to the records a mapper sees; counts malformed records in
// join.malformed_rows and reports the first few on stderr with file and line (text inputs) or
// block (record files), or, under JoinDef::strict, throws so the task fails with that message.
class JoinRowReader {
 public:
  // quiet: count malformed records but print nothing (planning's samples; tasks report them).
  JoinRowReader(const JoinDef& def, int side, bool quiet = false) : def_(def), side_(side), quiet_(quiet) {}
  // False: skip the record. The views stay valid until the next call.
  bool Extract(std::string_view key, std::string_view value, TaskContext& ctx, std::string_view* join_key,
               std::string_view* payload);

 private:
  void Malformed(TaskContext& ctx, const std::string& path, uint64_t offset, const std::string& why);

  const JoinDef& def_;
  int side_;
  bool quiet_;
  std::string payload_, scratch_;
  int reported_ = 0;
};

// Every row of one side (a file or a directory of part files), in input order, by join key.
// Rows of a key keep their input order. Built once and shared read-only. Open addressing over
// 32-byte slots holding the key's hash and, for keys up to 16 bytes, the key itself: a probe of
// a short key touches one cache line, and Prefetch lets a caller overlap a batch of probes.
class JoinHashTable {
 public:
  struct Row {
    uint64_t payload_offset;
    uint32_t payload_size;
    uint32_t key_id;  // dense, in first-appearance order
    int32_t next;     // next row of the same key, -1 at the end
  };
  // Reads `files` (in order) with the side's format and extractor; malformed records follow the
  // def's rules (counted into *malformed). Errors name the file.
  static Result<std::unique_ptr<JoinHashTable>> Load(const JoinDef& def, int side, const std::vector<std::string>& files,
                                                     uint64_t* malformed);

  static uint64_t HashOf(std::string_view key);
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slot(hash & mask_)); }
  // First row of `key` and its key id, or -1.
  int32_t Find(std::string_view key, uint32_t* key_id) const {
    int32_t r = FindHashed(key, HashOf(key));
    if (r >= 0) *key_id = rows_[static_cast<size_t>(r)].key_id;
    return r;
  }
  // First row of `key`, or -1; `hash` is HashOf(key). Touches only the slot for short keys.
  int32_t FindHashed(std::string_view key, uint64_t hash) const {
    for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slot(i);
      if (s.first_plus1 == 0) return -1;
      if (s.hash == hash && s.size == key.size() && SameKey(s, key)) return s.first_plus1 - 1;
    }
  }
  void PrefetchRow(int32_t r) const { __builtin_prefetch(&rows_[static_cast<size_t>(r)]); }
  void PrefetchPayload(int32_t r) const {
    __builtin_prefetch(arena_.data() + rows_[static_cast<size_t>(r)].payload_offset);
  }
  const Row& row(int32_t i) const { return rows_[static_cast<size_t>(i)]; }
  std::string_view payload(const Row& r) const { return {arena_.data() + r.payload_offset, r.payload_size}; }
  std::string_view key(uint32_t key_id) const {
    return {key_arena_.data() + keys_[key_id].offset, keys_[key_id].size};
  }
  size_t rows() const { return rows_.size(); }
  size_t keys() const { return keys_.size(); }
  uint64_t bytes() const { return arena_.size() + key_arena_.size(); }

  // Adds a row (Load's building block; also for tests).
  void Add(std::string_view key, std::string_view payload);

  // Room for about `rows` rows of `payload_bytes` in all, without growing.
  void Reserve(uint64_t rows, uint64_t payload_bytes);

  JoinHashTable() { Grow(); }

 private:
  static constexpr size_t kInline = 16;
  struct Slot {
    uint64_t hash = 0;
    int32_t first_plus1 = 0;  // the key's first row + 1; 0: empty
    uint32_t size = 0;
    char inline_key[kInline];
  };
  struct KeyEntry {
    uint64_t offset;
    uint32_t size;
    int32_t first, last;
  };
  bool SameKey(const Slot& s, std::string_view key) const {
    if (key.size() <= kInline) return std::memcmp(s.inline_key, key.data(), key.size()) == 0;
    const KeyEntry& k = keys_[rows_[static_cast<size_t>(s.first_plus1 - 1)].key_id];
    return std::memcmp(key_arena_.data() + k.offset, key.data(), key.size()) == 0;
  }
  void Grow(uint64_t factor = 2);
  void AddHashed(std::string_view key, std::string_view payload, uint64_t hash);
  Slot& slot(uint64_t i) const { return reinterpret_cast<Slot*>(slots_.data())[i]; }

  // Slots live in huge pages (zeroed: all empty): a probe of a large table would otherwise miss
  // the TLB as well as the cache. A power of two of them, at most half full.
  BigBuffer slots_;
  uint64_t mask_ = 0;
  std::vector<KeyEntry> keys_;
  std::string key_arena_;
  std::vector<Row> rows_;  // input order
  std::string arena_;      // payloads
};

}  // namespace sawmill
