// The runtime pieces joins build on, through the local runner: tagged inputs (a mapper and a
// format per input), secondary sort (grouping prefix, partition key, each value's whole key),
// whole-file splits, and the shuffle-bytes counter.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "api/mapreduce.h"
#include "api/reducers.h"
#include "common/file.h"
#include "mapreduce/local_runner.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

using testing::TempDir;

// Emits (line's first field + '|' + tag, rest) for text, (key + '|' + tag, value) for records:
// the tag orders one input's values before the other's within a key.
class TaggingMapper final : public Mapper {
 public:
  explicit TaggingMapper(char tag) : tag_(tag) {}
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    if (ctx.input_index() != tag_ - '0') throw std::runtime_error("wrong input index");
    std::string k, v;
    if (key.empty()) {
      size_t tab = value.find('\t');
      k = std::string(value.substr(0, tab));
      v = tab == std::string_view::npos ? "" : std::string(value.substr(tab + 1));
    } else {
      k = std::string(key);
      v = std::string(value);
    }
    ctx.Emit(k + '|' + tag_, v);
  }

 private:
  char tag_;
};

// Writes (group key, "tags:values") so a test sees the order of values and their tags.
class ConcatReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    std::string out;
    std::string_view v;
    while (values.Next(&v)) {
      std::string_view full = values.key();
      out += full.substr(full.size() - 1);  // the tag
      out += ':';
      out += v;
      out += ';';
    }
    ctx.Emit(key.substr(0, key.find('|')), out);
  }
};

size_t GroupPrefix(std::string_view key) {
  size_t bar = key.rfind('|');
  return bar == std::string_view::npos ? key.size() : bar;
}

JobSpec TaggedJoinSpec() {
  JobSpec spec;
  spec.name = "tagged";
  spec.input_formats = {InputFormat::kTextLines, InputFormat::kRecordFile};
  spec.mapper_for_input = [](int i) { return std::make_unique<TaggingMapper>(static_cast<char>('0' + i)); };
  spec.reducer = [] { return std::make_unique<ConcatReducer>(); };
  spec.group_prefix = GroupPrefix;
  spec.partition_key = [](std::string_view key, std::string*) { return key.substr(0, GroupPrefix(key)); };
  return spec;
}

// A record dataset (a map-only identity job over "key\tvalue" lines).
class SplitLineMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    size_t tab = line.find('\t');
    ctx.Emit(line.substr(0, tab), tab == std::string_view::npos ? "" : line.substr(tab + 1));
  }
};

std::string MakeRecords(const TempDir& dir, const std::string& name, const std::string& lines) {
  JobSpec spec;
  spec.name = "records";
  spec.mapper = [] { return std::make_unique<SplitLineMapper>(); };
  spec.reducer = [] { return std::make_unique<IdentityReducer>(); };
  JobOptions o;
  o.inputs = {dir.Write(name + ".tsv", lines)};
  o.output = dir.Sub(name);
  o.reducers = 2;
  JobResult r = RunLocalJob(spec, o);
  EXPECT_TRUE(r.ok) << r.error;
  return o.output;
}

TEST(SecondarySort, TaggedInputsGroupOnPrefixWithTagOrder) {
  TempDir dir;
  std::string right = MakeRecords(dir, "right", "a\tR1\nb\tR2\na\tR3\nc\tR4\n");
  JobOptions o;
  o.inputs = {dir.Write("left.tsv", "a\tL1\nb\tL2\na\tL3\nd\tL4\n"), right};
  o.output = dir.Sub("out");
  o.reducers = 3;
  o.split_bytes = 8;  // several map tasks on the text side
  JobResult r = RunLocalJob(TaggedJoinSpec(), o);
  ASSERT_TRUE(r.ok) << r.error;
  std::map<std::string, std::string> got;
  for (auto& [k, v] : ReadRecords(o.output)) got[k] = v;
  // Left values (tag 0) first, each side in (map task, emit order); right records come from
  // the record dataset's parts in part order, which keeps a key's rows in input order.
  std::map<std::string, std::string> want = {
      {"a", "0:L1;0:L3;1:R1;1:R3;"}, {"b", "0:L2;1:R2;"}, {"c", "1:R4;"}, {"d", "0:L4;"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.counters["sawmill.reduce_groups"], 4);
  EXPECT_GT(r.shuffle_bytes, 0u);
  EXPECT_EQ(r.counters["sawmill.shuffle_bytes"], static_cast<int64_t>(r.shuffle_bytes));
  ASSERT_EQ(r.reduce_records_in.size(), 3u);
  uint64_t in = 0;
  for (uint64_t n : r.reduce_records_in) in += n;
  EXPECT_EQ(in, 8u);
}

TEST(SecondarySort, PartitionKeyKeepsAGroupInOneReducer) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 500; ++i) text += "k" + std::to_string(i % 50) + "\tv" + std::to_string(i) + "\n";
  std::string right = MakeRecords(dir, "right", text);
  JobOptions o;
  o.inputs = {dir.Write("left.tsv", text), right};
  o.output = dir.Sub("out");
  o.reducers = 7;
  JobResult r = RunLocalJob(TaggedJoinSpec(), o);
  ASSERT_TRUE(r.ok) << r.error;
  // One output record per key: had a group been split over reducers it would appear twice.
  auto recs = ReadRecords(o.output);
  ASSERT_EQ(recs.size(), 50u);
  for (auto& [k, v] : recs) {
    size_t zeros = 0, ones = 0;
    for (size_t p = 0; (p = v.find(":v", p)) != std::string::npos; ++p) (v[p - 1] == '0' ? zeros : ones)++;
    EXPECT_EQ(zeros, 10u) << k;
    EXPECT_EQ(ones, 10u) << k;
    EXPECT_EQ(v.find("1:"), v.find("1:v")) << "left values come first: " << v;
    EXPECT_LT(v.rfind("0:"), v.find("1:")) << v;
  }
}

class PathMapper final : public Mapper {
 public:
  void Setup(TaskContext& ctx) override { ctx.Emit(std::string(ctx.input_path()), "setup"); }
  void Map(std::string_view, std::string_view, TaskContext& ctx) override { ctx.Increment("records"); }
};

TEST(SecondarySort, WholeFileSplitsGiveOneTaskPerFileEvenEmpty) {
  TempDir dir;
  std::string in = dir.Sub("in");
  std::filesystem::create_directories(in);
  dir.Write("in/a", std::string(5000, 'x') + "\n");
  dir.Write("in/b", "");
  dir.Write("in/c", "one\ntwo\n");
  JobSpec spec;
  spec.name = "whole";
  spec.whole_file_splits = true;
  spec.mapper = [] { return std::make_unique<PathMapper>(); };
  JobOptions o;
  o.inputs = {in};
  o.output = dir.Sub("out");
  o.split_bytes = 100;
  JobResult r = RunLocalJob(spec, o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.map_tasks, 3);
  EXPECT_EQ(r.counters["records"], 3);
  EXPECT_EQ(r.shuffle_bytes, 0u);  // map-only
  auto recs = ReadRecords(o.output);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].first, JoinPath(in, "b"));
}

}  // namespace
}  // namespace sawmill
