// An append-only journal file (the namenode's edits, the coordinator's jobs): length-prefixed,
// checksummed records, appended in batches with one write + fdatasync each, and a reader that
// recovers the valid prefix.
//
// Record: [u32 payload length][u64 XXH3 of (the 4 length bytes, payload)][payload], little-endian.
// The payload is opaque here (the namenode's NamespaceStore and the coordinator each put one
// capnp record in each).
//
// The file is preallocated with zeros in kJournalPreallocBytes steps and records overwrite the
// zeros: an fdatasync then flushes data only, with no file-system metadata commit, which on a
// disk shared with datanodes would wait for their dirty block data (seconds). An all-zero
// record header (never a valid record) marks the end of the journal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sawmill {

inline constexpr size_t kJournalHeaderBytes = 12;
inline constexpr uint64_t kJournalPreallocBytes = 1 << 20;
// A larger length can only be corruption; refusing it keeps a bad length from allocating.
inline constexpr uint32_t kMaxJournalPayload = 64u << 20;

class JournalWriter {
 public:
  // Opens `path` for appending after its last valid record, creating it if missing. The caller
  // has cut any torn tail first (ReadJournal with truncate).
  static Result<std::unique_ptr<JournalWriter>> Open(const std::string& path);
  ~JournalWriter();
  // Buffers one record (group commit: several Appends, then one Sync).
  void Append(std::string_view payload);
  // Writes the buffered records and fdatasyncs. After a failure the file's tail is unknown, so
  // every later call fails with the same error.
  Status Sync();

  // Group commit across threads (the namenode's): AppendReserved buffers a record after writing
  // the zeros it will overwrite, so that a full disk fails that record alone, before it is
  // anywhere, never a batch holding others' records. Under the lock that orders the appends,
  // TakePending moves the buffered records out and says where they go; WriteDurably writes them
  // there and fdatasyncs outside that lock, one batch at a time, while appends go on.
  struct Batch {
    uint64_t offset = 0;
    std::string bytes;
  };
  Status AppendReserved(std::string_view payload);
  Batch TakePending();
  Status WriteDurably(const Batch& batch);
  uint64_t size() const { return size_; }  // bytes of records (the file is longer: zeros)
  const std::string& path() const { return path_; }

 private:
  JournalWriter(std::string path, int fd, uint64_t size, uint64_t allocated)
      : path_(std::move(path)), fd_(fd), size_(size), allocated_(allocated) {}
  Status WriteAt(uint64_t offset, const char* data, size_t n);
  // Zeros up to the kJournalPreallocBytes step past `need` bytes, so that records land on
  // allocated, initialized blocks.
  Status Reserve(uint64_t need);
  std::string path_;
  int fd_;
  uint64_t size_;
  uint64_t allocated_;  // file length: records, then zeros
  std::string pending_;
  Status failed_;
};

struct JournalReadResult {
  uint64_t records = 0;        // valid records passed to the callback
  uint64_t valid_bytes = 0;    // length of the valid prefix
  uint64_t dropped_bytes = 0;  // bytes after it that are not preallocated zeros: a torn or corrupt tail
  std::string drop_reason;     // why the tail was dropped ("" when none), naming path and offset
};

// Calls `fn` on each record of the valid prefix, in order; stops at the first truncated or
// corrupt record, which with everything after it counts as dropped. With `truncate`, the file is
// cut to the valid prefix so that appends continue from there. An error from `fn` is returned.
Result<JournalReadResult> ReadJournal(const std::string& path,
                                      const std::function<Status(std::string_view payload)>& fn,
                                      bool truncate);

}  // namespace sawmill
