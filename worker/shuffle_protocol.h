// The shuffle protocol's encoding and checked decoding (worker/shuffle.capnp), shared by the
// shuffle server, the fetch client and the fuzz target, so all three read responses one way.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "records/record_file.h"
#include "worker/shuffle.capnp.h"

namespace sawmill::worker {

// Packet bodies never exceed this (well below kMaxMessageBody, so receivers accept them).
inline constexpr uint64_t kMaxShufflePacket = 4 << 20;

void SetError(const Status& status, proto::Error::Builder out);
// Ok when code is 0; an unknown code reads as kInternal. The message is kept as sent.
Status ToStatus(proto::Error::Reader error);

// Fills a segment announcement from map.out's extent of one partition; `path` is map.out's.
void SetSegment(const PartitionExtent& extent, const std::string& path, proto::Segment::Builder out);

// A decoded FetchResponse header.
struct FetchReply {
  enum class Kind { kNone, kSegment, kPacket };
  Kind kind = Kind::kNone;
  // kSegment: what follows. Offsets as sent (map.out's).
  std::vector<BlockHandle> blocks;
  bool sorted = false;
  uint64_t records = 0;
  uint64_t total_bytes = 0;
  std::string path;  // the file on the server ("" from a server that does not say)
  // kPacket
  uint64_t seqno = 0;
  bool last = false;
};

// Parses one response header from an untrusted peer. The response's error, when set, is returned
// as it was sent (its code kept); a malformed message is kInvalidArgument. Never throws.
Status ParseFetchResponse(std::string_view header, FetchReply* out);

// Checks a kSegment reply against the request: every block of `partition`, offsets contiguous,
// record counts positive and summing to `records`, sizes summing to `total_bytes`.
// kCorruption saying which check failed.
Status CheckSegment(const FetchReply& reply, int32_t partition);

}  // namespace sawmill::worker
