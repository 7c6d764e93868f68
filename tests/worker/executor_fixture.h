// The fixture of the warm executor tests (executor_test.cc, executor_spare_test.cc): executors of
// executor_test_job and map attempts of job-1 over a three-line input, each in its own directory.
#pragma once

#include <capnp/message.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/capnp_util.h"
#include "common/file.h"
#include "mapreduce/attempt.capnp.h"
#include "worker/executor.h"

namespace sawmill::worker {

inline bool Gone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

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

}  // namespace sawmill::worker
