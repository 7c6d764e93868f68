// The worker (worker/worker.h) facing hostile orders from a fake coordinator: unsafe job and
// attempt ids, absurd map counts and malformed texts must neither remove other jobs' files nor
// crash it, and a launch it will not run is reported failed, not dropped.
#include "worker/worker.h"

#include <chrono>
#include <memory>
#include <string>

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/rpc.h"
#include "scheduler/coordinator.capnp.h"
#include "tests/common/temp_dir.h"
#include "tests/worker/fake_coordinator.h"

namespace sawmill::worker {
namespace {

namespace sp = sched::proto;
using sawmill::testing::ExitChild;
using sawmill::testing::FailingFs;
using sawmill::testing::FakeCoordinator;
using sawmill::testing::TempDir;

constexpr char kCoord[] = "coordinator:1";
constexpr std::chrono::milliseconds kReportWait(8000);

class HostileOrdersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net_.Listen(kCoord, [this](Connection& c) { fake_.Serve(c); });
    WorkerOptions o = sawmill::testing::FakeWorkerOptions(tmp_.Sub("worker"), kCoord);
    // Another job's finished map output on this worker.
    sentinel_ = o.dir + "/jobs/job-7/m-00000_0/map.out";
    ASSERT_TRUE(MakeDirs(Dirname(sentinel_)).ok());
    ASSERT_TRUE(WriteStringToFile(sentinel_, "map output").ok());
    worker_ = std::make_unique<Worker>(o, &net_, &store_);
    worker_->Start();
  }
  void TearDown() override {
    worker_->Stop();
    net_.Stop(kCoord);
  }

  static void Launch(sp::AttemptLaunch::Builder l, const std::string& job, const std::string& attempt, bool reduce,
                     int map_count) {
    l.setJobId(job);
    l.setAttemptId(attempt);
    l.setBinarySha256(std::string(64, 'c'));
    l.setMapCount(map_count);
    l.setTimeoutMs(1000);
    auto s = l.initSpec();
    s.setJobId(job);
    s.setAttemptId(attempt);
    s.setReduce(reduce);
    s.getPartitioning().setKind("hash");
    s.getPartitioning().setNumPartitions(2);
  }

  // Whether the worker reported `attempt` failed with an error that contains `why`.
  ::testing::AssertionResult RefusedWith(const std::string& attempt, const std::string& why) {
    auto r = fake_.WaitForReport(attempt, kReportWait);
    if (!r) return ::testing::AssertionFailure() << "no report of attempt '" << attempt << "' (launch dropped)";
    if (r->ok || r->error.find(why) == std::string::npos) {
      return ::testing::AssertionFailure() << "attempt '" << attempt << "' reported " << (r->ok ? "ok" : "failed")
                                           << ": " << r->error;
    }
    return ::testing::AssertionSuccess();
  }

  TempDir tmp_;
  std::string sentinel_;
  FailingFs store_;
  FakeCoordinator fake_;
  InProcessNetwork net_;
  std::unique_ptr<Worker> worker_;
};

// Job ids name directories under jobs/: "/" or "./" must not stand for the whole of jobs/.
TEST_F(HostileOrdersTest, DropOfAnUnsafeJobIdRemovesNoOtherJob) {
  for (const char* job : {"/", "./", "job-7/."}) {
    capnp::MallocMessageBuilder m;
    m.initRoot<sp::CoordinatorResponse>().initOrders().initDropJobs(1).set(0, job);
    ASSERT_TRUE(fake_.Give(m)) << job;
    EXPECT_TRUE(PathExists(sentinel_)) << "dropping job '" << job << "' removed job-7's map output";
    if (!PathExists(sentinel_)) break;
  }
}

// An attempt's directory is jobs/<job>/<attempt with / as _>: an attempt "job-7/." of job
// "job-7" must not be the job's directory itself (RunAttempt clears its directory first). The
// worker refuses such an attempt, and says so.
TEST_F(HostileOrdersTest, AttemptIdNamingTheJobDirRemovesNothing) {
  for (const char* attempt : {"job-7/.", "job-7/"}) {
    capnp::MallocMessageBuilder m;
    Launch(m.initRoot<sp::CoordinatorResponse>().initOrders().initLaunch(1)[0], "job-7", attempt, false, 0);
    ASSERT_TRUE(fake_.Give(m)) << attempt;
    EXPECT_TRUE(PathExists(sentinel_)) << "launching attempt '" << attempt << "' removed job-7's map output";
    EXPECT_TRUE(RefusedWith(attempt, "unsafe job or attempt id"));
    if (!PathExists(sentinel_)) break;
  }
}

// A reduce launch's mapCount sizes the worker's segment table: 2^31-1 must be refused (and the
// refusal reported), not allocated. Run in a child process: a worker that allocates dies of it.
TEST_F(HostileOrdersTest, HugeMapCountIsRefused) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        capnp::MallocMessageBuilder m;
        Launch(m.initRoot<sp::CoordinatorResponse>().initOrders().initLaunch(1)[0], "job-8", "job-8/r-00000/0", true,
               0x7fffffff);
        bool polled_again = fake_.Give(m);
        ExitChild(tmp_, polled_again && RefusedWith("job-8/r-00000/0", "a reduce of 2147483647 maps") ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// A text without its NUL terminator makes capnp throw when it is read. The worker reads the
// launch again on the attempt's own thread, so it must have checked every text it will read
// while parsing the orders. Run in a child process: a worker that does not terminates.
TEST_F(HostileOrdersTest, UnterminatedTextIsSurvived) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        capnp::MallocMessageBuilder m;
        Launch(m.initRoot<sp::CoordinatorResponse>().initOrders().initLaunch(1)[0], "job-9", "job-9/m-00000/0", false,
               0);
        std::string bytes = CapnpToString(m);
        const std::string sha(64, 'c');
        size_t at = bytes.find(sha + '\0');
        if (at == std::string::npos) ExitChild(tmp_, 2);
        bytes[at + sha.size()] = 'c';  // the hash's NUL
        bool polled_again = fake_.GiveRaw(bytes);
        ExitChild(tmp_, polled_again ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace sawmill::worker
