// Web log records shared by the view jobs (sessionize, page_stats, country_stats): payloads
// USER<TAB>PAGE<TAB>LATENCY_MS, UTC days, nearest-rank percentiles.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "api/logs.h"
#include "api/mapreduce.h"

namespace sawmill::weblog {

struct Hit {
  std::string_view user, page;
  int64_t latency_ms = 0;
};

// USER<TAB>PAGE<TAB>LATENCY_MS with a non-empty user and page, a decimal latency and no NUL in
// the user; false for anything else.
inline bool ParseHit(std::string_view payload, Hit* hit) {
  size_t t1 = payload.find('\t');
  if (t1 == std::string_view::npos || t1 == 0) return false;
  size_t t2 = payload.find('\t', t1 + 1);
  if (t2 == std::string_view::npos || t2 == t1 + 1) return false;
  hit->user = payload.substr(0, t1);
  hit->page = payload.substr(t1 + 1, t2 - t1 - 1);
  const char* end = payload.data() + payload.size();
  auto r = std::from_chars(payload.data() + t2 + 1, end, hit->latency_ms);
  return r.ec == std::errc() && r.ptr == end && hit->user.find('\0') == std::string_view::npos;
}

// A map task's log record as a hit. A malformed record throws with `strict` (the attempt fails
// naming it), else is counted in `malformed_counter` and gives false.
inline bool ReadHit(std::string_view key, std::string_view value, bool strict, std::string_view malformed_counter,
                    TaskContext& ctx, LogRecordView* record, Hit* hit) {
  if (ParseLogRecord(key, value, record) && ParseHit(record->payload, hit)) return true;
  if (strict) throw std::runtime_error("malformed web log record (want USER<TAB>PAGE<TAB>LATENCY_MS)");
  ctx.Increment(malformed_counter);
  return false;
}

// "YYYY-MM-DD" of a time in ms since the epoch, in UTC.
inline std::string UtcDay(int64_t ms) {
  time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm t;
  gmtime_r(&secs, &t);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &t);
  return buf;
}

// The p-th percentile of sorted, non-empty values by nearest rank: the ceil(p% of n)-th smallest.
inline int64_t NearestRank(const std::vector<int64_t>& sorted, int p) {
  size_t r = (static_cast<size_t>(p) * sorted.size() + 99) / 100;
  return sorted[std::max<size_t>(r, 1) - 1];
}

}  // namespace sawmill::weblog
