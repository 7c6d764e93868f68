// Starting child processes safely from a threaded program: everything the child needs (argv,
// environment, file descriptors) is prepared before fork(), the child makes only
// async-signal-safe calls until it execs, and waiting reaps only the process started.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sawmill {

struct SubprocessOptions {
  std::vector<std::string> argv;  // argv[0] is the program's path (PATH is not searched)
  std::vector<std::string> env;   // "NAME=value", added to or replacing this process's environment
  std::string dir;                // the child's working directory; "": this process's

  // The child's standard streams: kInherit, kDevNull, or a descriptor of this process (which
  // Start neither closes nor needs after it returns; O_CLOEXEC on it is fine).
  static constexpr int kInherit = -1;
  static constexpr int kDevNull = -2;
  int stdin_fd = kInherit;
  int stdout_fd = kInherit;
  int stderr_fd = kInherit;

  enum class Group {
    kInherit,     // this process's group and session
    kNewGroup,    // its own process group (a kill of -pid reaches what it starts)
    kNewSession,  // its own session: a daemon that outlives this process's terminal
  };
  Group group = Group::kInherit;

  uint64_t address_space_bytes = 0;  // RLIMIT_AS of the child; 0: unchanged
};

// Forks and execs `options.argv`; returns the child's pid. An error naming the program when
// fork() fails or a descriptor cannot be opened. The child's signal mask is cleared. A child
// that cannot enter `dir` or exec exits with status 127 after writing "exec failed: PROGRAM:
// REASON" to its stderr.
Result<pid_t> StartSubprocess(const SubprocessOptions& options);

// Blocks until the child `pid` ends and reaps it (never another child of this process; retried
// on EINTR). Returns its wait status (WIFEXITED, WEXITSTATUS, ...).
Result<int> WaitSubprocess(pid_t pid);

// Replaces this process with `argv` (argv[0] a path); returns only when exec fails, with an
// error naming the program.
Status ExecReplacing(const std::vector<std::string>& argv);

}  // namespace sawmill
