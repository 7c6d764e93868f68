// JobSpec::dense_keys: small 8-byte integer keys fold into an array instead of the hash table;
// the job's output must be byte for byte what hash aggregation alone writes, with keys that do
// not fit the array (large, or not 8 bytes) mixed in, and with spills.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

#include "api/codec.h"
#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"
#include "mapreduce/local_runner.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

// Each line "k" emits (k as 8 bytes big-endian, 1); lines starting with 's' emit the line.
class IdMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    char one[8];
    if (!line.empty() && line[0] == 's') {
      ctx.Emit(line, EncodeInt64(1, one));
      return;
    }
    ctx.Emit(EncodeUint64(std::stoull(std::string(line))), EncodeInt64(1, one));
  }
};

// Appends values: the reducer lists a key's values in the order they arrive.
class AppendCombiner final : public Combiner {
 public:
  void Combine(std::string_view, std::string* acc, std::string_view value) const override { acc->append(value); }
  bool appends() const override { return true; }
};

class ConcatReducer final : public Reducer {
 public:
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    std::string all;
    std::string_view v;
    while (values.Next(&v)) all += v;
    ctx.Emit(key, all);
  }
};

// Each line "k" emits (k, the line's offset as 8 bytes): lists whose order shows arrival order.
class OffsetMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    std::string key = !line.empty() && line[0] == 's' ? std::string(line) : EncodeUint64(std::stoull(std::string(line)));
    ctx.Emit(key, EncodeUint64(ctx.record_offset()));
  }
};

// The same with values of 0 to 20 bytes (the offset's bytes, repeated): values kept in the
// dense lists' records (up to 8 bytes) and in their arena (longer) mix in one list.
class VariedMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    std::string key = !line.empty() && line[0] == 's' ? std::string(line) : EncodeUint64(std::stoull(std::string(line)));
    std::string offset = EncodeUint64(ctx.record_offset()), value;
    for (size_t i = 0; i < ctx.record_offset() % 21; ++i) value += offset[i % 8];
    ctx.Emit(key, value);
  }
};

JobSpec ListJob(bool dense, bool varied) {
  JobSpec spec;
  spec.name = dense ? "dense-lists" : "hashed-lists";
  if (varied) {
    spec.mapper = [] { return std::make_unique<VariedMapper>(); };
  } else {
    spec.mapper = [] { return std::make_unique<OffsetMapper>(); };
  }
  spec.combiner = [] { return std::make_unique<AppendCombiner>(); };
  spec.reducer = [] { return std::make_unique<ConcatReducer>(); };
  spec.dense_keys = dense;
  return spec;
}

JobSpec CountJob(bool dense) {
  JobSpec spec;
  spec.name = dense ? "dense" : "hashed";
  spec.mapper = [] { return std::make_unique<IdMapper>(); };
  spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  spec.dense_keys = dense;
  return spec;
}

std::string Concat(const std::string& dir) {
  std::string all;
  for (const auto& [k, v] : ReadRecords(dir)) all += k + "=" + v + ";";
  return all;
}

std::string MixedKeys(int n) {
  std::mt19937_64 rng(3);
  std::string text;
  for (int i = 0; i < n; ++i) {
    uint64_t r = rng();
    if (r % 10 == 0) {
      text += "s" + std::to_string(r % 50) + "\n";  // not 8 bytes
    } else if (r % 10 == 1) {
      text += std::to_string((r >> 8) | (1ull << 62)) + "\n";  // beyond any array
    } else {
      text += std::to_string(r % 30000) + "\n";
    }
  }
  return text;
}

// Runs the job with and without dense keys, with room and with 1 MiB (the tables spill), and
// expects the same records.
void ExpectSameOutput(const std::function<JobSpec(bool dense)>& job, int lines) {
  testing::TempDir dir;
  std::string in = dir.Write("in.txt", MixedKeys(lines));
  for (size_t memory_mb : {64, 1}) {
    JobOptions o;
    o.inputs = {in};
    o.reducers = 3;
    o.memory_mb = memory_mb;
    o.split_bytes = 256 << 10;
    std::string hashed = dir.Sub("hashed" + std::to_string(memory_mb));
    o.output = hashed;
    JobResult a = RunLocalJob(job(false), o);
    ASSERT_TRUE(a.ok) << a.error;
    o.output = dir.Sub("dense" + std::to_string(memory_mb));
    JobResult b = RunLocalJob(job(true), o);
    ASSERT_TRUE(b.ok) << b.error;
    EXPECT_TRUE(Concat(hashed) == Concat(o.output)) << "outputs differ at " << memory_mb << " MiB";
    EXPECT_EQ(a.records_out, b.records_out);
    if (memory_mb == 1) {
      EXPECT_GT(b.spills, 0u);
    }
  }
}

TEST(DenseKeys, ListsEqualHashAggregation) {
  ExpectSameOutput([](bool dense) { return ListJob(dense, false); }, 100000);
}
TEST(DenseKeys, ListsOfVariedValueSizesEqualHashAggregation) {
  ExpectSameOutput([](bool dense) { return ListJob(dense, true); }, 100000);
}

TEST(DenseKeys, OutputEqualsHashAggregation) { ExpectSameOutput(CountJob, 200000); }

}  // namespace
}  // namespace sawmill
