// wordcount_df: word count as a dataflow program; its output is byte-identical to wordcount's
// (same words, same partitioning by --reducers, counts as decimal text).
#include "api/codec.h"
#include "api/dataflow.h"
#include "jobs/words.h"

namespace {

using namespace sawmill;

void WordCount(df::Flow& flow) {
  using Count = std::pair<std::string_view, int64_t>;
  flow.ReadText()
      .FlatMap<Count>([](std::string_view line, const df::Emitter<Count>& emit) {
        words::ForEachWord(line, [&](std::string_view w) { emit(Count(w, 1)); });
      })
      .ReduceByKey([](int64_t a, int64_t b) { return a + b; })
      .Map([](const Count& c) { return std::pair<std::string_view, std::string>(c.first, DecimalString(c.second)); })
      .Write(flow.output());
}

}  // namespace

SAWMILL_DATAFLOW_MAIN("wordcount_df: counts words in text files with the dataflow API; output records are "
                      "(word, count as decimal text), as wordcount's.",
                      WordCount)
