#include "dfs/machine.h"

#include <unistd.h>

#include "common/file.h"

namespace sawmill::dfs {

std::string LocalMachineId() {
  std::string id;
  if (ReadFileToString("/proc/sys/kernel/random/boot_id", &id).ok()) {
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (!id.empty()) return id;
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace sawmill::dfs
