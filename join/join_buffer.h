// The buffered side of a reduce-side join (docs/joins.md item 3): one join key's left rows, kept
// in memory up to a byte budget with the overflow appended to a spill record file, replayable.
#pragma once

#include <glog/logging.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "records/record_file.h"

namespace sawmill {

// Holds the rows of one key's buffered side. Usage per key: Clear(), Add() every buffered row,
// then ForEach() once per streamed row. Rows fill memory first; once one row does not fit, it
// and every later row of the key go to the spill file, so replay order is Add order. Not
// thread-safe: one reduce task owns it.
class JoinBuffer {
 public:
  struct Options {
    // The overflow file, in the attempt's private work dir (local or dfs: path). Created on the
    // first spill of a key, removed by Clear() and the destructor. Empty: spilling fails.
    std::string spill_path;
    // Budget for in-memory rows: row bytes plus kRowOverhead per row. Allocation grows with the
    // rows up to about this (memory_capacity()) and is kept across keys.
    size_t memory_bytes = 64 << 20;
    size_t block_bytes = 64 << 10;  // record-file block size of the spill
    bool compress_spill = true;     // LZ4 spill blocks (stored raw when LZ4 does not shrink them)
  };
  // Bytes charged per in-memory row on top of its own bytes: its end offset.
  static constexpr size_t kRowOverhead = sizeof(size_t);

  explicit JoinBuffer(Options options);
  ~JoinBuffer();  // removes the spill file
  JoinBuffer(const JoinBuffer&) = delete;
  JoinBuffer& operator=(const JoinBuffer&) = delete;

  // Starts the next key: forgets all rows and error state. O(1) unless the key spilled (then the
  // spill file is closed and removed). Memory capacity is kept.
  void Clear() {
    arena_.clear();
    ends_.clear();
    memory_charged_ = 0;
    replayed_ = false;
    if (spilling_ || !error_.ok()) ResetSpill();
  }

  // Appends a copy of `row`. Must not follow a ForEach without a Clear between (a CHECK: the
  // spill is finished by then). Fails when the spill cannot be created or written (the message
  // names the file); after a failure the buffer refuses Add and ForEach until Clear.
  Status Add(std::string_view row) {
    CHECK(!replayed_) << "JoinBuffer::Add after ForEach without Clear (spill "
                      << options_.spill_path << ")";
    const size_t charge = row.size() + kRowOverhead;
    if (!spilling_ && charge <= options_.memory_bytes - memory_charged_) {
      if (arena_.size() + row.size() > arena_.capacity()) GrowArena(row.size());
      if (ends_.size() == ends_.capacity()) GrowEnds();
      arena_.insert(arena_.end(), row.begin(), row.end());
      ends_.push_back(arena_.size());
      memory_charged_ += charge;
      return Status::Ok();
    }
    return Spill(row);
  }

  uint64_t rows() const { return ends_.size() + spilled_rows_; }
  bool spilled() const { return spilled_rows_ > 0; }
  uint64_t spilled_rows() const { return spilled_rows_; }
  uint64_t memory_rows() const { return ends_.size(); }
  // Row bytes (not file bytes) written to the spill for the current key.
  uint64_t spilled_bytes() const { return spilled_bytes_; }
  // Bytes allocated for memory rows (arena and offsets), kept across keys. Growth is capped by
  // the budget, so this stays near memory_bytes (slightly over only by offsets reserved ahead).
  size_t memory_capacity() const { return arena_.capacity() + ends_.capacity() * kRowOverhead; }
  const Options& options() const { return options_; }

  // Calls fn(std::string_view row) for every row in Add order: the memory rows, then the spill
  // file read back sequentially. A view passed to fn is valid only during that call; fn must
  // not call Add or Clear. May be called any number of times. Fails (naming the spill file)
  // when the spill cannot be finished or read back, or is corrupt; fn has then seen a prefix of
  // the rows, so the caller must fail the task rather than go on.
  // A template so that the per-row call inlines (ForEach runs once per streamed row).
  template <typename Fn>
  Status ForEach(Fn&& fn) {
    replayed_ = true;
    if (!error_.ok()) return error_;
    const char* base = arena_.data();
    size_t begin = 0;
    for (size_t end : ends_) {
      fn(std::string_view(base + begin, end - begin));
      begin = end;
    }
    if (!spilling_) return Status::Ok();
    RETURN_IF_ERROR(OpenSpill());
    RecordIterator it = reader_->NewIterator();
    uint64_t n = 0;
    while (it.Next()) {
      fn(it.value());
      ++n;
    }
    return CheckReplay(it.status(), n);
  }

 private:
  void GrowArena(size_t row_bytes);
  void GrowEnds();
  Status Spill(std::string_view row);
  // Finishes the writer and opens the reader, once per key.
  Status OpenSpill();
  Status CheckReplay(const Status& iter_status, uint64_t rows_read);
  // Drops the writer and reader and removes the spill file (if any was created).
  void ResetSpill();

  Options options_;
  std::vector<char> arena_;   // the memory rows, back to back (vector: reserve is exact)
  std::vector<size_t> ends_;  // end offset of each memory row in arena_
  size_t memory_charged_ = 0;
  bool spilling_ = false;      // a row of this key went to the spill; all later rows do too
  bool replayed_ = false;      // ForEach ran since the last Clear
  bool file_created_ = false;  // the spill file exists on disk (since the last ResetSpill)
  uint64_t spilled_rows_ = 0;
  uint64_t spilled_bytes_ = 0;
  std::unique_ptr<RecordFileWriter> writer_;  // open until the first ForEach of a spilled key
  std::unique_ptr<RecordFileReader> reader_;  // after that
  Status error_;                              // sticky until Clear
};

}  // namespace sawmill
