// Log archives (docs/logs.md): <root>/logs/<stream>/<partition>/<first-offset>.seg, immutable
// record files of (offset, (timestamp, payload)) with consecutive offsets, each with a time index
// <first-offset>.tidx. Archiving is idempotent: offsets already archived must carry the same
// record and are skipped; a gap or a different record for an archived offset is refused.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sawmill::logs {

struct LogRecord {
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;  // milliseconds since the Unix epoch
  std::string payload;
};

// The record file encoding of a log record: key = offset (8 bytes big-endian), value =
// timestamp (8 bytes, big-endian with the sign bit flipped) then the payload.
std::string EncodeOffset(uint64_t offset);
std::string EncodeLogValue(int64_t timestamp_ms, std::string_view payload);
// False when `key`/`value` are not a log record's.
bool DecodeLogRecord(std::string_view key, std::string_view value, uint64_t* offset, int64_t* timestamp_ms,
                     std::string_view* payload);

struct SegmentInfo {
  std::string path;  // the .seg file
  uint64_t first_offset = 0, last_offset = 0;  // inclusive
  int64_t min_time_ms = 0, max_time_ms = 0;
  uint64_t records = 0, bytes = 0;
};

// The directory of a stream's partition under `root` (a local directory or dfs:/...).
std::string PartitionDir(const std::string& root, const std::string& stream, int partition);
// Stream names: [A-Za-z0-9_.-]+, not starting with '.'; partitions >= 0.
Status ValidateStream(const std::string& stream, int partition);

// The partition's segments in offset order (empty when it has none); kCorruption when the
// segments do not follow each other.
Result<std::vector<SegmentInfo>> ListSegments(const std::string& root, const std::string& stream, int partition);
// Streams under root, and the partitions of a stream.
Result<std::vector<std::string>> ListStreams(const std::string& root);
Result<std::vector<int>> ListPartitions(const std::string& root, const std::string& stream);

struct ArchiveOptions {
  uint64_t segment_bytes = 64ull << 20;  // a new segment starts past this many payload bytes
  size_t block_bytes = 64 << 10;
  // Called after the record that fills a segment and after the input's last record: bytes kept
  // beside that segment as <first-offset>.ledger (none when empty; logs/ingest_ledger.h).
  std::function<std::string()> segment_ledger;
};

struct ArchiveResult {
  uint64_t appended = 0;         // new records
  uint64_t already_archived = 0;  // identical records skipped
  std::vector<std::string> segments;  // written
};

// A partition's append lock, <partition dir>/.append.lock, held by one archive or append at a
// time so that two never write the same offsets. Released when destroyed.
class PartitionLock {
 public:
  ~PartitionLock();
  PartitionLock(const PartitionLock&) = delete;
  PartitionLock& operator=(const PartitionLock&) = delete;

 private:
  friend Result<std::unique_ptr<PartitionLock>> LockPartition(const std::string&, const std::string&, int);
  PartitionLock(std::string path, std::string holder) : path_(std::move(path)), holder_(std::move(holder)) {}
  std::string path_, holder_;
};
// Takes the lock, or fails with kUnavailable naming its holder (host, pid, since when). A lock
// left by a dead process on this host is broken; one held from another host has to be removed
// by hand once that process is known to be gone (the message says how).
Result<std::unique_ptr<PartitionLock>> LockPartition(const std::string& root, const std::string& stream,
                                                     int partition);

// Archives records read one at a time from `next` (which returns false at the end, or sets
// *error and returns false on bad input). Offsets must be consecutive. Records at offsets
// already archived must equal the archived ones; nothing is written if one differs
// (kInvalidArgument naming the offset and segment) or if the first new offset leaves a gap.
Result<ArchiveResult> Archive(const std::string& root, const std::string& stream, int partition,
                              const std::function<bool(LogRecord* record, Status* error)>& next,
                              const ArchiveOptions& options = {});
// The same under the partition's lock, which the caller holds, with its segments as listed
// under that lock.
Result<ArchiveResult> ArchiveLocked(const std::string& root, const std::string& stream, int partition,
                                    const std::vector<SegmentInfo>& segments,
                                    const std::function<bool(LogRecord* record, Status* error)>& next,
                                    const ArchiveOptions& options);

// --- Input selection: logs:STREAM[/PARTITION][@FROM,TO] ---
// FROM and TO are offsets (digits) or UTC times (2026-12-03T10:00:00Z, optional .mmm), either
// may be empty; the range is [FROM, TO). Offsets count per partition.

// Where logs: inputs are found: set by --store in local mode; else the registered store (dfs:/).
void SetStoreRoot(std::string root);
Result<std::string> StoreRoot();

bool IsLogInput(const std::string& input);

// The part of one segment a logs: input selects: the blocks that may hold selected records and
// the inclusive bounds records must fall in.
struct LogSelection {
  std::string path;
  uint64_t first_block = 0, end_block = 0;
  bool filtered = false;  // a range was given
  uint64_t min_offset = 0, max_offset = ~uint64_t{0};
  int64_t min_time_ms = INT64_MIN, max_time_ms = INT64_MAX;
};
// The segments of every selected partition that hold records in the range, in (partition,
// offset) order. kInvalidArgument for a malformed spec, kNotFound for a stream that has none.
Result<std::vector<LogSelection>> ResolveLogInput(const std::string& input);

}  // namespace sawmill::logs
