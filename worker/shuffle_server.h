// The shuffle server: a worker serves partitions of its finished map attempts' outputs (map.out)
// to the workers of reducers, over worker/shuffle.capnp on the worker's own port.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/rpc.h"
#include "common/status.h"

namespace sawmill::worker {

struct ShuffleServerOptions {
  // Block bytes per packet; at most kMaxShufflePacket (4 MiB), larger values are lowered to it.
  uint64_t packet_bytes = 4 << 20;
};

// The local path of the map.out written by `attempt_id` of `job_id`, or kNotFound when this
// worker holds no such output. Called from many conversation threads at once: must be
// thread-safe.
using MapOutputLocator =
    std::function<Result<std::string>(const std::string& job_id, const std::string& attempt_id)>;

// Answers fetch requests: for each one it opens the attempt's map.out (verifying its footer and
// index), announces partition p's blocks and sends their bytes straight from the page cache
// (Connection::SendFile) in packets. Failures (unknown attempt, negative partition, a corrupt or
// unreadable map.out) are answered as response errors naming the attempt and partition; the
// conversation goes on. Malformed requests end the conversation after an error answer. Holds no
// mutable state: any number of conversations may run at once. A partition with no blocks, also
// one past the map's partition count (which map.out does not record), is an empty segment.
class ShuffleServer {
 public:
  explicit ShuffleServer(MapOutputLocator locator, ShuffleServerOptions options = {});

  // Runs one conversation (requests until Receive fails). The handler borrows *this, which must
  // outlive every conversation it runs.
  Handler handler();
  void Serve(Connection& conn);

 private:
  // Answers one fetch; false when the connection failed (the conversation is over).
  bool ServeFetch(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition);

  MapOutputLocator locator_;
  ShuffleServerOptions options_;
};

}  // namespace sawmill::worker
