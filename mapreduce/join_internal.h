// Pieces the join strategies share (not for job authors): reading one side's rows with the
// malformed-row rules, and a side's rows loaded whole into a hash table.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "mapreduce/join.h"

namespace sawmill {

// Applies a side's extractor to the records a mapper sees; counts malformed records in
// join.malformed_rows and reports the first few on stderr with file and line (text inputs) or
// block (record files), or, under JoinDef::strict, throws so the task fails with that message.
class JoinRowReader {
 public:
  JoinRowReader(const JoinDef& def, int side) : def_(def), side_(side) {}
  // False: skip the record. The views stay valid until the next call.
  bool Extract(std::string_view key, std::string_view value, TaskContext& ctx, std::string_view* join_key,
               std::string_view* payload);

 private:
  void Malformed(TaskContext& ctx, const std::string& path, uint64_t offset, const std::string& why);

  const JoinDef& def_;
  int side_;
  std::string payload_, scratch_;
  int reported_ = 0;
};

// Every row of one side (a file or a directory of part files), in input order, by join key.
// Rows of a key keep their input order. Built once and shared read-only.
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
  // First row of `key` and its key id, or -1.
  int32_t Find(std::string_view key, uint32_t* key_id) const {
    auto it = index_.find(key);
    if (it == index_.end()) return -1;
    *key_id = it->second.id;
    return it->second.first;
  }
  const Row& row(int32_t i) const { return rows_[static_cast<size_t>(i)]; }
  std::string_view payload(const Row& r) const { return {arena_.data() + r.payload_offset, r.payload_size}; }
  std::string_view key(uint32_t key_id) const { return *keys_[key_id]; }
  size_t rows() const { return rows_.size(); }
  size_t keys() const { return keys_.size(); }
  uint64_t bytes() const { return arena_.size(); }

  // Adds a row (Load's building block; also for tests).
  void Add(std::string_view key, std::string_view payload);

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  struct Entry {
    int32_t first, last;
    uint32_t id;
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> index_;
  std::vector<const std::string*> keys_;  // by id; point at index_'s keys (stable nodes)
  std::vector<Row> rows_;                 // input order
  std::string arena_;                     // payloads
};

}  // namespace sawmill
