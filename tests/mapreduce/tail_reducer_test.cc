// Map-only jobs with a tail reducer (JobSpec::tail_reducer): map tasks write their parts and send
// records to one tail task, whose part follows theirs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/mapreduce.h"
#include "common/file.h"
#include "mapreduce/local_runner.h"
#include "records/manifest.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

// Copies each line to the output; tells the tail how many lines it saw and its first line.
class LineMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    ctx.Emit(line, "");
    if (lines_++ == 0) ctx.EmitToTail("first", line);
  }
  void Finish(TaskContext& ctx) override { ctx.EmitToTail("lines", std::to_string(lines_)); }

 private:
  int64_t lines_ = 0;
};

// Sums "lines"; lists the "first" lines in the order they arrive (map task order).
class TotalsReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    std::string_view v;
    if (key == "lines") {
      while (values.Next(&v)) total_ += std::stoll(std::string(v));
      return;
    }
    std::string firsts;
    while (values.Next(&v)) firsts += std::string(v) + ",";
    ctx.Emit(key, firsts);
  }
  void Finish(TaskContext& ctx) override { ctx.Emit("total", std::to_string(total_)); }

 private:
  int64_t total_ = 0;
};

JobSpec TailJob() {
  JobSpec spec;
  spec.name = "tail";
  spec.mapper = [] { return std::make_unique<LineMapper>(); };
  spec.tail_reducer = [] { return std::make_unique<TotalsReducer>(); };
  return spec;
}

std::string Lines(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += "line" + std::to_string(100000 + i) + "\n";
  return text;
}

TEST(TailReducer, RunsAfterTheMapsAndWritesTheLastPart) {
  testing::TempDir dir;
  std::string text = Lines(40000);
  JobOptions o;
  o.inputs = {dir.Write("in.txt", text)};
  o.output = dir.Sub("out");
  o.split_bytes = 64 << 10;
  o.threads = 3;
  JobResult r = RunLocalJob(TailJob(), o);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_GT(r.map_tasks, 2);
  EXPECT_EQ(r.reduce_tasks, 1);
  EXPECT_EQ(r.counters["sawmill.shuffle_bytes"], 0);
  EXPECT_GT(r.counters["sawmill.tail_bytes"], 0);
  EXPECT_EQ(r.counters["sawmill.reduce_groups"], 2);

  auto m = ReadManifest(JoinPath(o.output, kManifestName));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->parts.size(), static_cast<size_t>(r.map_tasks + 1));
  EXPECT_EQ(m->num_partitions, r.map_tasks + 1);
  EXPECT_EQ(m->partitioner, "tail");
  EXPECT_FALSE(m->sorted);

  // The map parts hold the input in order; the tail part, the totals.
  std::string copied;
  for (int p = 0; p < r.map_tasks; ++p) {
    for (const auto& [k, v] : ReadRecords(JoinPath(o.output, m->parts[p].name))) copied += k + "\n";
  }
  EXPECT_EQ(copied, text);
  auto tail = ReadRecords(JoinPath(o.output, m->parts.back().name));
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].first, "first");
  EXPECT_EQ(tail[1], std::make_pair(std::string("total"), std::string("40000")));
  // One first line per map task, in map task order.
  std::string expected;
  for (int p = 0; p < r.map_tasks; ++p) {
    auto part = ReadRecords(JoinPath(o.output, m->parts[p].name));
    if (!part.empty()) expected += part.front().first + ",";
  }
  EXPECT_EQ(tail[0].second, expected);
}

TEST(TailReducer, RunsOverAnEmptyInput) {
  testing::TempDir dir;
  JobOptions o;
  o.inputs = {dir.Write("empty.txt", "")};
  o.output = dir.Sub("out");
  JobResult r = RunLocalJob(TailJob(), o);
  ASSERT_TRUE(r.ok) << r.error;
  auto records = ReadRecords(o.output);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], std::make_pair(std::string("total"), std::string("0")));
}

TEST(TailReducer, EmitToTailWithoutATailFailsTheJob) {
  testing::TempDir dir;
  JobSpec spec = TailJob();
  spec.tail_reducer = nullptr;
  JobOptions o;
  o.inputs = {dir.Write("in.txt", Lines(10))};
  o.output = dir.Sub("out");
  JobResult r = RunLocalJob(spec, o);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no tail_reducer"), std::string::npos) << r.error;
}

TEST(TailReducer, AReducerAndATailAreRefused) {
  testing::TempDir dir;
  JobSpec spec = TailJob();
  spec.reducer = [] { return std::make_unique<TotalsReducer>(); };
  JobOptions o;
  o.inputs = {dir.Write("in.txt", Lines(10))};
  o.output = dir.Sub("out");
  JobResult r = RunLocalJob(spec, o);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.error.find("both a reducer and a tail_reducer"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace sawmill
