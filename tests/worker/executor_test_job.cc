// executor_test_job: a map-only job for tests/worker/executor_test.cc. Each map attempt writes
// "pid P attempt A behave B extra E" to stderr (E: $SAWMILL_TEST_EXTRA) and "out A" to stdout,
// then does what --behave (a task flag) says: abort, exit (status 3), throw, hog (allocate
// --hog_mb MiB), stall (sleep an hour), argv (write "argv ARGV" with the command line the flags
// were parsed from); anything else: copy its lines.
#include <gflags/gflags.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/mapreduce.h"

DEFINE_string(behave, "", "abort, exit, throw, hog, stall or argv; anything else: copy lines.");
DEFINE_int32(hog_mb, 2048, "What --behave=hog allocates.");

namespace {

using namespace sawmill;

class Mapper final : public sawmill::Mapper {
 public:
  void Setup(TaskContext&) override {
    const char* id = std::getenv("SAWMILL_ATTEMPT_ID");
    const char* extra = std::getenv("SAWMILL_TEST_EXTRA");
    std::fprintf(stderr, "pid %d attempt %s behave %s extra %s\n", static_cast<int>(::getpid()),
                 id ? id : "-", FLAGS_behave.c_str(), extra ? extra : "-");
    std::printf("out %s\n", id ? id : "-");
    if (FLAGS_behave == "abort") std::abort();
    if (FLAGS_behave == "exit") std::exit(3);
    if (FLAGS_behave == "throw") throw std::runtime_error("executor_test_job: throwing on purpose");
    if (FLAGS_behave == "hog") {
      std::vector<char> hog(static_cast<size_t>(FLAGS_hog_mb) << 20, 1);
      std::fprintf(stderr, "got them (%d)\n", hog[hog.size() / 2]);
    }
    if (FLAGS_behave == "argv") std::fprintf(stderr, "argv %s\n", gflags::GetArgv());
    if (FLAGS_behave == "stall") {
      std::fprintf(stderr, "stalling\n");
      std::this_thread::sleep_for(std::chrono::hours(1));
    }
  }
  void Map(std::string_view key, std::string_view line, TaskContext& ctx) override {
    ctx.Emit(key, line);
  }
};

JobSpec MakeSpec() {
  JobSpec spec;
  spec.name = "executor_test_job";
  spec.mapper = [] { return std::make_unique<Mapper>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN(
    "executor_test_job: map attempts that say which process ran them (executor tests).", MakeSpec)
