// Where `sawmill run` and `sawmill pipeline` find job binaries by name: jobs/ beside this
// sawmill (a build tree), else ../libexec/sawmill/jobs from it (an installed copy, where
// `cmake --install` puts them).
#pragma once

#include <unistd.h>

#include <string>

#include "common/file.h"

namespace sawmill {

inline std::string DefaultJobsDir() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  const std::string bin = Dirname(std::string(self, n > 0 ? static_cast<size_t>(n) : 0));
  const std::string beside = JoinPath(bin, "jobs");
  if (IsDirectory(beside)) return beside;
  const std::string installed = JoinPath(JoinPath(Dirname(bin), "libexec"), "sawmill/jobs");
  return IsDirectory(installed) ? installed : beside;
}

}  // namespace sawmill
