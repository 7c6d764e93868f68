// page_stats: per page and UTC day, from web log records (input logs:STREAM[@FROM,TO] whose
// payloads are USER<TAB>PAGE<TAB>LATENCY_MS, or access log or JSON lines with --log_format): hits,
// unique users and latency percentiles (nearest rank). Output records: (PAGE<TAB>YYYY-MM-DD, HITS<TAB>USERS<TAB>P50<TAB>P95<TAB>P99),
// sorted by page, then day.
#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include <gflags/gflags.h>

#include "api/codec.h"
#include "api/logs.h"
#include "api/mapreduce.h"
#include "jobs/web_log.h"

DEFINE_bool(strict, false, "Fail on a malformed record instead of counting it in page_stats.malformed_records.");
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
    out_key_.assign(hit.page);
    out_key_ += '\t';
    out_key_ += weblog::UtcDay(r.timestamp_ms);
    char buf[8];
    out_value_.assign(EncodeInt64(hit.latency_ms, buf));
    out_value_.append(hit.user);
    ctx.Emit(out_key_, out_value_);
  }

 private:
  weblog::HitReader hits_{weblog::LogFormatOf(FLAGS_log_format), FLAGS_strict, "page_stats.malformed_records", true};
  std::string out_key_, out_value_;
};

class StatsReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    latencies_.clear();
    users_.clear();
    std::string_view v;
    while (values.Next(&v)) {
      latencies_.push_back(DecodeInt64(v.substr(0, 8)));
      users_.emplace(v.substr(8));
    }
    std::sort(latencies_.begin(), latencies_.end());
    auto rank = [&](int p) { return weblog::NearestRank(latencies_, p); };
    ctx.Emit(key, DecimalString(static_cast<int64_t>(latencies_.size())) + "\t" +
                      DecimalString(static_cast<int64_t>(users_.size())) + "\t" + DecimalString(rank(50)) + "\t" +
                      DecimalString(rank(95)) + "\t" + DecimalString(rank(99)));
  }

 private:
  std::vector<int64_t> latencies_;
  std::unordered_set<std::string> users_;
};

JobSpec MakeSpec() {
  JobSpec spec;
  spec.name = "page_stats";
  spec.input_format = InputFormat::kRecordFile;
  spec.mapper = [] { return std::make_unique<HitMapper>(); };
  spec.reducer = [] { return std::make_unique<StatsReducer>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("page_stats: hits, unique users and latency percentiles per page and UTC day of web log records "
                 "USER<TAB>PAGE<TAB>LATENCY_MS (or --log_format combined|jsonl lines); output records are (PAGE<TAB>DAY, HITS<TAB>USERS<TAB>P50<TAB>P95<TAB>P99).",
                 MakeSpec)
