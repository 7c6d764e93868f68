// The shuffle fetch client: a reducer's worker copies partition r of one map attempt's output
// from the worker that ran it into a local segment file (a standalone record file).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/rpc.h"
#include "common/status.h"

namespace sawmill::worker {

struct FetchStats {
  uint64_t bytes = 0;    // block bytes received (the segment's size before index and footer)
  uint64_t records = 0;  // records in the segment
  std::string path;      // where it was written (the placement's choice)
};

// Where a segment goes, chosen once the server has announced it: given about the bytes its file
// will take (blocks, index and footer), the path to write it at. Called once per transfer (a
// ShuffleConnections retry calls it again), before anything is written.
using SegmentPlacement = std::function<std::string(uint64_t file_bytes)>;

// Fetches partition `partition` of the map output of `attempt_id` (job `job_id`) over `conn` and
// writes it to `dest_path` as a record file whose PartitionBlocks(partition) holds exactly the
// source partition's blocks, byte for byte. Written as dest_path + ".tmp", renamed over dest_path
// at the end: dest_path appears complete or not at all. Checks what the peer announces (blocks of
// the requested partition, contiguous, sizes and counts adding up, then exactly that many bytes),
// verifies every block's checksum and header as its bytes arrive (BlockStreamVerifier: a block
// damaged on the server's disk is kCorruption naming the server's file and the block's offset
// there), and opens the result (footer and index). On error the .tmp is removed and the status
// names the peer, the attempt and the partition; an error the server answered keeps its code
// (kNotFound for an attempt it does not hold). After an error the conversation may be out of
// step: drop the connection. `stats` may be nullptr. Blocks until the transfer ends.
Status FetchSegment(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition,
                    const std::string& dest_path, FetchStats* stats);
// The same at the path `place` chooses from the announced size.
Status FetchSegment(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition,
                    const SegmentPlacement& place, FetchStats* stats);

// The same over a new connection to `address` (a worker's shuffle port), closed at the end.
Status FetchSegment(Transport& transport, const std::string& address, const std::string& job_id,
                    const std::string& attempt_id, int32_t partition, const std::string& dest_path,
                    FetchStats* stats);

// One fetch of a batch (ShuffleConnections::FetchAll): what to fetch, where to put it, and how
// it went.
struct SegmentRequest {
  std::string job_id, attempt_id;
  int32_t partition = 0;
  SegmentPlacement place;
  FetchStats stats;  // out
  Status status;     // out
};

// Connections to shuffle servers kept between fetches, one per address: a reduce fetches a
// segment of every map, from the same few workers, and a new connection costs a connect and an
// authentication handshake. A fetch over a kept connection that fails is retried once over a new
// one (the server may have closed it, or the conversation be out of step), whose result stands.
// At most `max_kept` connections are kept (the least recently used goes). Not thread-safe: one
// per fetching thread.
class ShuffleConnections {
 public:
  explicit ShuffleConnections(Transport* transport, size_t max_kept = 8)
      : transport_(transport), max_kept_(max_kept) {}
  ~ShuffleConnections() { Clear(); }
  ShuffleConnections(const ShuffleConnections&) = delete;
  ShuffleConnections& operator=(const ShuffleConnections&) = delete;

  // FetchSegment from the shuffle server at `address`, as above.
  Status Fetch(const std::string& address, const std::string& job_id, const std::string& attempt_id,
               int32_t partition, const std::string& dest_path, FetchStats* stats);
  Status Fetch(const std::string& address, const std::string& job_id, const std::string& attempt_id,
               int32_t partition, const SegmentPlacement& place, FetchStats* stats);
  // Every request of `requests` from the shuffle server at `address`, pipelined: all requests are
  // sent before the first answer is read (the server answers in order), so a batch costs one
  // round trip instead of one a segment. Each request's status says how it went. A failure over
  // a kept connection drops it and sends that request and the rest again over a new one, whose
  // results stand; after a failure there, the requests that follow are fetched one by one.
  void FetchAll(const std::string& address, std::vector<SegmentRequest>* requests);
  // Closes every kept connection.
  void Clear();
  size_t kept() const { return kept_.size(); }

 private:
  void Keep(const std::string& address, std::unique_ptr<Connection> conn);

  Transport* transport_;
  size_t max_kept_;
  std::vector<std::pair<std::string, std::unique_ptr<Connection>>> kept_;  // least recently used first
};

}  // namespace sawmill::worker
