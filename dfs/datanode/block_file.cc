// Block file writing, validation and verified reads.
#include "dfs/datanode/block_file.h"

#include <algorithm>

#include <glog/logging.h>

#include "common/checksum.h"
#include "common/coding.h"

namespace sawmill::dfs {
namespace {

uint64_t ChunkCount(uint64_t length, uint32_t chunk_size) {
  return length / chunk_size + (length % chunk_size != 0 ? 1 : 0);
}

Status BlockCorruption(const std::string& path, uint64_t block_id, const std::string& what) {
  return Corruption(path + ": block " + std::to_string(block_id) + ": " + what);
}

// Reads chunks [first, first + n) into *data and checks each against the table.
Status ReadChunks(const RandomAccessFile& file, const BlockFileInfo& info, uint64_t first, uint64_t n,
                  std::string* data) {
  const uint64_t begin = first * info.chunk_size;
  const uint64_t end = std::min(info.length, (first + n) * info.chunk_size);
  data->resize(end - begin);
  RETURN_IF_ERROR(file.ReadAt(kBlockFileHeaderBytes + begin, data->size(), data->data()));
  std::string table(n * 8, '\0');
  RETURN_IF_ERROR(file.ReadAt(kBlockFileHeaderBytes + info.length + first * 8, table.size(), table.data()));
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t off = i * info.chunk_size;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(info.chunk_size, data->size() - off));
    if (Checksum64(data->data() + off, len) != DecodeFixed64(table.data() + i * 8)) {
      const uint64_t chunk_offset = begin + off;
      return BlockCorruption(file.path(), info.block_id,
                             "checksum mismatch in chunk at block offset " + std::to_string(chunk_offset) +
                                 " (file offset " + std::to_string(kBlockFileHeaderBytes + chunk_offset) + ")");
    }
  }
  return Status::Ok();
}

}  // namespace

uint64_t BlockFileSize(uint64_t length, uint32_t chunk_size) {
  return kBlockFileHeaderBytes + length + 8 * ChunkCount(length, chunk_size) + kBlockFileFooterBytes;
}

Result<std::unique_ptr<BlockFileWriter>> BlockFileWriter::Create(const std::string& path, uint64_t block_id,
                                                                 uint64_t generation, uint32_t chunk_size) {
  if (chunk_size == 0 || chunk_size > kMaxChunkBytes) {
    return InvalidArgument(path + ": block " + std::to_string(block_id) + ": chunk size " +
                           std::to_string(chunk_size) + " out of range");
  }
  ASSIGN_OR_RETURN(auto file, WritableFile::Create(path));
  std::string header;
  PutFixed64(&header, kBlockFileMagic);
  PutFixed32(&header, kBlockFileVersion);
  PutFixed32(&header, chunk_size);
  PutFixed64(&header, block_id);
  PutFixed64(&header, generation);
  PutFixed64(&header, Checksum64(header));
  DCHECK_EQ(header.size(), kBlockFileHeaderBytes);
  RETURN_IF_ERROR(file->Append(header));
  return std::unique_ptr<BlockFileWriter>(new BlockFileWriter(std::move(file), block_id, chunk_size));
}

Status BlockFileWriter::Fail(Status s) {
  if (failed_.ok()) failed_ = s.WithContext("block " + std::to_string(block_id_));
  return failed_;
}

Status BlockFileWriter::Append(std::string_view data) {
  CHECK(!finished_) << path() << ": Append after Finish";
  if (!failed_.ok()) return failed_;
  if (Status s = file_->Append(data); !s.ok()) return Fail(s);
  length_ += data.size();
  // Top up the partial chunk first; whole chunks are then hashed in place, without a copy.
  if (!partial_.empty()) {
    size_t take = std::min<size_t>(data.size(), chunk_size_ - partial_.size());
    partial_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (partial_.size() < chunk_size_) return Status::Ok();
    PutFixed64(&table_, Checksum64(partial_));
    partial_.clear();
  }
  while (data.size() >= chunk_size_) {
    PutFixed64(&table_, Checksum64(data.data(), chunk_size_));
    data.remove_prefix(chunk_size_);
  }
  partial_.assign(data);
  return Status::Ok();
}

Status BlockFileWriter::Finish(bool sync) {
  CHECK(!finished_) << path() << ": Finish called twice";
  finished_ = true;
  if (!failed_.ok()) return failed_;
  if (!partial_.empty()) PutFixed64(&table_, Checksum64(partial_));
  CHECK_EQ(table_.size(), 8 * ChunkCount(length_, chunk_size_)) << path();
  std::string footer;
  PutFixed64(&footer, length_);
  PutFixed64(&footer, Checksum64(footer));
  PutFixed64(&footer, kBlockFileFooterMagic);
  Status s = file_->Append(table_);
  if (s.ok()) s = file_->Append(footer);
  if (s.ok() && sync) s = file_->Sync();
  if (s.ok()) s = file_->Close();
  if (!s.ok()) return Fail(s);
  return Status::Ok();
}

Result<BlockFileInfo> ReadBlockFileInfo(const RandomAccessFile& file, uint64_t expected_block_id) {
  const std::string& path = file.path();
  auto bad = [&](const std::string& what) { return BlockCorruption(path, expected_block_id, what); };
  const uint64_t size = file.size();
  if (size < kBlockFileHeaderBytes + kBlockFileFooterBytes) {
    return bad("file is " + std::to_string(size) + " bytes, shorter than a header and footer");
  }
  char h[kBlockFileHeaderBytes];
  RETURN_IF_ERROR(file.ReadAt(0, sizeof h, h));
  if (DecodeFixed64(h) != kBlockFileMagic) return bad("bad header magic at offset 0");
  if (Checksum64(h, 32) != DecodeFixed64(h + 32)) return bad("header checksum mismatch at offset 32");
  BlockFileInfo info;
  info.file_size = size;
  const uint32_t version = DecodeFixed32(h + 8);
  info.chunk_size = DecodeFixed32(h + 12);
  info.block_id = DecodeFixed64(h + 16);
  info.generation = DecodeFixed64(h + 24);
  if (version != kBlockFileVersion) return bad("unsupported version " + std::to_string(version) + " at offset 8");
  if (info.chunk_size == 0 || info.chunk_size > kMaxChunkBytes) {
    return bad("chunk size " + std::to_string(info.chunk_size) + " out of range at offset 12");
  }
  if (info.block_id != expected_block_id) {
    return bad("header names block " + std::to_string(info.block_id) + " at offset 16");
  }
  char f[kBlockFileFooterBytes];
  const uint64_t footer_at = size - kBlockFileFooterBytes;
  RETURN_IF_ERROR(file.ReadAt(footer_at, sizeof f, f));
  if (DecodeFixed64(f + 16) != kBlockFileFooterMagic) {
    return bad("bad footer magic at offset " + std::to_string(footer_at + 16) + " (truncated or unfinished?)");
  }
  if (Checksum64(f, 8) != DecodeFixed64(f + 8)) {
    return bad("footer checksum mismatch at offset " + std::to_string(footer_at + 8));
  }
  info.length = DecodeFixed64(f);
  // Compare before computing the expected size, so that a forged length cannot overflow it.
  if (info.length > size || BlockFileSize(info.length, info.chunk_size) != size) {
    return bad("footer length " + std::to_string(info.length) + " at offset " + std::to_string(footer_at) +
               " does not match file size " + std::to_string(size));
  }
  return info;
}

Result<std::string> ReadBlockFileRange(const RandomAccessFile& file, const BlockFileInfo& info,
                                       uint64_t offset, uint64_t length) {
  if (offset > info.length) {
    return InvalidArgument(file.path() + ": block " + std::to_string(info.block_id) + ": read offset " +
                           std::to_string(offset) + " past block length " + std::to_string(info.length));
  }
  const uint64_t end = offset + std::min(length, info.length - offset);
  if (end == offset) return std::string();
  const uint64_t first = offset / info.chunk_size;
  const uint64_t n = ChunkCount(end, info.chunk_size) - first;
  std::string data;
  RETURN_IF_ERROR(ReadChunks(file, info, first, n, &data));
  return data.substr(offset - first * info.chunk_size, end - offset);
}

Result<std::string> ReadBlockFileRange(const std::string& path, uint64_t expected_block_id, uint64_t offset,
                                       uint64_t length) {
  ASSIGN_OR_RETURN(auto file, RandomAccessFile::Open(path));
  ASSIGN_OR_RETURN(BlockFileInfo info, ReadBlockFileInfo(*file, expected_block_id));
  return ReadBlockFileRange(*file, info, offset, length);
}

Result<BlockFileInfo> VerifyBlockFile(const std::string& path, uint64_t expected_block_id) {
  ASSIGN_OR_RETURN(auto file, RandomAccessFile::Open(path));
  ASSIGN_OR_RETURN(BlockFileInfo info, ReadBlockFileInfo(*file, expected_block_id));
  // About 1 MiB per read, whatever the chunk size, so a scan's memory stays bounded.
  const uint64_t window = std::max<uint64_t>(1, (1 << 20) / info.chunk_size);
  const uint64_t chunks = ChunkCount(info.length, info.chunk_size);
  file->WillNeed(0, info.file_size);
  std::string data;
  for (uint64_t first = 0; first < chunks; first += window) {
    RETURN_IF_ERROR(ReadChunks(*file, info, first, std::min(window, chunks - first), &data));
  }
  return info;
}

}  // namespace sawmill::dfs
