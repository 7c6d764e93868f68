// Starting child processes (common/subprocess.h): exit statuses, redirected streams, working
// directory, environment, process groups, exec failures, and waits that reap only their child.
#include "common/subprocess.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

class SubprocessTest : public ::testing::Test {
 protected:
  // A file for a child's output, open for writing (closed by TearDown).
  int OutputFile(const std::string& name) {
    int fd = ::open(tmp_.Sub(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return fd;
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
  }
  // Runs `script` under /bin/sh and waits; returns the wait status.
  int Shell(const std::string& script, SubprocessOptions o = {}) {
    o.argv = {"/bin/sh", "-c", script};
    auto pid = StartSubprocess(o);
    EXPECT_TRUE(pid.ok()) << pid.status().ToString();
    auto status = WaitSubprocess(*pid);
    EXPECT_TRUE(status.ok()) << status.status().ToString();
    return *status;
  }

  sawmill::testing::TempDir tmp_;
  std::vector<int> fds_;
};

TEST_F(SubprocessTest, ExitStatusAndStreamsInFiles) {
  SubprocessOptions o;
  o.stdin_fd = SubprocessOptions::kDevNull;
  o.stdout_fd = OutputFile("out");
  o.stderr_fd = OutputFile("err");
  int status = Shell("cat; echo out; echo err >&2; exit 3", o);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(sawmill::testing::ReadAll(tmp_.Sub("out")), "out\n");
  EXPECT_EQ(sawmill::testing::ReadAll(tmp_.Sub("err")), "err\n");
}

TEST_F(SubprocessTest, OneFileForBothStreamsKeepsTheirOrder) {
  SubprocessOptions o;
  o.stdout_fd = o.stderr_fd = OutputFile("log");
  ASSERT_EQ(Shell("echo 1; echo 2 >&2; echo 3", o), 0);
  EXPECT_EQ(sawmill::testing::ReadAll(tmp_.Sub("log")), "1\n2\n3\n");
}

// A stream's descriptor may be another stream's number: placing stdin must not overwrite the
// descriptor meant for stdout.
TEST_F(SubprocessTest, DescriptorsNumberedLikeStreamsArePlacedRight) {
  int saved_stdin = ::dup(0);
  ASSERT_GE(saved_stdin, 0);
  int file = OutputFile("out");
  ASSERT_EQ(::dup2(file, 0), 0);
  SubprocessOptions o;
  o.stdin_fd = SubprocessOptions::kDevNull;
  o.stdout_fd = 0;
  int status = Shell("echo out", o);
  ::dup2(saved_stdin, 0);
  ::close(saved_stdin);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(sawmill::testing::ReadAll(tmp_.Sub("out")), "out\n");
}

TEST_F(SubprocessTest, DirectoryEnvironmentAndOwnGroup) {
  SubprocessOptions o;
  o.dir = tmp_.path();
  o.env = {"SAWMILL_SUBPROCESS_TEST=42", "HOME=/nowhere"};
  o.group = SubprocessOptions::Group::kNewGroup;
  o.stdout_fd = OutputFile("out");
  o.argv = {"/bin/sh", "-c", "pwd; echo $SAWMILL_SUBPROCESS_TEST $HOME; cut -d' ' -f5 /proc/$$/stat"};
  auto pid = StartSubprocess(o);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  auto status = WaitSubprocess(*pid);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(sawmill::testing::ReadAll(tmp_.Sub("out")),
            tmp_.path() + "\n42 /nowhere\n" + std::to_string(*pid) + "\n");
}

TEST_F(SubprocessTest, NewSessionLeadsItsOwnSession) {
  SubprocessOptions o;
  o.group = SubprocessOptions::Group::kNewSession;
  o.stdout_fd = OutputFile("out");
  o.argv = {"/bin/sh", "-c", "cut -d' ' -f6 /proc/$$/stat"};
  auto pid = StartSubprocess(o);
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(WaitSubprocess(*pid).ok());
  EXPECT_EQ(sawmill::testing::ReadAll(tmp_.Sub("out")), std::to_string(*pid) + "\n");
}

TEST_F(SubprocessTest, FailedExecExits127WithTheReason) {
  SubprocessOptions o;
  o.argv = {tmp_.Sub("no-such-program")};
  o.stderr_fd = OutputFile("err");
  auto pid = StartSubprocess(o);
  ASSERT_TRUE(pid.ok());
  auto status = WaitSubprocess(*pid);
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 127);
  EXPECT_EQ(sawmill::testing::ReadAll(tmp_.Sub("err")),
            "exec failed: " + tmp_.Sub("no-such-program") + ": No such file or directory\n");
}

TEST_F(SubprocessTest, MissingDirectoryExits127NamingIt) {
  SubprocessOptions o;
  o.dir = tmp_.Sub("no-such-dir");
  o.stderr_fd = OutputFile("err");
  int status = Shell("exit 0", o);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 127);
  EXPECT_NE(sawmill::testing::ReadAll(tmp_.Sub("err")).find(tmp_.Sub("no-such-dir")), std::string::npos);
}

// A wait reaps its own child only: another child of this process (another thread's) stays
// for its own waiter.
TEST_F(SubprocessTest, WaitReapsOnlyItsOwnChild) {
  SubprocessOptions a, b;
  a.argv = {"/bin/sh", "-c", "exit 5"};
  b.argv = {"/bin/sh", "-c", "exit 7"};
  auto pa = StartSubprocess(a);
  ASSERT_TRUE(pa.ok());
  auto pb = StartSubprocess(b);
  ASSERT_TRUE(pb.ok());
  auto sb = WaitSubprocess(*pb);
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(WEXITSTATUS(*sb), 7);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(*pa), &info, WEXITED | WNOWAIT), 0) << "a was reaped by b's wait";
  auto sa = WaitSubprocess(*pa);
  ASSERT_TRUE(sa.ok());
  EXPECT_EQ(WEXITSTATUS(*sa), 5);
}

TEST_F(SubprocessTest, NoProgramAndBadPidAreErrors) {
  EXPECT_FALSE(StartSubprocess(SubprocessOptions{}).ok());
  EXPECT_FALSE(WaitSubprocess(-1).ok());
  EXPECT_FALSE(WaitSubprocess(0).ok());
}

TEST_F(SubprocessTest, ExecReplacingAMissingProgramNamesIt) {
  Status s = ExecReplacing({tmp_.Sub("no-such-program")});
  EXPECT_EQ(s.message(), "cannot run " + tmp_.Sub("no-such-program") + ": No such file or directory");
}

}  // namespace
}  // namespace sawmill
