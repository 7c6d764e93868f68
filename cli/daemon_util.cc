#include "cli/daemon_util.h"

#include <pthread.h>
#include <unistd.h>

#include <cstdio>

#include <glog/logging.h>

#include "common/file.h"

namespace sawmill {

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForStop(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  return sig;
}

Status WriteEndpoint(const std::string& dir, nlohmann::json endpoint) {
  endpoint["pid"] = ::getpid();
  const std::string path = JoinPath(dir, "endpoint.json");
  RETURN_IF_ERROR(WriteStringToFile(path + ".tmp", endpoint.dump() + "\n"));
  return Rename(path + ".tmp", path);
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return JoinPath(cwd, path);
}

int DaemonFail(const Status& s) {
  LOG(ERROR) << s.ToString();
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace sawmill
