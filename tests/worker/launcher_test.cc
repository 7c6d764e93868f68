// The attempt launcher: exit statuses, signals, timeouts, kills, the memory limit, environment
// and output files of child processes (real processes: /bin/sh).
#include "worker/launcher.h"

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/file.h"

namespace sawmill::worker {
namespace {

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = JoinPath(::testing::TempDir(), "launcher_test_" + std::to_string(::getpid()));
    ASSERT_TRUE(MakeDirs(dir_).ok());
  }
  void TearDown() override { (void)RemoveAll(dir_); }

  ProcessOutcome RunShell(const std::string& script, LaunchOptions o = {}) {
    o.binary = "/bin/sh";
    o.args = {"-c", script};
    o.dir = dir_;
    auto child = ChildProcess::Start(o);
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    return (*child)->Wait();
  }
  std::string dir_;
};

TEST_F(LauncherTest, ExitStatusStdoutAndStderr) {
  ProcessOutcome o = RunShell("echo out; echo err >&2; exit 3");
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(ReadTail(JoinPath(dir_, "stdout"), 100), "out\n");
  EXPECT_EQ(ReadTail(JoinPath(dir_, "stderr"), 100), "err\n");
  EXPECT_EQ(ReadTail(JoinPath(dir_, "stderr"), 2), "r\n");
  EXPECT_EQ(DescribeOutcome(o, {}), "exited with status 3");
}

TEST_F(LauncherTest, RunsInItsDirectoryWithTheExtraEnvironment) {
  LaunchOptions o;
  o.env = {"SAWMILL_TEST_VALUE=42", "HOME=/nowhere"};
  ProcessOutcome r = RunShell("pwd; echo $SAWMILL_TEST_VALUE $HOME", o);
  EXPECT_TRUE(r.exited && r.exit_code == 0);
  EXPECT_EQ(ReadTail(JoinPath(dir_, "stdout"), 4096), dir_ + "\n42 /nowhere\n");
}

TEST_F(LauncherTest, SignalIsReported) {
  ProcessOutcome o = RunShell("kill -ABRT $$");
  EXPECT_FALSE(o.exited);
  EXPECT_EQ(o.signal, SIGABRT);
  EXPECT_NE(DescribeOutcome(o, {}).find("killed by signal 6"), std::string::npos);
}

TEST_F(LauncherTest, TimeoutKillsTheWholeGroup) {
  LaunchOptions o;
  o.timeout_ms = 200;
  auto start = std::chrono::steady_clock::now();
  // The shell's child keeps the group alive; both must go.
  ProcessOutcome r = RunShell("sleep 30 & sleep 30", o);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_NE(DescribeOutcome(r, o).find("timed out"), std::string::npos);
}

TEST_F(LauncherTest, KillFromAnotherThread) {
  LaunchOptions o;
  o.binary = "/bin/sh";
  o.args = {"-c", "sleep 30"};
  o.dir = dir_;
  auto child = ChildProcess::Start(o);
  ASSERT_TRUE(child.ok());
  std::thread killer([&] { (*child)->Kill(); });
  ProcessOutcome r = (*child)->Wait();
  killer.join();
  EXPECT_TRUE(r.killed);
}

TEST_F(LauncherTest, MemoryLimitMakesLargeAllocationsFail) {
  LaunchOptions o;
  o.memory_mb = 64;
  // dd with a 512 MiB block must allocate it: refused under a 64 MiB address space.
  ProcessOutcome r = RunShell("dd if=/dev/zero of=/dev/null bs=512M count=1", o);
  EXPECT_FALSE(r.exited && r.exit_code == 0);
  ProcessOutcome ok = RunShell("dd if=/dev/zero of=/dev/null bs=512M count=1");
  EXPECT_TRUE(ok.exited && ok.exit_code == 0);
}

TEST_F(LauncherTest, MissingBinaryExits127) {
  LaunchOptions o;
  o.binary = dir_ + "/no-such-binary";
  o.dir = dir_;
  auto child = ChildProcess::Start(o);
  ASSERT_TRUE(child.ok());
  ProcessOutcome r = (*child)->Wait();
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(ReadTail(JoinPath(dir_, "stderr"), 200).find("exec failed"), std::string::npos);
}

}  // namespace
}  // namespace sawmill::worker
