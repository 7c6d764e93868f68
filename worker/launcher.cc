#include "worker/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/file.h"

namespace sawmill::worker {
namespace {

int PidfdOpen(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// In the child, between fork and exec: only async-signal-safe calls, all strings prepared before.
[[noreturn]] void ExecChild(const char* dir, const char* out, const char* err, uint64_t memory_mb, char** argv,
                            char** envp) {
  ::setpgid(0, 0);
  if (::chdir(dir) != 0) ::_exit(127);
  int o = ::open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int e = ::open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int n = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (o < 0 || e < 0 || n < 0) ::_exit(127);
  ::dup2(n, 0);
  ::dup2(o, 1);
  ::dup2(e, 2);
  if (memory_mb > 0) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(memory_mb) << 20;
    ::setrlimit(RLIMIT_AS, &rl);
  }
  // Signals the worker blocks (it sigwaits for SIGTERM) must not stay blocked in the task.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(argv[0], argv, envp);
  const char msg[] = "exec failed: ";
  (void)!::write(2, msg, sizeof msg - 1);
  const char* why = ::strerror(errno);
  (void)!::write(2, why, ::strlen(why));
  (void)!::write(2, "\n", 1);
  ::_exit(127);
}

}  // namespace

std::string DescribeOutcome(const ProcessOutcome& o, const LaunchOptions& options) {
  char buf[160];
  if (o.timed_out) {
    std::snprintf(buf, sizeof buf, "timed out after %.1f s (limit %.1f s)", o.seconds,
                  static_cast<double>(options.timeout_ms) / 1000);
  } else if (o.killed) {
    std::snprintf(buf, sizeof buf, "killed by the worker");
  } else if (o.exited) {
    std::snprintf(buf, sizeof buf, "exited with status %d", o.exit_code);
  } else {
    const char* name = ::strsignal(o.signal);
    std::snprintf(buf, sizeof buf, "killed by signal %d (%s)%s", o.signal, name ? name : "?",
                  options.memory_mb > 0 && (o.signal == SIGABRT || o.signal == SIGSEGV || o.signal == SIGKILL)
                      ? (", memory limit " + std::to_string(options.memory_mb) + " MiB").c_str()
                      : "");
  }
  return buf;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const LaunchOptions& options) {
  std::vector<std::string> argv_s;
  argv_s.push_back(options.binary);
  for (const auto& a : options.args) argv_s.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string out = JoinPath(options.dir, "stdout"), err = JoinPath(options.dir, "stderr");
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    bool replaced = false;
    for (const auto& x : options.env) replaced |= x.substr(0, x.find('=') + 1) == v.substr(0, v.find('=') + 1);
    if (!replaced) env_s.emplace_back(v);
  }
  for (const auto& x : options.env) env_s.push_back(x);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  int pid = ::fork();
  if (pid < 0) return IOError("fork for " + options.binary + ": " + std::strerror(errno));
  if (pid == 0) ExecChild(options.dir.c_str(), out.c_str(), err.c_str(), options.memory_mb, argv.data(), envp.data());
  // Also in the parent, so a kill right after the fork reaches the group.
  ::setpgid(pid, pid);
  int pidfd = PidfdOpen(pid);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, pidfd, options));
}

ChildProcess::ChildProcess(int pid, int pidfd, LaunchOptions options)
    : pid_(pid), pidfd_(pidfd), options_(std::move(options)) {}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

ProcessOutcome ChildProcess::Wait() {
  ProcessOutcome o;
  auto start = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  };
  int status = 0;
  for (;;) {
    // Peek without reaping: until it is reaped the pid (and group id) cannot be reused, so the
    // group kill below cannot hit a stranger.
    siginfo_t info;
    info.si_pid = 0;
    int r = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    if (r == 0 && info.si_pid == pid_) {
      // Whatever the task left behind in its group (a helper it forked) goes too.
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    if (r < 0 && errno != EINTR) break;
    bool timeout = options_.timeout_ms > 0 && elapsed_ms() >= options_.timeout_ms;
    if (kill_requested_.load() || timeout) {
      o.killed = !timeout;
      o.timed_out = timeout;
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    // The pidfd becomes readable when the child exits; the 50 ms bound is for kills and timeouts.
    if (pidfd_ >= 0) {
      struct pollfd p = {pidfd_, POLLIN, 0};
      ::poll(&p, 1, 50);
    } else {
      ::usleep(20000);
    }
  }
  reaped_ = true;
  o.seconds = static_cast<double>(elapsed_ms()) / 1000;
  if (!o.killed && !o.timed_out) {
    if (WIFEXITED(status)) {
      o.exited = true;
      o.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      o.signal = WTERMSIG(status);
    }
  }
  return o;
}

std::string ReadTail(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  off_t size = ::lseek(fd, 0, SEEK_END);
  off_t from = size > static_cast<off_t>(max_bytes) ? size - static_cast<off_t>(max_bytes) : 0;
  std::string out(static_cast<size_t>(size - from), '\0');
  ssize_t n = ::pread(fd, out.data(), out.size(), from);
  ::close(fd);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace sawmill::worker
