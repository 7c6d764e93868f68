// wordcount: counts words (maximal runs of bytes other than space, tab, CR and LF).
// Output: (word, count as decimal text). Map-side hash aggregation through the sum combiner.
#include <array>

#include "api/combiners.h"
#include "api/mapreduce.h"

namespace {

using namespace sawmill;

constexpr std::array<bool, 256> kSeparator = [] {
  std::array<bool, 256> t{};
  t[' '] = t['\t'] = t['\r'] = t['\n'] = true;
  return t;
}();

class WordMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    char one[8];
    std::string_view v = EncodeInt64(1, one);
    const auto* p = reinterpret_cast<const unsigned char*>(line.data());
    const auto* end = p + line.size();
    while (p < end) {
      while (p < end && kSeparator[*p]) ++p;
      const auto* start = p;
      while (p < end && !kSeparator[*p]) ++p;
      if (p > start) ctx.Emit({reinterpret_cast<const char*>(start), static_cast<size_t>(p - start)}, v);
    }
  }
};

class SumReducer final : public Reducer {
 public:
  void Reduce(std::string_view word, ValueIterator& values, TaskContext& ctx) override {
    int64_t sum = 0;
    std::string_view v;
    while (values.Next(&v)) sum += DecodeInt64(v);
    ctx.Emit(word, DecimalString(sum));
  }
};

JobSpec MakeSpec() {
  JobSpec spec;
  spec.name = "wordcount";
  spec.input_format = InputFormat::kTextLines;
  spec.mapper = [] { return std::make_unique<WordMapper>(); };
  spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.reducer = [] { return std::make_unique<SumReducer>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("wordcount: counts words in text files; output records are (word, count).", MakeSpec)
