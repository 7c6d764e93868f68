// A warm executor on the worker's side (worker/executor.h): started through common/subprocess.h
// with the socket as its stdin (or handed a start as a spare), then watched through a pidfd while
// it runs an attempt.
#include "worker/executor.h"

#include <capnp/message.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/subprocess.h"
#include "mapreduce/executor.capnp.h"
#include "mapreduce/executor_channel.h"

namespace sawmill::worker {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

}  // namespace

Status MakeAttemptOutputFiles(const std::string& dir) {
  for (const char* name : {"stdout", "stderr"}) {
    std::string path = JoinPath(dir, name);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError("cannot open", path, errno);
    ::close(fd);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Executor>> Executor::Start(const ExecutorOptions& options,
                                                  const std::atomic<bool>& kill) {
  int log = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return ErrnoError("cannot open", options.log_path, errno);
  SubprocessOptions so;
  so.argv.push_back(options.binary);
  so.argv.insert(so.argv.end(), options.args.begin(), options.args.end());
  so.argv.push_back("--executor_fd=0");
  so.env = options.env;
  so.dir = options.dir;
  so.stdout_fd = log;
  so.stderr_fd = log;
  so.address_space_bytes = options.memory_mb << 20;
  auto e = Spawn(std::move(so));
  ::close(log);
  if (!e.ok()) return e.status();
  RETURN_IF_ERROR((*e)->AwaitHello(options, kill));
  return e;
}

Result<std::unique_ptr<Executor>> Executor::StartSpare(const SpareOptions& options) {
  SubprocessOptions so;
  so.argv = {options.binary, kExecutorSpareArg};
  so.dir = options.dir;
  so.stdout_fd = SubprocessOptions::kDevNull;
  return Spawn(std::move(so));
}

Result<std::unique_ptr<Executor>> Executor::FromSpare(std::unique_ptr<Executor> spare,
                                                      const ExecutorOptions& options,
                                                      const std::atomic<bool>& kill) {
  // Made here, as Start makes it, so that a log that cannot be made fails alike.
  int log = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return ErrnoError("cannot open", options.log_path, errno);
  ::close(log);
  capnp::MallocMessageBuilder m;
  auto h = m.initRoot<proto::ExecutorHandoff>();
  auto args = h.initArgs(static_cast<unsigned>(options.args.size()));
  for (unsigned i = 0; i < options.args.size(); ++i) args.set(i, options.args[i]);
  h.setDir(options.dir);
  h.setLogPath(options.log_path);
  auto env = h.initEnv(static_cast<unsigned>(options.env.size()));
  for (unsigned i = 0; i < options.env.size(); ++i) env.set(i, options.env[i]);
  h.setMemoryMb(options.memory_mb);
  if (Status s = SendExecutorMessage(spare->channel_, CapnpToString(m)); !s.ok()) {
    return Status(StatusCode::kUnavailable, "the spare executor is gone: " + s.message());
  }
  RETURN_IF_ERROR(spare->AwaitHello(options, kill));
  return spare;
}

Result<std::unique_ptr<Executor>> Executor::Spawn(SubprocessOptions so) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoError("socketpair for an executor of", so.argv[0], errno);
  }
  so.stdin_fd = sv[1];
  so.group = SubprocessOptions::Group::kNewGroup;
  auto pid = StartSubprocess(so);
  ::close(sv[1]);
  if (!pid.ok()) {
    ::close(sv[0]);
    return pid.status();
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0));
  return std::unique_ptr<Executor>(new Executor(*pid, pidfd, sv[0]));
}

Status Executor::AwaitHello(const ExecutorOptions& options, const std::atomic<bool>& kill) {
  const std::string why =
      options.binary + " did not start as an executor (its output: " + options.log_path + ")";
  switch (Await(options.start_timeout_ms, kill, /*watch_channel=*/true)) {
    case Event::kKill:
      return Aborted("killed while its executor started");
    case Event::kTimeout:
      return InvalidArgument(why + ": no hello in " + std::to_string(options.start_timeout_ms) +
                             " ms");
    case Event::kEnded:
      return InvalidArgument(why + ": it ended");
    case Event::kMessage:
      break;
  }
  auto hello = ReceiveExecutorMessage(channel_);
  if (!hello.ok()) return InvalidArgument(why + ": " + hello.status().message());
  auto reader = CapnpReader::Parse(*hello);
  int32_t said = 0;
  if (reader.ok()) {
    (void)CatchCapnp("executor hello", [&] {
      said = (*reader)->Root<proto::ExecutorHello>().getPid();
      return Status::Ok();
    });
  }
  if (said != pid_) return InvalidArgument(why + ": a wrong hello");
  return Status::Ok();
}

Executor::~Executor() {
  ::close(channel_);
  if (!reaped_) KillAndReap();
  if (pidfd_ >= 0) ::close(pidfd_);
}

Executor::Event Executor::Await(int64_t timeout_ms, const std::atomic<bool>& kill,
                                bool watch_channel) {
  auto start = Clock::now();
  for (;;) {
    if (kill.load()) return Event::kKill;
    if (timeout_ms > 0 && MillisSince(start) >= timeout_ms) return Event::kTimeout;
    struct pollfd p[2] = {{channel_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
    if (!watch_channel) p[0].fd = -1;  // poll skips it
    // The pidfd becomes readable when the process ends; the 50 ms bound is for kills and timeouts.
    int n = ::poll(p, pidfd_ >= 0 ? 2 : 1, 50);
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) return Event::kMessage;
    if (n > 0 && pidfd_ >= 0 && p[1].revents) return Event::kEnded;
    if (pidfd_ < 0) {
      // Without a pidfd: peek at its end without reaping it.
      siginfo_t info;
      info.si_pid = 0;
      if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid_) {
        return Event::kEnded;
      }
    }
  }
}

int Executor::End() { return reaped_ ? 0 : KillAndReap(); }

int Executor::KillAndReap() {
  // Until it is reaped the pid (and group id) cannot be reused, so the group kill cannot hit a
  // stranger; whatever its attempts left in the group goes too.
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return status;
}

Result<ProcessOutcome> Executor::Run(const ExecutorAttempt& attempt,
                                     const std::atomic<bool>& kill) {
  if (reaped_) return Status(StatusCode::kUnavailable, "the executor is gone");
  capnp::MallocMessageBuilder m;
  auto req = m.initRoot<proto::ExecutorRequest>();
  req.setSpecPath(attempt.spec_path);
  req.setDir(attempt.dir);
  auto env = req.initEnv(static_cast<unsigned>(attempt.env.size()));
  for (unsigned i = 0; i < attempt.env.size(); ++i) env.set(i, attempt.env[i]);
  auto flags = req.initTaskFlags(static_cast<unsigned>(attempt.task_flags.size()));
  for (unsigned i = 0; i < attempt.task_flags.size(); ++i) flags.set(i, attempt.task_flags[i]);
  auto start = Clock::now();
  if (Status s = SendExecutorMessage(channel_, CapnpToString(m)); !s.ok()) {
    return Status(StatusCode::kUnavailable,
                  "the executor did not take the attempt: " + s.message());
  }
  ProcessOutcome o;
  Event ev = Await(attempt.timeout_ms, kill, /*watch_channel=*/true);
  if (ev == Event::kMessage) {
    auto bytes = ReceiveExecutorMessage(channel_);
    int32_t code = -1;
    if (bytes.ok()) {
      auto reader = CapnpReader::Parse(*bytes);
      if (reader.ok()) {
        (void)CatchCapnp("executor reply", [&] {
          code = (*reader)->Root<proto::ExecutorReply>().getExitCode();
          return Status::Ok();
        });
      }
    }
    if (code >= 0) {
      ++attempts_;
      o.exited = true;
      o.exit_code = code;
      o.seconds = static_cast<double>(MillisSince(start)) / 1000;
      return o;
    }
    // The socket closed without an answer: the process is ending (user code crashed or called
    // exit()); its own end says how, as an attempt's process's would.
    int64_t left =
        attempt.timeout_ms > 0 ? std::max<int64_t>(attempt.timeout_ms - MillisSince(start), 1) : 0;
    ev = Await(left, kill, /*watch_channel=*/false);
  }
  int status = KillAndReap();
  if (ev == Event::kEnded) {
    if (WIFEXITED(status)) {
      o.exited = true;
      o.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      o.signal = WTERMSIG(status);
    }
  } else {
    o.killed = ev == Event::kKill;
    o.timed_out = ev == Event::kTimeout;
  }
  o.seconds = static_cast<double>(MillisSince(start)) / 1000;
  return o;
}

bool Executor::alive() {
  if (reaped_) return false;
  if (pidfd_ >= 0) {
    struct pollfd p = {pidfd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
  siginfo_t info;
  info.si_pid = 0;
  return !(::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid_);
}

}  // namespace sawmill::worker
