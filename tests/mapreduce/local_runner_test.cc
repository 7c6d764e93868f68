// The local runner end to end with in-test jobs, checked against direct computations:
// results, determinism across threads and spill regimes, (map task, emit order) of values,
// failures that leave no output, empty input and map-only jobs.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"
#include "common/file.h"
#include "mapreduce/local_runner.h"
#include "records/manifest.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

namespace fs = std::filesystem;

// Lines "w<r> w<r>..." with a skewed word distribution.
std::string MakeText(int lines, int vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string text;
  for (int i = 0; i < lines; ++i) {
    int n = 1 + static_cast<int>(rng() % 8);
    for (int j = 0; j < n; ++j) {
      uint64_t r = rng() % vocab;
      text += "w" + std::to_string(r * r % vocab) + (j + 1 < n ? " " : "");
    }
    text += "\n";
  }
  return text;
}

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
    ctx.Increment("lines");
  }
};

JobSpec WordCount(bool combiner, bool hash) {
  JobSpec spec;
  spec.name = "wc";
  spec.mapper = [] { return std::make_unique<WordMapper>(); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  if (combiner) spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.hash_aggregation = hash;
  return spec;
}

std::map<std::string, std::string> ReadAsMap(const std::string& dir) {
  std::map<std::string, std::string> m;
  for (auto& [k, v] : ReadRecords(dir)) m[k] = v;
  return m;
}

// Every file of an output directory, by name.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files[e.path().filename()] = testing::ReadAll(e.path());
  return files;
}

bool NoStagingLeft(const std::string& parent) {
  for (const auto& e : fs::directory_iterator(parent)) {
    if (e.path().filename().string().find(".staging-") != std::string::npos) return false;
  }
  return true;
}

TEST(LocalRunner, WordCountMatchesDirectCount) {
  testing::TempDir dir;
  std::string text = MakeText(3000, 500, 1);
  std::string in = dir.Write("in.txt", text);
  std::map<std::string, int64_t> expect;
  {
    std::istringstream ss(text);
    for (std::string w; ss >> w;) ++expect[w];
  }
  for (bool combiner : {false, true}) {
    JobOptions o;
    o.inputs = {in};
    o.output = dir.Sub(combiner ? "out-c" : "out");
    o.reducers = 3;
    o.split_bytes = 64 << 10;
    JobResult r = RunLocalJob(WordCount(combiner, true), o);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.counters["lines"], 3000);
    auto got = ReadAsMap(o.output);
    ASSERT_EQ(got.size(), expect.size());
    for (const auto& [w, n] : expect) EXPECT_EQ(got[w], std::to_string(n)) << w;
    auto m = ReadManifest(JoinPath(o.output, kManifestName));
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->parts.size(), 3u);
    EXPECT_EQ(m->records(), expect.size());
    EXPECT_TRUE(NoStagingLeft(dir.path()));
  }
}

TEST(LocalRunner, ByteIdenticalAcrossThreadsAndSpillRegimes) {
  testing::TempDir dir;
  std::string in = dir.Write("in.txt", MakeText(20000, 20000, 2));
  for (auto [combiner, hash] : {std::pair{false, false}, {true, false}, {true, true}}) {
    std::map<std::string, std::string> first;
    std::set<uint64_t> spill_counts;
    for (int threads : {1, 2, 4}) {
      for (size_t memory_mb : {1, 4, 256}) {
        JobOptions o;
        o.inputs = {in};
        o.output = dir.Sub("out");
        o.overwrite = true;
        o.reducers = 2;
        o.threads = threads;
        o.memory_mb = memory_mb;
        o.merge_factor = 3;
        JobResult r = RunLocalJob(WordCount(combiner, hash), o);
        ASSERT_TRUE(r.ok) << r.error;
        spill_counts.insert(r.spills);
        auto snap = Snapshot(o.output);
        if (first.empty()) {
          first = snap;
        } else {
          EXPECT_EQ(snap, first) << "threads " << threads << " memory " << memory_mb << " combiner " << combiner;
        }
      }
    }
    EXPECT_TRUE(spill_counts.count(0)) << "some run should not spill";
    EXPECT_GT(*spill_counts.rbegin(), 3u) << "some run should spill many times";
  }
}

// Emits (key, "split:seq") so the reducer can check value order.
class TagMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    ctx.Emit(line.substr(0, 1), std::to_string(ctx.task_index()) + ":" + std::to_string(seq_++) + ":" +
                                    std::string(line.size(), 'x'));
  }

 private:
  int seq_ = 0;
};
class OrderCheckReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    std::string_view v;
    std::pair<int, int> last{-1, -1};
    int64_t n = 0;
    while (values.Next(&v)) {
      int task = std::stoi(std::string(v.substr(0, v.find(':'))));
      int seq = std::stoi(std::string(v.substr(v.find(':') + 1)));
      if (std::pair{task, seq} <= last) throw std::runtime_error("out of order");
      last = {task, seq};
      ++n;
    }
    ctx.Emit(key, DecimalString(n));
  }
};

TEST(LocalRunner, EqualKeysArriveInMapTaskThenEmitOrder) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 40000; ++i) text += std::string(1, static_cast<char>('a' + i % 3)) + std::string(i % 50, 'y') + "\n";
  std::string in = dir.Write("in.txt", text);
  JobSpec spec;
  spec.mapper = [] { return std::make_unique<TagMapper>(); };
  spec.reducer = [] { return std::make_unique<OrderCheckReducer>(); };
  JobOptions o;
  o.inputs = {in};
  o.output = dir.Sub("out");
  // Three map tasks; a 1 MiB budget over 3 threads: many spills and merge passes.
  o.split_bytes = 400 << 10;
  o.memory_mb = 1;
  o.merge_factor = 2;
  o.threads = 3;
  JobResult r = RunLocalJob(spec, o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GT(r.spills, 4u);
  auto got = ReadAsMap(o.output);
  EXPECT_EQ(got["a"], std::to_string(13334));
}

class ThrowingMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    if (line == "boom") throw std::runtime_error("mapper exploded");
    ctx.Emit(line, "");
  }
};
class ThrowingReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator&, TaskContext&) override {
    if (key == "bad") throw std::invalid_argument("cannot reduce");
  }
};

TEST(LocalRunner, ThrowingMapperFailsWithSplitAndLeavesNoOutput) {
  testing::TempDir dir;
  std::string in = dir.Write("in.txt", "a\nb\nboom\nc\n");
  JobSpec spec;
  spec.mapper = [] { return std::make_unique<ThrowingMapper>(); };
  spec.reducer = [] { return std::make_unique<ThrowingReducer>(); };
  JobOptions o;
  o.inputs = {in};
  o.output = dir.Sub("out");
  JobResult r = RunLocalJob(spec, o);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.error.find("in.txt"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("offset 4"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("mapper exploded"), std::string::npos) << r.error;
  EXPECT_FALSE(PathExists(o.output));
  EXPECT_TRUE(NoStagingLeft(dir.path()));
}

TEST(LocalRunner, ThrowingReducerNamesTheKeyAndKeepsOldOutput) {
  testing::TempDir dir;
  std::string in = dir.Write("in.txt", "a\nbad\nc\n");
  JobSpec spec;
  spec.mapper = [] { return std::make_unique<ThrowingMapper>(); };
  spec.reducer = [] { return std::make_unique<ThrowingReducer>(); };
  JobOptions o;
  o.inputs = {in};
  o.output = dir.Sub("out");
  fs::create_directory(o.output);
  dir.Write("out/old", "previous");
  JobResult refused = RunLocalJob(spec, o);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.error.find("exists"), std::string::npos);
  o.overwrite = true;
  JobResult r = RunLocalJob(spec, o);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("key 'bad'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("cannot reduce"), std::string::npos) << r.error;
  EXPECT_EQ(testing::ReadAll(dir.Sub("out/old")), "previous");
  EXPECT_TRUE(NoStagingLeft(dir.path()));
}

TEST(LocalRunner, MissingInputIsUsageError) {
  testing::TempDir dir;
  JobOptions o;
  o.inputs = {dir.Sub("nope.txt")};
  o.output = dir.Sub("out");
  JobResult r = RunLocalJob(WordCount(true, true), o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.error.find("nope.txt"), std::string::npos);
}

TEST(LocalRunner, EmptyInputGivesEmptyPartsAndManifest) {
  testing::TempDir dir;
  std::string in = dir.Write("empty.txt", "");
  JobOptions o;
  o.inputs = {in};
  o.output = dir.Sub("out");
  o.reducers = 2;
  JobResult r = RunLocalJob(WordCount(true, true), o);
  ASSERT_TRUE(r.ok) << r.error;
  auto m = ReadManifest(JoinPath(o.output, kManifestName));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->parts.size(), 2u);
  EXPECT_EQ(m->records(), 0u);
  EXPECT_TRUE(ReadRecords(o.output).empty());
}

TEST(LocalRunner, MapOnlyJobWritesOnePartPerSplitInInputOrder) {
  testing::TempDir dir;
  std::string text = MakeText(50000, 100, 3);
  std::string in = dir.Write("in.txt", text);
  JobSpec spec;
  spec.mapper = [] { return std::make_unique<ThrowingMapper>(); };
  JobOptions o;
  o.inputs = {in};
  o.output = dir.Sub("out");
  o.split_bytes = 64 << 10;
  o.threads = 3;
  JobResult r = RunLocalJob(spec, o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GT(r.map_tasks, 1);
  std::string joined;
  for (const auto& [k, v] : ReadRecords(o.output)) joined += k + "\n";
  EXPECT_EQ(joined, text);
}

// JobSpec::large_splits: --split_mb splits, their count rounded up to a multiple of the threads
// (3 splits on 2 threads -> 4 tasks); keep_split_size wins over it. The output is the same.
TEST(LocalRunner, LargeSplitsAreEvenedOutToAMultipleOfTheThreads) {
  testing::TempDir dir;
  std::string in = dir.Write("in.txt", MakeText(30000, 100, 5));
  auto run = [&](bool large, bool keep, const std::string& out) {
    JobSpec spec = WordCount(true, true);
    spec.large_splits = large;
    spec.keep_split_size = keep;
    JobOptions o;
    o.inputs = {in};
    o.output = dir.Sub(out);
    o.split_bytes = (FileSize(in).value() + 2) / 3;
    o.threads = 2;
    JobResult r = RunLocalJob(spec, o);
    EXPECT_TRUE(r.ok) << r.error;
    return std::make_pair(r.map_tasks, ReadAsMap(o.output));
  };
  auto [large_tasks, large_out] = run(true, false, "large");
  auto [kept_tasks, kept_out] = run(true, true, "kept");
  EXPECT_EQ(large_tasks, 4);
  EXPECT_EQ(kept_tasks, 3);
  EXPECT_EQ(large_out, kept_out);
}

}  // namespace
}  // namespace sawmill
