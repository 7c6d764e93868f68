#include "records/record_file.h"

#include <algorithm>
#include <cstring>

#include "common/coding.h"
#include "common/compression.h"
#include "common/fault_point.h"
#include "common/local_fs.h"

namespace sawmill {
namespace {

constexpr uint32_t kFlagSorted = 1;
constexpr size_t kMaxBlockRaw = 1u << 30;  // a block (one huge record at most) stays under 1 GiB
constexpr size_t kMinIndexEntrySize = 21;  // offset, stored size, count, partition, 1-byte varint
// LZ4 cannot expand a byte into more than 255 (a match-length byte adds at most 255), so a header
// claiming more is corrupt; checking it first keeps a tiny block from allocating a gigabyte.
constexpr uint64_t kMaxLz4Ratio = 255;

std::string At(const std::string& path, uint64_t offset) {
  return path + ": block at offset " + std::to_string(offset);
}

struct FooterFields {
  bool sorted = false;
  int32_t partition = kNoPartition;
  uint64_t records = 0;
  uint64_t data_bytes = 0;
};

// The block index and the footer, which end every record file (the writer's and the segment
// writer's alike); `index_offset` is where the index will start, just after the last block.
std::string EncodeIndexAndFooter(const std::vector<BlockHandle>& index, uint64_t index_offset,
                                 const FooterFields& f) {
  std::string out;
  for (const BlockHandle& h : index) {
    PutFixed64(&out, h.offset);
    PutFixed32(&out, h.stored_size);
    PutFixed32(&out, h.record_count);
    PutFixed32(&out, static_cast<uint32_t>(h.partition));
    PutVarint64(&out, h.first_key.size());
    out.append(h.first_key);
  }
  const uint64_t index_size = out.size();
  char footer[kFooterSize] = {};
  EncodeFixed32(footer, kRecordFileVersion);
  EncodeFixed32(footer + 4, f.sorted ? kFlagSorted : 0);
  EncodeFixed32(footer + 8, static_cast<uint32_t>(f.partition));
  EncodeFixed32(footer + 12, static_cast<uint32_t>(index.size()));
  EncodeFixed64(footer + 16, f.records);
  EncodeFixed64(footer + 24, f.data_bytes);
  EncodeFixed64(footer + 32, index_offset);
  EncodeFixed64(footer + 40, index_size);
  EncodeFixed64(footer + 48, Checksum64(out));
  EncodeFixed64(footer + 56, Checksum64(footer, 56));
  EncodeFixed64(footer + 64, kRecordFileMagic);
  out.append(footer, kFooterSize);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writer

RecordFileWriter::RecordFileWriter(std::unique_ptr<AppendableFile> file, const RecordFileOptions& options)
    : file_(std::move(file)), options_(options), partition_(options.partition) {
  // Readers reject blocks over kMaxBlockRaw, so never fill one past it.
  options_.block_bytes = std::min(options_.block_bytes, kMaxBlockRaw);
  block_.reserve(options_.block_bytes + 64);
}

RecordFileWriter::~RecordFileWriter() = default;

Result<std::unique_ptr<RecordFileWriter>> RecordFileWriter::Create(const std::string& path,
                                                                   const RecordFileOptions& options) {
  ASSIGN_OR_RETURN(auto file, CreateAppendable(path, options.replication));
  return std::unique_ptr<RecordFileWriter>(new RecordFileWriter(std::move(file), options));
}

Status RecordFileWriter::Write(std::string_view bytes) {
  hasher_.Update(bytes);
  return file_->Append(bytes);
}

Status RecordFileWriter::Add(std::string_view key, std::string_view value) {
  size_t need = VarintLength(key.size()) + VarintLength(value.size()) + key.size() + value.size();
  if (need > kMaxBlockRaw) {
    return InvalidArgument(file_->path() + ": record of " + std::to_string(need) + " bytes exceeds the 1 GiB limit");
  }
  if (options_.sorted || options_.detect_sorted) {
    if (have_last_key_ && KeyLess(key, last_key_)) {
      if (options_.sorted) {
        return InvalidArgument(file_->path() + ": keys out of order in a sorted file (record " +
                               std::to_string(records_) + ")");
      }
      in_order_ = false;
    }
    last_key_.assign(key);
    have_last_key_ = true;
  }
  if (block_records_ > 0 && block_.size() + need > options_.block_bytes) RETURN_IF_ERROR(FlushBlock());
  if (block_records_ == 0) block_first_key_.assign(key);
  // One resize to the record's exact size, then plain copies (was four size changes a record).
  size_t old = block_.size();
  block_.resize(old + need);
  char* p = EncodeVarint64(block_.data() + old, key.size());
  p = EncodeVarint64(p, value.size());
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  if (!value.empty()) std::memcpy(p + key.size(), value.data(), value.size());
  ++block_records_;
  ++records_;
  data_bytes_ += key.size() + value.size();
  if (block_.size() >= options_.block_bytes) return FlushBlock();
  return Status::Ok();
}

Status RecordFileWriter::StartPartition(int32_t p) {
  if (p < partition_) {
    return InvalidArgument(file_->path() + ": partition " + std::to_string(p) + " after " +
                           std::to_string(partition_));
  }
  if (p != partition_) {
    RETURN_IF_ERROR(FlushBlock());
    partition_ = p;
    have_last_key_ = false;
  }
  return Status::Ok();
}

Status RecordFileWriter::FlushBlock() {
  if (block_records_ == 0) return Status::Ok();
  const char* stored = block_.data();
  size_t stored_size = block_.size();
  BlockCodec codec = BlockCodec::kRaw;
  if (options_.compress) {
    size_t cap = Lz4MaxCompressedSize(block_.size());
    if (compressed_.size() < cap) compressed_.resize(cap);
    size_t n = Lz4Compress(block_.data(), block_.size(), compressed_.data(), cap, options_.lz4_acceleration);
    if (n > 0 && n < block_.size()) {
      stored = compressed_.data();
      stored_size = n;
      codec = BlockCodec::kLz4;
    }
  }
  char header[kBlockHeaderSize] = {};
  EncodeFixed32(header, static_cast<uint32_t>(stored_size));
  EncodeFixed32(header + 4, static_cast<uint32_t>(block_.size()));
  EncodeFixed32(header + 8, block_records_);
  header[12] = static_cast<char>(codec);
  EncodeFixed64(header + 16, Checksum64(header, 16, stored, stored_size));

  BlockHandle h;
  h.offset = file_->size();
  h.stored_size = static_cast<uint32_t>(stored_size);
  h.record_count = block_records_;
  h.partition = partition_;
  h.first_key = block_first_key_;
  index_.push_back(std::move(h));

  RETURN_IF_ERROR(Write({header, kBlockHeaderSize}));
  RETURN_IF_ERROR(Write({stored, stored_size}));
  block_.clear();
  block_records_ = 0;
  return Status::Ok();
}

Status RecordFileWriter::Finish() {
  if (finished_) return Status::Ok();
  RETURN_IF_ERROR(FlushBlock());
  // Every block is appended and the file is not valid yet (a map killed writing map.out).
  RETURN_IF_ERROR(FaultPoint("records.writer.before_footer", file_->path()));
  FooterFields footer;
  footer.sorted = options_.sorted || (options_.detect_sorted && in_order_);
  footer.partition = options_.partition;
  footer.records = records_;
  footer.data_bytes = data_bytes_;
  RETURN_IF_ERROR(Write(EncodeIndexAndFooter(index_, file_->size(), footer)));
  RETURN_IF_ERROR(file_->Close());
  finished_ = true;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Segment writer

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(const std::string& path, int32_t partition,
                                                             std::vector<BlockHandle> blocks, bool sorted) {
  // The same checks a reader applies to an index, so that a bad list fails here, naming the
  // file, rather than producing a file that no reader opens.
  const uint64_t base = blocks.empty() ? 0 : blocks.front().offset;
  uint64_t expect = base, records = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    BlockHandle& h = blocks[i];
    if (h.offset != expect || h.record_count == 0 || h.partition != partition) {
      return Corruption(path + ": segment block " + std::to_string(i) + " of partition " +
                        std::to_string(partition) + " is inconsistent (offset " + std::to_string(h.offset) +
                        ", expected " + std::to_string(expect) + "; partition " + std::to_string(h.partition) +
                        "; " + std::to_string(h.record_count) + " records)");
    }
    expect += kBlockHeaderSize + h.stored_size;
    records += h.record_count;
    h.offset -= base;
  }
  ASSIGN_OR_RETURN(auto file, CreateAppendable(path));
  return std::unique_ptr<SegmentWriter>(
      new SegmentWriter(std::move(file), partition, std::move(blocks), sorted, expect - base, records));
}

SegmentWriter::SegmentWriter(std::unique_ptr<AppendableFile> file, int32_t partition, std::vector<BlockHandle> blocks,
                             bool sorted, uint64_t expected_bytes, uint64_t records)
    : file_(std::move(file)),
      partition_(partition),
      blocks_(std::move(blocks)),
      sorted_(sorted),
      expected_bytes_(expected_bytes),
      records_(records) {}

SegmentWriter::~SegmentWriter() = default;

Status SegmentWriter::Append(std::string_view bytes) {
  if (finished_) return Internal(file_->path() + ": segment appended to after Finish");
  if (bytes.size() > expected_bytes_ - file_->size()) {
    return Corruption(file_->path() + ": segment of partition " + std::to_string(partition_) + " given more than its " +
                      std::to_string(expected_bytes_) + " block bytes");
  }
  return file_->Append(bytes);
}

Status SegmentWriter::Finish() {
  if (finished_) return Status::Ok();
  if (file_->size() != expected_bytes_) {
    return Corruption(file_->path() + ": segment of partition " + std::to_string(partition_) + " got " +
                      std::to_string(file_->size()) + " of its " + std::to_string(expected_bytes_) + " block bytes");
  }
  FooterFields footer;
  footer.sorted = sorted_;
  footer.partition = partition_;
  footer.records = records_;
  footer.data_bytes = 0;  // unknown without decompressing the blocks; informational only
  RETURN_IF_ERROR(file_->Append(EncodeIndexAndFooter(blocks_, file_->size(), footer)));
  RETURN_IF_ERROR(file_->Close());
  finished_ = true;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Reader

Result<std::unique_ptr<RecordFileReader>> RecordFileReader::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, OpenReadable(path));
  return Open(std::move(file));
}

Result<std::unique_ptr<RecordFileReader>> RecordFileReader::Open(std::unique_ptr<ReadableFile> file) {
  std::unique_ptr<RecordFileReader> r(new RecordFileReader(std::move(file)));
  RETURN_IF_ERROR(r->ReadFooterAndIndex());
  return r;
}

Status RecordFileReader::ReadFooterAndIndex() {
  const std::string& path = file_->path();
  uint64_t size = file_->size();
  if (size < kFooterSize) {
    return Corruption(path + ": not a record file (" + std::to_string(size) + " bytes, shorter than the footer)");
  }
  char footer[kFooterSize];
  RETURN_IF_ERROR(file_->ReadAt(size - kFooterSize, kFooterSize, footer));
  uint64_t footer_offset = size - kFooterSize;
  if (DecodeFixed64(footer + 64) != kRecordFileMagic) {
    return Corruption(path + ": not a record file (bad magic in footer at offset " + std::to_string(footer_offset) + ")");
  }
  if (DecodeFixed64(footer + 56) != Checksum64(footer, 56)) {
    return Corruption(path + ": footer checksum mismatch at offset " + std::to_string(footer_offset));
  }
  info_.version = DecodeFixed32(footer);
  if (info_.version != kRecordFileVersion) {
    return Corruption(path + ": unsupported record file version " + std::to_string(info_.version));
  }
  uint32_t flags = DecodeFixed32(footer + 4);
  if (flags & ~kFlagSorted) return Corruption(path + ": unknown footer flags");
  info_.sorted = flags & kFlagSorted;
  info_.partition = static_cast<int32_t>(DecodeFixed32(footer + 8));
  uint32_t block_count = DecodeFixed32(footer + 12);
  info_.record_count = DecodeFixed64(footer + 16);
  info_.data_bytes = DecodeFixed64(footer + 24);
  info_.file_size = size;
  uint64_t index_offset = DecodeFixed64(footer + 32);
  uint64_t index_size = DecodeFixed64(footer + 40);
  if (index_offset > footer_offset || index_size != footer_offset - index_offset) {
    return Corruption(path + ": index bounds in footer do not match the file size");
  }
  if (block_count > index_size / kMinIndexEntrySize) {
    return Corruption(path + ": " + std::to_string(block_count) + " blocks cannot fit the " +
                      std::to_string(index_size) + "-byte block index at offset " + std::to_string(index_offset));
  }
  if (index_size > UINT32_MAX) {
    return Corruption(path + ": block index of " + std::to_string(index_size) + " bytes is too large");
  }
  // Uninitialized: the read fills it, and a large index should not be written twice.
  blocks_.bytes_.reset(new char[index_size]);
  blocks_.bytes_size_ = index_size;
  char* index = blocks_.bytes_.get();
  RETURN_IF_ERROR(file_->ReadAt(index_offset, index_size, index));
  if (Checksum64(index, index_size) != DecodeFixed64(footer + 48)) {
    return Corruption(path + ": block index checksum mismatch at offset " + std::to_string(index_offset));
  }
  // Validate the index completely so that iterators may trust it.
  const char* p = index;
  const char* limit = p + index_size;
  uint64_t expect_offset = 0, records = 0;
  int32_t last_partition = INT32_MIN;
  blocks_.starts_.reserve(block_count);
  for (uint32_t i = 0; i < block_count; ++i) {
    uint64_t klen;
    if (limit - p < 20) return Corruption(path + ": truncated block index entry " + std::to_string(i));
    const char* start = p;
    const uint64_t offset = DecodeFixed64(p);
    const uint32_t stored_size = DecodeFixed32(p + 8);
    const uint32_t record_count = DecodeFixed32(p + 12);
    const auto partition = static_cast<int32_t>(DecodeFixed32(p + 16));
    p = DecodeVarint64(p + 20, limit, &klen);
    if (!p || klen > static_cast<uint64_t>(limit - p)) return Corruption(path + ": bad key in block index entry " + std::to_string(i));
    p += klen;
    if (offset != expect_offset || record_count == 0 || partition < last_partition) {
      return Corruption(path + ": inconsistent block index entry " + std::to_string(i));
    }
    expect_offset = offset + kBlockHeaderSize + stored_size;
    records += record_count;
    last_partition = partition;
    blocks_.starts_.push_back(static_cast<uint32_t>(start - index));
  }
  if (p != limit || expect_offset != index_offset || records != info_.record_count) {
    return Corruption(path + ": block index does not cover the file");
  }
  return Status::Ok();
}

IndexEntry BlockIndex::operator[](size_t i) const {
  const char* p = bytes_.get() + starts_[i];
  IndexEntry e;
  e.offset = DecodeFixed64(p);
  e.stored_size = DecodeFixed32(p + 8);
  e.record_count = DecodeFixed32(p + 12);
  e.partition = static_cast<int32_t>(DecodeFixed32(p + 16));
  e.first_key = first_key(i);
  return e;
}

std::string_view BlockIndex::first_key(size_t i) const {
  const char* p = bytes_.get() + starts_[i] + 20;
  uint64_t klen = 0;
  p = DecodeVarint64(p, bytes_.get() + bytes_size_, &klen);  // validated when the file was opened
  return {p, static_cast<size_t>(klen)};
}

// The first block index in [lo, hi) for which `above(i)` holds, given that it holds for a
// suffix of the range.
template <typename Above>
static size_t FirstBlock(size_t lo, size_t hi, Above above) {
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (above(mid)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

std::pair<size_t, size_t> RecordFileReader::PartitionBlocks(int32_t p) const {
  const size_t lo = FirstBlock(0, blocks_.size(), [&](size_t i) { return blocks_[i].partition >= p; });
  const size_t hi = FirstBlock(lo, blocks_.size(), [&](size_t i) { return blocks_[i].partition > p; });
  return {lo, hi};
}

PartitionExtent RecordFileReader::Extent(int32_t p) const {
  PartitionExtent e;
  e.partition = p;
  e.sorted = info_.sorted;
  auto [first, end] = PartitionBlocks(p);
  if (first == end) return e;
  e.offset = blocks_[first].offset;
  for (size_t b = first; b < end; ++b) {
    const IndexEntry h = blocks_[b];
    e.blocks.push_back({h.offset, h.stored_size, h.record_count, h.partition, std::string(h.first_key)});
    e.length += kBlockHeaderSize + h.stored_size;
    e.records += h.record_count;
  }
  return e;
}

bool BlockHeaderMatches(const char* header, uint32_t stored_size, uint32_t record_count) {
  const uint32_t raw_size = DecodeFixed32(header + 4);
  const auto codec = static_cast<BlockCodec>(header[12]);
  return DecodeFixed32(header) == stored_size && DecodeFixed32(header + 8) == record_count && !header[13] &&
         !header[14] && !header[15] && raw_size <= kMaxBlockRaw &&
         (codec == BlockCodec::kRaw || codec == BlockCodec::kLz4) &&
         (codec != BlockCodec::kRaw || raw_size == stored_size) &&
         (codec != BlockCodec::kLz4 || raw_size <= kMaxLz4Ratio * stored_size);
}

Status RecordFileReader::ReadBlock(size_t b, std::string* io, std::string* raw, size_t* records_at) const {
  const IndexEntry h = blocks_[b];
  const std::string& path = file_->path();
  size_t n = kBlockHeaderSize + h.stored_size;
  if (io->size() < n) io->resize(n);
  RETURN_IF_ERROR(file_->ReadAt(h.offset, n, io->data()));
  const char* hdr = io->data();
  uint32_t stored_size = DecodeFixed32(hdr);
  uint32_t raw_size = DecodeFixed32(hdr + 4);
  if (Checksum64(hdr, 16, hdr + kBlockHeaderSize, h.stored_size) != DecodeFixed64(hdr + 16)) {
    return Corruption(At(path, h.offset) + ": checksum mismatch");
  }
  if (!BlockHeaderMatches(hdr, h.stored_size, h.record_count)) {
    return Corruption(At(path, h.offset) + ": header does not match the block index");
  }
  auto codec = static_cast<BlockCodec>(hdr[12]);
  if (records_at) *records_at = 0;
  if (codec == BlockCodec::kRaw && records_at) {
    // The block's bytes become the caller's as they are: no copy of the records.
    std::swap(*io, *raw);
    raw->resize(n);
    *records_at = kBlockHeaderSize;
  } else if (codec == BlockCodec::kRaw) {
    raw->assign(hdr + kBlockHeaderSize, stored_size);
  } else {
    if (raw->size() < raw_size) raw->resize(raw_size);
    Status s = Lz4Decompress(hdr + kBlockHeaderSize, stored_size, raw->data(), raw_size);
    if (!s.ok()) return Corruption(At(path, h.offset) + ": " + s.message());
    raw->resize(raw_size);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Iterator

RecordIterator::RecordIterator(const RecordFileReader* reader, size_t first_block, size_t end_block)
    : reader_(reader), first_block_(first_block), next_block_(first_block), end_block_(end_block) {}

Status RecordIterator::LoadBlock(size_t b) {
  loaded_ = false;
  // The stored bytes are needed only until decompressed: one buffer per thread serves every
  // iterator (a query or a merge may hold hundreds of iterators).
  static thread_local std::string io;
  RETURN_IF_ERROR(reader_->ReadBlock(b, &io, &raw_, &raw_start_));
  current_block_ = b;
  loaded_ = true;
  pos_ = raw_.data() + raw_start_;
  limit_ = raw_.data() + raw_.size();
  remaining_in_block_ = reader_->blocks()[b].record_count;
  return Status::Ok();
}

bool RecordIterator::NextBlock() {
  if (!status_.ok()) return false;
  if (pos_ != limit_ || remaining_in_block_ != 0) {
    status_ = Corruption(At(reader_->path(), reader_->blocks()[current_block_].offset) +
                         ": record count does not match the block contents");
    return false;
  }
  if (next_block_ >= end_block_) return false;
  status_ = LoadBlock(next_block_++);
  if (!status_.ok()) return false;
  return true;
}

bool RecordIterator::ParseRecord() {
  uint64_t klen, vlen;
  const char* p = DecodeVarint64(pos_, limit_, &klen);
  if (p) p = DecodeVarint64(p, limit_, &vlen);
  if (!p || remaining_in_block_ == 0 || klen > static_cast<uint64_t>(limit_ - p) ||
      vlen > static_cast<uint64_t>(limit_ - p) - klen) {
    status_ = Corruption(At(reader_->path(), reader_->blocks()[current_block_].offset) + ": malformed record");
    pos_ = limit_ = nullptr;
    return false;
  }
  key_ = std::string_view(p, klen);
  value_ = std::string_view(p + klen, vlen);
  pos_ = p + klen + vlen;
  --remaining_in_block_;
  return true;
}

Status RecordIterator::Seek(std::string_view target) {
  RETURN_IF_ERROR(CheckSeekable());
  const auto& blocks = reader_->blocks();
  // Unread records may remain in the loaded block (current_block_ == next_block_ - 1).
  const bool in_block = pos_ != limit_;
  // First unloaded block whose first key is >= target; the target may also start in the block
  // before it (duplicates span blocks), or in the rest of the loaded block.
  size_t b = FirstBlock(next_block_, end_block_, [&](size_t i) { return blocks.first_key(i) >= target; });
  if (b > next_block_) {
    // Every key before block b-1 (the rest of the loaded block included) is < target.
    pos_ = limit_ = nullptr;
    remaining_in_block_ = 0;
    next_block_ = b - 1;
    RETURN_IF_ERROR(status_ = LoadBlock(next_block_++));
  } else if (!in_block && !NextBlock()) {
    return status_;  // ok at the end
  }
  return SkipBelow(target);
}

Status RecordIterator::CheckSeekable() {
  if (!status_.ok()) return status_;
  if (!reader_->info().sorted) {
    return status_ = InvalidArgument(reader_->path() + ": Seek on a record file not written as sorted");
  }
  return Status::Ok();
}

// Skips the records below target, leaving the first candidate to the next Next().
Status RecordIterator::SkipBelow(std::string_view target) {
  while (true) {
    if (pos_ == limit_) {
      if (!NextBlock()) return status_;
      continue;
    }
    const char* before = pos_;
    uint32_t remaining_before = remaining_in_block_;
    if (!ParseRecord()) return status_;
    if (key_ >= target) {
      pos_ = before;
      remaining_in_block_ = remaining_before;
      return Status::Ok();
    }
  }
}

Status RecordIterator::Reposition(std::string_view target) {
  RETURN_IF_ERROR(CheckSeekable());
  pos_ = limit_ = nullptr;
  remaining_in_block_ = 0;
  next_block_ = end_block_;
  if (first_block_ == end_block_) return Status::Ok();
  const auto& blocks = reader_->blocks();
  // As in Seek: the target starts in the block before the first one whose first key is >= it.
  size_t b = FirstBlock(first_block_, end_block_, [&](size_t i) { return blocks.first_key(i) >= target; });
  size_t start = b > first_block_ ? b - 1 : first_block_;
  if (loaded_ && current_block_ == start) {
    pos_ = raw_.data() + raw_start_;
    limit_ = raw_.data() + raw_.size();
    remaining_in_block_ = blocks[start].record_count;
  } else {
    RETURN_IF_ERROR(status_ = LoadBlock(start));
  }
  next_block_ = start + 1;
  return SkipBelow(target);
}

}  // namespace sawmill
