// Starting child processes safely from a threaded program (common/subprocess.h).
#include "common/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

extern char** environ;

namespace sawmill {
namespace {

// strerror() may translate (and allocate); the plain description is a table lookup.
const char* ErrnoText(int err) {
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 32)
  const char* s = ::strerrordesc_np(err);
  return s ? s : "unknown error";
#else
  return ::strerror(err);
#endif
}

void WriteText(int fd, const char* s) { (void)!::write(fd, s, ::strlen(s)); }

// What the child uses, all made before fork(): the child only reads it.
struct ChildPlan {
  char* const* argv;
  char* const* envp;
  const char* dir;  // nullptr: stay
  int stdio[3];     // descriptor to place at 0, 1, 2; -1: inherit
  SubprocessOptions::Group group;
  uint64_t address_space_bytes;
};

[[noreturn]] void Fail127(const char* program, int err) {
  WriteText(2, "exec failed: ");
  WriteText(2, program);
  WriteText(2, ": ");
  WriteText(2, ErrnoText(err));
  WriteText(2, "\n");
  ::_exit(127);
}

// The child between fork and exec: only async-signal-safe calls.
[[noreturn]] void RunChild(const ChildPlan& p) {
  if (p.group == SubprocessOptions::Group::kNewGroup) ::setpgid(0, 0);
  if (p.group == SubprocessOptions::Group::kNewSession) ::setsid();
  // Sources move above 2 first, so that placing one stream cannot overwrite another's source.
  int from[3];
  for (int i = 0; i < 3; ++i) from[i] = p.stdio[i] < 0 ? -1 : ::fcntl(p.stdio[i], F_DUPFD_CLOEXEC, 3);
  for (int i = 0; i < 3; ++i) {
    if (p.stdio[i] >= 0 && (from[i] < 0 || ::dup2(from[i], i) != i)) ::_exit(127);
  }
  if (p.dir != nullptr && ::chdir(p.dir) != 0) Fail127(p.dir, errno);
  if (p.address_space_bytes > 0) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(p.address_space_bytes);
    ::setrlimit(RLIMIT_AS, &rl);
  }
  // Signals this process blocks (a daemon sigwaits for SIGTERM) must not stay blocked in the child.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(p.argv[0], p.argv, p.envp);
  Fail127(p.argv[0], errno);
}

// This process's environment with `overrides` ("NAME=value") added or replacing.
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    bool replaced = false;
    for (const auto& x : overrides) replaced |= x.substr(0, x.find('=') + 1) == v.substr(0, v.find('=') + 1);
    if (!replaced) env.emplace_back(v);
  }
  for (const auto& x : overrides) env.push_back(x);
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  p.reserve(strings.size() + 1);
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

}  // namespace

Result<pid_t> StartSubprocess(const SubprocessOptions& options) {
  if (options.argv.empty()) return InvalidArgument("a subprocess needs a program");
  const std::string& program = options.argv[0];
  std::vector<std::string> argv_s = options.argv;
  std::vector<std::string> env_s = MergedEnvironment(options.env);
  std::vector<char*> argv = Pointers(argv_s), envp = Pointers(env_s);
  const int requested[3] = {options.stdin_fd, options.stdout_fd, options.stderr_fd};
  int devnull = -1;
  for (int fd : requested) {
    if (fd == SubprocessOptions::kDevNull && devnull < 0) {
      devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (devnull < 0) return ErrnoError("open", "/dev/null", errno);
    }
  }
  ChildPlan plan{argv.data(), envp.data(), options.dir.empty() ? nullptr : options.dir.c_str(), {},
                 options.group, options.address_space_bytes};
  for (int i = 0; i < 3; ++i) plan.stdio[i] = requested[i] == SubprocessOptions::kDevNull ? devnull : requested[i];
  pid_t pid = ::fork();
  if (pid == 0) RunChild(plan);
  int fork_errno = errno;
  if (devnull >= 0) ::close(devnull);
  if (pid < 0) return IOError("fork for " + program + ": " + std::strerror(fork_errno));
  // Also in the parent, so that a kill of the group right after this returns reaches the child.
  if (options.group == SubprocessOptions::Group::kNewGroup) ::setpgid(pid, pid);
  return pid;
}

Result<int> WaitSubprocess(pid_t pid) {
  if (pid <= 0) return InvalidArgument("waiting for pid " + std::to_string(pid));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return IOError("waiting for process " + std::to_string(pid) + ": " + std::strerror(errno));
  }
  return status;
}

Status ExecReplacing(const std::vector<std::string>& argv) {
  if (argv.empty()) return InvalidArgument("exec needs a program");
  std::vector<std::string> argv_s = argv;
  std::vector<char*> p = Pointers(argv_s);
  ::execv(p[0], p.data());
  return IOError("cannot run " + argv[0] + ": " + std::strerror(errno));
}

}  // namespace sawmill
