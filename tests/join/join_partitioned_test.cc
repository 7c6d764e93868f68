// Partitioned hash and sort-merge joins of co-partitioned record datasets (join/join.h):
// every join type against a nested-loop oracle, the _MANIFEST checks that refuse inputs which
// are not partitioned alike, and merge's refusal of parts that are not sorted.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "api/mapreduce.h"
#include "api/reducers.h"
#include "common/file.h"
#include "join/join.h"
#include "mapreduce/local_runner.h"
#include "records/manifest.h"
#include "records/record_file.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

using testing::TempDir;
using Rows = std::vector<std::pair<std::string, std::string>>;

constexpr char kMalformed[] = "!";  // a value the test extractor rejects

class IdentityMapper final : public Mapper {
 public:
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    ctx.Emit(key, value);
  }
};

// A hash-partitioned, sorted record dataset (the shape keyby writes) holding `rows`; a record
// file input so that keys may hold tabs and any byte.
std::string MakeRecords(const TempDir& dir, const std::string& name, const Rows& rows, int reducers,
                        size_t block_kb = 64) {
  std::string in = dir.Sub(name + ".rec");
  auto w = RecordFileWriter::Create(in, RecordFileOptions{});
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  for (const auto& [k, v] : rows) EXPECT_TRUE((*w)->Add(k, v).ok());
  EXPECT_TRUE((*w)->Finish().ok());
  JobSpec spec;
  spec.name = "records";
  spec.input_format = InputFormat::kRecordFile;
  spec.mapper = [] { return std::make_unique<IdentityMapper>(); };
  spec.reducer = [] { return std::make_unique<IdentityReducer>(); };
  JobOptions o;
  o.inputs = {in};
  o.output = dir.Sub(name);
  o.reducers = reducers;
  o.block_kb = block_kb;
  JobResult r = RunLocalJob(spec, o);
  EXPECT_TRUE(r.ok) << r.error;
  return o.output;
}

// Join key = record key, payload = value; output value "L|R" with "-" for a missing side.
JoinDef TestDef(const std::string& left, const std::string& right, JoinType type) {
  JoinDef def;
  def.name = "pjoin";
  def.type = type;
  for (int s = 0; s < 2; ++s) {
    def.side[s].input = s == 0 ? left : right;
    def.side[s].format = InputFormat::kRecordFile;
    def.side[s].extract = [](std::string_view key, std::string_view value,
                             std::string_view* join_key, std::string* payload, std::string*) {
      if (value == kMalformed) return false;
      *join_key = key;
      payload->assign(value);
      return true;
    };
  }
  def.emit = [](std::string_view key, const std::string_view* l, const std::string_view* r,
                TaskContext& ctx) {
    ctx.Emit(key, std::string(l ? *l : "-") + "|" + std::string(r ? *r : "-"));
  };
  return def;
}

// The join computed directly: all matching pairs, then unmatched rows of the kept sides.
Rows NestedLoopJoin(const Rows& left, const Rows& right, JoinType type) {
  Rows out;
  std::vector<bool> right_matched(right.size(), false);
  for (const auto& [lk, lv] : left) {
    if (lv == kMalformed) continue;
    bool matched = false;
    for (size_t j = 0; j < right.size(); ++j) {
      if (right[j].second == kMalformed || right[j].first != lk) continue;
      out.emplace_back(lk, lv + "|" + right[j].second);
      matched = right_matched[j] = true;
    }
    if (!matched && KeepsUnmatched(type, 0)) out.emplace_back(lk, lv + "|-");
  }
  for (size_t j = 0; j < right.size(); ++j) {
    if (right[j].second == kMalformed || right_matched[j] || !KeepsUnmatched(type, 1)) continue;
    out.emplace_back(right[j].first, "-|" + right[j].second);
  }
  return out;
}

Rows Sorted(Rows rows) {
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Keys whose hash partition (of 3) is p, in a fixed order.
std::vector<std::string> KeysOfPartition(int p, size_t n, const std::string& prefix) {
  HashPartitioner hp;
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < n; ++i) {
    std::string k = prefix + std::to_string(i);
    if (hp.Partition(k, 3) == p) keys.push_back(k);
  }
  return keys;
}

// Two 3-part datasets: the partition of the empty key holds keys on both sides (duplicates on
// both, keys of one side only, a tab and 0xFF bytes, a malformed row on each side); of the other
// two partitions, one has rows only on the left and one only on the right, so each side has an
// empty part.
class CoPartitionedJoinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HashPartitioner hp;
    shared_ = hp.Partition("", 3);
    left_only_ = (shared_ + 1) % 3;
    right_only_ = (shared_ + 2) % 3;
    std::vector<std::string> s = KeysOfPartition(shared_, 5, "s\t\xff");
    std::vector<std::string> lo = KeysOfPartition(left_only_, 2, "l");
    std::vector<std::string> ro = KeysOfPartition(right_only_, 2, "r");
    left_ = {{s[0], "L1"},  {s[1], "L2"},       {s[0], "L3"}, {"", "L4"},
             {s[2], "L5"},  {lo[0], "L6"},      {s[0], "L7"}, {lo[1], "L8"},
             {lo[0], "L9"}, {s[3], kMalformed}, {"", "L10"},  {s[3], "L11"}};
    right_ = {{s[0], "R1"},  {"", "R2"},    {s[0], "R3"}, {s[1], "R4"},
              {s[4], "R5"},  {ro[0], "R6"}, {s[1], "R7"}, {s[2], kMalformed},
              {ro[1], "R8"}, {s[4], "R9"},  {s[0], "R10"}};
    left_dir_ = MakeRecords(dir_, "left", left_, 3);
    right_dir_ = MakeRecords(dir_, "right", right_, 3);
  }

  JobResult Run(const JoinDef& def, bool merge, int streamed, const std::string& out, Rows* rows) {
    auto spec = CoPartitionedJoin(def, merge, streamed);
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    if (!spec.ok()) return {};
    JobOptions o;
    o.inputs = spec->inputs;
    o.output = dir_.Sub(out);
    o.threads = 2;
    JobResult r = RunLocalJob(*spec, o);
    if (r.ok) *rows = ReadRecords(o.output);
    return r;
  }

  TempDir dir_;
  int shared_ = 0, left_only_ = 0, right_only_ = 0;
  Rows left_, right_;
  std::string left_dir_, right_dir_;
};

TEST_F(CoPartitionedJoinTest, DatasetsHaveAnEmptyPartOnEachSide) {
  auto l = ReadManifest(JoinPath(left_dir_, kManifestName));
  auto r = ReadManifest(JoinPath(right_dir_, kManifestName));
  ASSERT_TRUE(l.ok() && r.ok());
  EXPECT_EQ(l->parts[right_only_].records, 0u);
  EXPECT_EQ(r->parts[left_only_].records, 0u);
  EXPECT_GT(l->parts[left_only_].records, 0u);
  EXPECT_GT(r->parts[right_only_].records, 0u);
  EXPECT_TRUE(CheckCoPartitioned(left_dir_, right_dir_, true).ok());
}

TEST_F(CoPartitionedJoinTest, AllTypesBothStrategiesBothStreamedSidesMatchNestedLoop) {
  int n = 0;
  for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    Rows want = Sorted(NestedLoopJoin(left_, right_, type));
    for (bool merge : {false, true}) {
      for (int streamed : {0, 1}) {
        SCOPED_TRACE(std::string(JoinTypeName(type)) + (merge ? " merge" : " partitioned") +
                     " streaming " + (streamed == 0 ? "left" : "right"));
        Rows got;
        JobResult r = Run(TestDef(left_dir_, right_dir_, type), merge, streamed,
                          "out" + std::to_string(n++), &got);
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_EQ(Sorted(got), want);
        EXPECT_EQ(r.map_tasks, 3);
        EXPECT_EQ(r.reduce_tasks, 0);
        EXPECT_EQ(r.shuffle_bytes, 0u);
        EXPECT_EQ(r.counters["join.malformed_rows"], 2);
      }
    }
  }
}

// Within a key, rows come in (streamed row order, the other side's rows in input order), and
// reruns give the same bytes.
TEST_F(CoPartitionedJoinTest, OrderWithinAKeyIsStreamedThenOtherInputOrder) {
  std::string a = KeysOfPartition(shared_, 1, "s\t\xff")[0];
  for (bool merge : {false, true}) {
    SCOPED_TRACE(merge ? "merge" : "partitioned");
    Rows got, again;
    ASSERT_TRUE(
        Run(TestDef(left_dir_, right_dir_, JoinType::kInner), merge, 0, merge ? "m1" : "p1", &got)
            .ok);
    ASSERT_TRUE(
        Run(TestDef(left_dir_, right_dir_, JoinType::kInner), merge, 0, merge ? "m2" : "p2", &again)
            .ok);
    EXPECT_EQ(got, again);
    std::vector<std::string> of_a;
    for (const auto& [k, v] : got) {
      if (k == a) of_a.push_back(v);
    }
    std::vector<std::string> want = {"L1|R1",  "L1|R3", "L1|R10", "L3|R1", "L3|R3",
                                     "L3|R10", "L7|R1", "L7|R3",  "L7|R10"};
    EXPECT_EQ(of_a, want);
  }
}

// Many rows over small blocks, so merge crosses block boundaries on both sides mid-run.
TEST_F(CoPartitionedJoinTest, SeededRandomTablesOverManyBlocks) {
  std::mt19937_64 rng(6);
  auto table = [&](char side, int n) {
    Rows rows;
    for (int i = 0; i < n; ++i) {
      int k = static_cast<int>(rng() % 150);
      std::string key = k == 0 ? "" : std::string(k % 3 == 0 ? "\xff" : "k\t") + std::to_string(k);
      std::string value =
          rng() % 200 == 0 ? kMalformed : side + std::to_string(i) + std::string(rng() % 40, 'x');
      rows.emplace_back(key, value);
    }
    return rows;
  };
  Rows left = table('L', 1500), right = table('R', 1200);
  std::string l = MakeRecords(dir_, "rl", left, 3, 1);
  std::string r = MakeRecords(dir_, "rr", right, 3, 1);
  int n = 0;
  for (JoinType type : {JoinType::kInner, JoinType::kFull}) {
    Rows want = Sorted(NestedLoopJoin(left, right, type));
    for (bool merge : {false, true}) {
      SCOPED_TRACE(std::string(JoinTypeName(type)) + (merge ? " merge" : " partitioned"));
      Rows got;
      JobResult res = Run(TestDef(l, r, type), merge, n % 2, "rand" + std::to_string(n), &got);
      ++n;
      ASSERT_TRUE(res.ok) << res.error;
      EXPECT_EQ(Sorted(got), want);
    }
  }
}

// A run of one key larger than merge's in-memory share (32 MiB) spills, and is replayed whole
// for each streamed row of the key.
TEST_F(CoPartitionedJoinTest, MergeRunLargerThanMemorySpillsAndReplays) {
  Rows left = {{"h", "L1"}, {"h", "L2"}, {"z", "L3"}};
  Rows right;
  for (int i = 0; i < 36; ++i)
    right.emplace_back("h", std::to_string(i) + std::string(1 << 20, 'r'));
  std::string l = MakeRecords(dir_, "bl", left, 1);
  std::string r = MakeRecords(dir_, "br", right, 1);
  Rows got;
  JobResult res = Run(TestDef(l, r, JoinType::kLeft), true, 0, "big", &got);
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(got.size(), 73u);
  for (int i = 0; i < 72; ++i) {
    EXPECT_EQ(got[i].first, "h");
    EXPECT_EQ(got[i].second, std::string(i < 36 ? "L1|" : "L2|") + right[i % 36].second) << i;
  }
  EXPECT_EQ(got[72], (std::pair<std::string, std::string>("z", "L3|-")));
}

TEST_F(CoPartitionedJoinTest, FullJoinOfTwoEmptyDatasets) {
  std::string l = MakeRecords(dir_, "empty_l", {}, 3);
  std::string r = MakeRecords(dir_, "empty_r", {}, 3);
  for (bool merge : {false, true}) {
    Rows got;
    JobResult res = Run(TestDef(l, r, JoinType::kFull), merge, 1, merge ? "em" : "ep", &got);
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(res.map_tasks, 3);
  }
}

TEST_F(CoPartitionedJoinTest, RefusesDifferentPartCounts) {
  std::string two = MakeRecords(dir_, "two", right_, 2);
  Status s = CheckCoPartitioned(left_dir_, two, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("left " + left_dir_ + " has 3 parts (hash), right " + two + " has 2"),
            std::string::npos)
      << s.message();
  auto spec = CoPartitionedJoin(TestDef(left_dir_, two, JoinType::kInner), true, 0);
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CoPartitionedJoinTest, RefusesInputsWithoutManifest) {
  std::string file = dir_.Write("plain.tsv", "a\tb\n");
  Status s = CheckCoPartitioned(file, right_dir_, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(file), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("_MANIFEST"), std::string::npos) << s.message();
  std::string bare = dir_.Sub("bare");
  ASSERT_TRUE(MakeDirs(bare).ok());
  s = CheckCoPartitioned(left_dir_, bare, true);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("right input " + bare), std::string::npos) << s.message();
  std::string missing = dir_.Sub("missing");
  s = CheckCoPartitioned(missing, right_dir_, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("left input " + missing + " does not exist"), std::string::npos)
      << s.message();
}

class ManifestEditTest : public CoPartitionedJoinTest {
 protected:
  // A copy of the right dataset's directory with its manifest edited by `edit`.
  std::string EditedRight(const std::string& name, void (*edit)(Manifest*)) {
    std::string out = MakeRecords(dir_, name, right_, 3);
    auto m = ReadManifest(JoinPath(out, kManifestName));
    EXPECT_TRUE(m.ok());
    edit(&*m);
    EXPECT_TRUE(WriteManifest(JoinPath(out, kManifestName), *m).ok());
    return out;
  }
};

TEST_F(ManifestEditTest, MergeRefusesUnsortedInputPartitionedAcceptsIt) {
  std::string unsorted = EditedRight("unsorted", [](Manifest* m) { m->sorted = false; });
  Status s = CheckCoPartitioned(left_dir_, unsorted, true);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("right " + unsorted + " is not sorted"), std::string::npos)
      << s.message();
  EXPECT_TRUE(CheckCoPartitioned(left_dir_, unsorted, false).ok());
  s = CheckCoPartitioned(unsorted, left_dir_, true);
  EXPECT_NE(s.message().find("left " + unsorted + " is not sorted"), std::string::npos)
      << s.message();
}

TEST_F(ManifestEditTest, RefusesOtherPartitioners) {
  std::string range = EditedRight("range", [](Manifest* m) {
    m->partitioner = "range";
    m->split_points = {"k", "t"};
  });
  Status s = CheckCoPartitioned(left_dir_, range, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("partitioned differently"), std::string::npos) << s.message();

  std::string range2 = EditedRight("range2", [](Manifest* m) {
    m->partitioner = "range";
    m->split_points = {"k", "u"};
  });
  s = CheckCoPartitioned(range, range2, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("split points"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckCoPartitioned(range, range, true).ok());

  std::string custom = EditedRight("custom", [](Manifest* m) { m->partitioner = "custom"; });
  s = CheckCoPartitioned(custom, custom, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'custom'"), std::string::npos) << s.message();
  std::string none = EditedRight("none", [](Manifest* m) { m->partitioner = "none"; });
  s = CheckCoPartitioned(left_dir_, none, false);
  EXPECT_NE(s.message().find("'none'"), std::string::npos) << s.message();
}

TEST_F(ManifestEditTest, RefusesPartsNotCoveringEachPartitionOnce) {
  std::string dup = EditedRight("dup", [](Manifest* m) { m->parts[1].partition = 0; });
  Status s = CheckCoPartitioned(left_dir_, dup, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("partition 0 twice"), std::string::npos) << s.message();
  std::string missing = EditedRight("missing", [](Manifest* m) { m->parts.pop_back(); });
  s = CheckCoPartitioned(left_dir_, missing, false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no part for partition 2"), std::string::npos) << s.message();
}

// A part whose keys go backwards although its manifest says sorted: the merge task fails,
// naming the file, on either side; the partitioned join does not care.
TEST_F(CoPartitionedJoinTest, MergeFailsOnAPartNotSortedByTheJoinKey) {
  std::string bad = MakeRecords(dir_, "bad", right_, 3);
  std::string part = JoinPath(bad, "part-" + std::string(5 - std::to_string(shared_).size(), '0') +
                                       std::to_string(shared_));
  ASSERT_TRUE(PathExists(part)) << part;
  {
    RecordFileOptions ro;
    ro.partition = shared_;
    auto w = RecordFileWriter::Create(part, ro);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Add("zz", "R1").ok());
    ASSERT_TRUE((*w)->Add("", "R2").ok());
    ASSERT_TRUE((*w)->Finish().ok());
  }
  int n = 0;
  for (int streamed : {0, 1}) {
    SCOPED_TRACE(streamed);
    Rows got;
    JobResult r = Run(TestDef(left_dir_, bad, JoinType::kFull), true, streamed,
                      "bad" + std::to_string(n++), &got);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find(part + " is not sorted by the join key"), std::string::npos) << r.error;
    r = Run(TestDef(left_dir_, bad, JoinType::kFull), false, streamed, "bad" + std::to_string(n++),
            &got);
    EXPECT_TRUE(r.ok) << r.error;
  }
}

TEST_F(CoPartitionedJoinTest, RefusesTextFormatSides) {
  JoinDef def = TestDef(left_dir_, right_dir_, JoinType::kInner);
  def.side[1].format = InputFormat::kTextLines;
  auto spec = CoPartitionedJoin(def, false, 0);
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("right input " + right_dir_), std::string::npos);
}

}  // namespace
}  // namespace sawmill
