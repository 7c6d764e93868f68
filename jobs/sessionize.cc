// sessionize: per-user sessions of a web log (input logs:STREAM[@FROM,TO] whose payloads are
// USER<TAB>PAGE<TAB>LATENCY_MS, or access log or JSON lines with --log_format). A session ends when a user is inactive for more than --gap_minutes.
// Secondary sort: map output keys are (user, timestamp), grouped by user, so a reducer walks a
// user's events in time order. Output records: (user, START_MS<TAB>END_MS<TAB>EVENTS<TAB>PAGES)
// with PAGES the distinct pages of the session, sorted by user, then session start.
#include <cstring>
#include <set>
#include <string>

#include <gflags/gflags.h>

#include "api/codec.h"
#include "api/logs.h"
#include "api/mapreduce.h"
#include "jobs/web_log.h"

DEFINE_int32(gap_minutes, 30, "Inactivity that ends a session, in minutes (a longer gap starts a new one).");
DEFINE_bool(strict, false, "Fail on a malformed record instead of counting it in sessionize.malformed_records.");
DEFINE_string(log_format, "tsv",
              "How payloads read: tsv (USER<TAB>PAGE<TAB>LATENCY_MS), combined (access log lines as `sawmill logs "
              "append --format combined` keeps them) or jsonl (JSON objects with user, path, latency_ms); "
              "docs/logs.md.");
DEFINE_validator(log_format, &sawmill::weblog::ValidLogFormat);

namespace {

using namespace sawmill;

class HitMapper final : public Mapper {
 public:
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    LogRecordView r;
    weblog::Hit hit;
    if (!hits_.Read(key, value, ctx, &r, &hit)) return;
    // (user, NUL, timestamp): users hold no NUL, so the grouping part is prefix-free.
    out_key_.assign(hit.user);
    out_key_.push_back('\0');
    char ts[8];
    out_key_.append(EncodeInt64(r.timestamp_ms, ts));
    ctx.Emit(out_key_, hit.page);
  }

 private:
  weblog::HitReader hits_{weblog::LogFormatOf(FLAGS_log_format), FLAGS_strict, "sessionize.malformed_records", false};
  std::string out_key_;
};

class SessionReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    std::string_view user = key.substr(0, key.size() - 9);
    const int64_t gap = static_cast<int64_t>(FLAGS_gap_minutes) * 60000;
    std::string_view page;
    bool open = false;
    int64_t start = 0, last = 0, events = 0;
    std::set<std::string> pages;
    auto close = [&] {
      ctx.Emit(user, DecimalString(start) + "\t" + DecimalString(last) + "\t" + DecimalString(events) + "\t" +
                         DecimalString(static_cast<int64_t>(pages.size())));
    };
    while (values.Next(&page)) {
      std::string_view k = values.key();
      int64_t ts = DecodeInt64(k.substr(k.size() - 8));
      if (open && ts - last > gap) {
        close();
        open = false;
      }
      if (!open) {
        open = true;
        start = ts;
        events = 0;
        pages.clear();
      }
      last = ts;
      ++events;
      pages.emplace(page);
    }
    if (open) close();
  }
};

JobSpec MakeSpec() {
  if (FLAGS_gap_minutes < 1) throw UsageError("--gap_minutes must be at least 1");
  JobSpec spec;
  spec.name = "sessionize";
  spec.input_format = InputFormat::kRecordFile;
  spec.mapper = [] { return std::make_unique<HitMapper>(); };
  spec.reducer = [] { return std::make_unique<SessionReducer>(); };
  spec.group_prefix = [](std::string_view key) { return key.size() >= 8 ? key.size() - 8 : key.size(); };
  spec.partition_key = [](std::string_view key, std::string*) {
    return key.size() >= 9 ? key.substr(0, key.size() - 9) : key;
  };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("sessionize: per-user sessions (inactivity gap) of web log records USER<TAB>PAGE<TAB>LATENCY_MS (or "
                 "--log_format combined|jsonl lines); "
                 "output records are (user, START_MS<TAB>END_MS<TAB>EVENTS<TAB>DISTINCT_PAGES).",
                 MakeSpec)
