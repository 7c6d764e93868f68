// stage_driver: runs jobs one after another in one process through RunClusterJob (driver/submit.h),
// as the dataflow executor does, and checks what each returns; for
// tests/scheduler/cluster_jobs_test.py (case stages).
//
//   stage_driver --cluster D --input dfs:/TEXT --output dfs:/DIR
//
// Holding the store (dfs::ScopedDfs) across the stages: stage 1 counts words into DIR/words with
// output_replication 1, stage 2 reads that and counts how many words have each count into
// DIR/final (the store's default replication), a stage whose mapper throws fails (exit_code 1)
// and one whose output exists is rejected (exit_code 2); the store stays registered throughout.
// Then, without a registered store, stage 2 again into DIR/final2: the call connects by itself
// and leaves nothing registered. Prints a line per stage and "all checks passed", or a
// "FAIL: ..." line and exits 1. Workers run its attempts as `stage_driver --stage=N --task=SPEC`, or in a warm
// executor (`stage_driver --stage=N --executor_fd=0`).
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include <gflags/gflags.h>

#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"
#include "common/local_fs.h"
#include "dfs/client/connect_dfs.h"
#include "driver/submit.h"
#include "driver/task_mode.h"

DECLARE_string(cluster);
DECLARE_string(input);
DECLARE_string(output);
DEFINE_int32(stage, 1, "Internal: the stage whose spec task mode makes (1, 2 or 3).");

namespace {

using namespace sawmill;

// Stage 1: (word, one) per word of a line.
class WordMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    char one[8];
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (i == start) continue;
      ctx.Emit(line.substr(start, i - start), EncodeInt64(1, one));
      ctx.Increment("words");
    }
  }
};

// Stage 2: (count, one) per (word, count) of stage 1's output.
class CountMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view count, TaskContext& ctx) override {
    char one[8];
    ctx.Emit(count, EncodeInt64(1, one));
  }
};

// Stage 3: fails its attempts.
class ThrowingMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view, TaskContext&) override {
    throw std::runtime_error("stage_driver: failing on purpose");
  }
};

JobSpec StageSpec(int stage) {
  JobSpec spec;
  spec.name = "stage" + std::to_string(stage);
  if (stage == 1) {
    spec.mapper = [] { return std::make_unique<WordMapper>(); };
    spec.output_replication = 1;  // recomputable intermediate data
  } else if (stage == 2) {
    spec.input_format = InputFormat::kRecordFile;
    spec.mapper = [] { return std::make_unique<CountMapper>(); };
  } else {
    spec.input_format = InputFormat::kRecordFile;
    spec.mapper = [] { return std::make_unique<ThrowingMapper>(); };
  }
  spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  return spec;
}

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void Expect(bool ok, const std::string& what) {
  if (!ok) throw Failure(what);
}

JobResult RunStage(int stage, const std::string& input, const std::string& output, std::string* id,
                   int max_attempts = 0) {
  JobOptions options;
  options.inputs = {input};
  options.output = output;
  options.reducers = 2;
  options.split_bytes = 1 << 20;
  SubmitOptions submit;
  submit.cluster_dir = FLAGS_cluster;
  submit.task_args = {"--stage=" + std::to_string(stage)};
  submit.max_attempts = max_attempts;
  auto r = RunClusterJob(StageSpec(stage), options, submit, id);
  Expect(r.ok(), "stage " + std::to_string(stage) + ": outcome unknown: " + r.status().ToString());
  std::printf("stage%d id=%s ok=%d exit_code=%d records_in=%llu records_out=%llu maps=%d reduces=%d "
              "shuffle_bytes=%llu counters=%zu error=%s\n",
              stage, id->c_str(), r->ok, r->exit_code, static_cast<unsigned long long>(r->records_in),
              static_cast<unsigned long long>(r->records_out), r->map_tasks, r->reduce_tasks,
              static_cast<unsigned long long>(r->shuffle_bytes), r->counters.size(), r->error.c_str());
  std::fflush(stdout);
  return std::move(r).value();
}

bool Registered() { return ResolvePath("dfs:/").ok(); }

void ExpectSucceeded(const JobResult& r, const std::string& id, const std::string& what) {
  Expect(r.ok && r.exit_code == 0 && r.error.empty(), what + ": not ok: " + r.error);
  Expect(id.rfind("job-", 0) == 0, what + ": job id '" + id + "'");
  Expect(r.records_in > 0 && r.records_out > 0 && r.bytes_in > 0 && r.bytes_out > 0, what + ": empty counts");
  Expect(r.map_tasks >= 1 && r.reduce_tasks == 2 && r.seconds > 0, what + ": tasks or seconds");
  auto shuffle = r.counters.find("sawmill.shuffle_bytes");
  Expect(shuffle != r.counters.end() && shuffle->second > 0 &&
             static_cast<uint64_t>(shuffle->second) == r.shuffle_bytes,
         what + ": shuffle_bytes not filled from the counters");
}

void Run() {
  const std::string out = FLAGS_output;
  std::string id;
  {
    auto store = dfs::ScopedDfs::Connect(FLAGS_cluster);
    Expect(store.ok(), "connecting: " + store.status().ToString());

    JobResult words = RunStage(1, FLAGS_input, out + "/words", &id);
    ExpectSucceeded(words, id, "stage 1");
    Expect(words.counters.count("words") && words.counters.at("words") > 0, "stage 1: no user counter");
    Expect(Registered(), "stage 1 left no store registered");
    auto manifest = FsExists(out + "/words/_MANIFEST");
    Expect(manifest.ok() && *manifest, "stage 1's output has no _MANIFEST");

    JobResult counts = RunStage(2, out + "/words", out + "/final", &id);
    ExpectSucceeded(counts, id, "stage 2");
    Expect(counts.records_in == words.records_out, "stage 2 did not read every record of stage 1");

    JobResult failed = RunStage(3, out + "/words", out + "/failed", &id, /*max_attempts=*/1);
    Expect(!failed.ok && failed.exit_code == 1 && failed.error.find(id + " failed: ") == 0,
           "a failing stage: " + failed.error);

    JobResult rejected = RunStage(2, out + "/words", out + "/final", &id);
    Expect(!rejected.ok && rejected.exit_code == 2 && !rejected.error.empty() && id.empty(),
           "an existing output is not rejected");
    Expect(Registered(), "a rejected stage unregistered the caller's store");
  }
  Expect(!Registered(), "the store is still registered after ScopedDfs");
  JobResult again = RunStage(2, out + "/words", out + "/final2", &id);
  ExpectSucceeded(again, id, "stage 2 without a registered store");
  Expect(!Registered(), "RunClusterJob left its own store registered");
}

}  // namespace

int main(int argc, char** argv) {
  ParseJobFlags(&argc, &argv, "stage_driver: jobs in sequence through RunClusterJob (cluster tests).");
  if (RunsForWorker()) return RunForWorker([] { return StageSpec(FLAGS_stage); });
  try {
    Run();
  } catch (const Failure& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  std::printf("all checks passed\n");
  return 0;
}
