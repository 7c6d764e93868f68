#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <random>

#include "api/codec.h"
#include "api/combiners.h"
#include "mapreduce/hash_aggregator.h"

namespace sawmill {
namespace {

class Sum final : public Combiner {
 public:
  void Combine(std::string_view, std::string* acc, std::string_view v) const override {
    *acc = EncodeInt64(DecodeInt64(*acc) + DecodeInt64(v));
  }
};

// Not commutative: shows folding happens in emit order.
class Concat final : public Combiner {
 public:
  void Combine(std::string_view, std::string* acc, std::string_view v) const override { acc->append(v); }
};

TEST(HashAggregator, SumsLikeAMapIncludingLongKeys) {
  Sum sum;
  HashAggregator agg(&sum, 64 << 20);
  std::map<std::string, int64_t> expect;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) {
    uint64_t r = rng() % 5000;
    std::string key = r % 7 == 0 ? std::string(60, 'L') + std::to_string(r) : "w" + std::to_string(r);
    agg.Add(key, EncodeInt64(static_cast<int64_t>(r % 3)));
    expect[key] += static_cast<int64_t>(r % 3);
  }
  HashPartitioner hp;
  const auto& sorted = agg.Sorted(hp, 4);
  ASSERT_EQ(sorted.size(), expect.size());
  std::map<std::string, int64_t> got;
  uint32_t last_partition = 0;
  std::string last_key;
  for (const auto* s : sorted) {
    std::string key(agg.key(*s));
    EXPECT_EQ(static_cast<int>(agg.partition(*s)), hp.Partition(key, 4));
    if (agg.partition(*s) == last_partition && s != sorted.front()) {
      EXPECT_LT(last_key, key);
    }
    EXPECT_GE(agg.partition(*s), last_partition);
    last_partition = agg.partition(*s);
    last_key = key;
    got[key] = DecodeInt64(agg.value(*s));
  }
  EXPECT_EQ(got, expect);
}

// Records are staged in a ring, copied inline (up to 48 bytes, by size class) or into a string:
// keys and values of every length from 0 to 60 bytes, with distinct bytes throughout, fold into
// exactly what they were.
TEST(HashAggregator, StagesRecordsOfEverySizeIntact) {
  Concat concat;
  HashAggregator agg(&concat, 64 << 20);
  std::map<std::string, std::string> expect;
  for (int round = 0; round < 3; ++round) {
    for (size_t klen = 0; klen <= 60; ++klen) {
      for (size_t vlen = 0; vlen <= 60; vlen += 3) {
        std::string key(klen, '\0'), value(vlen, '\0');
        for (size_t i = 0; i < klen; ++i) key[i] = static_cast<char>('a' + (i * 7 + vlen) % 26);
        for (size_t i = 0; i < vlen; ++i) value[i] = static_cast<char>('A' + (i * 5 + klen + round) % 26);
        agg.Add(key, value);
        expect[key] += value;
      }
    }
  }
  HashPartitioner hp;
  std::map<std::string, std::string> got;
  for (const auto* s : agg.Sorted(hp, 1)) got[std::string(agg.key(*s))] = std::string(agg.value(*s));
  EXPECT_EQ(got, expect);
}

TEST(HashAggregator, FoldsInEmitOrderAndMovesGrowingValuesOutOfLine) {
  Concat concat;
  HashAggregator agg(&concat, 64 << 20);
  std::map<std::string, std::string> expect;
  for (int i = 0; i < 3000; ++i) {
    std::string key = "k" + std::to_string(i % 17);
    std::string v = std::to_string(i) + ",";
    agg.Add(key, v);
    expect[key] += v;
  }
  HashPartitioner hp;
  std::map<std::string, std::string> got;
  for (const auto* s : agg.Sorted(hp, 1)) got[std::string(agg.key(*s))] = agg.value(*s);
  EXPECT_EQ(got, expect);
}

// Keys around the slot's inline limit (26 bytes with the 8-byte count), and keys of 255 bytes,
// the length byte's marker for an out-of-line key.
TEST(HashAggregator, KeysAtTheInlineLimitAndOfTheMarkerLength) {
  Sum sum;
  HashAggregator agg(&sum, 64 << 20);
  std::map<std::string, int64_t> expect;
  for (int round = 0; round < 4; ++round) {
    for (size_t len : {0, 1, 17, 18, 19, 25, 26, 27, 254, 255, 256}) {
      for (char c : {'a', 'b'}) {
        std::string key(len, c);
        agg.Add(key, EncodeInt64(round + 1));
        expect[key] += round + 1;
      }
    }
  }
  HashPartitioner hp;
  std::map<std::string, int64_t> got;
  for (const auto* s : agg.Sorted(hp, 3)) {
    EXPECT_EQ(static_cast<int>(agg.partition(*s)), hp.Partition(agg.key(*s), 3));
    got[std::string(agg.key(*s))] = DecodeInt64(agg.value(*s));
  }
  EXPECT_EQ(got, expect);
}

// Keys of up to 16 bytes with 8-byte values are staged as zero-padded words: keys that differ
// only in trailing or embedded zero bytes stay apart, and records of one key with 8-byte and
// other values (packed or not) fold into one entry in emit order, also once its value has grown
// out of the slot.
TEST(HashAggregator, ShortKeysWithZeroBytesAndMixedValueSizesShareOneEntry) {
  Concat concat;
  HashAggregator agg(&concat, 64 << 20);
  std::map<std::string, std::string> expect;
  std::vector<std::string> keys;
  for (size_t len = 0; len <= 18; ++len) {
    keys.push_back(std::string(len, '\0'));
    std::string k(len, '\0');
    if (len > 0) k[0] = 'a';
    keys.push_back(k);
    if (len > 2) k[len / 2] = 'b';
    keys.push_back(k);
    keys.push_back(std::string(len, '\xff'));
  }
  for (int round = 0; round < 6; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) {
      std::string v = (round + i) % 2 == 0 ? std::string(8, static_cast<char>('0' + round)) : std::string(3, 'x');
      agg.Add(keys[i], v);
      expect[keys[i]] += v;
    }
  }
  HashPartitioner hp;
  std::map<std::string, std::string> got;
  for (const auto* s : agg.Sorted(hp, 2)) got[std::string(agg.key(*s))] = std::string(agg.value(*s));
  EXPECT_EQ(got, expect);
}

// A short key's bytes are read 16 at a time unless that would cross into the next page: keys
// ending at the last byte before an unmapped page are counted like any other.
TEST(HashAggregator, ReadsKeysEndingBeforeAnUnmappedPage) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* m = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_EQ(mprotect(static_cast<char*>(m) + page, page, PROT_NONE), 0);
  char* end = static_cast<char*>(m) + page;
  std::memset(m, 'q', page);
  Int64SumCombiner sum;
  HashAggregator agg(&sum, 64 << 20);
  std::map<std::string, int64_t> expect;
  for (int round = 1; round <= 3; ++round) {
    for (size_t len = 0; len <= 16; ++len) {
      for (size_t gap = 0; gap < 20; ++gap) {
        std::string_view key(end - gap - len, len);
        agg.Add(key, EncodeInt64(round));
        expect[std::string(key)] += round;
      }
    }
  }
  HashPartitioner hp;
  std::map<std::string, int64_t> got;
  for (const auto* s : agg.Sorted(hp, 1)) got[std::string(agg.key(*s))] = DecodeInt64(agg.value(*s));
  EXPECT_EQ(got, expect);
  munmap(m, 2 * page);
}

TEST(HashAggregator, FullAtBudgetAndClearStartsOver) {
  Sum sum;
  HashAggregator agg(&sum, 1 << 20);
  int n = 0;
  while (!agg.Full()) agg.Add("key" + std::to_string(n++), EncodeInt64(1));
  EXPECT_LT(n, 20000);
  agg.Clear();
  EXPECT_TRUE(agg.empty());
  EXPECT_FALSE(agg.Full());
  agg.Add("x", EncodeInt64(5));
  HashPartitioner hp;
  ASSERT_EQ(agg.Sorted(hp, 1).size(), 1u);
}

}  // namespace
}  // namespace sawmill
