// `sawmill datanode`: not built yet.
#include <cstdio>

#include "cli/commands.h"

namespace sawmill {

int DatanodeCommand(int, char**) {
  std::fprintf(stderr, "error: sawmill datanode is not built yet\n");
  return 2;
}

}  // namespace sawmill
