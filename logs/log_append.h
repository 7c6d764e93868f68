// `sawmill logs append`: raw log files (web server access logs, JSON lines, plain lines) appended
// to a partition as records, each line once, however often a file is appended, grows or is
// rotated and compressed: the partition's ingestion ledger (logs/ingest_ledger.h) remembers how
// far each source has been read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "logs/log_archive.h"
#include "logs/log_formats.h"

namespace sawmill::logs {

struct AppendOptions {
  LineFormat format = LineFormat::kLines;
  std::string time_field = "time";  // jsonl: the member holding the time
  bool skip_bad = false;            // count lines without a parsable time instead of failing
  int64_t now_ms = 0;               // the time of `lines` records and of the ledger's entries
  ArchiveOptions archive;
};

struct AppendedSource {
  std::string path;
  std::string continues;      // the ledger's name for the source it continued; empty: new
  uint64_t skipped_bytes = 0;  // already appended before this run
  uint64_t appended = 0, bad = 0;
  bool partial_line = false;   // an unterminated last line waits for its end
  bool shorter = false;        // shorter than what was appended from it: nothing read
};

struct AppendResult {
  ArchiveResult archive;
  uint64_t first_offset = 0;  // of the first appended record
  std::vector<AppendedSource> sources;
  uint64_t bad = 0;
  std::vector<std::string> bad_examples;  // "FILE:LINE: why" for the first few
};

// Appends the new complete lines of `files` (local paths or dfs:/..., read in the order given;
// .gz/.zst/.bz2 and files with those formats' magic bytes decompressed) to stream/partition
// under `root`. A line without a parsable time fails the append (kInvalidArgument naming the
// file and line; nothing written) unless options.skip_bad. Another append or archive of the
// partition running at the same time makes this one fail (kUnavailable) before it reads anything.
Result<AppendResult> Append(const std::string& root, const std::string& stream, int partition,
                            const std::vector<std::string>& files, const AppendOptions& options);

}  // namespace sawmill::logs
