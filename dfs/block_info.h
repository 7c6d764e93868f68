// A block replica's identity and size, shared by the namenode (file block lists) and the
// datanodes (block reports).
#pragma once

#include <cstdint>

namespace sawmill::dfs {

struct BlockInfo {
  uint64_t id = 0;
  uint64_t generation = 0;  // bumped when a replica is rewritten (pipeline recovery)
  uint64_t length = 0;
  bool operator==(const BlockInfo&) const = default;
};

}  // namespace sawmill::dfs
