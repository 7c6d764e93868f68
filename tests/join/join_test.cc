// The join key encoding (order, prefix-freedom, round trip), the hash table, and the reduce-side
// and broadcast strategies through the local runner against a nested-loop join computed here.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "api/join.h"
#include "common/file.h"
#include "join/join_internal.h"
#include "mapreduce/local_runner.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

using testing::TempDir;

TEST(JoinKey, OrderIsKeyThenSaltThenTagAndRoundTrips) {
  std::vector<std::string> keys = {"", std::string("\0", 1), std::string("\0\0", 2), std::string("a\0", 2),
                                   "a", "ab", std::string("a\xff", 2), "b", std::string("\x01", 1), "\t"};
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> encoded;
  for (const auto& k : keys) {
    for (uint16_t salt : {0, 1, 300}) {
      for (uint8_t tag : {0, 1}) {
        std::string e;
        EncodeJoinKey(k, salt, tag, &e);
        encoded.push_back(e);
        std::string_view raw;
        uint16_t s2;
        uint8_t t2;
        std::string scratch;
        ASSERT_TRUE(DecodeJoinKey(e, &raw, &s2, &t2, &scratch));
        EXPECT_EQ(raw, k);
        EXPECT_EQ(s2, salt);
        EXPECT_EQ(t2, tag);
        EXPECT_EQ(JoinGroupPrefix(e), e.size() - 1);
        std::string scratch2;
        EXPECT_EQ(JoinKeyRaw(e, &scratch2), k);
      }
    }
  }
  // Generated in (key, salt, tag) order, so memcmp order must be the same.
  EXPECT_TRUE(std::is_sorted(encoded.begin(), encoded.end()));
  std::string_view raw;
  uint16_t s;
  uint8_t t;
  std::string scratch;
  EXPECT_FALSE(DecodeJoinKey("no terminator", &raw, &s, &t, &scratch));
  EXPECT_FALSE(DecodeJoinKey(std::string("k\0\x01\0", 4), &raw, &s, &t, &scratch));
  EXPECT_FALSE(DecodeJoinKey(std::string("k\0\x03\0\x01", 5), &raw, &s, &t, &scratch));
  EXPECT_FALSE(DecodeJoinKey(std::string("k\0\x04", 3), &raw, &s, &t, &scratch));
  EXPECT_FALSE(DecodeJoinKey(std::string("k\0\x03\0\0\x01", 6), &raw, &s, &t, &scratch));  // salt 0's long form
  EXPECT_FALSE(DecodeJoinKey(std::string("k\0\x01\x02", 4), &raw, &s, &t, &scratch));
  EXPECT_FALSE(DecodeJoinKey("", &raw, &s, &t, &scratch));
  EXPECT_EQ(JoinKeyRaw("no terminator", &scratch), "no terminator");
  // A 6-byte key with salt 0 fits the sort's 8-byte prefix.
  std::string e;
  EncodeJoinKey("123456", 0, 1, &e);
  EXPECT_EQ(e.size(), 8u);
  EXPECT_EQ(JoinKeyTag(e), 1);
}

TEST(JoinHashTable, KeepsRowOrderPerKey) {
  JoinHashTable t;
  t.Add("a", "1");
  t.Add("b", "2");
  t.Add("a", "3");
  uint32_t id = 0;
  std::vector<std::string> rows;
  for (int32_t r = t.Find("a", &id); r >= 0; r = t.row(r).next) rows.emplace_back(t.payload(t.row(r)));
  EXPECT_EQ(rows, (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(t.key(id), "a");
  EXPECT_EQ(t.Find("c", &id), -1);
  EXPECT_EQ(t.keys(), 2u);
}

// Lines "key\tpayload" as a join side; output "key \t L|R" with "-" for a missing side.
JoinDef LinesDef(const std::string& left, const std::string& right, JoinType type) {
  JoinDef def;
  def.type = type;
  for (int s = 0; s < 2; ++s) {
    def.side[s].input = s == 0 ? left : right;
    def.side[s].extract = [](std::string_view, std::string_view line, std::string_view* key, std::string* payload,
                             std::string*) {
      size_t tab = line.find('\t');
      if (tab == std::string_view::npos) return false;
      *key = line.substr(0, tab);
      payload->assign(line.substr(tab + 1));
      return true;
    };
  }
  def.emit = [](std::string_view key, const std::string_view* l, const std::string_view* r, TaskContext& ctx) {
    ctx.Emit(key, std::string(l ? *l : "-") + "|" + std::string(r ? *r : "-"));
  };
  return def;
}

using Rows = std::vector<std::pair<std::string, std::string>>;

Rows Parse(const std::string& text) {
  Rows rows;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl - start);
    size_t tab = line.find('\t');
    rows.emplace_back(line.substr(0, tab), line.substr(tab + 1));
    start = nl + 1;
  }
  return rows;
}

Rows NestedLoop(const Rows& l, const Rows& r, JoinType type) {
  Rows out;
  std::vector<bool> r_matched(r.size());
  for (const auto& [lk, lv] : l) {
    bool matched = false;
    for (size_t j = 0; j < r.size(); ++j) {
      if (r[j].first != lk) continue;
      matched = r_matched[j] = true;
      out.emplace_back(lk, lv + "|" + r[j].second);
    }
    if (!matched && KeepsUnmatched(type, 0)) out.emplace_back(lk, lv + "|-");
  }
  for (size_t j = 0; j < r.size(); ++j) {
    if (!r_matched[j] && KeepsUnmatched(type, 1)) out.emplace_back(r[j].first, "-|" + r[j].second);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Table(int rows, int keys, uint64_t seed, const std::string& tag) {
  std::mt19937_64 rng(seed);
  std::string text;
  for (int i = 0; i < rows; ++i) text += "k" + std::to_string(rng() % keys) + "\t" + tag + std::to_string(i) + "\n";
  return text;
}

Rows RunJoin(const JobSpec& spec, const std::string& out, int reducers, JobResult* result = nullptr) {
  JobOptions o;
  o.output = out;
  o.reducers = reducers;
  o.threads = 2;
  o.split_bytes = 2000;
  JobResult r = RunLocalJob(spec, o);
  EXPECT_TRUE(r.ok) << r.error;
  if (result) *result = r;
  Rows rows = ReadRecords(out);
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(ReduceSideJoin, EveryTypeMatchesNestedLoop) {
  TempDir dir;
  std::string lt = Table(600, 80, 1, "L"), rt = Table(300, 120, 2, "R");
  std::string l = dir.Write("l.tsv", lt), r = dir.Write("r.tsv", rt);
  for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    for (int buffered : {0, 1}) {
      ReduceJoinOptions o;
      o.buffered_side = buffered;
      Rows got = RunJoin(ReduceSideJoin(LinesDef(l, r, type), o), dir.Sub("out"), 3);
      EXPECT_EQ(got, NestedLoop(Parse(lt), Parse(rt), type)) << JoinTypeName(type) << " buffered " << buffered;
      (void)RemoveAll(dir.Sub("out"));
    }
  }
}

TEST(ReduceSideJoin, BufferedSideSpillsAndHotKeysGiveTheSameRows) {
  TempDir dir;
  // One key with 20k buffered rows against 5 streamed rows, with a 4 KiB buffer.
  std::string lt, rt;
  for (int i = 0; i < 5; ++i) lt += "hot\tL" + std::to_string(i) + "\n";
  for (int i = 0; i < 20000; ++i) rt += "hot\tR" + std::to_string(i) + "\n";
  lt += Table(200, 50, 3, "l");
  rt += Table(200, 50, 4, "r");
  std::string l = dir.Write("l.tsv", lt), r = dir.Write("r.tsv", rt);
  Rows want = NestedLoop(Parse(lt), Parse(rt), JoinType::kFull);
  ReduceJoinOptions o;
  o.buffered_side = 1;
  o.buffer_bytes = 4096;
  JobResult result;
  EXPECT_EQ(RunJoin(ReduceSideJoin(LinesDef(l, r, JoinType::kFull), o), dir.Sub("spill"), 2, &result), want);
  EXPECT_GT(result.counters[kSpilledRowsCounter], 0);
  // Hot key handling: the streamed (large) side's rows of "k1" spread, the buffered copied.
  ReduceJoinOptions hot;
  hot.buffered_side = 0;
  hot.hot_keys = {"hot", "k1"};
  EXPECT_EQ(RunJoin(ReduceSideJoin(LinesDef(l, r, JoinType::kFull), hot), dir.Sub("hot"), 4, &result), want);
  EXPECT_EQ(result.counters[kHotKeysCounter], 2);
  EXPECT_GE(result.counters[kHotKeyRowsCounter], 20000);
  // The hot key's large-side rows are spread over all 4 reducers.
  for (uint64_t n : result.reduce_records_in) EXPECT_GT(n, 4000u);  // about 5000 each: salts are hashes of the rows' offsets
}

TEST(ReduceSideJoin, HotKeyOutputDoesNotDependOnSplits) {
  TempDir dir;
  std::string lt, rt = Table(200, 50, 8, "r");
  for (int i = 0; i < 3000; ++i) lt += (i % 3 ? "k1" : "k7") + std::string("\tL") + std::to_string(i) + "\n";
  lt += Table(2000, 50, 7, "l");
  std::string l = dir.Write("l.tsv", lt), r = dir.Write("r.tsv", rt);
  ReduceJoinOptions hot;
  hot.buffered_side = 1;
  hot.hot_keys = {"k1", "k7"};
  JobSpec spec = ReduceSideJoin(LinesDef(l, r, JoinType::kInner), hot);
  std::vector<Rows> parts;
  for (uint64_t split : {1500, 7000, 1 << 20}) {
    for (int threads : {1, 3}) {
      JobOptions o;
      o.output = dir.Sub("out");
      o.reducers = 4;
      o.threads = threads;
      o.split_bytes = split;
      o.overwrite = true;
      JobResult res = RunLocalJob(spec, o);
      ASSERT_TRUE(res.ok) << res.error;
      EXPECT_GT(res.counters[kHotKeyRowsCounter], 0);
      for (int p = 0; p < 4; ++p) {
        Rows part = ReadRecords(JoinPath(o.output, "part-0000" + std::to_string(p)));
        if (parts.size() < 4) {
          parts.push_back(part);
          EXPECT_FALSE(part.empty());  // the hot keys are spread over every reducer
        } else {
          EXPECT_EQ(part, parts[p]) << "part " << p << " with split_bytes " << split << ", " << threads << " threads";
        }
      }
    }
  }
}

TEST(BroadcastJoin, EveryTypeAndSideMatchesNestedLoop) {
  TempDir dir;
  std::string lt = Table(900, 100, 5, "L"), rt = Table(500, 130, 6, "R");
  std::string l = dir.Write("l.tsv", lt), r = dir.Write("r.tsv", rt);
  for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    for (int small : {0, 1}) {
      auto spec = BroadcastJoin(LinesDef(l, r, type), small);
      ASSERT_TRUE(spec.ok()) << spec.status().ToString();
      JobResult result;
      EXPECT_EQ(RunJoin(*spec, dir.Sub("out"), 1, &result), NestedLoop(Parse(lt), Parse(rt), type))
          << JoinTypeName(type) << " broadcasting side " << small;
      EXPECT_EQ(result.shuffle_bytes, 0u);
      EXPECT_GT(result.map_tasks, 1);
      // Keeping the broadcast side's unmatched rows takes the tail task and its bitmaps.
      bool tail = KeepsUnmatched(type, small);
      EXPECT_EQ(result.reduce_tasks, tail ? 1 : 0) << JoinTypeName(type) << " broadcasting side " << small;
      EXPECT_EQ(result.tail_bytes > 0, tail) << JoinTypeName(type) << " broadcasting side " << small;
      (void)RemoveAll(dir.Sub("out"));
    }
  }
}

TEST(BroadcastJoin, FullJoinWithAnEmptyStreamedSideKeepsEveryBroadcastRow) {
  TempDir dir;
  std::string rt = Table(150, 130, 6, "R");
  std::string l = dir.Write("l.tsv", ""), r = dir.Write("r.tsv", rt);
  auto spec = BroadcastJoin(LinesDef(l, r, JoinType::kFull), 1);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(RunJoin(*spec, dir.Sub("out"), 1), NestedLoop({}, Parse(rt), JoinType::kFull));
}

}  // namespace
}  // namespace sawmill
