// Spare executors (Executor::StartSpare / FromSpare, driver/executor_spare.h) of executor_test_job:
// a spare handed a start is the executor Executor::Start would have started (command line as the
// flags see it, directory, log, environment, process group, memory limit); a spare whose socket
// closes exits 0; the pool keeps one spare per binary, drops dead and idle ones, and gives none
// to a refused binary; a worker starts a new job's executor in its binary's spare.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "common/rpc.h"
#include "common/sha256.h"
#include "common/subprocess.h"
#include "scheduler/coordinator.capnp.h"
#include "tests/common/temp_dir.h"
#include "tests/worker/executor_fixture.h"
#include "tests/worker/fake_coordinator.h"
#include "worker/executor_pool.h"
#include "worker/worker.h"

namespace sawmill::worker {
namespace {

std::string Link(int pid, const std::string& what) {
  char buf[PATH_MAX];
  std::string path = "/proc/" + std::to_string(pid) + "/" + what;
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// `text` with "pid N " (the executor's, which its attempts print) taken out.
std::string WithoutPid(std::string text, int pid) {
  const std::string p = "pid " + std::to_string(pid) + " ";
  for (size_t at; (at = text.find(p)) != std::string::npos;) text.erase(at, p.size());
  return text;
}

class WorkerExecutorSpareTest : public WorkerExecutorTest {
 protected:
  std::unique_ptr<Executor> Spare(const std::string& binary = EXECUTOR_TEST_JOB) {
    const std::string home = JoinPath(dir_, "spare-home");
    EXPECT_TRUE(MakeDirs(home).ok());
    auto s = Executor::StartSpare(SpareOptions{binary, home});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // Gives `pool` a new spare as binary `sha`'s; its pid.
  int Given(ExecutorPool* pool, const std::string& sha,
            const std::string& binary = EXECUTOR_TEST_JOB) {
    auto s = Spare(binary);
    if (!s) return -1;
    const int pid = s->pid();
    pool->GiveSpare(sha, std::move(s));
    return pid;
  }
  std::unique_ptr<Executor> Handed(const ExecutorOptions& o) {
    auto spare = Spare();
    if (!spare) return nullptr;
    const int pid = spare->pid();
    auto e = Executor::FromSpare(std::move(spare), o, no_kill_);
    EXPECT_TRUE(e.ok()) << e.status().ToString() << "\n" << ReadTail(o.log_path, 4096);
    if (!e.ok()) return nullptr;
    EXPECT_EQ((*e)->pid(), pid);
    return std::move(e).value();
  }
};

TEST_F(WorkerExecutorSpareTest, HandedSpareIsTheExecutorStartWouldHaveStarted) {
  ExecutorOptions o = Options();
  o.env = {"SAWMILL_TEST_EXTRA=from-start"};
  auto fresh = Executor::Start(o, no_kill_);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  auto handed = Handed(o);
  ASSERT_NE(handed, nullptr);
  for (Executor* e : {fresh->get(), handed.get()}) {
    SCOPED_TRACE(e == handed.get() ? "handed spare" : "fresh start");
    EXPECT_EQ(Link(e->pid(), "cwd"), dir_);
    EXPECT_EQ(Link(e->pid(), "fd/1"), o.log_path);
    EXPECT_EQ(Link(e->pid(), "fd/2"), o.log_path);
    EXPECT_EQ(::getpgid(e->pid()), e->pid());  // its own group: a kill of the group ends it all
  }
  // The same attempts see the same flags, command line and environment, and write their own files.
  for (const char* behave : {"--behave=argv", "--behave=copy"}) {
    ExecutorAttempt a = Attempt(1, {behave}), b = Attempt(2, {behave});
    ProcessOutcome fo = RunOk(fresh->get(), a), ho = RunOk(handed.get(), b);
    EXPECT_TRUE(fo.exited && fo.exit_code == 0 && ho.exited && ho.exit_code == 0);
    std::string fresh_err = WithoutPid(Err(a), (*fresh)->pid());
    EXPECT_EQ(WithoutPid(Err(b), handed->pid()), [&] {
      std::string s = fresh_err;
      s.replace(s.find("m-00001"), 7, "m-00002");
      return s;
    }());
    EXPECT_NE(fresh_err.find("extra from-start"), std::string::npos) << fresh_err;
    if (std::string(behave) == "--behave=argv") {
      EXPECT_NE(fresh_err.find(std::string("argv ") + EXECUTOR_TEST_JOB +
                               " --hog_mb=512 --executor_fd=0\n"),
                std::string::npos)
          << fresh_err;
    }
    EXPECT_EQ(Out(b), "out job-1/m-00002/0\n");
    EXPECT_TRUE(ResultOk(b));
  }
}

TEST_F(WorkerExecutorSpareTest, MemoryLimitAppliesToAHandedSpare) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP()
      << "a sanitized job binary maps terabytes of shadow memory: no address-space limit fits it";
#endif
  auto limited = Handed(Options(/*memory_mb=*/256));
  ASSERT_NE(limited, nullptr);
  ExecutorAttempt a = Attempt(1, {"--behave=hog"});
  ProcessOutcome o = RunOk(limited.get(), a);
  EXPECT_TRUE(o.exited && o.exit_code == 1) << DescribeOutcome(o, {});
  EXPECT_NE(Err(a).find("bad_alloc"), std::string::npos) << Err(a);
  auto unlimited = Handed(Options());
  ASSERT_NE(unlimited, nullptr);
  ExecutorAttempt b = Attempt(2, {"--behave=hog"});
  EXPECT_EQ(RunOk(unlimited.get(), b).exit_code, 0) << Err(b);
  EXPECT_NE(Err(b).find("got them"), std::string::npos);
}

TEST_F(WorkerExecutorSpareTest, SpareWhoseSocketClosesExitsZero) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  SubprocessOptions so;
  so.argv = {EXECUTOR_TEST_JOB, "--executor_spare"};
  so.stdin_fd = sv[1];
  auto pid = StartSubprocess(so);
  ::close(sv[1]);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  ::close(sv[0]);
  auto status = WaitSubprocess(*pid);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
}

TEST_F(WorkerExecutorSpareTest, SpareThatCannotEnterItsDirectoryFailsAsAStartThere) {
  ExecutorOptions o = Options();
  o.dir = JoinPath(dir_, "no-such-dir");
  auto spare = Spare();
  ASSERT_NE(spare, nullptr);
  auto e = Executor::FromSpare(std::move(spare), o, no_kill_);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status().ToString();
  EXPECT_EQ(Executor::Start(o, no_kill_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ReadTail(o.log_path, 4096).find("no-such-dir"), std::string::npos);
}

TEST_F(WorkerExecutorSpareTest, PoolKeepsOneSparePerBinary) {
  ExecutorPool pool(/*idle_ms=*/60000);
  EXPECT_TRUE(pool.SparesWanted().empty());
  pool.WantSpare("sha-a");
  EXPECT_EQ(pool.SparesWanted(), std::vector<std::string>{"sha-a"});
  const int pid = Given(&pool, "sha-a");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(pool.SparesWanted().empty());
  const int second_pid = Given(&pool, "sha-a");  // one per binary: destroyed
  ASSERT_GT(second_pid, 0);
  EXPECT_TRUE(Gone(second_pid));
  EXPECT_EQ(pool.TakeSpare("sha-b"), nullptr);  // another binary's start never gets it
  auto taken = pool.TakeSpare("sha-a");
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->pid(), pid);
  EXPECT_EQ(pool.TakeSpare("sha-a"), nullptr);
  // A refused binary loses its spare and gets none, even when an executor of it is noted.
  const int had_pid = Given(&pool, "sha-b");
  ASSERT_GT(had_pid, 0);
  pool.Refuse(ExecutorKey{"job-1", "sha-b", {}, 0});
  EXPECT_TRUE(Gone(had_pid));
  pool.WantSpare("sha-b");
  EXPECT_EQ(pool.SparesWanted(), std::vector<std::string>{"sha-a"});
  const int refused_pid = Given(&pool, "sha-b");
  ASSERT_GT(refused_pid, 0);
  EXPECT_TRUE(Gone(refused_pid));
  EXPECT_EQ(pool.spare_count(), 0u);
  // Clear ends spares too.
  const int last_pid = Given(&pool, "sha-a");
  ASSERT_GT(last_pid, 0);
  pool.Clear();
  EXPECT_TRUE(Gone(last_pid));
  EXPECT_TRUE(pool.SparesWanted().empty());
}

TEST_F(WorkerExecutorSpareTest, PoolDropsDeadSpares) {
  ExecutorPool pool(/*idle_ms=*/60000);
  // Killed: dropped, and its binary wants another.
  pool.WantSpare("sha-a");
  const int pid = Given(&pool, "sha-a");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (pool.spare_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    pool.CloseIdle();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(pool.spare_count(), 0u);
  EXPECT_TRUE(Gone(pid));
  EXPECT_EQ(pool.SparesWanted(), std::vector<std::string>{"sha-a"});
  // Exited by itself (a binary that knows no --executor_spare): its binary gets none again.
  pool.WantSpare("sha-old");
  const int old_pid = Given(&pool, "sha-old", "/bin/false");
  ASSERT_GT(old_pid, 0);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::unique_ptr<Executor> taken;
  while (pool.spare_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    taken = pool.TakeSpare("sha-old");
    if (taken) pool.GiveSpare("sha-old", std::move(taken));  // still starting: put back
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(pool.spare_count(), 0u);
  EXPECT_TRUE(Gone(old_pid));
  pool.WantSpare("sha-old");
  EXPECT_EQ(pool.SparesWanted(), std::vector<std::string>{"sha-a"});
}

TEST_F(WorkerExecutorSpareTest, PoolEndsIdleSpares) {
  ExecutorPool keeps(/*idle_ms=*/60000), ends(/*idle_ms=*/0);
  keeps.WantSpare("sha-a");
  ends.WantSpare("sha-a");
  const int kept_pid = Given(&keeps, "sha-a"), ended_pid = Given(&ends, "sha-a");
  ASSERT_TRUE(kept_pid > 0 && ended_pid > 0);
  keeps.CloseIdle();
  ends.CloseIdle();  // idle for longer than 0 ms
  EXPECT_FALSE(Gone(kept_pid));
  EXPECT_EQ(keeps.spare_count(), 1u);
  EXPECT_TRUE(Gone(ended_pid));
  EXPECT_EQ(ends.spare_count(), 0u);
  // Not started again until an executor of the binary starts again.
  EXPECT_TRUE(ends.SparesWanted().empty());
  ends.WantSpare("sha-a");
  EXPECT_EQ(ends.SparesWanted(), std::vector<std::string>{"sha-a"});
}

// The worker's use of spares, through orders from a fake coordinator: after job-1's attempt and
// its drop the worker starts a spare of the binary; job-2's first attempt (a new executor key)
// runs in it; a job of another binary starts its own executor and leaves the spare alone.
class WorkerSpareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net_.Listen(kCoord, [this](Connection& c) { fake_.Serve(c); });
    o_ = sawmill::testing::FakeWorkerOptions(tmp_.Sub("worker"), kCoord);
    input_ = tmp_.Write("input.txt", "one\ntwo\nthree\n");
    // Two binaries in the worker's cache: the test job, and the same with a byte appended.
    std::string bytes;
    ASSERT_TRUE(ReadFileToString(EXECUTOR_TEST_JOB, &bytes).ok());
    sha_a_ = Place(bytes);
    sha_b_ = Place(bytes + '\n');
    worker_ = std::make_unique<Worker>(o_, &net_, &store_);
    worker_->Start();
  }
  void TearDown() override {
    worker_->Stop();
    net_.Stop(kCoord);
  }

  std::string Place(const std::string& bytes) {
    const std::string tmp = JoinPath(o_.dir, "binary.tmp");
    EXPECT_TRUE(MakeDirs(JoinPath(o_.dir, "binaries")).ok());
    EXPECT_TRUE(WriteStringToFile(tmp, bytes).ok());
    auto sha = Sha256FileHex(tmp);
    EXPECT_TRUE(sha.ok());
    EXPECT_EQ(::chmod(tmp.c_str(), 0555), 0);
    EXPECT_TRUE(Rename(tmp, JoinPath(JoinPath(o_.dir, "binaries"), *sha)).ok());
    return *sha;
  }

  // Runs map attempt `job`/m-00000/0 of binary `sha` to its report; the pid that ran it.
  int RunJob(const std::string& job, const std::string& sha) {
    const std::string attempt = job + "/m-00000/0";
    capnp::MallocMessageBuilder m;
    auto l = m.initRoot<sched::proto::CoordinatorResponse>().initOrders().initLaunch(1)[0];
    l.setJobId(job);
    l.setAttemptId(attempt);
    l.setBinarySha256(sha);
    l.initArgs(1).set(0, "--hog_mb=512");
    l.initTaskFlags(1).set(0, "--behave=copy");
    l.setTimeoutMs(60000);
    l.setExecutorGroup(job);
    auto s = l.initSpec();
    s.setJobId(job);
    s.setAttemptId(attempt);
    s.getPartitioning().setKind("none");
    s.getSplit().setPath(input_);
    s.getSplit().setLength(14);
    s.getSplit().setBytes(14);
    s.setMemoryBytes(8 << 20);
    s.setMergeFactor(8);
    s.setBlockBytes(64 << 10);
    EXPECT_TRUE(MakeDirs(tmp_.Sub("out-" + job)).ok());
    s.setOutputPath(JoinPath(tmp_.Sub("out-" + job), "part"));
    EXPECT_TRUE(fake_.Give(m));
    auto r = fake_.WaitForReport(attempt, std::chrono::seconds(60));
    EXPECT_TRUE(r && r->ok) << (r ? r->error : "no report");
    std::string err = ReadTail(JoinPath(o_.dir, "jobs/" + job + "/m-00000_0/stderr"), 4096);
    return err.rfind("pid ", 0) == 0 ? std::atoi(err.c_str() + 4) : -1;
  }
  void Drop(const std::string& job) {
    capnp::MallocMessageBuilder m;
    m.initRoot<sched::proto::CoordinatorResponse>().initOrders().initDropJobs(1).set(0, job);
    EXPECT_TRUE(fake_.Give(m));
  }
  // The pid of this process's spare of `binary_sha` other than `old` (a handed spare keeps its
  // command line), once there is one (-1 after 30 s).
  int AwaitSpare(const std::string& binary_sha, int old = -1) {
    const std::string want = JoinPath(JoinPath(o_.dir, "binaries"), binary_sha) +
                             std::string("\0--executor_spare\0", 18);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      for (int pid : ChildPids()) {
        std::string cmdline;
        if (ReadFileToString("/proc/" + std::to_string(pid) + "/cmdline", &cmdline).ok() &&
            cmdline == want && pid != old) {
          return pid;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  static std::vector<int> ChildPids() {
    std::vector<int> out;
    std::string children;
    const std::string self = std::to_string(::getpid());
    // Every thread's children: the worker's threads start them.
    auto tasks = ListDir("/proc/self/task");
    if (!tasks.ok()) return out;
    for (const auto& t : *tasks) {
      if (!ReadFileToString("/proc/self/task/" + t + "/children", &children).ok()) continue;
      std::istringstream in(children);
      for (int pid; in >> pid;) out.push_back(pid);
    }
    return out;
  }

  static constexpr char kCoord[] = "coordinator:1";
  sawmill::testing::TempDir tmp_;
  sawmill::testing::FailingFs store_;  // the binaries are in the cache already
  sawmill::testing::FakeCoordinator fake_;
  InProcessNetwork net_;
  WorkerOptions o_;
  std::unique_ptr<Worker> worker_;
  std::string input_, sha_a_, sha_b_;
};

TEST_F(WorkerSpareTest, NewJobOfTheBinaryStartsInItsSpare) {
  const int first = RunJob("job-1", sha_a_);
  ASSERT_GT(first, 0);
  Drop("job-1");
  const int spare = AwaitSpare(sha_a_);
  ASSERT_GT(spare, 0) << "no spare of the binary after its job ended";
  EXPECT_NE(spare, first);
  EXPECT_EQ(RunJob("job-2", sha_a_), spare);
  // Another binary's job does not take it (a new spare of the first binary comes once idle).
  const int next_spare = AwaitSpare(sha_a_, spare);
  ASSERT_GT(next_spare, 0);
  const int other = RunJob("job-3", sha_b_);
  EXPECT_GT(other, 0);
  EXPECT_NE(other, next_spare);
  EXPECT_FALSE(Gone(next_spare));
  EXPECT_EQ(AwaitSpare(sha_a_, spare), next_spare);
}

}  // namespace
}  // namespace sawmill::worker
