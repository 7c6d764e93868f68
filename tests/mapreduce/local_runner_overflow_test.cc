// The int64 sums of api/combiners.h and api/reducers.h through the local runner: a sum past
// INT64_MAX (or below INT64_MIN) fails the task naming the key, on every path the runtime folds
// values (reducer, hash table, dense table, sorted spills and merges), and a sum that reaches
// the limits exactly still succeeds.
#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"
#include "mapreduce/local_runner.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// Lines "KEY VALUE": emits (KEY, EncodeInt64(VALUE)); a KEY of digits, with `dense`, as the
// 8-byte id the dense table takes.
class PairMapper final : public Mapper {
 public:
  explicit PairMapper(bool dense) : dense_(dense) {}
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    size_t sp = line.find(' ');
    int64_t v = 0;
    std::from_chars(line.data() + sp + 1, line.data() + line.size(), v);
    std::string_view key = line.substr(0, sp);
    if (dense_) {
      uint64_t id = 0;
      std::from_chars(key.data(), key.data() + key.size(), id);
      ctx.Emit(EncodeUint64(id), EncodeInt64(v));
    } else {
      ctx.Emit(key, EncodeInt64(v));
    }
  }

 private:
  bool dense_;
};

enum class Fold { kReducerOnly, kHashTable, kDenseTable, kSortedSpills };

JobSpec SumJob(Fold fold) {
  JobSpec spec;
  spec.name = "sum";
  bool dense = fold == Fold::kDenseTable;
  spec.mapper = [dense] { return std::make_unique<PairMapper>(dense); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  if (fold != Fold::kReducerOnly) spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.hash_aggregation = fold != Fold::kSortedSpills;
  spec.dense_keys = dense;
  return spec;
}

JobResult RunSum(const testing::TempDir& dir, Fold fold, const std::string& text) {
  JobOptions o;
  o.inputs = {dir.Write("in.txt", text)};
  o.output = dir.Sub("out");
  o.overwrite = true;
  o.threads = 1;
  return RunLocalJob(SumJob(fold), o);
}

std::string I(int64_t v) { return std::to_string(v); }

class SumOverflow : public ::testing::TestWithParam<Fold> {};

TEST_P(SumOverflow, PastMaxFailsNamingTheKey) {
  testing::TempDir dir;
  // "big" overflows; the others are fine.
  bool dense = GetParam() == Fold::kDenseTable;
  std::string big = dense ? "7" : "big";
  std::string text = "1 5\n" + big + " " + I(kMax) + "\n2 3\n" + big + " 1\n1 5\n";
  JobResult r = RunSum(dir, GetParam(), text);
  EXPECT_FALSE(r.ok) << "the sum of " << big << " wrapped around";
  EXPECT_EQ(r.exit_code, 1);
  std::string key = dense ? "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x07" : big;
  EXPECT_NE(r.error.find("key '" + key + "'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("overflows int64"), std::string::npos) << r.error;
}

TEST_P(SumOverflow, BelowMinFailsNamingTheKey) {
  testing::TempDir dir;
  bool dense = GetParam() == Fold::kDenseTable;
  std::string low = dense ? "3" : "low";
  JobResult r = RunSum(dir, GetParam(), low + " " + I(kMin) + "\n" + low + " -1\n");
  EXPECT_FALSE(r.ok) << "the sum of " << low << " wrapped around";
  EXPECT_NE(r.error.find("overflows int64"), std::string::npos) << r.error;
}

TEST_P(SumOverflow, SumsReachingTheLimitsExactlySucceed) {
  testing::TempDir dir;
  bool dense = GetParam() == Fold::kDenseTable;
  std::string a = dense ? "1" : "a", b = dense ? "2" : "b";
  JobResult r = RunSum(dir, GetParam(),
                    a + " " + I(kMax - 1) + "\n" + b + " " + I(kMin + 1) + "\n" + a + " 1\n" + b + " -1\n");
  ASSERT_TRUE(r.ok) << r.error;
  std::map<std::string, std::string> got;
  for (auto& [k, v] : ReadRecords(dir.Sub("out"))) got[k] = v;
  std::string ka = dense ? EncodeUint64(1) : a, kb = dense ? EncodeUint64(2) : b;
  EXPECT_EQ(got[ka], I(kMax));
  EXPECT_EQ(got[kb], I(kMin));
}

INSTANTIATE_TEST_SUITE_P(Folds, SumOverflow,
                         ::testing::Values(Fold::kReducerOnly, Fold::kHashTable, Fold::kDenseTable, Fold::kSortedSpills),
                         [](const auto& info) {
                           switch (info.param) {
                             case Fold::kReducerOnly: return "ReducerOnly";
                             case Fold::kHashTable: return "HashTable";
                             case Fold::kDenseTable: return "DenseTable";
                             case Fold::kSortedSpills: return "SortedSpills";
                           }
                           return "";
                         });

// The combiner itself, through both of its entry points (the runtime adds the key).
TEST(Int64SumCombiner, OverflowThrows) {
  Int64SumCombiner c;
  std::string acc = EncodeInt64(kMax);
  EXPECT_THROW(c.Combine("k1", &acc, EncodeInt64(1)), std::overflow_error) << "acc = " << DecodeInt64(acc);
  std::string fixed = EncodeInt64(kMin);
  EXPECT_THROW(c.CombineFixed(fixed.data(), EncodeInt64(-1).data()), std::overflow_error);
  c.CombineFixed(fixed.data(), EncodeInt64(1).data());
  EXPECT_EQ(DecodeInt64(fixed), kMin + 1);
}

}  // namespace
}  // namespace sawmill
