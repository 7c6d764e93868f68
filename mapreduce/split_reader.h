// Reads the records of one input split: text lines (a line belongs to the split holding its
// first byte, so a line crossing a boundary is read exactly once), fixed-width records, or the
// records of a record file's block range.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "mapreduce/input_split.h"
#include "mapreduce/user_code.h"

namespace sawmill {

class SplitReader {
 public:
  virtual ~SplitReader() = default;
  // Next record, or false at the end of the split or on error (see status()).
  virtual bool Next(std::string_view* key, std::string_view* value) = 0;
  virtual const Status& status() const = 0;
  // Byte offset (text, fixed-width) or block offset (record files) of the last record returned.
  virtual uint64_t offset() const = 0;
};

struct SplitReaderOptions {
  InputFormat format = InputFormat::kTextLines;
  size_t fixed_record_bytes = 100;
  size_t fixed_key_bytes = 10;
  size_t chunk_bytes = 1 << 20;        // read size for text and fixed-width input
  // A log split (InputSplit::log_filter, read as a record file) of a text-lines input: each
  // record gives key = its offset (8 bytes big-endian) and value = its payload, the line, and
  // offset() is the record's log offset (docs/logs.md).
  bool log_payload_lines = false;
};

// How a job reads one of its splits: SplitFormat (log segments as record files), the spec's
// fixed-width sizes, and log records of a text-lines input as their payload lines.
SplitReaderOptions SplitReaderOptionsFor(const JobSpec& spec, const InputSplit& split);

Result<std::unique_ptr<SplitReader>> OpenSplit(const InputSplit& split, const SplitReaderOptions& options);

}  // namespace sawmill
