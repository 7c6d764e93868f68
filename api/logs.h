// Log records as the mapper of a record-file (or fixed-width) job sees them (an input
// logs:STREAM[@FROM,TO], docs/logs.md): key = the offset, value = the timestamp then the payload.
// A text-lines job gets the payload alone as its line (key = the offset), with no timestamp.
#pragma once

#include <cstdint>
#include <string_view>

#include "logs/log_archive.h"
#include "logs/log_formats.h"  // raw log lines in payloads: access logs, JSON, RFC 3339

namespace sawmill {

struct LogRecordView {
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::string_view payload;  // valid while the mapper's (key, value) are
};

// False when (key, value) is not a log record (e.g. the input was not a logs: selection).
inline bool ParseLogRecord(std::string_view key, std::string_view value, LogRecordView* r) {
  return logs::DecodeLogRecord(key, value, &r->offset, &r->timestamp_ms, &r->payload);
}

}  // namespace sawmill
