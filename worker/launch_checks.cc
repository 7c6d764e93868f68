// What a worker checks in a launch before it acts on it (worker/launch_checks.h).
#include "worker/launch_checks.h"

#include <algorithm>
#include <cctype>

namespace sawmill::worker {

bool SafeName(const std::string& s) {
  // Every '/'-separated part non-empty and not "." or "..": "/", "./", "job-1/." or "job-1/"
  // would otherwise name a parent of the directory meant (jobs/, or the job's own directory).
  if (s.empty() || s.front() == '/' || s.back() == '/' || s.find("//") != std::string::npos) return false;
  if (s == "." || s.rfind("./", 0) == 0 || s.find("/./") != std::string::npos ||
      (s.size() >= 2 && s.compare(s.size() - 2, 2, "/.") == 0)) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  }) && s.find("..") == std::string::npos;
}

bool SafeJobId(const std::string& s) { return SafeName(s) && s.find('/') == std::string::npos; }

void CheckTexts(sched::proto::AttemptLaunch::Reader l) {
  (void)l.getJobId();
  (void)l.getAttemptId();
  (void)l.getBinarySha256();
  for (auto a : l.getArgs()) (void)a;
  for (auto a : l.getTaskFlags()) (void)a;
  auto s = l.getSpec();
  for (auto t : {s.getJobId(), s.getAttemptId(), s.getOutputPath(), s.getNamenode(), s.getWorkDir(),
                 s.getSecretFile(), s.getResultPath(), s.getHost(), s.getPartitioning().getKind(),
                 s.getSplit().getPath()}) {
    (void)t;
  }
  for (auto t : s.getMapOutputs()) (void)t;
  for (auto h : s.getSplit().getHosts()) (void)h;
}

}  // namespace sawmill::worker
