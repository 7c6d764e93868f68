// wordcount: counts words (maximal runs of bytes other than space, tab, CR and LF).
// Output: (word, count as decimal text). Map-side hash aggregation through the sum combiner.
#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"
#include "jobs/words.h"

namespace {

using namespace sawmill;

class WordMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    char one[8];
    std::string_view v = EncodeInt64(1, one);
    words::ForEachWord(line, [&](std::string_view w) { ctx.Emit(w, v); });
  }
};

JobSpec MakeSpec() {
  JobSpec spec;
  spec.name = "wordcount";
  spec.input_format = InputFormat::kTextLines;
  spec.mapper = [] { return std::make_unique<WordMapper>(); };
  spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("wordcount: counts words in text files; output records are (word, count).", MakeSpec)
