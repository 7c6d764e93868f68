// The graph jobs' shared input helpers (jobs/graph_input.h): the one-pass numeric edge parser
// agrees with the general ParseEdge + PageId on every line it accepts and declines every other;
// SortIds sorts like std::sort, short lists and long ones (radix) alike.
#include "jobs/graph_input.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

namespace sawmill::graph {
namespace {

TEST(GraphInput, NumericEdgeAgreesWithTheGeneralParser) {
  const std::vector<std::string> lines = {
      "1\t2", "0\t0", "10\t7\r", "123456789012345678\t5", "1234567890123456789\t5", "01\t2", "1\t02", "00\t1",
      "1\t", "\t2", "1\t2\t3", "1 2", "a\t2", "1\tb", "", "\r", "1\t\r", "-1\t2", "1\t2x", "+1\t2", "7\t8\r\r",
      "9223372036854775807\t1"};
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    Id s = 0, t = 0;
    bool fast = ParseNumericEdge(line, &s, &t);
    std::string_view src, dst;
    bool general = ParseEdge(line, &src, &dst);
    if (fast) {
      ASSERT_TRUE(general);
      bool numeric_s, numeric_t;
      EXPECT_EQ(s, PageId(src, &numeric_s));
      EXPECT_EQ(t, PageId(dst, &numeric_t));
      EXPECT_TRUE(numeric_s && numeric_t);
    } else if (general) {
      // Declined lines that parse hold a name that is not a short number.
      bool numeric_s, numeric_t;
      PageId(src, &numeric_s);
      PageId(dst, &numeric_t);
      EXPECT_TRUE(!numeric_s || !numeric_t || src.size() > 18 || dst.size() > 18) << src << " " << dst;
    }
  }
  Id s, t;
  EXPECT_TRUE(ParseNumericEdge("123456789012345678\t5", &s, &t));
  EXPECT_EQ(s, 123456789012345678ull);
  EXPECT_FALSE(ParseNumericEdge("01\t2", &s, &t));
  EXPECT_FALSE(ParseNumericEdge("1\t2\t3", &s, &t));
}

TEST(GraphInput, SortIdsSortsShortAndLongLists) {
  std::mt19937_64 rng(7);
  for (size_t n : {0, 1, 5, 1023, 1024, 5000, 100000}) {
    for (uint64_t range : {uint64_t{1000}, uint64_t{1} << 20, ~uint64_t{0}}) {
      std::vector<Id> ids(n);
      for (auto& x : ids) x = range == ~uint64_t{0} ? rng() : rng() % range;
      std::vector<Id> want = ids;
      std::sort(want.begin(), want.end());
      SortIds(&ids);
      EXPECT_EQ(ids, want) << n << " ids below " << range;
    }
  }
  std::vector<Id> same(3000, 42);
  SortIds(&same);
  EXPECT_EQ(same, std::vector<Id>(3000, 42));
}

}  // namespace
}  // namespace sawmill::graph
