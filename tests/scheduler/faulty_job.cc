// faulty_job: a word count whose attempts misbehave on request, for the cluster acceptance
// tests (tests/scheduler/cluster_jobs_test.py). The worker names each attempt in the
// SAWMILL_ATTEMPT_ID environment variable ("job-3/m-00001/0"); an attempt whose id contains
// --abort's text aborts, --stall's text sleeps for an hour, --exit's text exits 3, --hog's
// allocates --hog_mb MiB. Maps and
// reduces can be slowed down (--map_sleep_ms, --reduce_sleep_ms) so that tests can act while
// they run. With --say_pid each attempt writes "faulty_job: attempt A in pid P" to stderr first
// (which process ran it: a warm executor runs several). The output equals wordcount's whatever
// the flags, except with --tail: a map-only
// job whose parts hold each map task's words and whose tail reducer's part holds the counts.
// --output_replication sets the replication of its output parts in the store.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <gflags/gflags.h>

#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"

DEFINE_string(abort, "", "Attempts whose id contains one of these comma-separated texts abort() (e.g. m-00001/0).");
DEFINE_string(stall, "", "Attempts whose id contains this sleep for an hour.");
DEFINE_string(exit, "", "Attempts whose id contains this print a message and exit with status 3.");
DEFINE_string(hog, "", "Attempts whose id contains this allocate and touch --hog_mb MiB (memory-limit tests).");
DEFINE_int32(hog_mb, 2048, "See --hog.");
DEFINE_int32(map_sleep_ms, 0, "Each map sleeps this long before its first record.");
DEFINE_int32(reduce_sleep_ms, 0, "Each reduce sleeps this long before its first key.");
DEFINE_bool(say_pid, false, "Each attempt writes 'faulty_job: attempt ID in pid PID' to stderr first.");
DEFINE_bool(tail, false, "Map-only with a tail reducer: maps write their words, the tail counts them.");
DEFINE_uint32(output_replication, 0, "JobSpec::output_replication: replicas of each output part (0: the store's default).");

namespace {

using namespace sawmill;

// Whether this attempt's id contains one of the comma-separated patterns.
bool Matches(const std::string& patterns) {
  const char* id = std::getenv("SAWMILL_ATTEMPT_ID");
  if (id == nullptr) return false;
  size_t start = 0;
  while (start <= patterns.size()) {
    size_t end = std::min(patterns.find(',', start), patterns.size());
    std::string p = patterns.substr(start, end - start);
    if (!p.empty() && std::string(id).find(p) != std::string::npos) return true;
    start = end + 1;
  }
  return false;
}

void Misbehave(int sleep_ms) {
  if (FLAGS_say_pid) {
    std::fprintf(stderr, "faulty_job: attempt %s in pid %d\n", std::getenv("SAWMILL_ATTEMPT_ID"), static_cast<int>(::getpid()));
  }
  if (Matches(FLAGS_abort)) {
    std::fprintf(stderr, "faulty_job: aborting %s on purpose\n", std::getenv("SAWMILL_ATTEMPT_ID"));
    std::abort();
  }
  if (Matches(FLAGS_exit)) {
    std::fprintf(stderr, "faulty_job: exiting from %s on purpose\n", std::getenv("SAWMILL_ATTEMPT_ID"));
    std::exit(3);
  }
  if (Matches(FLAGS_hog)) {
    std::fprintf(stderr, "faulty_job: %s allocates %d MiB on purpose\n", std::getenv("SAWMILL_ATTEMPT_ID"), FLAGS_hog_mb);
    std::vector<char> hog(static_cast<size_t>(FLAGS_hog_mb) << 20, 1);
    std::fprintf(stderr, "faulty_job: got them (%d)\n", hog[hog.size() / 2]);
  }
  if (Matches(FLAGS_stall)) {
    std::fprintf(stderr, "faulty_job: stalling %s on purpose\n", std::getenv("SAWMILL_ATTEMPT_ID"));
    std::this_thread::sleep_for(std::chrono::hours(1));
  }
  if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
}

class Mapper final : public sawmill::Mapper {
 public:
  void Setup(TaskContext&) override { Misbehave(FLAGS_map_sleep_ms); }
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    char one[8];
    std::string_view v = EncodeInt64(1, one);
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && IsSpace(line[i])) ++i;
      size_t start = i;
      while (i < line.size() && !IsSpace(line[i])) ++i;
      if (i == start) continue;
      if (FLAGS_tail) {
        ctx.Emit(line.substr(start, i - start), "");
        ctx.EmitToTail(line.substr(start, i - start), v);
      } else {
        ctx.Emit(line.substr(start, i - start), v);
      }
    }
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
};

class Reducer final : public sawmill::Reducer {
 public:
  void Setup(TaskContext& ctx) override {
    Misbehave(FLAGS_reduce_sleep_ms);
    inner_.Setup(ctx);
  }
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override { inner_.Reduce(key, values, ctx); }

 private:
  Int64SumToDecimalReducer inner_;
};

JobSpec MakeSpec() {
  JobSpec spec;
  spec.name = "faulty_job";
  spec.mapper = [] { return std::make_unique<Mapper>(); };
  spec.output_replication = FLAGS_output_replication;
  if (FLAGS_tail) {
    spec.tail_reducer = [] { return std::make_unique<Reducer>(); };
    return spec;
  }
  spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.reducer = [] { return std::make_unique<Reducer>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("faulty_job: word count whose chosen attempts abort, exit or stall (cluster tests).", MakeSpec)
