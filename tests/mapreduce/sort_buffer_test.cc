#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "mapreduce/sort_buffer.h"

namespace sawmill {
namespace {

// (partition, key, emit index) of each record added, in emit order.
using Added = std::vector<std::tuple<uint32_t, std::string, int>>;

// Sorts `buf` and checks it against a stable sort of what was added by (partition, key); the
// values are the emit indexes as text.
void ExpectSortedLikeStableSort(SortBuffer& buf, Added expect) {
  std::stable_sort(expect.begin(), expect.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  buf.Sort();
  ASSERT_EQ(buf.size(), expect.size());
  for (size_t i = 0; i < expect.size(); ++i) {
    const auto& e = buf.entry(i);
    ASSERT_EQ(e.partition, std::get<0>(expect[i])) << i;
    ASSERT_EQ(buf.key(e), std::get<1>(expect[i])) << i;
    ASSERT_EQ(buf.value(e), std::to_string(std::get<2>(expect[i]))) << i;
  }
}

TEST(SortBuffer, SortsByPartitionKeyThenEmitOrder) {
  SortBuffer buf(1 << 20);
  std::mt19937_64 rng(1);
  Added expect;
  for (int i = 0; i < 5000; ++i) {
    uint32_t p = static_cast<uint32_t>(rng() % 3);
    std::string key(rng() % 12, '\0');
    for (char& c : key) c = static_cast<char>("ab\0\xff"[rng() % 4]);
    std::string value = std::to_string(i);
    ASSERT_TRUE(buf.Add(p, key, value));
    expect.emplace_back(p, key, i);
  }
  ExpectSortedLikeStableSort(buf, std::move(expect));
}

// Long keys sharing long prefixes (hot keys with suffixes, as a join's tagged keys are): the
// ties of equal 8-byte prefixes are resolved chunk by chunk, several levels deep.
TEST(SortBuffer, SortsLongKeysWithSharedPrefixesLikeMemcmp) {
  SortBuffer buf(4 << 20);
  std::mt19937_64 rng(2);
  std::vector<std::pair<std::string, int>> expect;
  for (int i = 0; i < 20000; ++i) {
    std::string key = std::string(rng() % 3 == 0 ? "hot-key-shared-prefix" : "hot-key-shared-pre") +
                      std::string(rng() % 4, '\0');
    for (size_t n = rng() % 10; n > 0; --n) key.push_back("\0\x01z"[rng() % 3]);
    ASSERT_TRUE(buf.Add(0, key, std::to_string(i)));
    expect.emplace_back(key, i);
  }
  std::stable_sort(expect.begin(), expect.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  buf.Sort();
  for (size_t i = 0; i < expect.size(); ++i) {
    ASSERT_EQ(buf.key(buf.entry(i)), expect[i].first) << i;
    ASSERT_EQ(buf.value(buf.entry(i)), std::to_string(expect[i].second)) << i;
  }
}

// The radix path: enough entries for many passes, partitions above 255 (more than one partition
// byte varies), binary 10-byte keys, and hot keys of millions of bytes' worth of entries, whose
// emit order the sort must keep.
TEST(SortBuffer, RadixSortMatchesAStableSortOfManyEntries) {
  SortBuffer buf(16 << 20);
  std::mt19937_64 rng(3);
  Added expect;
  std::string hot[3] = {std::string("hot\0key\xff\x01", 9), "h", std::string(10, '\xff')};
  for (int i = 0; i < 200000; ++i) {
    uint32_t p = static_cast<uint32_t>(rng() % 4 == 0 ? rng() % 70000 : rng() % 3);
    std::string key;
    if (rng() % 5 == 0) {
      key = hot[rng() % 3];
    } else {
      key.resize(rng() % 4 == 0 ? rng() % 12 : 10);
      for (char& c : key) c = static_cast<char>(rng());
    }
    std::string value = std::to_string(i);
    ASSERT_TRUE(buf.Add(p, key, value));
    expect.emplace_back(p, key, i);
  }
  ExpectSortedLikeStableSort(buf, std::move(expect));
}

// Keys of at most 8 bytes are ordered from their prefixes alone unless they end in zero bytes:
// "ab" and "ab\0\0" pad to one prefix, as do "" and "\0".
TEST(SortBuffer, ShortKeysEndingInZerosAreNotTakenForEqual) {
  SortBuffer buf(4 << 20);
  std::mt19937_64 rng(4);
  Added expect;
  const std::string keys[] = {"ab", std::string("ab\0", 3), std::string("ab\0\0\0\0\0\0", 8), "",
                              std::string(1, '\0'), "abcdefgh", std::string("abcdefg\0", 8), "abcdefgh\x01"};
  for (int i = 0; i < 30000; ++i) {
    const std::string& key = keys[rng() % std::size(keys)];
    ASSERT_TRUE(buf.Add(0, key, std::to_string(i)));
    expect.emplace_back(0, key, i);
  }
  ExpectSortedLikeStableSort(buf, std::move(expect));
}

// A buffer reused spill after spill (Clear, Add, Sort) sorts each batch on its own.
TEST(SortBuffer, SortsAgainAfterClear) {
  SortBuffer buf(1 << 20);
  for (int round = 0; round < 3; ++round) {
    buf.Clear();
    Added expect;
    for (int i = 0; i < 3000; ++i) {
      std::string key = std::to_string((i * 7919 + round) % 1000);
      ASSERT_TRUE(buf.Add(static_cast<uint32_t>(i % 2), key, std::to_string(i)));
      expect.emplace_back(i % 2, key, i);
    }
    ExpectSortedLikeStableSort(buf, std::move(expect));
  }
}

TEST(SortBuffer, ReportsFullAndClears) {
  SortBuffer buf(4096);
  int added = 0;
  while (buf.Add(0, "key", std::string(50, 'v'))) ++added;
  EXPECT_GT(added, 40);
  EXPECT_LE(buf.bytes_used(), 4096u);
  EXPECT_FALSE(buf.Fits("k", std::string(5000, 'v')));
  buf.Clear();
  EXPECT_TRUE(buf.empty());
  EXPECT_TRUE(buf.Add(0, "key", "v"));
}

}  // namespace
}  // namespace sawmill
