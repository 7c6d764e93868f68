// keyby: turns TSV lines into records keyed by one column, hash-partitioned and sorted per part,
// so that the partitioned and merge join strategies can read them (their _MANIFEST says so).
#include <gflags/gflags.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "api/mapreduce.h"
#include "api/reducers.h"

DEFINE_int32(key, 1,
             "The key column (1-based, TAB-separated); the value is the other columns, in order.");
DEFINE_bool(strict, false,
            "Fail the job on a line with fewer columns than --key (default: count and skip it).");

namespace {

using namespace sawmill;

// Lines reported on stderr per map task; the counter has the full count.
constexpr int kMaxReported = 5;

class KeyByMapper final : public Mapper {
 public:
  KeyByMapper(int key_column, bool strict) : key_column_(key_column), strict_(strict) {}

  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    // [key_begin, key_end) is the key column; the value is what surrounds it, minus one TAB.
    size_t key_begin = 0;
    for (int col = 1; col < key_column_; ++col) {
      size_t tab = line.find('\t', key_begin);
      if (tab == std::string_view::npos) return Malformed(col, ctx);
      key_begin = tab + 1;
    }
    size_t key_end = line.find('\t', key_begin);
    if (key_end == std::string_view::npos) key_end = line.size();
    std::string_view key = line.substr(key_begin, key_end - key_begin);
    if (key_begin == 0) {  // key first: the value is everything after its TAB
      ctx.Emit(key, key_end < line.size() ? line.substr(key_end + 1) : std::string_view());
      return;
    }
    value_.assign(line.data(), key_begin - 1);  // columns before the key, without its TAB
    if (key_end < line.size()) value_.append(line.substr(key_end));  // TAB + columns after
    ctx.Emit(key, value_);
  }

 private:
  void Malformed(int columns, TaskContext& ctx) {
    std::string what =
        std::to_string(columns) + " column(s), --key is " + std::to_string(key_column_);
    // The runtime prefixes the exception's message with the split and the record's offset.
    if (strict_) {
      throw std::runtime_error("malformed row (" + what + "); without --strict it is skipped");
    }
    ctx.Increment("keyby.malformed_rows");
    if (reported_++ < kMaxReported) {
      std::fprintf(stderr, "keyby: skipping malformed row at %.*s byte %llu: %s\n",
                   static_cast<int>(ctx.input_path().size()), ctx.input_path().data(),
                   static_cast<unsigned long long>(ctx.record_offset()), what.c_str());
    }
  }

  const int key_column_;
  const bool strict_;
  int reported_ = 0;
  std::string value_;
};

JobSpec MakeSpec() {
  if (FLAGS_key < 1) throw UsageError("--key must be 1 or more (a 1-based column number)");
  JobSpec spec;
  spec.name = "keyby";
  spec.input_format = InputFormat::kTextLines;
  spec.mapper = [key = FLAGS_key, strict = FLAGS_strict] {
    return std::make_unique<KeyByMapper>(key, strict);
  };
  // Identity reduce: the default hash partitioner and the sort give hash-partitioned, sorted parts.
  spec.reducer = [] { return std::make_unique<IdentityReducer>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN(
    "keyby: TSV lines to records keyed by column --key (value: the other columns, TAB-separated), "
    "hash-partitioned over --reducers sorted parts.",
    MakeSpec)
