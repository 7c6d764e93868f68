// Child processes for task attempts (worker/launcher.h): started by common/subprocess.h, then
// watched through a pidfd for their exit, a timeout or a kill of the whole process group.
#include "worker/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/file.h"
#include "common/subprocess.h"

namespace sawmill::worker {
namespace {

int PidfdOpen(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

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
  const std::string out = JoinPath(options.dir, "stdout"), err = JoinPath(options.dir, "stderr");
  int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0) return ErrnoError("cannot open", out, errno);
  int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (err_fd < 0) {
    int e = errno;
    ::close(out_fd);
    return ErrnoError("cannot open", err, e);
  }
  SubprocessOptions so;
  so.argv.push_back(options.binary);
  so.argv.insert(so.argv.end(), options.args.begin(), options.args.end());
  so.env = options.env;
  so.dir = options.dir;
  so.stdin_fd = SubprocessOptions::kDevNull;
  so.stdout_fd = out_fd;
  so.stderr_fd = err_fd;
  so.group = SubprocessOptions::Group::kNewGroup;
  so.address_space_bytes = options.memory_mb << 20;
  auto pid = StartSubprocess(so);
  ::close(out_fd);
  ::close(err_fd);
  if (!pid.ok()) return pid.status();
  int pidfd = PidfdOpen(*pid);
  return std::unique_ptr<ChildProcess>(new ChildProcess(*pid, pidfd, options));
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
