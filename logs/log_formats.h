// Raw log lines as servers write them (docs/logs.md, "Appending raw log files"): the time a line
// carries, for `sawmill logs append`, and the fields the web-log views read (user, page, latency).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sawmill::logs {

// How appended lines are read, and how the views read their payloads. kTsv is the views' own
// USER<TAB>PAGE<TAB>LATENCY_MS payload (not an append format).
enum class LineFormat { kLines, kCombined, kJsonl, kTsv };
const char* LineFormatName(LineFormat f);
// "lines", "combined" (also the common log format), "jsonl", "tsv"; kInvalidArgument otherwise.
Result<LineFormat> ParseLineFormat(std::string_view name);

// Days since 1970-01-01 of a proleptic Gregorian date, with no time zone involved.
int64_t DaysFromCivil(int year, int month, int day);

// "10/Oct/2000:13:55:36 -0700" (the text between a common log line's brackets) -> ms since the
// epoch, UTC.
bool ParseAccessLogTime(std::string_view text, int64_t* ms);
// RFC 3339: "2026-12-06T14:03:00Z", "2026-12-06 14:03:00.123456+01:00" ('T', 't' or ' '; 'Z',
// 'z' or an offset; fractional seconds of any length, truncated to milliseconds).
bool ParseRfc3339(std::string_view text, int64_t* ms);

// A common or combined log format line:
//   HOST IDENT USER [TIME] "REQUEST" STATUS BYTES ["REFERER" "AGENT" [EXTRA...]]
// `latency_ms` is read from the first field after the agent, where servers configured for it put
// the response time: with a decimal point it is seconds (nginx $request_time, "0.042"), without
// one milliseconds (Apache %{ms}T); -1 when the line has none.
struct AccessLogLine {
  std::string_view host, user, method, path, protocol, referer, agent;
  int64_t time_ms = 0;
  int status = 0;
  int64_t latency_ms = -1;
};
// False (with *why set) for a line that is not in the format.
bool ParseAccessLogLine(std::string_view line, AccessLogLine* out, const char** why);
// The time of a line whose time is the first [...] group (what append needs of other fields:
// nothing). False with *why set when there is none or it does not parse.
bool AccessLogLineTime(std::string_view line, int64_t* ms, const char** why);

// One top-level field of a JSON object line. kMissing also covers a line that is not an object.
enum class JsonKind { kMissing, kString, kNumber, kOther };
struct JsonField {
  JsonKind kind = JsonKind::kMissing;
  std::string text;  // a string's unescaped UTF-8, or a number's text
};
// Finds `name` among the top-level members of the object on `line` (later duplicates win, as in
// most parsers). False with *why set when the line is not one well-formed JSON object.
bool FindJsonField(std::string_view line, std::string_view name, JsonField* out, const char** why);
// The same for several members in one pass over the line: out[i] for names[i].
bool FindJsonFields(std::string_view line, std::initializer_list<std::string_view> names, JsonField* out,
                    const char** why);
// The time in `field`: RFC 3339 text or an integer of epoch milliseconds.
bool JsonFieldTime(const JsonField& field, int64_t* ms, const char** why);

}  // namespace sawmill::logs
