// `sawmill cluster`: not built yet.
#include <cstdio>

#include "cli/commands.h"

namespace sawmill {

int ClusterCommand(int, char**) {
  std::fprintf(stderr, "error: sawmill cluster is not built yet\n");
  return 2;
}

}  // namespace sawmill
