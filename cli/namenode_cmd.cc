// `sawmill namenode`: not built yet.
#include <cstdio>

#include "cli/commands.h"

namespace sawmill {

int NamenodeCommand(int, char**) {
  std::fprintf(stderr, "error: sawmill namenode is not built yet\n");
  return 2;
}

}  // namespace sawmill
