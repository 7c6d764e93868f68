// The other side of a map-side join, read by the typed join operators of api/dataflow.h without
// seeing the record file format: one sorted part in order, or every part of a small dataset.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sawmill::df::internal {

// Part `part_name` of the materialized dataset at `dir`, read in key order. Errors throw
// std::runtime_error naming the file (they fail the task).
class SortedPartReader {
 public:
  SortedPartReader(const std::string& dir, const std::string& part_name);
  ~SortedPartReader();
  bool valid() const { return valid_; }
  std::string_view key() const;
  std::string_view value() const;
  void Next();
  // The part's record count as its footer says, at most its size in bytes (a hint).
  uint64_t announced_records() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool valid_ = false;
};

// Every record of the materialized dataset at `dir`, grouped by key: values in part order, then
// record order.
using SideTable = std::unordered_map<std::string, std::vector<std::string>>;
SideTable LoadSideTable(const std::string& dir);
// Every record of the materialized dataset at `dir`, in part order, then record order.
std::vector<std::pair<std::string, std::string>> LoadSideRecords(const std::string& dir);
// The files of the materialized dataset at `dir`, in part order.
std::vector<std::string> SideParts(const std::string& dir);
// Calls fn(key, value) for one part file's records without keeping them (views valid during the
// call); first, if given, expect(n) with the number of records its footer announces (a hint for
// reserving: at most the file's bytes, whatever a damaged footer says).
void ForEachPartRecord(const std::string& file, const std::function<void(std::string_view, std::string_view)>& fn,
                       const std::function<void(uint64_t)>& expect = nullptr);
// The same for every part of the dataset at `dir`, in part order.
void ForEachSideRecord(const std::string& dir, const std::function<void(std::string_view, std::string_view)>& fn);

}  // namespace sawmill::df::internal
