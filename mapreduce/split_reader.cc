#include "mapreduce/split_reader.h"

#include <algorithm>
#include <cstring>

#include "common/decompress.h"
#include "common/local_fs.h"
#include "logs/log_archive.h"
#include "records/record_file.h"

namespace sawmill {
namespace {

// Where a split's bytes come from: a plain file from an offset on, or a compressed file's
// decompressed stream (common/decompress.h).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to n bytes; 0 only at the end.
  virtual Result<size_t> Read(char* dst, size_t n) = 0;
  // Whether every byte has been read (known before the read that would return 0, for files).
  virtual bool at_end() const = 0;
  virtual const std::string& path() const = 0;
};

class FileSource final : public ByteSource {
 public:
  FileSource(std::unique_ptr<ReadableFile> file, uint64_t start) : file_(std::move(file)), next_(start) {}
  Result<size_t> Read(char* dst, size_t n) override {
    const size_t got = static_cast<size_t>(std::min<uint64_t>(n, file_->size() > next_ ? file_->size() - next_ : 0));
    if (got > 0) RETURN_IF_ERROR(file_->ReadAt(next_, got, dst));
    next_ += got;
    return got;
  }
  bool at_end() const override { return next_ >= file_->size(); }
  const std::string& path() const override { return file_->path(); }

 private:
  std::unique_ptr<ReadableFile> file_;
  uint64_t next_;
};

class DecompressedSource final : public ByteSource {
 public:
  DecompressedSource(std::unique_ptr<DecompressingReader> reader, std::string path)
      : reader_(std::move(reader)), path_(std::move(path)) {}
  Result<size_t> Read(char* dst, size_t n) override {
    ASSIGN_OR_RETURN(size_t got, reader_->Read(dst, n));
    ended_ = got == 0;
    return got;
  }
  bool at_end() const override { return ended_; }
  const std::string& path() const override { return path_; }

 private:
  std::unique_ptr<DecompressingReader> reader_;
  std::string path_;
  bool ended_ = false;
};

// Buffered reader of the bytes a split needs; the buffer grows to hold the longest line.
class ChunkedFile {
 public:
  ChunkedFile(std::unique_ptr<ByteSource> source, uint64_t start, size_t chunk)
      : source_(std::move(source)), buf_base_(start) {
    buf_.resize(chunk);
  }
  // Bytes [pos_, end_) of buf_ are unread; buf_[0] is byte buf_base_ of the (decompressed) file.
  const char* begin() const { return buf_.data() + pos_; }
  const char* end() const { return buf_.data() + end_; }
  uint64_t file_offset() const { return buf_base_ + pos_; }
  void Consume(size_t n) { pos_ += n; }
  bool eof() const { return source_->at_end(); }
  const std::string& path() const { return source_->path(); }
  // Reads more, keeping the unread bytes; grows the buffer when they fill it.
  Status Refill() {
    size_t unread = end_ - pos_;
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, unread);
      buf_base_ += pos_;
      pos_ = 0;
      end_ = unread;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    ASSIGN_OR_RETURN(size_t got, source_->Read(buf_.data() + end_, buf_.size() - end_));
    end_ += got;
    return Status::Ok();
  }

 private:
  std::unique_ptr<ByteSource> source_;
  std::string buf_;
  uint64_t buf_base_;
  size_t pos_ = 0, end_ = 0;
};

// The bytes of `split`: decompressed from the file's start when the file is compressed (a
// compressed file is always one whole split), else the file from `start` on. `*end` is where
// the split ends in those bytes.
Result<std::unique_ptr<ByteSource>> OpenSource(std::unique_ptr<ReadableFile> file, const InputSplit& split,
                                               uint64_t start, uint64_t* end) {
  ASSIGN_OR_RETURN(Compression c, FileCompression(*file));
  *end = split.offset + split.length;
  if (c == Compression::kNone) return std::unique_ptr<ByteSource>(new FileSource(std::move(file), start));
  if (split.offset != 0) {
    return InvalidArgument(file->path() + ": a " + CompressionName(c) + " file is read whole, not from byte " +
                           std::to_string(split.offset));
  }
  *end = ~uint64_t{0};
  std::string path = file->path();
  ASSIGN_OR_RETURN(auto reader, DecompressingReader::Open(std::move(file), c));
  return std::unique_ptr<ByteSource>(new DecompressedSource(std::move(reader), std::move(path)));
}

class TextLineReader final : public SplitReader {
 public:
  TextLineReader(std::unique_ptr<ByteSource> source, const InputSplit& split, uint64_t end, size_t chunk)
      : in_(std::move(source), split.offset == 0 ? 0 : split.offset - 1, chunk),
        split_start_(split.offset), split_end_(end) {}

  bool Next(std::string_view* key, std::string_view* value) override {
    if (!started_) {
      started_ = true;
      // A split not at the file start skips the line in progress: it belongs to the split before.
      if (split_start_ > 0 && !SkipPastNewline()) return false;
    }
    if (in_.file_offset() >= split_end_) return false;
    while (true) {
      const char* b = in_.begin();
      const char* nl = static_cast<const char*>(std::memchr(b, '\n', in_.end() - b));
      if (nl) {
        offset_ = in_.file_offset();
        *key = {};
        *value = std::string_view(b, nl - b);
        in_.Consume(nl - b + 1);
        return true;
      }
      if (in_.eof()) {
        if (b == in_.end()) return false;
        offset_ = in_.file_offset();
        *key = {};
        *value = std::string_view(b, in_.end() - b);
        in_.Consume(in_.end() - b);
        return true;
      }
      if (!(status_ = in_.Refill()).ok()) return false;
    }
  }
  const Status& status() const override { return status_; }
  uint64_t offset() const override { return offset_; }

 private:
  bool SkipPastNewline() {
    while (true) {
      const char* b = in_.begin();
      const char* nl = static_cast<const char*>(std::memchr(b, '\n', in_.end() - b));
      if (nl) {
        in_.Consume(nl - b + 1);
        return true;
      }
      in_.Consume(in_.end() - b);
      if (in_.eof()) return false;
      if (!(status_ = in_.Refill()).ok()) return false;
    }
  }

  ChunkedFile in_;
  uint64_t split_start_, split_end_;
  bool started_ = false;
  uint64_t offset_ = 0;
  Status status_;
};

class FixedWidthReader final : public SplitReader {
 public:
  FixedWidthReader(std::unique_ptr<ByteSource> source, const InputSplit& split, uint64_t end,
                   const SplitReaderOptions& o)
      : in_(std::move(source), split.offset,
            std::max(o.chunk_bytes / o.fixed_record_bytes, size_t{1}) * o.fixed_record_bytes),
        end_(end), record_(o.fixed_record_bytes), key_bytes_(o.fixed_key_bytes) {}

  bool Next(std::string_view* key, std::string_view* value) override {
    if (in_.file_offset() >= end_) return false;
    while (static_cast<size_t>(in_.end() - in_.begin()) < record_) {
      if (in_.eof()) {
        if (in_.begin() == in_.end()) return false;  // the end of a decompressed stream
        status_ = Corruption(in_.path() + ": truncated fixed-width record at offset " + std::to_string(in_.file_offset()));
        return false;
      }
      if (!(status_ = in_.Refill()).ok()) return false;
    }
    offset_ = in_.file_offset();
    const char* b = in_.begin();
    *key = std::string_view(b, key_bytes_);
    *value = std::string_view(b + key_bytes_, record_ - key_bytes_);
    in_.Consume(record_);
    return true;
  }
  const Status& status() const override { return status_; }
  uint64_t offset() const override { return offset_; }

 private:
  ChunkedFile in_;
  uint64_t end_;
  size_t record_, key_bytes_;
  uint64_t offset_ = 0;
  Status status_;
};

class RecordSplitReader final : public SplitReader {
 public:
  RecordSplitReader(std::unique_ptr<RecordFileReader> reader, const InputSplit& split, bool payload_lines)
      : reader_(std::move(reader)),
        it_(reader_->NewIterator(split.offset, split.offset + split.length)),
        offset_(split.length ? reader_->blocks()[split.offset].offset : 0),
        split_(split),
        payload_lines_(payload_lines) {}

  bool Next(std::string_view* key, std::string_view* value) override {
    while (it_.Next()) {
      *key = it_.key();
      *value = it_.value();
      if (!split_.log_filter) return true;
      uint64_t offset;
      int64_t ts;
      std::string_view payload;
      if (!logs::DecodeLogRecord(*key, *value, &offset, &ts, &payload)) {
        bad_ = Corruption(split_.path + ": a record that is not a log record");
        return false;
      }
      if (offset > split_.max_offset) return false;  // offsets increase within a segment
      if (offset >= split_.min_offset && ts >= split_.min_time_ms && ts <= split_.max_time_ms) {
        if (payload_lines_) {
          *value = payload;
          offset_ = offset;
        }
        return true;
      }
    }
    return false;
  }
  const Status& status() const override { return bad_.ok() ? it_.status() : bad_; }
  uint64_t offset() const override { return offset_; }

 private:
  std::unique_ptr<RecordFileReader> reader_;
  RecordIterator it_;
  uint64_t offset_;
  InputSplit split_;
  bool payload_lines_;
  Status bad_;
};

}  // namespace

SplitReaderOptions SplitReaderOptionsFor(const JobSpec& spec, const InputSplit& split) {
  SplitReaderOptions o;
  o.format = SplitFormat(spec, split);
  o.fixed_record_bytes = spec.fixed_record_bytes;
  o.fixed_key_bytes = spec.fixed_key_bytes;
  o.log_payload_lines = split.log_filter && spec.FormatOf(split.input_index) == InputFormat::kTextLines;
  return o;
}

Result<std::unique_ptr<SplitReader>> OpenSplit(const InputSplit& split, const SplitReaderOptions& options) {
  if (options.format == InputFormat::kRecordFile) {
    ASSIGN_OR_RETURN(auto reader, RecordFileReader::Open(split.path));
    if (split.offset + split.length > reader->blocks().size()) {
      return InvalidArgument(split.path + ": split beyond the file's blocks");
    }
    return std::unique_ptr<SplitReader>(new RecordSplitReader(std::move(reader), split, options.log_payload_lines));
  }
  ASSIGN_OR_RETURN(auto file, OpenReadable(split.path));
  uint64_t end = 0;
  if (options.format == InputFormat::kFixedWidth) {
    if (options.fixed_key_bytes > options.fixed_record_bytes || options.fixed_record_bytes == 0) {
      return InvalidArgument("fixed-width key longer than the record");
    }
    ASSIGN_OR_RETURN(auto source, OpenSource(std::move(file), split, split.offset, &end));
    return std::unique_ptr<SplitReader>(new FixedWidthReader(std::move(source), split, end, options));
  }
  ASSIGN_OR_RETURN(auto source, OpenSource(std::move(file), split, split.offset == 0 ? 0 : split.offset - 1, &end));
  return std::unique_ptr<SplitReader>(new TextLineReader(std::move(source), split, end, options.chunk_bytes));
}

}  // namespace sawmill
