// A warm executor on the worker's side: the job binary started once (`JOB ARGS --executor_fd=0`,
// driver/executor.h) in its own process group, under the address-space limit of the attempts it
// will run, which it then runs one at a time over a socket (mapreduce/executor.capnp). A kill or
// timeout of an attempt SIGKILLs the group, as for an attempt's own process; the executor is gone
// after that, and after any attempt that crashed or exited its process. A spare
// (`JOB --executor_spare`, driver/executor_spare.h) is the binary started before a job needs it,
// which becomes such an executor when it is handed the job's start (FromSpare).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/subprocess.h"
#include "worker/launcher.h"

namespace sawmill::worker {

struct ExecutorOptions {
  std::string binary;                // path of the executable
  std::vector<std::string> args;     // argv[1..] before --executor_fd
  std::string dir;                   // its working directory between attempts
  std::string log_path;              // its stdout and stderr between attempts (appended)
  uint64_t memory_mb = 0;            // RLIMIT_AS; 0: none
  std::vector<std::string> env;      // "NAME=value" added to the worker's environment
  int64_t start_timeout_ms = 30000;  // for its hello
};

// A spare: a verified binary and nothing of any job.
struct SpareOptions {
  std::string binary;  // path of the executable
  std::string dir;     // its working directory until it is handed a job's
};

// One attempt for an executor: what `--task=spec_path` in `dir` with `env` and `task_flags`
// after the args would run.
struct ExecutorAttempt {
  std::string spec_path;
  std::string dir;  // must hold the files stdout and stderr (MakeAttemptOutputFiles)
  std::vector<std::string> env;
  std::vector<std::string> task_flags;
  int64_t timeout_ms = 0;  // 0: none
};

// Creates (truncating) `dir`/stdout and `dir`/stderr, as an attempt's own process gets them; an
// error names the file.
Status MakeAttemptOutputFiles(const std::string& dir);

class Executor {
 public:
  // Starts the process and waits for its hello. kInvalidArgument when it ends or closes the
  // socket first, or says nothing within start_timeout_ms (a binary that is no executor, or one
  // that cannot start): its log holds why, and the process is gone. kAborted when *kill becomes
  // true meanwhile.
  static Result<std::unique_ptr<Executor>> Start(const ExecutorOptions& options,
                                                 const std::atomic<bool>& kill);
  // Starts `binary --executor_spare` in its own process group with the socket as its stdin,
  // stdout on /dev/null, stderr this process's and no address-space limit; does not wait for it.
  static Result<std::unique_ptr<Executor>> StartSpare(const SpareOptions& options);
  // Hands `spare` (from StartSpare, never handed before) what Start(options) would have started
  // the binary with (options.binary only names it in errors) and waits for its hello: then it is
  // the executor Start would have returned, with Start's errors; on an error it is gone.
  static Result<std::unique_ptr<Executor>> FromSpare(std::unique_ptr<Executor> spare,
                                                     const ExecutorOptions& options,
                                                     const std::atomic<bool>& kill);
  ~Executor();  // SIGKILLs the group and reaps the process, if it still runs
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs one attempt: blocks until the executor answers (exited, with the attempt's exit code),
  // its process ends (exited or signal, as the process's own), the timeout passes or `kill`
  // becomes true (timed_out or killed, after a SIGKILL of the group). kUnavailable when the
  // request could not be sent (the executor died before it): nothing ran, the caller may use
  // another executor.
  Result<ProcessOutcome> Run(const ExecutorAttempt& attempt, const std::atomic<bool>& kill);

  // Whether the process still runs (it may have died since its last attempt).
  bool alive();
  // SIGKILLs the group and reaps the process, unless done before; its wait status (the process's
  // own when it had ended by itself), or 0 after the first call.
  int End();
  int pid() const { return pid_; }
  int attempts() const { return attempts_; }  // answered

 private:
  Executor(int pid, int pidfd, int channel) : pid_(pid), pidfd_(pidfd), channel_(channel) {}
  // Starts `so` (its stdin: the socket, in a new process group) without waiting for it.
  static Result<std::unique_ptr<Executor>> Spawn(SubprocessOptions so);
  // Waits for the hello of the executor that `options` describe; Start's errors.
  Status AwaitHello(const ExecutorOptions& options, const std::atomic<bool>& kill);
  // Waits (up to `timeout_ms`, 0: none) for a message (or the socket closing; unless
  // !watch_channel), the process's end, or a kill.
  enum class Event { kMessage, kEnded, kTimeout, kKill };
  Event Await(int64_t timeout_ms, const std::atomic<bool>& kill, bool watch_channel);
  // SIGKILLs the group and reaps the process; its wait status.
  int KillAndReap();

  int pid_;
  int pidfd_;
  int channel_;
  bool reaped_ = false;
  int attempts_ = 0;
};

}  // namespace sawmill::worker
