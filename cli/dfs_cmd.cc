// `sawmill dfs`: not built yet.
#include <cstdio>

#include "cli/commands.h"

namespace sawmill {

int DfsCommand(int, char**) {
  std::fprintf(stderr, "error: sawmill dfs is not built yet\n");
  return 2;
}

}  // namespace sawmill
