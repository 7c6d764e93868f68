// One pass of the background block scanner: verify every replica's checksums and report the
// corrupt ones, so the namenode can re-replicate from a good copy. The caller supplies the period.
#pragma once

#include <cstdint>
#include <functional>

#include "common/status.h"
#include "dfs/datanode/block_store.h"

namespace sawmill::dfs {

struct ScanResult {
  uint64_t verified = 0;  // blocks whose every chunk matched
  uint64_t corrupt = 0;   // reported through on_corrupt
  uint64_t errors = 0;    // other failures (I/O errors), logged; retried next pass
};

// Verifies each block in store.List() and reports every corrupt one, including files found
// malformed at Open, as on_corrupt(id, status). Blocks deleted during the pass are skipped.
ScanResult ScanOnce(const BlockStore& store, const std::function<void(uint64_t id, const Status&)>& on_corrupt);

}  // namespace sawmill::dfs
