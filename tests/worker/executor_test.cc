// Warm executors (worker/executor.h, worker/executor_pool.h) running a real job binary
// (executor_test_job, through driver/executor.cc): several attempts in one process, each with its
// own output files, environment and task flags; a crash, an exit() or a timeout in user code, a
// kill, and the memory limit end the attempt as they end an attempt's own process; the pool
// keeps executors by key and drops the dead, dropped and idle ones.
#include "worker/executor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tests/worker/executor_fixture.h"
#include "worker/executor_pool.h"

namespace sawmill::worker {
namespace {

TEST_F(WorkerExecutorTest, RunsAttemptsOneAfterAnotherInOneProcess) {
  auto e = Start();
  ASSERT_NE(e, nullptr);
  const std::string pid = "pid " + std::to_string(e->pid()) + " ";
  for (int n = 1; n <= 3; ++n) {
    ExecutorAttempt a = Attempt(n);
    ProcessOutcome o = RunOk(e.get(), a);
    EXPECT_TRUE(o.exited && o.exit_code == 0) << DescribeOutcome(o, {}) << Err(a);
    EXPECT_TRUE(ResultOk(a));
    EXPECT_TRUE(PathExists(JoinPath(a.dir, "part")));
    // Its own output files hold its own lines only.
    EXPECT_EQ(Err(a), pid + "attempt job-1/m-0000" + std::to_string(n) + "/0 behave  extra -\n");
    EXPECT_EQ(Out(a), "out job-1/m-0000" + std::to_string(n) + "/0\n");
  }
  EXPECT_EQ(e->attempts(), 3);
  EXPECT_TRUE(e->alive());
}

TEST_F(WorkerExecutorTest, TaskFlagsAndEnvironmentEndWithTheirAttempt) {
  auto e = Start();
  ASSERT_NE(e, nullptr);
  ExecutorAttempt first = Attempt(1, {"--behave=copy"});
  first.env.push_back("SAWMILL_TEST_EXTRA=first");
  EXPECT_EQ(RunOk(e.get(), first).exit_code, 0);
  EXPECT_NE(Err(first).find("behave copy extra first"), std::string::npos) << Err(first);
  ExecutorAttempt second = Attempt(2);
  EXPECT_EQ(RunOk(e.get(), second).exit_code, 0);
  EXPECT_NE(Err(second).find("behave  extra -"), std::string::npos) << Err(second);
  // An unknown task flag fails the attempt as the command line's parse would (exit 2).
  ExecutorAttempt bad = Attempt(3, {"--no_such_flag=1"});
  ProcessOutcome o = RunOk(e.get(), bad);
  EXPECT_TRUE(o.exited && o.exit_code == 2);
  EXPECT_NE(Err(bad).find("unknown flag '--no_such_flag=1'"), std::string::npos) << Err(bad);
}

TEST_F(WorkerExecutorTest, CrashEndsTheAttemptAndTheExecutor) {
  auto e = Start();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(RunOk(e.get(), Attempt(1)).exit_code, 0);
  ExecutorAttempt a = Attempt(2, {"--behave=abort"});
  ProcessOutcome o = RunOk(e.get(), a);
  EXPECT_FALSE(o.exited);
  EXPECT_EQ(o.signal, SIGABRT);
  EXPECT_EQ(DescribeOutcome(o, {}), "killed by signal 6 (Aborted)");
  EXPECT_NE(Err(a).find("behave abort"), std::string::npos);
  EXPECT_FALSE(e->alive());
  EXPECT_TRUE(Gone(e->pid()));
  EXPECT_EQ(e->Run(Attempt(3), no_kill_).status().code(), StatusCode::kUnavailable);
}

TEST_F(WorkerExecutorTest, ExitInUserCodeIsTheProcessExit) {
  auto e = Start();
  ASSERT_NE(e, nullptr);
  ProcessOutcome o = RunOk(e.get(), Attempt(1, {"--behave=exit"}));
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(DescribeOutcome(o, {}), "exited with status 3");
  EXPECT_FALSE(e->alive());
}

TEST_F(WorkerExecutorTest, ThrowFailsOnlyTheAttempt) {
  auto e = Start();
  ASSERT_NE(e, nullptr);
  ExecutorAttempt a = Attempt(1, {"--behave=throw"});
  ProcessOutcome o = RunOk(e.get(), a);
  EXPECT_TRUE(o.exited && o.exit_code == 1);
  EXPECT_FALSE(ResultOk(a));
  EXPECT_NE(Err(a).find("throwing on purpose"), std::string::npos) << Err(a);
  ExecutorAttempt next = Attempt(2);
  EXPECT_EQ(RunOk(e.get(), next).exit_code, 0);
  EXPECT_TRUE(ResultOk(next));
}

TEST_F(WorkerExecutorTest, TimeoutKillsTheGroup) {
  auto e = Start();
  ASSERT_NE(e, nullptr);
  auto start = std::chrono::steady_clock::now();
  ProcessOutcome o = RunOk(e.get(), Attempt(1, {"--behave=stall"}, /*timeout_ms=*/300));
  EXPECT_TRUE(o.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  LaunchOptions lo;
  lo.timeout_ms = 300;
  EXPECT_NE(DescribeOutcome(o, lo).find("timed out after"), std::string::npos);
  EXPECT_TRUE(Gone(e->pid()));
}

TEST_F(WorkerExecutorTest, KillFromAnotherThread) {
  auto e = Start();
  ASSERT_NE(e, nullptr);
  ExecutorAttempt a = Attempt(1, {"--behave=stall"});
  std::atomic<bool> kill{false};
  std::thread killer([&] {
    // Once the attempt runs (it says so), as a worker's kill order would come.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Err(a).find("stalling") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill = true;
  });
  auto o = e->Run(a, kill);
  killer.join();
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->killed);
  EXPECT_EQ(DescribeOutcome(*o, {}), "killed by the worker");
  EXPECT_TRUE(Gone(e->pid()));
}

TEST_F(WorkerExecutorTest, MemoryLimitApplies) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitized job binary maps terabytes of shadow memory: no address-space limit fits it";
#endif
  auto e = Start(/*memory_mb=*/256);
  ASSERT_NE(e, nullptr);
  ExecutorAttempt a = Attempt(1, {"--behave=hog"});
  ProcessOutcome o = RunOk(e.get(), a);
  EXPECT_TRUE(o.exited && o.exit_code == 1) << DescribeOutcome(o, {});
  EXPECT_NE(Err(a).find("bad_alloc"), std::string::npos) << Err(a);
  EXPECT_EQ(Err(a).find("got them"), std::string::npos);
  // Without the limit the same attempt gets its memory.
  auto unlimited = Start();
  ASSERT_NE(unlimited, nullptr);
  ExecutorAttempt b = Attempt(2, {"--behave=hog"});
  EXPECT_EQ(RunOk(unlimited.get(), b).exit_code, 0) << Err(b);
  EXPECT_NE(Err(b).find("got them"), std::string::npos);
}

TEST_F(WorkerExecutorTest, BinaryThatIsNoExecutorIsRefused) {
  ExecutorOptions o = Options();
  o.binary = "/bin/true";
  auto e = Executor::Start(o, no_kill_);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status().ToString();
  std::atomic<bool> kill{true};
  EXPECT_EQ(Executor::Start(Options(), kill).status().code(), StatusCode::kAborted);
}

TEST_F(WorkerExecutorTest, PoolKeepsByKeyAndNoticesDeath) {
  ExecutorPool pool(/*idle_ms=*/60000);
  ExecutorKey a{"job-1", "sha", {"--x"}, 0}, b{"job-1", "sha", {"--x"}, 512};
  auto e = Start();
  ASSERT_NE(e, nullptr);
  const int pid = e->pid();
  pool.Give(a, std::move(e));
  EXPECT_EQ(pool.Take(b), nullptr);  // another memory limit
  auto again = pool.Take(a);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->pid(), pid);
  pool.Give(a, std::move(again));
  // Dead between attempts: noticed, not handed out.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::unique_ptr<Executor> taken;
  while (std::chrono::steady_clock::now() < deadline && pool.idle_count() > 0) {
    taken = pool.Take(a);
    if (taken) {  // taken before the pidfd said it ended: it must not stay alive
      EXPECT_EQ(taken->pid(), pid);
      pool.Give(a, std::move(taken));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_EQ(pool.Take(a), nullptr);
  EXPECT_TRUE(Gone(pid));
}

TEST_F(WorkerExecutorTest, PoolEndsExecutorsOfDroppedJobsAndIdleOnes) {
  ExecutorPool pool(/*idle_ms=*/0);
  ExecutorKey one{"job-1", "sha", {}, 0}, two{"job-2", "sha", {}, 0};
  auto e1 = Start(), e2 = Start(), e3 = Start();
  ASSERT_TRUE(e1 && e2 && e3);
  int p1 = e1->pid(), p2 = e2->pid(), p3 = e3->pid();
  pool.Give(one, std::move(e1));
  pool.Give(two, std::move(e2));
  pool.DropJob("job-1");
  EXPECT_TRUE(Gone(p1));
  EXPECT_FALSE(Gone(p2));
  pool.Give(one, std::move(e3));  // a late return of a dropped job's executor
  EXPECT_TRUE(Gone(p3));
  pool.CloseIdle();  // idle for longer than 0 ms
  EXPECT_TRUE(Gone(p2));
  EXPECT_EQ(pool.idle_count(), 0u);
}

}  // namespace
}  // namespace sawmill::worker
