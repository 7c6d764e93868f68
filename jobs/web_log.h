// Web log records shared by the view jobs (sessionize, page_stats, country_stats): payloads
// USER<TAB>PAGE<TAB>LATENCY_MS or raw access log / JSON lines (--log_format), UTC days,
// nearest-rank percentiles.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdio>
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

// The path of a request without its query string or fragment: the page it asks for.
inline std::string_view PagePath(std::string_view target) {
  return target.substr(0, std::min(target.find('?'), target.find('#')));
}

// Reads hits from log records whose payloads are in one of the --log_format formats (docs/logs.md,
// "Views over raw logs"):
//   tsv       USER<TAB>PAGE<TAB>LATENCY_MS (ParseHit);
//   combined  a common or combined log format line: the user is the authenticated user, or the
//             client address when that is "-"; the page is the request path without its query;
//             the latency is the response time after the user agent (logs/log_formats.h);
//   jsonl     a JSON object: members "user" (text), "path" (text, query dropped) and "latency_ms"
//             (a number of milliseconds, rounded).
// A payload that does not parse, or has no latency where the job needs one, is malformed: with
// `strict` the attempt fails naming it, else it is counted in the job's malformed counter.
class HitReader {
 public:
  HitReader(logs::LineFormat format, bool strict, std::string malformed_counter, bool need_latency)
      : format_(format), strict_(strict), counter_(std::move(malformed_counter)), need_latency_(need_latency) {}

  bool Read(std::string_view key, std::string_view value, TaskContext& ctx, LogRecordView* record, Hit* hit) {
    const char* why = "not a log record";
    if (ParseLogRecord(key, value, record) && Parse(record->payload, hit, &why) &&
        (!need_latency_ || format_ == logs::LineFormat::kTsv || hit->latency_ms >= 0 || (why = "no latency", false))) {
      return true;
    }
    if (strict_) {
      throw std::runtime_error(std::string("malformed web log record (") + why + "; --log_format " +
                               logs::LineFormatName(format_) + ")");
    }
    ctx.Increment(counter_);
    return false;
  }

 private:
  bool Parse(std::string_view payload, Hit* hit, const char** why) {
    if (format_ == logs::LineFormat::kCombined) {
      logs::AccessLogLine line;
      if (!logs::ParseAccessLogLine(payload, &line, why)) return false;
      hit->user = line.user == "-" ? line.host : line.user;
      hit->page = PagePath(line.path);
      hit->latency_ms = line.latency_ms;
      if (hit->page.empty()) *why = "no request path";
      return !hit->page.empty();
    }
    if (format_ == logs::LineFormat::kJsonl) {
      if (!logs::FindJsonFields(payload, {"user", "path", "latency_ms"}, json_, why)) return false;
      const logs::JsonField &user_ = json_[0], &page_ = json_[1], &latency_ = json_[2];
      if (user_.kind != logs::JsonKind::kString || user_.text.empty() || page_.kind != logs::JsonKind::kString ||
          PagePath(page_.text).empty()) {
        *why = "no \"user\" or \"path\" text";
        return false;
      }
      hit->user = user_.text;
      hit->page = PagePath(page_.text);
      hit->latency_ms = -1;
      if (latency_.kind == logs::JsonKind::kNumber) {
        double ms = 0;
        auto r = std::from_chars(latency_.text.data(), latency_.text.data() + latency_.text.size(), ms);
        if (r.ec == std::errc() && ms >= 0 && ms < 9e15) hit->latency_ms = static_cast<int64_t>(ms + 0.5);
      }
      return hit->user.find('\0') == std::string_view::npos;
    }
    *why = "want USER<TAB>PAGE<TAB>LATENCY_MS";
    return ParseHit(payload, hit);
  }

  logs::LineFormat format_;
  bool strict_;
  std::string counter_;
  bool need_latency_;
  logs::JsonField json_[3];  // user, path, latency_ms: a jsonl hit's text lives here until the next Read
};

// The --log_format flag's check: one of the formats HitReader reads.
inline bool ValidLogFormat(const char* flag, const std::string& value) {
  auto f = logs::ParseLineFormat(value);
  if (f.ok() && *f != logs::LineFormat::kLines) return true;
  std::fprintf(stderr, "error: --%s %s: want tsv, combined or jsonl\n", flag, value.c_str());
  return false;
}
inline logs::LineFormat LogFormatOf(const std::string& value) {
  auto f = logs::ParseLineFormat(value);
  return f.ok() ? *f : logs::LineFormat::kTsv;
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
