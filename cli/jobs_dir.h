// Where `sawmill run` and `sawmill pipeline` find job binaries by name: jobs/ beside this
// sawmill (a build tree), else ../libexec/sawmill/jobs from it (an installed copy, where
// `cmake --install` puts them); and this sawmill's own path.
#pragma once

#include <unistd.h>

#include <string>

#include "common/file.h"

namespace sawmill {

// This process's executable ("" if it cannot be read).
inline std::string SelfPath() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  return std::string(self, n > 0 ? static_cast<size_t>(n) : 0);
}

inline std::string DefaultJobsDir() {
  const std::string bin = Dirname(SelfPath());
  const std::string beside = JoinPath(bin, "jobs");
  if (IsDirectory(beside)) return beside;
  const std::string installed = JoinPath(JoinPath(Dirname(bin), "libexec"), "sawmill/jobs");
  return IsDirectory(installed) ? installed : beside;
}

}  // namespace sawmill
