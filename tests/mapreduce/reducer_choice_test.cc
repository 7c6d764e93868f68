// The reduce task count a job gets without --reducers (ChooseReducers), and what the local runner
// records of it: the result, the summary fields and the _MANIFEST.
#include <gtest/gtest.h>

#include "api/mapreduce.h"
#include "api/reducers.h"
#include "common/file.h"
#include "mapreduce/local_runner.h"
#include "mapreduce/reducer_choice.h"
#include "records/manifest.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(ReducerChoice, ExplicitCountsAreKeptExactly) {
  for (int n : {1, 2, 3, 7, 1000}) {
    for (uint64_t bytes : {uint64_t{0}, 10 * kMiB, 100 * kGiB}) {
      ReducerChoice c = ChooseReducers(n, 2, bytes);
      EXPECT_EQ(c.reducers, n);
      EXPECT_FALSE(c.automatic);
    }
  }
}

TEST(ReducerChoice, AutoTakesOnePerSlotWhenTheInputIsLarge) {
  EXPECT_EQ(ChooseReducers(0, 2, kGiB).reducers, 2);              // terasort / wordcount, --threads 2
  EXPECT_EQ(ChooseReducers(0, 2, 128 * kMiB + 1).reducers, 2);
  EXPECT_EQ(ChooseReducers(0, 16, 100 * kGiB).reducers, 16);      // a cluster's slots
  ReducerChoice c = ChooseReducers(0, 2, kGiB);
  EXPECT_TRUE(c.automatic);
  EXPECT_EQ(c.slots, 2);
  EXPECT_EQ(c.input_bytes, kGiB);
}

TEST(ReducerChoice, AutoGivesNoReduceLessThan64MiB) {
  EXPECT_EQ(ChooseReducers(0, 2, 0).reducers, 1);
  EXPECT_EQ(ChooseReducers(0, 2, 1).reducers, 1);
  EXPECT_EQ(ChooseReducers(0, 2, 64 * kMiB).reducers, 1);
  EXPECT_EQ(ChooseReducers(0, 2, 64 * kMiB + 1).reducers, 2);     // ceil: a second, partly filled share
  EXPECT_EQ(ChooseReducers(0, 8, 200 * kMiB).reducers, 4);
  EXPECT_EQ(ChooseReducers(0, 64, 10 * kGiB).reducers, 64);
  EXPECT_EQ(ChooseReducers(0, 1000, 10 * kGiB).reducers, 160);
  EXPECT_EQ(ChooseReducers(0, 1 << 30, uint64_t{1} << 62).reducers, 1 << 30);  // no overflow
}

TEST(ReducerChoice, AutoWithoutSlotsStillRunsOneReduce) {
  EXPECT_EQ(ChooseReducers(0, 0, kGiB).reducers, 1);   // a cluster with no live worker yet
  EXPECT_EQ(ChooseReducers(0, -3, kGiB).reducers, 1);
}

TEST(ReducerChoice, SummaryFieldsSayWhatTheChoiceCameFrom) {
  EXPECT_EQ(ReducerSummaryFields(ChooseReducers(3, 2, kGiB), "threads"), " reducers=3");
  EXPECT_EQ(ReducerSummaryFields(ChooseReducers(0, 2, kGiB), "threads"), " reducers=2 reducers_auto=2threads/1.0GiB");
  EXPECT_EQ(ReducerSummaryFields(ChooseReducers(0, 6, 100 * kMiB), "slots"),
            " reducers=2 reducers_auto=6slots/100.0MiB");
  EXPECT_EQ(ReducerSummaryFields(ChooseReducers(0, 2, 500), "threads"), " reducers=1 reducers_auto=2threads/500B");
  EXPECT_EQ(ReducerSummaryFields(ReducerChoice{}, "threads"), "");  // map-only
}

JobSpec WordCount() {
  class WordMapper final : public Mapper {
   public:
    void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
      size_t start = 0;
      while (start < line.size()) {
        size_t sp = line.find(' ', start);
        if (sp == std::string_view::npos) sp = line.size();
        if (sp > start) ctx.Emit(line.substr(start, sp - start), EncodeInt64(1));
        start = sp + 1;
      }
    }
  };
  JobSpec spec;
  spec.name = "wc";
  spec.mapper = [] { return std::make_unique<WordMapper>(); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  return spec;
}

TEST(ReducerChoice, LocalRunnerRecordsAnAutomaticChoiceInTheManifest) {
  testing::TempDir dir;
  JobOptions o;
  o.inputs = {dir.Write("in.txt", "a b c a\nb a\n")};
  o.output = dir.Sub("auto");
  o.threads = 4;
  o.reducers = 0;
  JobResult r = RunLocalJob(WordCount(), o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.reduce_tasks, 1);  // 12 bytes: far below 64 MiB a reduce
  EXPECT_EQ(r.reducers.reducers, 1);
  EXPECT_TRUE(r.reducers.automatic);
  EXPECT_EQ(r.reducers.slots, 4);
  EXPECT_EQ(r.reducers.input_bytes, 12u);
  auto m = ReadManifest(JoinPath(o.output, kManifestName));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->num_partitions, 1);
  EXPECT_EQ(m->parts.size(), 1u);
  EXPECT_TRUE(m->reducers_auto);
  EXPECT_NE(ManifestToText(*m).find("reducersAuto = true"), std::string::npos) << ManifestToText(*m);
}

TEST(ReducerChoice, LocalRunnerKeepsAnExplicitCount) {
  testing::TempDir dir;
  JobOptions o;
  o.inputs = {dir.Write("in.txt", "a b c a\nb a\n")};
  o.output = dir.Sub("three");
  o.reducers = 3;
  JobResult r = RunLocalJob(WordCount(), o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.reduce_tasks, 3);
  EXPECT_FALSE(r.reducers.automatic);
  auto m = ReadManifest(JoinPath(o.output, kManifestName));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->parts.size(), 3u);
  EXPECT_FALSE(m->reducers_auto);
  EXPECT_NE(ManifestToText(*m).find("reducersAuto = false"), std::string::npos) << ManifestToText(*m);
}

TEST(ReducerChoice, NegativeCountIsAUsageError) {
  testing::TempDir dir;
  JobOptions o;
  o.inputs = {dir.Write("in.txt", "a\n")};
  o.output = dir.Sub("out");
  o.reducers = -1;
  JobResult r = RunLocalJob(WordCount(), o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.error.find("--reducers"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace sawmill
