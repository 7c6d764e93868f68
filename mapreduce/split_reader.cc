#include "mapreduce/split_reader.h"

#include <algorithm>
#include <cstring>

#include "common/local_fs.h"
#include "logs/log_archive.h"
#include "records/record_file.h"

namespace sawmill {
namespace {

// Buffered reader of the byte range a split needs; the buffer grows to hold the longest line.
class ChunkedFile {
 public:
  ChunkedFile(std::unique_ptr<ReadableFile> file, uint64_t start, size_t chunk)
      : file_(std::move(file)), next_read_(start), buf_base_(start) {
    buf_.resize(chunk);
  }
  // Bytes [pos_, end_) of buf_ are unread; buf_[0] is file offset buf_base_.
  const char* begin() const { return buf_.data() + pos_; }
  const char* end() const { return buf_.data() + end_; }
  uint64_t file_offset() const { return buf_base_ + pos_; }
  void Consume(size_t n) { pos_ += n; }
  bool eof() const { return next_read_ >= file_->size(); }
  const std::string& path() const { return file_->path(); }
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
    size_t got = static_cast<size_t>(
        std::min<uint64_t>(buf_.size() - end_, file_->size() > next_read_ ? file_->size() - next_read_ : 0));
    if (got > 0) RETURN_IF_ERROR(file_->ReadAt(next_read_, got, buf_.data() + end_));
    next_read_ += got;
    end_ += got;
    return Status::Ok();
  }

 private:
  std::unique_ptr<ReadableFile> file_;
  std::string buf_;
  uint64_t next_read_;
  uint64_t buf_base_;
  size_t pos_ = 0, end_ = 0;
};

class TextLineReader final : public SplitReader {
 public:
  TextLineReader(std::unique_ptr<ReadableFile> file, const InputSplit& split, size_t chunk)
      : in_(std::move(file), split.offset == 0 ? 0 : split.offset - 1, chunk),
        split_start_(split.offset), split_end_(split.offset + split.length) {}

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
  FixedWidthReader(std::unique_ptr<ReadableFile> file, const InputSplit& split,
                   const SplitReaderOptions& o)
      : in_(std::move(file), split.offset, std::max(o.chunk_bytes / o.fixed_record_bytes, size_t{1}) * o.fixed_record_bytes),
        end_(split.offset + split.length), record_(o.fixed_record_bytes), key_bytes_(o.fixed_key_bytes) {}

  bool Next(std::string_view* key, std::string_view* value) override {
    if (in_.file_offset() >= end_) return false;
    while (static_cast<size_t>(in_.end() - in_.begin()) < record_) {
      if (in_.eof()) {
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
  if (options.format == InputFormat::kFixedWidth) {
    if (options.fixed_key_bytes > options.fixed_record_bytes || options.fixed_record_bytes == 0) {
      return InvalidArgument("fixed-width key longer than the record");
    }
    return std::unique_ptr<SplitReader>(new FixedWidthReader(std::move(file), split, options));
  }
  return std::unique_ptr<SplitReader>(
      new TextLineReader(std::move(file), split, options.chunk_bytes));
}

}  // namespace sawmill
