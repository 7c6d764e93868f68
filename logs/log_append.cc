#include "logs/log_append.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/decompress.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "logs/ingest_ledger.h"

namespace sawmill::logs {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr size_t kMaxLine = 16 << 20;
constexpr size_t kBadExamples = 5;

// A source file's decompressed bytes as lines, from a given byte on.
class SourceReader {
 public:
  static Result<std::unique_ptr<SourceReader>> Open(const std::string& path) {
    auto r = std::unique_ptr<SourceReader>(new SourceReader);
    r->id_.path = path;
    if (!IsDfsPath(path)) {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) return NotFound(path + ": " + std::strerror(errno));
      if (S_ISDIR(st.st_mode)) return InvalidArgument(path + ": is a directory");
      r->id_.device = static_cast<uint64_t>(st.st_dev);
      r->id_.inode = static_cast<uint64_t>(st.st_ino);
    }
    ASSIGN_OR_RETURN(auto file, OpenReadable(path));
    r->id_.size = file->size();
    ASSIGN_OR_RETURN(r->compression_, FileCompression(*file));
    if (r->compression_ != Compression::kNone) {
      ASSIGN_OR_RETURN(r->decompressor_, DecompressingReader::Open(std::move(file), r->compression_));
    } else {
      r->file_ = std::move(file);
    }
    // The head identifies the file; its bytes stay buffered as the start of the stream.
    while (r->buf_.size() < kLedgerHeadBytes && !r->eof_) RETURN_IF_ERROR(r->Fill(kLedgerHeadBytes - r->buf_.size()));
    r->head_ = r->buf_.substr(0, kLedgerHeadBytes);
    r->id_.head = r->head_;
    return r;
  }

  const SourceFile& id() const { return id_; }
  bool compressed() const { return compression_ != Compression::kNone; }
  uint64_t consumed() const { return buf_offset_ + pos_; }

  // Moves past the first n bytes; false when the file is shorter.
  Result<bool> Skip(uint64_t n) {
    if (file_ && n > buf_offset_ + buf_.size()) {
      if (n > id_.size) return false;
      buf_.clear();
      pos_ = 0;
      buf_offset_ = read_offset_ = n;
      eof_ = n == id_.size;
      return true;
    }
    while (buf_offset_ + buf_.size() < n) {
      if (eof_) return false;
      buf_offset_ += buf_.size();
      buf_.clear();
      RETURN_IF_ERROR(Fill(std::min<uint64_t>(kChunk, n - buf_offset_)));
    }
    pos_ = static_cast<size_t>(n - buf_offset_);
    return true;
  }

  // The next complete line (without its '\n' or a '\r' before it). False at the end; a last line
  // without '\n' is complete only in a compressed file (which does not grow), else it waits.
  Result<bool> NextLine(std::string_view* line, bool* partial) {
    *partial = false;
    while (true) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) return Take(nl, nl + 1, line);
      if (eof_) {
        if (pos_ == buf_.size()) return false;
        if (compressed()) return Take(buf_.size(), buf_.size(), line);
        *partial = true;
        return false;
      }
      if (buf_.size() - pos_ > kMaxLine) {
        return InvalidArgument(id_.path + ": a line longer than " + std::to_string(kMaxLine >> 20) +
                               " MiB at byte " + std::to_string(consumed()));
      }
      buf_offset_ += pos_;
      buf_.erase(0, pos_);
      pos_ = 0;
      RETURN_IF_ERROR(Fill(kChunk));
    }
  }

 private:
  SourceReader() = default;

  Result<bool> Take(size_t end, size_t next, std::string_view* line) {
    size_t n = end - pos_;
    if (n > 0 && buf_[pos_ + n - 1] == '\r') --n;
    *line = std::string_view(buf_).substr(pos_, n);
    pos_ = next;
    return true;
  }

  // Appends up to n more bytes of the stream to buf_ (sets eof_ at its end).
  Status Fill(uint64_t n) {
    size_t old = buf_.size();
    if (file_) {
      uint64_t want = std::min<uint64_t>(n, id_.size - read_offset_);
      buf_.resize(old + want);
      if (want > 0) RETURN_IF_ERROR(file_->ReadAt(read_offset_, want, buf_.data() + old));
      read_offset_ += want;
      eof_ = read_offset_ == id_.size;
      return Status::Ok();
    }
    buf_.resize(old + n);
    size_t got = 0;
    while (got < n) {
      ASSIGN_OR_RETURN(size_t r, decompressor_->Read(buf_.data() + old + got, n - got));
      if (r == 0) {
        eof_ = true;
        break;
      }
      got += r;
    }
    buf_.resize(old + got);
    return Status::Ok();
  }

  SourceFile id_;
  std::string head_;
  Compression compression_ = Compression::kNone;
  std::unique_ptr<ReadableFile> file_;                // plain files
  std::unique_ptr<DecompressingReader> decompressor_;  // compressed ones
  std::string buf_;
  size_t pos_ = 0;
  uint64_t buf_offset_ = 0;   // stream offset of buf_[0]
  uint64_t read_offset_ = 0;  // plain files: the next byte to read
  bool eof_ = false;
};

// Walks the files in order, turning their new lines into records and keeping the ledger.
class Appender {
 public:
  Appender(const std::vector<std::string>& files, const AppendOptions& options, Ledger ledger, uint64_t first_offset)
      : files_(files), options_(options), ledger_(std::move(ledger)), next_offset_(first_offset) {}

  bool Next(LogRecord* r, Status* error) {
    Result<bool> got = NextRecord(r);
    if (!got.ok()) *error = got.status();
    return got.ok() && *got;
  }

  // The ledger as of the last record handed out (and every line before it).
  std::string LedgerBytes() {
    Flush();
    return EncodeLedger(ledger_);
  }

  AppendResult& result() { return result_; }

 private:
  // The next new line's record; false after the last file.
  Result<bool> NextRecord(LogRecord* r) {
    while (true) {
      if (!reader_) {
        if (index_ == files_.size()) return false;
        RETURN_IF_ERROR(OpenNext());
        continue;
      }
      std::string_view line;
      bool partial = false;
      ASSIGN_OR_RETURN(bool got, reader_->NextLine(&line, &partial));
      if (!got) {
        result_.sources.back().partial_line = partial;
        Flush();
        reader_.reset();
        continue;
      }
      ++lines_;
      int64_t ms = options_.now_ms;
      std::string why;
      if (!LineTime(line, &ms, &why)) {
        std::string where = reader_->id().path + ":" + std::to_string(lines_) + ": " + why;
        if (!options_.skip_bad) return InvalidArgument(where + " (--skip_bad counts such lines instead)");
        ++result_.bad;
        ++result_.sources.back().bad;
        if (result_.bad_examples.size() < kBadExamples) result_.bad_examples.push_back(where);
        dirty_ = true;
        continue;
      }
      r->offset = next_offset_++;
      r->timestamp_ms = ms;
      r->payload.assign(line);
      ++result_.sources.back().appended;
      dirty_ = true;
      return true;
    }
  }

  // The time of a line in the append's format; false with *why for a line without one.
  bool LineTime(std::string_view line, int64_t* ms, std::string* why) const {
    const char* reason = nullptr;
    if (options_.format == LineFormat::kCombined) {
      if (AccessLogLineTime(line, ms, &reason)) return true;
    } else if (options_.format == LineFormat::kJsonl) {
      JsonField field;
      if (!FindJsonField(line, options_.time_field, &field, &reason)) {
        *why = reason;
        return false;
      }
      if (field.kind == JsonKind::kMissing) {
        *why = "no \"" + options_.time_field + "\" member (--time_field names it)";
        return false;
      }
      if (JsonFieldTime(field, ms, &reason)) return true;
    } else {
      return true;
    }
    *why = reason;
    return false;
  }

  Status OpenNext() {
    const std::string& path = files_[index_++];
    ASSIGN_OR_RETURN(reader_, SourceReader::Open(path));
    AppendedSource report;
    report.path = path;
    entry_ = MatchSource(ledger_, reader_->id());
    lines_ = 0;
    if (entry_ >= 0) {
      const LedgerSource& e = ledger_.sources[static_cast<size_t>(entry_)];
      report.continues = e.path;
      ASSIGN_OR_RETURN(bool within, reader_->Skip(e.consumed));
      if (!within) {
        report.shorter = true;
        reader_.reset();
      } else {
        report.skipped_bytes = e.consumed;
        lines_ = e.lines;
      }
    }
    result_.sources.push_back(std::move(report));
    return Status::Ok();
  }

  // Writes the current source's progress into the ledger.
  void Flush() {
    if (!reader_ || !dirty_) return;
    entry_ = RecordProgress(&ledger_, entry_, reader_->id(), reader_->consumed(), lines_, options_.now_ms);
    dirty_ = false;
  }

  const std::vector<std::string>& files_;
  const AppendOptions& options_;
  Ledger ledger_;
  uint64_t next_offset_;
  size_t index_ = 0;
  std::unique_ptr<SourceReader> reader_;
  int entry_ = -1;
  uint64_t lines_ = 0;
  bool dirty_ = false;
  AppendResult result_;
};

}  // namespace

Result<AppendResult> Append(const std::string& root, const std::string& stream, int partition,
                            const std::vector<std::string>& files, const AppendOptions& options) {
  if (options.format == LineFormat::kTsv) return InvalidArgument("tsv is not an append format (want lines, combined or jsonl)");
  ASSIGN_OR_RETURN(auto lock, LockPartition(root, stream, partition));
  ASSIGN_OR_RETURN(auto segments, ListSegments(root, stream, partition));
  std::vector<uint64_t> firsts;
  for (const auto& s : segments) firsts.push_back(s.first_offset);
  ASSIGN_OR_RETURN(Ledger ledger, ReadPartitionLedger(PartitionDir(root, stream, partition), firsts));
  const uint64_t first = segments.empty() ? 0 : segments.back().last_offset + 1;
  Appender appender(files, options, std::move(ledger), first);
  ArchiveOptions archive = options.archive;
  archive.segment_ledger = [&] { return appender.LedgerBytes(); };
  ASSIGN_OR_RETURN(ArchiveResult written,
                   ArchiveLocked(root, stream, partition, segments,
                                 [&](LogRecord* r, Status* error) { return appender.Next(r, error); }, archive));
  AppendResult result = std::move(appender.result());
  result.archive = std::move(written);
  result.first_offset = first;
  return result;
}

}  // namespace sawmill::logs
