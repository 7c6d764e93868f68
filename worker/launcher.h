// Child processes for task attempts: the job binary run in its own directory and process group,
// with an address-space limit, stdout/stderr in files there, a timeout and a kill switch.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace sawmill::worker {

struct LaunchOptions {
  std::string binary;              // path of the executable
  std::vector<std::string> args;   // argv[1..]
  std::string dir;                 // working directory; gets stdout and stderr files
  uint64_t memory_mb = 0;          // RLIMIT_AS of the child; 0: none
  int64_t timeout_ms = 0;          // 0: none
  std::vector<std::string> env;    // "NAME=value" added to (or replacing in) the worker's environment
};

struct ProcessOutcome {
  bool exited = false;   // normal exit (exit_code valid)
  int exit_code = 0;
  int signal = 0;        // killed by this signal
  bool timed_out = false;
  bool killed = false;   // Kill() was called
  double seconds = 0;
};

// "exited with status 3", "killed by signal 6 (Aborted)", "timed out after 30.0 s", ...
std::string DescribeOutcome(const ProcessOutcome& o, const LaunchOptions& options);

class ChildProcess {
 public:
  // Forks and execs (common/subprocess.h); an error naming the binary, or the stdout or stderr
  // file, when that fails before exec. A failing exec shows as exit status 127 with the reason
  // in the stderr file.
  static Result<std::unique_ptr<ChildProcess>> Start(const LaunchOptions& options);
  ~ChildProcess();  // kills and reaps a child still running

  // Blocks until the child exits, its timeout passes or Kill() is called (then the whole process
  // group gets SIGKILL), and reaps it. Call once.
  ProcessOutcome Wait();
  // Thread-safe; Wait() returns soon after.
  void Kill() { kill_requested_ = true; }
  int pid() const { return pid_; }

 private:
  ChildProcess(int pid, int pidfd, LaunchOptions options);
  int pid_;
  int pidfd_;
  LaunchOptions options_;
  std::atomic<bool> kill_requested_{false};
  bool reaped_ = false;
};

// The last `max_bytes` of a file ("" if it does not exist).
std::string ReadTail(const std::string& path, size_t max_bytes);

}  // namespace sawmill::worker
