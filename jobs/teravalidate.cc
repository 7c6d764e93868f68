// teravalidate: checks that a sorted output is in order within and across its parts, and that it
// holds the same multiset of records as a reference input (sum of per-record fingerprints and
// the record count). Each split reports (first key, last key, count, checksum); one reducer
// checks the splits in order.
#include <cstdio>

#include <gflags/gflags.h>

#include "api/mapreduce.h"

DEFINE_string(reference, "", "Raw 100-byte record files (teragen output) whose checksum the input must match.");

DECLARE_string(input);
DECLARE_string(output);
DECLARE_bool(overwrite);

namespace {

using namespace sawmill;

// Per split: order, count and an order-independent checksum of key+value bytes.
class SplitSummaryMapper final : public Mapper {
 public:
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    if (count_ == 0) {
      first_.assign(key);
      offset_ = ctx.record_offset();
    } else if (key < std::string_view(last_)) {
      ++disorders_;
    }
    last_.assign(key);
    ++count_;
    scratch_.assign(key);
    scratch_.append(value);
    sum_ += Fingerprint64(scratch_);
  }
  void Finish(TaskContext& ctx) override {
    if (count_ == 0) return;
    std::string k(ctx.input_path());
    k.push_back('\0');
    k += EncodeUint64(offset_);
    std::string v = EncodeUint64(count_) + EncodeUint64(sum_) + EncodeUint64(disorders_) +
                    EncodeUint64(first_.size()) + first_ + last_;
    ctx.Emit(k, v);
  }

 private:
  std::string first_, last_, scratch_;
  uint64_t count_ = 0, sum_ = 0, disorders_ = 0, offset_ = 0;
};

class CheckReducer final : public Reducer {
 public:
  void Reduce(std::string_view split, ValueIterator& values, TaskContext& ctx) override {
    std::string_view v;
    while (values.Next(&v)) {
      uint64_t count = DecodeUint64(v.substr(0, 8)), sum = DecodeUint64(v.substr(8, 8));
      uint64_t disorders = DecodeUint64(v.substr(16, 8)), first_len = DecodeUint64(v.substr(24, 8));
      std::string_view first = v.substr(32, first_len), last = v.substr(32 + first_len);
      std::string where(split.substr(0, split.find('\0')));
      if (disorders > 0) Problem(ctx, where + ": " + std::to_string(disorders) + " keys out of order");
      if (have_last_ && first < std::string_view(last_)) Problem(ctx, where + ": first key below the previous split's last key");
      last_.assign(last);
      have_last_ = true;
      records_ += count;
      sum_ += sum;
    }
  }
  void Finish(TaskContext& ctx) override {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(sum_));
    ctx.Emit("checksum", hex);
    ctx.Emit("problems", DecimalString(problems_));
    ctx.Emit("records", DecimalString(static_cast<int64_t>(records_)));
  }

 private:
  void Problem(TaskContext& ctx, const std::string& what) {
    ++problems_;
    if (problems_ <= 10) ctx.Emit("problem", what);
  }
  std::string last_;
  bool have_last_ = false;
  uint64_t records_ = 0, sum_ = 0;
  int64_t problems_ = 0;
};

JobSpec MakeSpec(InputFormat format) {
  JobSpec spec;
  spec.name = "teravalidate";
  spec.input_format = format;
  spec.mapper = [] { return std::make_unique<SplitSummaryMapper>(); };
  spec.reducer = [] { return std::make_unique<CheckReducer>(); };
  return spec;
}

std::string Find(const Records& recs, const std::string& key) {
  for (const auto& [k, v] : recs) {
    if (k == key) return v;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  ParseJobFlags(&argc, &argv,
                "teravalidate: checks a terasort output's order and, with --reference, that it holds the "
                "same records as the input. Writes its report to --output and exits 0 only if all holds.");
  JobOptions options = JobOptionsFromFlags();
  options.reducers = 1;
  int rc = RunAndReport(MakeSpec(InputFormat::kRecordFile), options);
  if (rc != 0) return rc;
  Records report = ReadRecords(options.output);
  for (const auto& [k, v] : report) {
    if (k == "problem") std::fprintf(stderr, "teravalidate: %s\n", v.c_str());
  }
  bool ok = Find(report, "problems") == "0";
  std::string checksum = Find(report, "checksum"), records = Find(report, "records");
  std::printf("teravalidate: order %s, records=%s checksum=%s\n", ok ? "ok" : "BROKEN", records.c_str(),
              checksum.c_str());
  if (!FLAGS_reference.empty()) {
    JobOptions ref = options;
    ref.inputs = {FLAGS_reference};
    ref.output = options.output + ".reference";
    ref.overwrite = true;
    JobSpec spec = MakeSpec(InputFormat::kFixedWidth);
    rc = RunAndReport(spec, ref);
    if (rc != 0) return rc;
    Records ref_report = ReadRecords(ref.output);
    bool same = Find(ref_report, "checksum") == checksum && Find(ref_report, "records") == records;
    std::printf("teravalidate: reference records=%s checksum=%s: %s\n", Find(ref_report, "records").c_str(),
                Find(ref_report, "checksum").c_str(), same ? "match" : "MISMATCH");
    ok = ok && same;
  }
  std::printf("teravalidate: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
