// One replica's on-disk file: header, chunk data, per-chunk XXH3-64 table, footer
// (docs/formats/block-file.md). Writing, validation, and verified range reads by path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/file.h"
#include "common/status.h"

namespace sawmill::dfs {

inline constexpr uint64_t kBlockFileMagic = 0x314b434f4c425753;        // "SWBLOCK1"
inline constexpr uint64_t kBlockFileFooterMagic = 0x31444e454c425753;  // "SWBLEND1"
inline constexpr uint32_t kBlockFileVersion = 1;
inline constexpr size_t kBlockFileHeaderBytes = 40;
inline constexpr size_t kBlockFileFooterBytes = 24;
inline constexpr uint32_t kDefaultChunkBytes = 64 << 10;
// A larger chunk size can only be corruption; refusing it keeps reads from allocating huge chunks.
inline constexpr uint32_t kMaxChunkBytes = 16 << 20;

// What a valid header and footer say; data lives at file offset kBlockFileHeaderBytes.
struct BlockFileInfo {
  uint64_t block_id = 0;
  uint64_t generation = 0;
  uint64_t length = 0;  // data bytes
  uint32_t chunk_size = 0;
  uint64_t file_size = 0;
};

// File size of a finished block file with `length` data bytes.
uint64_t BlockFileSize(uint64_t length, uint32_t chunk_size);

// Writes a new block file: the header at Create, data through Append in any piece sizes (chunk
// checksums computed on the fly), the checksum table and footer at Finish. Not thread-safe. After
// any error every later call fails with it; the caller removes the partial file.
class BlockFileWriter {
 public:
  static Result<std::unique_ptr<BlockFileWriter>> Create(const std::string& path, uint64_t block_id,
                                                         uint64_t generation, uint32_t chunk_size);
  Status Append(std::string_view data);
  // Writes the table and footer, fdatasyncs and closes. Durable once the caller renames it.
  // `sync`: fdatasync the file before closing (the block store decides; see BlockStoreOptions).
  Status Finish(bool sync = true);
  uint64_t length() const { return length_; }
  const std::string& path() const { return file_->path(); }

 private:
  BlockFileWriter(std::unique_ptr<WritableFile> file, uint64_t block_id, uint32_t chunk_size)
      : file_(std::move(file)), block_id_(block_id), chunk_size_(chunk_size) {}
  Status Fail(Status s);
  std::unique_ptr<WritableFile> file_;
  uint64_t block_id_;
  uint32_t chunk_size_;
  uint64_t length_ = 0;
  std::string partial_;  // data of the current, not yet full chunk
  std::string table_;    // checksums of the chunks completed so far
  Status failed_;
  bool finished_ = false;
};

// Checks magic, version, header and footer checksums, chunk size, the header's block id against
// `expected_block_id`, and that the file size matches the footer's length exactly (so truncation
// is caught here). kCorruption naming the path and block id otherwise.
Result<BlockFileInfo> ReadBlockFileInfo(const RandomAccessFile& file, uint64_t expected_block_id);

// Reads data bytes [offset, offset + length) of a block file, clipped at the block's end (a short
// read; offset == length gives ""), verifying every chunk it touches. offset past the end is
// kInvalidArgument; a checksum mismatch is kCorruption naming the block id and chunk offset.
// Needs no datanode: short-circuit readers on the same host call it with LocalBlock::path.
Result<std::string> ReadBlockFileRange(const std::string& path, uint64_t expected_block_id,
                                       uint64_t offset, uint64_t length);
// Same, on an open file whose header and footer were already validated into `info`.
Result<std::string> ReadBlockFileRange(const RandomAccessFile& file, const BlockFileInfo& info,
                                       uint64_t offset, uint64_t length);

// Validates the whole file and every chunk checksum, reading a bounded window at a time.
Result<BlockFileInfo> VerifyBlockFile(const std::string& path, uint64_t expected_block_id);

}  // namespace sawmill::dfs
