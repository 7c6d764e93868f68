// Checks record file blocks as their bytes stream by, without decompressing them or holding a
// whole block: a shuffle segment while it is fetched, a map output's partition read in place.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/checksum.h"
#include "common/status.h"
#include "records/record_file.h"

namespace sawmill {

// Verifies a run of contiguous blocks, given their index entries, from their bytes in order:
// each block's XXH3 checksum, then its header against its entry (BlockHeaderMatches), the
// checks RecordFileReader::ReadBlock makes before decompressing. Errors are kCorruption worded
// as a reader's, "<source>: block at offset <entry offset>: checksum mismatch", so they name the
// file and the block whatever the bytes travelled through. Not thread-safe.
class BlockStreamVerifier {
 public:
  // `source` names the file the blocks come from; `blocks` are their index entries in file
  // order, contiguous (as RecordFileReader::Extent gives them), with offsets in `source`.
  BlockStreamVerifier(std::string source, const std::vector<BlockHandle>& blocks);

  // The next bytes. kCorruption on a bad block (the first one found) or past the blocks' end;
  // after an error the verifier is spent.
  Status Update(std::string_view bytes);
  // kCorruption unless the bytes ended exactly at the last block's end (a truncated segment).
  Status Finish() const;

 private:
  struct Entry {
    uint64_t offset;
    uint32_t stored_size, record_count;
  };
  // The current block's bytes are all in: its checksum and header decide.
  Status EndBlock();

  std::string source_;
  std::vector<Entry> blocks_;
  size_t block_ = 0;         // the block the next bytes belong to
  char header_[kBlockHeaderSize];
  size_t header_have_ = 0;   // bytes of header_ filled
  uint64_t data_left_ = 0;   // stored bytes of the block still to come (once the header is in)
  Checksum64Stream checksum_;
};

// Reads the blocks of partition `partition` of the record file at `path` (local, or what
// ResolvePath opens) and verifies them as BlockStreamVerifier does, after RecordFileReader::Open
// has verified the footer and index. A partition with no blocks passes. kIOError (or kNotFound)
// when the file cannot be read, kCorruption naming the file and the block otherwise.
Status VerifyPartitionBlocks(const std::string& path, int32_t partition);

}  // namespace sawmill
