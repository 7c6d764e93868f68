# The shuffle protocol: a reducer's worker fetches one partition of a finished map attempt's
# output (map.out) from the worker that ran it. Frame headers (common/frame.h) carry these
# messages; the segment's block bytes travel as frame bodies of packets, never as fields.
#
# Conversation (repeated on one connection): FetchRequest -> FetchResponse with `segment` (or an
# error), then, when segment.totalBytes > 0, FetchResponse packets whose bodies are the block
# bytes in order (each body at most the server's packet size, 4 MiB by default), the last with
# last = true. The receiver verifies every block's checksum as the bytes arrive and rebuilds a
# standalone record file from the index entries and the bytes (docs/formats/record-file.md,
# "Shuffle segments").
@0x942458758ef415d6;

$import "/capnp/c++.capnp".namespace("sawmill::worker::proto");

# A failed request: code is a sawmill::StatusCode (0 = ok), message names the attempt/partition.
struct Error {
  code @0 :UInt16;
  message @1 :Text;
}

struct FetchRequest {
  jobId @0 :Text;
  attemptId @1 :Text;     # the map attempt whose map.out is read
  partition @2 :Int32;    # the reducer's partition, >= 0
}

# One block index entry of map.out (docs/formats/record-file.md, "Block index").
struct BlockEntry {
  offset @0 :UInt64;      # in map.out; the receiver rebases them so the first block is at 0
  storedSize @1 :UInt32;
  recordCount @2 :UInt32;
  partition @3 :Int32;
  firstKey @4 :Data;
}

# What the block bytes that follow will be.
struct Segment {
  blocks @0 :List(BlockEntry);  # in file order, contiguous
  sorted @1 :Bool;              # map.out's footer flag
  records @2 :UInt64;           # sum of the blocks' record counts
  totalBytes @3 :UInt64;        # sum of 24 + storedSize over the blocks: the bytes that follow
  path @4 :Text;                # map.out on the server, named by the receiver's errors about its blocks
}

struct Packet {
  seqno @0 :UInt64;       # 0, 1, ... within one fetch
  last @1 :Bool;
}

struct FetchResponse {
  error @0 :Error;        # set (code != 0) when the fetch failed; nothing follows then
  union {
    none @1 :Void;
    segment @2 :Segment;
    packet @3 :Packet;    # body = the next block bytes
  }
}
