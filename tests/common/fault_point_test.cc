// Fault points (common/fault_point.h): spec parsing, each action, counts and context suffixes,
// arming from SAWMILL_FAULTS, and that an unarmed point does nothing.
#include "common/fault_point.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/file.h"
#include "tests/common/temp_dir.h"
#include "tests/common/wait_for.h"

namespace sawmill {
namespace {

using sawmill::testing::TempDir;
using sawmill::testing::WaitFor;

// Real point names: Arm refuses names that no site in the engine has.
constexpr char kPoint[] = "dataflow.task.start";
constexpr char kOther[] = "dataflow.master.before_stage";

class FaultPointTest : public ::testing::Test {
 protected:
  void TearDown() override { fault::Disarm(); }
  // A death test's child (threadsafe style: the binary run again) made its own dir_ in the
  // fixture and ends by _Exit or a signal, past the destructor: it removes the dir first.
  void DropChildDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_.path(), ec);
  }
  TempDir dir_;
};

TEST_F(FaultPointTest, AnUnarmedPointDoesNothing) {
  fault::Disarm();
  EXPECT_TRUE(FaultPoint(kPoint, "16.0").ok());
  EXPECT_TRUE(FaultPoint(kOther, uint64_t{7}).ok());
  // Armed for another point, or another context, it still does nothing.
  ASSERT_TRUE(fault::Arm(std::string(kOther) + "=fail(disk on fire)").ok());
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "@.1=fail(no);" + kOther + "@8=fail(no)").ok());
  EXPECT_TRUE(FaultPoint(kPoint, "16.0").ok());
  EXPECT_TRUE(FaultPoint(kOther, uint64_t{7}).ok());
  EXPECT_FALSE(FaultPoint(kOther, uint64_t{8}).ok());
  // An empty spec disarms.
  ASSERT_TRUE(fault::Arm("").ok());
  EXPECT_TRUE(FaultPoint(kOther, uint64_t{8}).ok());
}

TEST_F(FaultPointTest, AcceptsWellFormedSpecs) {
  for (const char* spec : {
           "dataflow.task.start=abort",
           "dataflow.task.start@.0=sleep(400)",
           "dataflow.task.start@16.0=sleep(0)",
           " dataflow.master.before_stage@.0-i2=once:pause(/tmp/x y:z) ; dataflow.master.before_stage=nth(3):abort ;",
           "dataflow.task.start@/m-00001_0=fail(the disk is full)",
           "dataflow.master.before_stage@/map.out=nth(12):fail(write error (simulated))",
           "dataflow.task.start=fail(x);;dataflow.task.start=once:sleep(86400000)",
       }) {
    Status s = fault::Arm(spec);
    EXPECT_TRUE(s.ok()) << spec << ": " << s.ToString();
  }
}

TEST_F(FaultPointTest, RefusesMalformedSpecsNamingTheEntry) {
  struct Case {
    const char* spec;
    const char* says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"dataflow.task.start", "'dataflow.task.start': no '='"},
           {"dataflow.task.strat=abort", "no fault point named 'dataflow.task.strat'; the points are"},
           {"=abort", "no fault point named ''"},
           {"dataflow.task.start@=abort", "an empty context suffix"},
           {"dataflow.task.start=", "no action in ''"},
           {"dataflow.task.start=abort()", "no action in 'abort()'"},
           {"dataflow.task.start=explode", "no action in 'explode'"},
           {"dataflow.task.start=sleep(x)", "sleep(MS) needs milliseconds"},
           {"dataflow.task.start=sleep(-1)", "sleep(MS) needs milliseconds"},
           {"dataflow.task.start=sleep()", "sleep(MS) needs milliseconds"},
           {"dataflow.task.start=sleep(86400001)", "sleep(MS) needs milliseconds"},
           {"dataflow.task.start=sleep(400", "no action in 'sleep(400'"},
           {"dataflow.task.start=pause()", "pause(FILE) needs a file"},
           {"dataflow.task.start=fail()", "fail(MESSAGE) needs a message"},
           {"dataflow.task.start=nth(0):abort", "nth(N) needs a whole number N from 1"},
           {"dataflow.task.start=nth(two):abort", "nth(N) needs a whole number N from 1"},
           {"dataflow.task.start=once abort", "no action in 'once abort'"},
           {"dataflow.task.start=once:once:abort", "no action in 'once:abort'"},
           {"dataflow.task.start=abort;dataflow.master.before_stage=pause", "'dataflow.master.before_stage=pause': no action"},
           {"dataflow.task.start=fail(full; almost)", "no action in 'fail(full'"},  // ';' ends an entry
       }) {
    Status s = fault::Arm(c.spec);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.spec;
    EXPECT_NE(s.message().find(c.says), std::string::npos) << c.spec << " -> " << s.message();
    EXPECT_NE(s.message().find("an entry is NAME[@SUFFIX]="), std::string::npos) << s.message();
  }
  // A refused spec arms nothing, and leaves nothing armed from before.
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "=fail(before)").ok());
  EXPECT_FALSE(fault::Arm(std::string(kPoint) + "=fail(after);bad").ok());
  EXPECT_FALSE(FaultPoint(kPoint).ok());  // the earlier spec stays
}

TEST_F(FaultPointTest, FailReturnsAnErrorNamingThePointAndContext) {
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "@.0=fail(no space left (simulated))").ok());
  Status s = FaultPoint(kPoint, "16.0");
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(s.message(), "fault point dataflow.task.start at 16.0: no space left (simulated)");
  ASSERT_TRUE(fault::Arm(std::string(kOther) + "@345=fail(x)").ok());
  EXPECT_EQ(FaultPoint(kOther, uint64_t{12345}).message(), "fault point dataflow.master.before_stage at 12345: x");
  EXPECT_TRUE(FaultPoint(kOther, uint64_t{12346}).ok());
}

TEST_F(FaultPointTest, SleepWaitsThatLong) {
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "=sleep(150)").ok());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(FaultPoint(kPoint, "0.0").ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
}

TEST_F(FaultPointTest, PauseCreatesTheFileAndWaitsUntilItIsRemoved) {
  const std::string file = dir_.Sub("pause");
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "@-i2=pause(" + file + ")").ok());
  std::atomic<bool> done{false};
  std::thread t([&] {
    EXPECT_TRUE(FaultPoint(kPoint, "pagerank-0.0-i2").ok());
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return PathExists(file); }));
  EXPECT_FALSE(done.load());
  EXPECT_EQ(testing::ReadAll(file), "pagerank-0.0-i2\n");
  ASSERT_TRUE(RemoveAll(file).ok());
  EXPECT_TRUE(WaitFor([&] { return done.load(); }));
  t.join();
}

TEST_F(FaultPointTest, DisarmReleasesAPausedPoint) {
  const std::string file = dir_.Sub("pause");
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "=pause(" + file + ")").ok());
  std::atomic<bool> done{false};
  std::thread t([&] {
    EXPECT_TRUE(FaultPoint(kPoint).ok());
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return PathExists(file); }));
  fault::Disarm();
  EXPECT_TRUE(WaitFor([&] { return done.load(); }));
  t.join();
  EXPECT_TRUE(PathExists(file));  // released by Disarm, not by the file
}

TEST_F(FaultPointTest, PauseThatCannotCreateItsFileFails) {
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "=pause(" + dir_.Sub("no/such/dir/pause") + ")").ok());
  Status s = FaultPoint(kPoint, "1.0");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fault point dataflow.task.start at 1.0"), std::string::npos) << s.message();
}

TEST_F(FaultPointTest, AbortKillsTheProcessWithSigkill) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DropChildDir();
        (void)fault::Arm(std::string(kOther) + "=nth(2):abort");
        if (!FaultPoint(kOther, uint64_t{41}).ok()) std::_Exit(3);  // the first hit passes
        (void)FaultPoint(kOther, uint64_t{42});
        std::_Exit(4);
      },
      ::testing::KilledBySignal(SIGKILL), "fault point dataflow.master.before_stage at 42: abort");
}

TEST_F(FaultPointTest, OnceAndNthCountTheHitsOfTheirEntry) {
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "@.0=once:fail(a);" + kPoint + "@.0=nth(3):fail(b)").ok());
  std::string got;
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(FaultPoint(kPoint, "16.1").ok());  // not a matching context: not a hit
    Status s = FaultPoint(kPoint, "16.0");
    got += s.ok() ? "-" : s.message().substr(s.message().size() - 1);
  }
  EXPECT_EQ(got, "a-b--");
  // Arming again starts the counts again.
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "=once:fail(c)").ok());
  EXPECT_FALSE(FaultPoint(kPoint, "16.0").ok());
  EXPECT_TRUE(FaultPoint(kPoint, "16.0").ok());
}

TEST_F(FaultPointTest, OnceFiresInOneThreadOfMany) {
  ASSERT_TRUE(fault::Arm(std::string(kPoint) + "=once:fail(x)").ok());
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 100; ++j) failed += !FaultPoint(kPoint).ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 1);
}

// In a fresh process (threadsafe death tests re-run the binary), as every process of a cluster is.
TEST_F(FaultPointTest, ArmsFromTheEnvironmentAtTheFirstPoint) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DropChildDir();
        ::setenv("SAWMILL_FAULTS", "dataflow.task.start@.0=fail(from the environment)", 1);
        Status s = FaultPoint(kPoint, "16.0");
        std::fprintf(stderr, "[%s]\n", s.message().c_str());
        std::_Exit(s.ok() ? 0 : 3);
      },
      ::testing::ExitedWithCode(3), "\\[fault point dataflow.task.start at 16.0: from the environment\\]");
}

TEST_F(FaultPointTest, AMalformedEnvironmentIsAnErrorAtStartOrExits2AtTheFirstPoint) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DropChildDir();
        ::setenv("SAWMILL_FAULTS", "dataflow.task.start=sleep(1s)", 1);
        Status s = fault::ArmFromEnvironment();
        std::fprintf(stderr, "[%s]\n", s.message().c_str());
        std::_Exit(s.code() == StatusCode::kInvalidArgument && !fault::ArmFromEnvironment().ok() ? 3 : 0);
      },
      ::testing::ExitedWithCode(3), "\\[SAWMILL_FAULTS: fault entry 'dataflow.task.start=sleep\\(1s\\)': sleep\\(MS\\)");
  EXPECT_EXIT(
      {
        DropChildDir();
        ::setenv("SAWMILL_FAULTS", "dataflow.task.start", 1);
        (void)FaultPoint(kOther);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(2), "error: SAWMILL_FAULTS: fault entry 'dataflow.task.start': no '='");
}

TEST_F(FaultPointTest, ArmingInTheProcessWinsOverTheEnvironment) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DropChildDir();
        ::setenv("SAWMILL_FAULTS", "dataflow.task.start=fail(env)", 1);
        fault::Disarm();
        bool quiet = FaultPoint(kPoint).ok() && fault::ArmFromEnvironment().ok() && FaultPoint(kPoint).ok();
        std::_Exit(quiet ? 3 : 0);
      },
      ::testing::ExitedWithCode(3), "");
}

}  // namespace
}  // namespace sawmill
