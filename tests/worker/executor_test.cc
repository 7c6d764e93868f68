// Warm executors (worker/executor.h, worker/executor_pool.h) running a real job binary
// (executor_test_job, through driver/executor.cc): several attempts in one process, each with its
// own output files, environment and task flags; a crash, an exit() or a timeout in user code, a
// kill, and the memory limit end the attempt as they end an attempt's own process; the pool
// keeps executors by key and drops the dead, dropped and idle ones.
#include "worker/executor.h"

#include <capnp/message.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "common/capnp_util.h"
#include "common/file.h"
#include "mapreduce/attempt.capnp.h"
#include "worker/executor_pool.h"

namespace sawmill::worker {
namespace {

bool Gone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

class WorkerExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = JoinPath(::testing::TempDir(), "executor_test_" + std::to_string(::getpid()));
    (void)RemoveAll(dir_);
    ASSERT_TRUE(MakeDirs(dir_).ok());
    input_ = JoinPath(dir_, "input.txt");
    ASSERT_TRUE(WriteStringToFile(input_, "one\ntwo\nthree\n").ok());
  }
  void TearDown() override { (void)RemoveAll(dir_); }

  ExecutorOptions Options(uint64_t memory_mb = 0) {
    ExecutorOptions o;
    o.binary = EXECUTOR_TEST_JOB;
    o.args = {"--hog_mb=512"};
    o.dir = dir_;
    o.log_path = JoinPath(dir_, "executor.log");
    o.memory_mb = memory_mb;
    return o;
  }

  std::unique_ptr<Executor> Start(uint64_t memory_mb = 0) {
    auto e = Executor::Start(Options(memory_mb), no_kill_);
    EXPECT_TRUE(e.ok()) << e.status().ToString() << "\n"
                        << ReadTail(JoinPath(dir_, "executor.log"), 4096);
    return e.ok() ? std::move(e).value() : nullptr;
  }

  // Map attempt `n` of job-1 over the input, in its own directory with its spec and output files.
  ExecutorAttempt Attempt(int n, std::vector<std::string> flags = {}, int64_t timeout_ms = 0) {
    std::string id = "job-1/m-0000" + std::to_string(n) + "/0";
    std::string adir = JoinPath(dir_, "a" + std::to_string(n));
    EXPECT_TRUE(MakeDirs(adir).ok());
    capnp::MallocMessageBuilder m;
    auto s = m.initRoot<proto::AttemptSpec>();
    s.setJobId("job-1");
    s.setAttemptId(id);
    s.setTaskIndex(n);
    s.getPartitioning().setKind("none");
    auto split = s.getSplit();
    split.setPath(input_);
    split.setLength(14);
    split.setBytes(14);
    s.setMemoryBytes(8 << 20);
    s.setMergeFactor(8);
    s.setBlockBytes(64 << 10);
    s.setWorkDir(JoinPath(adir, "work"));
    s.setOutputPath(JoinPath(adir, "part"));
    s.setResultPath(JoinPath(adir, "result"));
    EXPECT_TRUE(WriteStringToFile(JoinPath(adir, "spec"), CapnpToString(m)).ok());
    EXPECT_TRUE(MakeAttemptOutputFiles(adir).ok());
    ExecutorAttempt a;
    a.spec_path = JoinPath(adir, "spec");
    a.dir = adir;
    a.env = {"SAWMILL_ATTEMPT_ID=" + id};
    a.task_flags = std::move(flags);
    a.timeout_ms = timeout_ms;
    return a;
  }

  static std::string Err(const ExecutorAttempt& a) {
    return ReadTail(JoinPath(a.dir, "stderr"), 1 << 16);
  }
  static std::string Out(const ExecutorAttempt& a) {
    return ReadTail(JoinPath(a.dir, "stdout"), 1 << 16);
  }
  static bool ResultOk(const ExecutorAttempt& a) {
    std::string bytes;
    if (!ReadFileToString(JoinPath(a.dir, "result"), &bytes).ok()) return false;
    auto r = CapnpReader::Parse(bytes);
    return r.ok() && (*r)->Root<proto::AttemptResult>().getOk();
  }
  ProcessOutcome RunOk(Executor* e, const ExecutorAttempt& a) {
    auto o = e->Run(a, no_kill_);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    return o.ok() ? *o : ProcessOutcome{};
  }

  std::string dir_, input_;
  std::atomic<bool> no_kill_{false};
};

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
