// The reduce task count a job gets without --reducers (ChooseReducers) and its summary fields.
#include <gtest/gtest.h>

#include "mapreduce/reducer_choice.h"

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

}  // namespace
}  // namespace sawmill
