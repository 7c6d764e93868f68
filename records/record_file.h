// The one record file format (spills, shuffle segments, part files, log segments): LZ4 blocks of
// (key, value) records, each block checksummed, then a block index and a fixed footer.
// Spec: docs/formats/record-file.md. Every reader verifies every checksum it touches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/checksum.h"
#include "common/fs.h"
#include "common/status.h"

namespace sawmill {

inline constexpr uint32_t kRecordFileVersion = 1;
inline constexpr size_t kBlockHeaderSize = 24;
inline constexpr size_t kFooterSize = 72;
inline constexpr uint64_t kRecordFileMagic = 0x314c494d57415353ull;  // "SSAWMIL1" little-endian
inline constexpr int32_t kNoPartition = -1;

enum class BlockCodec : uint8_t { kRaw = 0, kLz4 = 1 };

struct RecordFileOptions {
  size_t block_bytes = 64 << 10;  // raw record bytes per block (a larger record gets its own)
  bool compress = true;           // LZ4; a block is stored raw when LZ4 does not shrink it
  int lz4_acceleration = 1;
  bool sorted = false;            // keys are checked non-decreasing within each partition
  bool detect_sorted = false;     // set the footer's sorted flag iff keys arrive non-decreasing
  int32_t partition = kNoPartition;  // the file's partition id, or kNoPartition
  uint32_t replication = 0;       // dfs: files: replicas of each block (0: the store's default)
};

// One entry of the block index.
struct BlockHandle {
  uint64_t offset = 0;       // of the block header
  uint32_t stored_size = 0;  // bytes after the header
  uint32_t record_count = 0;
  int32_t partition = kNoPartition;
  std::string first_key;
};

// Where partition p lives in a multi-partition file (RecordFileReader::Extent): its blocks are
// the byte range [offset, offset + length) of the file, the blocks' headers and stored data
// only. A shuffle server sends these bytes and `blocks`; the receiver rebuilds a standalone
// record file from them with SegmentWriter.
struct PartitionExtent {
  int32_t partition = kNoPartition;
  uint64_t offset = 0;              // of the first block's header (0 when there are no blocks)
  uint64_t length = 0;              // sum of kBlockHeaderSize + stored_size over `blocks`
  std::vector<BlockHandle> blocks;  // the index entries, offsets as in the source file
  uint64_t records = 0;
  bool sorted = false;              // the source file's footer flag
};

struct RecordFileInfo {
  uint32_t version = 0;
  bool sorted = false;
  int32_t partition = kNoPartition;
  uint64_t record_count = 0;
  uint64_t data_bytes = 0;  // sum of key and value lengths
  uint64_t file_size = 0;
};

// Writes a record file. Records go to the current partition (StartPartition) in call order.
class RecordFileWriter {
 public:
  static Result<std::unique_ptr<RecordFileWriter>> Create(const std::string& path,
                                                          const RecordFileOptions& options);
  ~RecordFileWriter();

  Status Add(std::string_view key, std::string_view value);
  // Ends the current block; later records belong to partition `p`, which must not be lower than
  // the current one. Files holding many partitions (map outputs, spills) use this.
  Status StartPartition(int32_t p);
  // Writes the index and footer and closes the file. Required; a file without it is unreadable.
  Status Finish();

  uint64_t records() const { return records_; }
  // Whether every key so far was >= the one before in its partition.
  bool in_order() const { return in_order_; }
  uint64_t data_bytes() const { return data_bytes_; }
  uint64_t file_size() const { return file_->size(); }
  // Hash of every byte written (valid after Finish).
  std::string ContentHash() const { return hasher_.Hex(); }
  const std::string& path() const { return file_->path(); }

 private:
  RecordFileWriter(std::unique_ptr<AppendableFile> file, const RecordFileOptions& options);
  Status FlushBlock();
  Status Write(std::string_view bytes);

  std::unique_ptr<AppendableFile> file_;
  RecordFileOptions options_;
  ContentHasher hasher_;
  std::string block_;       // raw records of the open block
  std::string compressed_;  // scratch
  std::string block_first_key_;
  std::string last_key_;    // for the sorted check
  bool have_last_key_ = false;
  bool in_order_ = true;
  uint32_t block_records_ = 0;
  int32_t partition_;
  std::vector<BlockHandle> index_;
  uint64_t records_ = 0;
  uint64_t data_bytes_ = 0;
  bool finished_ = false;
};

// Writes a shuffle segment: a standalone record file holding one partition's blocks, copied
// byte for byte from another file (see "Shuffle segments" in docs/formats/record-file.md). The
// block bytes are appended as they arrive and never held whole in memory; Finish writes the
// index (offsets rebased so the first block is at 0) and the footer (the partition as the
// file's partition, the source's sorted flag). Block contents are not verified here: readers
// check each block's checksum when they read it. Not thread-safe.
class SegmentWriter {
 public:
  // `blocks` are the source's index entries for `partition`, offsets in any base. Fails with
  // kCorruption when they are not contiguous, have a zero record count, or belong to another
  // partition; `path` is created (replaced if present).
  static Result<std::unique_ptr<SegmentWriter>> Create(const std::string& path, int32_t partition,
                                                       std::vector<BlockHandle> blocks, bool sorted);
  ~SegmentWriter();

  // Appends the next block bytes; kCorruption past the expected total.
  Status Append(std::string_view bytes);
  // Writes index and footer and closes the file; kCorruption unless exactly expected_bytes()
  // were appended.
  Status Finish();

  uint64_t expected_bytes() const { return expected_bytes_; }
  uint64_t appended_bytes() const { return file_->size(); }
  uint64_t records() const { return records_; }
  const std::string& path() const { return file_->path(); }

 private:
  SegmentWriter(std::unique_ptr<AppendableFile> file, int32_t partition, std::vector<BlockHandle> blocks,
                bool sorted, uint64_t expected_bytes, uint64_t records);

  std::unique_ptr<AppendableFile> file_;
  int32_t partition_;
  std::vector<BlockHandle> blocks_;  // rebased to 0
  bool sorted_;
  uint64_t expected_bytes_;
  uint64_t records_;
  bool finished_ = false;
};

class RecordFileReader;

// Streams the records of a range of blocks. Views returned by key()/value() stay valid until
// the next call to Next(). Not thread-safe; many iterators may share one reader.
class RecordIterator {
 public:
  RecordIterator(const RecordFileReader* reader, size_t first_block, size_t end_block);
  // Advances; false at the end or on error (then status() says which file and block).
  bool Next() {
    if (pos_ < limit_) return ParseRecord();
    return NextBlock() && ParseRecord();
  }
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  const Status& status() const { return status_; }
  // Positions so that the next Next() yields the first record with key >= target, among the
  // iterator's blocks at or after the current position (sorted files only).
  Status Seek(std::string_view target);
  // Seek among all the iterator's blocks, backwards too. Keeps the loaded block, and its buffers,
  // when the target starts in it: random lookups need not reread or reallocate.
  Status Reposition(std::string_view target);

 private:
  bool NextBlock();
  bool ParseRecord();
  Status CheckSeekable();
  Status SkipBelow(std::string_view target);
  Status LoadBlock(size_t b);

  const RecordFileReader* reader_;
  size_t first_block_;
  size_t next_block_;
  size_t end_block_;
  size_t current_block_ = 0;
  bool loaded_ = false;  // raw_ holds current_block_
  std::string raw_;   // decompressed records, from raw_start_ on (an uncompressed block's header first)
  size_t raw_start_ = 0;
  const char* pos_ = nullptr;
  const char* limit_ = nullptr;
  uint32_t remaining_in_block_ = 0;
  std::string_view key_, value_;
  Status status_;
};

// One entry of a reader's block index; first_key views the index bytes the reader keeps.
struct IndexEntry {
  uint64_t offset = 0;
  uint32_t stored_size = 0;
  uint32_t record_count = 0;
  int32_t partition = kNoPartition;
  std::string_view first_key;
};

// A reader's block index: the index bytes as read and where each entry starts; entries are
// decoded on access. A file of many small blocks then opens with two allocations instead of
// one per block (an index part of 21k blocks: about 1 MB less memory to fault in).
class BlockIndex {
 public:
  size_t size() const { return starts_.size(); }
  bool empty() const { return starts_.empty(); }
  IndexEntry operator[](size_t i) const;
  IndexEntry back() const { return (*this)[size() - 1]; }
  std::string_view first_key(size_t i) const;

 private:
  friend class RecordFileReader;
  std::unique_ptr<char[]> bytes_;
  size_t bytes_size_ = 0;
  std::vector<uint32_t> starts_;
};

// Whether a block header (kBlockHeaderSize bytes, its checksum already verified) agrees with its
// index entry and stays within the format's limits: sizes and count as indexed, reserved bytes
// zero, a known codec, a plausible raw size ("How a reader validates", block check 3).
bool BlockHeaderMatches(const char* header, uint32_t stored_size, uint32_t record_count);

// Opens a record file, verifying its footer and index.
class RecordFileReader {
 public:
  // `path` is resolved by ResolvePath (common/local_fs.h): local, or dfs: with a store registered.
  static Result<std::unique_ptr<RecordFileReader>> Open(const std::string& path);
  static Result<std::unique_ptr<RecordFileReader>> Open(std::unique_ptr<ReadableFile> file);
  const RecordFileInfo& info() const { return info_; }
  const BlockIndex& blocks() const { return blocks_; }
  const std::string& path() const { return file_->path(); }

  RecordIterator NewIterator() const { return RecordIterator(this, 0, blocks_.size()); }
  RecordIterator NewIterator(size_t first_block, size_t end_block) const {
    return RecordIterator(this, first_block, end_block);
  }
  // The blocks [first, end) holding partition p (empty range if none).
  std::pair<size_t, size_t> PartitionBlocks(int32_t p) const;
  // Partition p's byte range, index entries and record count (no blocks if p has none).
  PartitionExtent Extent(int32_t p) const;
  // Reads and verifies block b into `io` (header+stored) and `raw` (decompressed records).
  // With `records_at`, an uncompressed block is not copied: its bytes are swapped into `raw`
  // (io gets raw's old buffer) and the records start at raw->data() + *records_at.
  Status ReadBlock(size_t b, std::string* io, std::string* raw, size_t* records_at = nullptr) const;

 private:
  explicit RecordFileReader(std::unique_ptr<ReadableFile> file) : file_(std::move(file)) {}
  Status ReadFooterAndIndex();

  // Mutable: ReadBlock is logically const; one reader is used from one thread at a time.
  mutable std::unique_ptr<ReadableFile> file_;
  RecordFileInfo info_;
  BlockIndex blocks_;
};

}  // namespace sawmill
