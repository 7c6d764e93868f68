// Streaming block checks (records/block_verifier.h): checksum and header of each block as its
// bytes go by, in pieces of any size.
#include "records/block_verifier.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "common/coding.h"
#include "common/local_fs.h"

namespace sawmill {

BlockStreamVerifier::BlockStreamVerifier(std::string source, const std::vector<BlockHandle>& blocks)
    : source_(std::move(source)) {
  blocks_.reserve(blocks.size());
  for (const BlockHandle& h : blocks) blocks_.push_back({h.offset, h.stored_size, h.record_count});
}

Status BlockStreamVerifier::Update(std::string_view bytes) {
  while (!bytes.empty()) {
    if (block_ >= blocks_.size()) {
      return Corruption(source_ + ": " + std::to_string(bytes.size()) + " bytes past the end of the blocks");
    }
    if (header_have_ < kBlockHeaderSize) {
      const size_t n = std::min(kBlockHeaderSize - header_have_, bytes.size());
      std::memcpy(header_ + header_have_, bytes.data(), n);
      header_have_ += n;
      bytes.remove_prefix(n);
      if (header_have_ < kBlockHeaderSize) break;
      // The index's size frames the block, as in ReadBlock: a damaged header fails its checksum.
      checksum_.Reset();
      checksum_.Update(header_, 16);
      data_left_ = blocks_[block_].stored_size;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(data_left_, bytes.size()));
    checksum_.Update(bytes.data(), n);
    data_left_ -= n;
    bytes.remove_prefix(n);
    if (data_left_ == 0) RETURN_IF_ERROR(EndBlock());
  }
  return Status::Ok();
}

Status BlockStreamVerifier::EndBlock() {
  const Entry& e = blocks_[block_];
  const std::string at = source_ + ": block at offset " + std::to_string(e.offset);
  if (checksum_.Digest() != DecodeFixed64(header_ + 16)) {
    block_ = blocks_.size();  // spent
    return Corruption(at + ": checksum mismatch");
  }
  if (!BlockHeaderMatches(header_, e.stored_size, e.record_count)) {
    block_ = blocks_.size();
    return Corruption(at + ": header does not match the block index");
  }
  ++block_;
  header_have_ = 0;
  return Status::Ok();
}

Status BlockStreamVerifier::Finish() const {
  if (block_ >= blocks_.size()) return Status::Ok();
  return Corruption(source_ + ": truncated: the block at offset " + std::to_string(blocks_[block_].offset) +
                    " is incomplete (" + std::to_string(blocks_.size() - block_) + " of " +
                    std::to_string(blocks_.size()) + " blocks not verified)");
}

Status VerifyPartitionBlocks(const std::string& path, int32_t partition) {
  ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(path));
  const PartitionExtent extent = reader->Extent(partition);
  reader.reset();
  if (extent.blocks.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto file, OpenReadable(path));
  BlockStreamVerifier verifier(path, extent.blocks);
  // Bounded reads: a block may be as large as its one record (up to 1 GiB).
  constexpr uint64_t kChunk = 1 << 20;
  auto buf = std::make_unique<char[]>(static_cast<size_t>(std::min(kChunk, extent.length)));
  for (uint64_t pos = 0; pos < extent.length;) {
    const size_t n = static_cast<size_t>(std::min(kChunk, extent.length - pos));
    RETURN_IF_ERROR(file->ReadAt(extent.offset + pos, n, buf.get()));
    RETURN_IF_ERROR(verifier.Update(std::string_view(buf.get(), n)));
    pos += n;
  }
  return verifier.Finish();
}

}  // namespace sawmill
