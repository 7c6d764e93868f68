// A spare executor taking on a job's start (driver/executor_spare.h).
#include "driver/executor_spare.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/capnp_util.h"
#include "mapreduce/executor.capnp.h"
#include "mapreduce/executor_channel.h"

namespace sawmill {
namespace {

struct Handoff {
  std::vector<std::string> args, env;
  std::string dir, log_path;
  uint64_t memory_mb = 0;
};

Result<Handoff> ParseHandoff(const std::string& bytes) {
  ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(bytes));
  Handoff h;
  RETURN_IF_ERROR(CatchCapnp("executor handoff", [&]() -> Status {
    auto m = reader->Root<proto::ExecutorHandoff>();
    for (auto a : m.getArgs()) h.args.push_back(Text(a));
    for (auto e : m.getEnv()) h.env.push_back(Text(e));
    h.dir = Text(m.getDir());
    h.log_path = Text(m.getLogPath());
    h.memory_mb = m.getMemoryMb();
    return Status::Ok();
  }));
  if (h.dir.empty() || h.log_path.empty())
    return InvalidArgument("executor handoff without a directory or log");
  return h;
}

[[noreturn]] void Fail(int code, const std::string& what) {
  std::fprintf(stderr, "executor spare: %s\n", what.c_str());
  std::exit(code);
}

// What StartSubprocess does between fork and exec for a fresh executor, in the same order.
void TakeOn(const Handoff& h) {
  int log = ::open(h.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) Fail(127, "cannot open " + h.log_path + ": " + std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
  if (::dup2(log, 1) != 1 || ::dup2(log, 2) != 2)
    Fail(127, std::string("dup2: ") + std::strerror(errno));
  ::close(log);
  if (::chdir(h.dir.c_str()) != 0) Fail(127, "cannot enter " + h.dir + ": " + std::strerror(errno));
  if (h.memory_mb > 0) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(h.memory_mb << 20);
    (void)::setrlimit(RLIMIT_AS, &rl);  // unchecked, as for a fresh start
  }
  for (const auto& e : h.env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0)
      Fail(2, "executor handoff: bad environment entry '" + e + "'");
    ::setenv(e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1);
  }
}

}  // namespace

void BecomeExecutorIfSpare(int* argc, char*** argv) {
  if (*argc != 2 || std::strcmp((*argv)[1], kExecutorSpareArg) != 0) return;
  auto bytes = ReceiveExecutorMessage(0);
  if (!bytes.ok()) {
    // The worker closed the socket before it needed this spare (idle, stopping, or gone).
    if (bytes.status().code() == StatusCode::kUnavailable) std::exit(0);
    Fail(2, bytes.status().ToString());
  }
  auto handoff = ParseHandoff(*bytes);
  if (!handoff.ok()) Fail(2, handoff.status().ToString());
  TakeOn(*handoff);
  // The new command line lives as long as the process, as argv does.
  static std::vector<std::string> strings;
  static std::vector<char*> pointers;
  strings.push_back((*argv)[0]);
  strings.insert(strings.end(), handoff->args.begin(), handoff->args.end());
  strings.push_back("--executor_fd=0");
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  *argc = static_cast<int>(strings.size());
  *argv = pointers.data();
}

}  // namespace sawmill
