// word_lengths: a histogram of word lengths in text files, built outside the Sawmill tree. Words
// are maximal runs of bytes other than space, tab, CR and LF; lengths count bytes.
// Output: (first length of the bucket as 8 decimal digits, word count as decimal text), so that
// the output's key order is numeric order and `sawmill cat` shows readable lines.
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include <gflags/gflags.h>

#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"

DEFINE_int32(bucket, 1, "Width of a histogram bucket in bytes: lengths L..L+bucket-1 share key L.");

namespace {

using namespace sawmill;

constexpr bool IsSeparator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

class LengthMapper final : public Mapper {
 public:
  explicit LengthMapper(int bucket) : bucket_(bucket) {}

  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && IsSeparator(line[i])) ++i;
      size_t start = i;
      while (i < line.size() && !IsSeparator(line[i])) ++i;
      if (i > start) Emit(i - start, ctx);
    }
  }

 private:
  void Emit(size_t length, TaskContext& ctx) {
    size_t low = length / bucket_ * bucket_;
    char key[16];
    int n = std::snprintf(key, sizeof key, "%08zu", low);
    char one[8];
    ctx.Emit({key, static_cast<size_t>(n)}, EncodeInt64(1, one));
    if (length > 64) ctx.Increment("words_over_64_bytes");
  }

  const size_t bucket_;
};

JobSpec MakeSpec() {
  if (FLAGS_bucket < 1) throw UsageError("--bucket must be at least 1, got " + std::to_string(FLAGS_bucket));
  const int bucket = FLAGS_bucket;  // read once here; tasks get a copy, not the global
  JobSpec spec;
  spec.name = "word_lengths";
  spec.input_format = InputFormat::kTextLines;
  spec.mapper = [bucket] { return std::make_unique<LengthMapper>(bucket); };
  spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("word_lengths: histogram of word lengths (bytes); output records are (length, count).",
                 MakeSpec)
