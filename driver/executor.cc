// A warm executor's loop (driver/executor.h): one attempt after another, each in its own
// directory, output files, environment and flags, put back before the next.
#include "driver/executor.h"

#include <capnp/message.h>
#include <fcntl.h>
#include <gflags/gflags.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include "common/capnp_util.h"
#include "common/file.h"
#include "mapreduce/executor.capnp.h"
#include "mapreduce/executor_channel.h"

DECLARE_string(task);
DECLARE_int32(executor_fd);

namespace sawmill {
namespace {

struct Request {
  std::string spec_path, dir;
  std::vector<std::string> env, task_flags;
};

Result<Request> ParseRequest(const std::string& bytes) {
  ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(bytes));
  Request r;
  RETURN_IF_ERROR(CatchCapnp("executor request", [&]() -> Status {
    auto m = reader->Root<proto::ExecutorRequest>();
    r.spec_path = Text(m.getSpecPath());
    r.dir = Text(m.getDir());
    for (auto e : m.getEnv()) r.env.push_back(Text(e));
    for (auto f : m.getTaskFlags()) r.task_flags.push_back(Text(f));
    return Status::Ok();
  }));
  if (r.spec_path.empty() || r.dir.empty())
    return InvalidArgument("executor request without a spec or directory");
  return r;
}

// Flushes what this process buffered for fds 1 and 2.
void FlushStdio() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(stdout);
  std::fflush(stderr);
}

// fds 1 and 2 on the attempt's stdout and stderr files for as long as it lives, and the working
// directory in the attempt's directory; then back to the executor's own.
class AttemptPlace {
 public:
  static Result<std::unique_ptr<AttemptPlace>> Enter(const std::string& dir, int home_out,
                                                     int home_err, const std::string& home_dir) {
    std::unique_ptr<AttemptPlace> p(new AttemptPlace(home_out, home_err, home_dir));
    for (const char* name : {"stdout", "stderr"}) {
      std::string path = JoinPath(dir, name);
      // The worker made (and truncated) both files, as it does for an attempt's own process.
      int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd < 0) return ErrnoError("cannot open", path, errno);
      FlushStdio();
      int target = name[3] == 'o' ? 1 : 2;
      int dup = ::dup2(fd, target);
      ::close(fd);
      if (dup != target) return ErrnoError("cannot redirect to", path, errno);
    }
    if (::chdir(dir.c_str()) != 0) return ErrnoError("cannot enter", dir, errno);
    return p;
  }
  ~AttemptPlace() {
    FlushStdio();
    (void)::dup2(home_out_, 1);
    (void)::dup2(home_err_, 2);
    (void)!::chdir(home_dir_.c_str());
  }

 private:
  AttemptPlace(int out, int err, std::string dir)
      : home_out_(out), home_err_(err), home_dir_(std::move(dir)) {}
  int home_out_, home_err_;
  std::string home_dir_;
};

// Environment variables set for one attempt, restored (or unset) when it ends.
class AttemptEnv {
 public:
  explicit AttemptEnv(const std::vector<std::string>& env) {
    for (const auto& e : env) {
      size_t eq = e.find('=');
      if (eq == std::string::npos || eq == 0) continue;
      std::string name = e.substr(0, eq);
      const char* old = std::getenv(name.c_str());
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      ::setenv(name.c_str(), e.c_str() + eq + 1, 1);
    }
  }
  ~AttemptEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// One attempt as its own process would run it; the exit code that process would have had.
int RunOne(TaskRunner* runner, const TaskSpecFactory& make_spec, const Request& r, int home_out,
           int home_err, const std::string& home_dir) {
  auto place = AttemptPlace::Enter(r.dir, home_out, home_err, home_dir);
  if (!place.ok()) {
    std::fprintf(stderr, "executor: %s\n", place.status().ToString().c_str());
    return 127;  // what a process that cannot start in its directory exits with
  }
  AttemptEnv env(r.env);
  gflags::FlagSaver flags;  // the attempt's task flags (and whatever its code sets) end with it
  if (Status s = SetTaskFlags(r.task_flags); !s.ok()) {
    std::fprintf(stderr, "error: %s (see --help)\n", s.message().c_str());
    return 2;  // as the command line's parse would
  }
  return runner->Run(make_spec, r.spec_path);
}

}  // namespace

Status SetTaskFlags(const std::vector<std::string>& flags) {
  for (const auto& f : flags) {
    size_t dashes = f.rfind("--", 0) == 0 ? 2 : f.rfind("-", 0) == 0 ? 1 : 0;
    if (dashes == 0) return InvalidArgument("task flag '" + f + "' is not a flag");
    std::string body = f.substr(dashes);
    size_t eq = body.find('=');
    std::string name = body.substr(0, eq),
                value = eq == std::string::npos ? "" : body.substr(eq + 1);
    gflags::CommandLineFlagInfo info;
    if (eq == std::string::npos) {
      if (gflags::GetCommandLineFlagInfo(name.c_str(), &info) && info.type == "bool") {
        value = "true";
      } else if (name.rfind("no", 0) == 0 &&
                 gflags::GetCommandLineFlagInfo(name.c_str() + 2, &info) && info.type == "bool") {
        name = name.substr(2);
        value = "false";
      } else {
        return InvalidArgument("task flag '" + f + "' has no value");
      }
    }
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info))
      return InvalidArgument("unknown flag '" + f + "'");
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      return InvalidArgument("bad value '" + value + "' for --" + name + " (" + info.type + ")");
    }
  }
  return Status::Ok();
}

int RunExecutor(const TaskSpecFactory& make_spec, int fd) {
  // The socket moves out of the way: an attempt's stdin is /dev/null, as its own process's is.
  int channel = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (channel < 0) {
    std::fprintf(stderr, "executor: fd %d: %s\n", fd, std::strerror(errno));
    return 2;
  }
  ::close(fd);
  if (fd <= 2) {
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0 && null != fd) {
      ::dup2(null, fd);
      ::close(null);
    }
  }
  const int home_out = ::fcntl(1, F_DUPFD_CLOEXEC, 3), home_err = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
  char cwd[4096];
  const std::string home_dir = ::getcwd(cwd, sizeof cwd) ? cwd : "/";
  if (home_out < 0 || home_err < 0) {
    std::fprintf(stderr, "executor: cannot keep stdout and stderr: %s\n", std::strerror(errno));
    return 2;
  }
  {
    capnp::MallocMessageBuilder m;
    m.initRoot<proto::ExecutorHello>().setPid(static_cast<int32_t>(::getpid()));
    if (Status s = SendExecutorMessage(channel, CapnpToString(m)); !s.ok()) return 0;
  }
  TaskRunner runner;
  for (;;) {
    auto bytes = ReceiveExecutorMessage(channel);
    if (!bytes.ok()) {
      // The worker closed the socket (done with this job, stopping, or gone): so is this process.
      if (bytes.status().code() == StatusCode::kUnavailable) return 0;
      std::fprintf(stderr, "executor: %s\n", bytes.status().ToString().c_str());
      return 2;
    }
    auto request = ParseRequest(*bytes);
    if (!request.ok()) {
      std::fprintf(stderr, "executor: %s\n", request.status().ToString().c_str());
      return 2;
    }
    int code = RunOne(&runner, make_spec, *request, home_out, home_err, home_dir);
    capnp::MallocMessageBuilder m;
    m.initRoot<proto::ExecutorReply>().setExitCode(code);
    if (!SendExecutorMessage(channel, CapnpToString(m)).ok()) return 0;
  }
}

bool RunsForWorker() { return !FLAGS_task.empty() || FLAGS_executor_fd >= 0; }

int RunForWorker(const TaskSpecFactory& make_spec) {
  if (FLAGS_executor_fd >= 0) return RunExecutor(make_spec, FLAGS_executor_fd);
  return RunTaskMode(make_spec, FLAGS_task);
}

}  // namespace sawmill
