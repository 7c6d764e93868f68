// Checkpoint images: the whole namespace as of one transaction id, in one checksummed file
// written atomically (temp file, fsync, rename, fsync of the directory).
//
// File: ["SWNNIMG1"][u64 payload length][u64 XXH3 of payload][payload = capnp Image flat array].
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "dfs/namenode/namespace.h"

namespace sawmill::dfs {

struct LoadedCheckpoint {
  Namespace ns;
  uint64_t last_txid = 0;
};

// Writes the image to `path` itself (truncating it) and fsyncs it; no rename. Takes no lock and
// logs nothing, so that a forked child may call it (NamespaceStore's background checkpoint). The
// encoded message is streamed to the file segment by segment, never copied into one flat array.
Status WriteCheckpointFile(const std::string& path, const Namespace& ns, uint64_t last_txid);
// WriteCheckpointFile to `path`.tmp, then rename to `path` and fsync the directory. A failed
// write removes the temp file.
Status WriteCheckpoint(const std::string& path, const Namespace& ns, uint64_t last_txid);
// kCorruption naming the path for a torn, truncated or unparsable image.
Result<LoadedCheckpoint> ReadCheckpoint(const std::string& path);

}  // namespace sawmill::dfs
