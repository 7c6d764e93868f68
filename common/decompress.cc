// DecompressingReader over zlib, libzstd and libbz2 (common/decompress.h).
#include "common/decompress.h"

#include <bzlib.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace sawmill {
namespace {

constexpr size_t kInputChunk = 256 << 10;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The input side every format shares: compressed bytes read from the file a chunk at a time, a
// format's Step turning some of them into output, and the bookkeeping that tells a file that
// ends between members (done) from one that ends inside one (truncated).
class StreamReader : public DecompressingReader {
 public:
  StreamReader(std::unique_ptr<ReadableFile> file, Compression c) : file_(std::move(file)), format_(c) {}

  Result<size_t> Read(char* dst, size_t n) override {
    if (n == 0 || done_) return size_t{0};
    for (;;) {
      if (in_pos_ == in_.size() && next_read_ < file_->size()) RETURN_IF_ERROR(Fill());
      const size_t avail = in_.size() - in_pos_;
      const char* in = in_.data() + in_pos_;
      size_t in_left = avail, out_left = n;
      char* out = dst;
      bool member_end = false;
      RETURN_IF_ERROR(Step(in, in_left, out, out_left, &member_end));
      const size_t used = avail - in_left, produced = n - out_left;
      in_pos_ += used;
      if (used > 0 || produced > 0) in_member_ = true;
      if (member_end) in_member_ = false;
      if (produced > 0) return produced;
      if (used > 0 || member_end) continue;
      // No progress: the decompressor wants input the file no longer has.
      if (avail == 0 && next_read_ >= file_->size()) {
        if (in_member_) {
          return Corruption(file_->path() + ": truncated " + CompressionName(format_) + " data: the file ends at byte " +
                            std::to_string(file_->size()) + " inside a compressed stream");
        }
        done_ = true;
        return size_t{0};
      }
      if (avail > 0) return Bad("the decompressor makes no progress");
    }
  }

  uint64_t compressed_offset() const override { return next_read_ - (in_.size() - in_pos_); }

 protected:
  // Decompresses from [in, in + in_left) into [out, out + out_left), advancing both; sets
  // *member_end when a member (gzip), frame (zstd) or stream (bzip2) has just ended.
  virtual Status Step(const char*& in, size_t& in_left, char*& out, size_t& out_left, bool* member_end) = 0;

  // kCorruption naming the file, the format and the compressed offset.
  Status Bad(const std::string& what) const {
    return Corruption(file_->path() + ": bad " + CompressionName(format_) + " data near compressed byte " +
                      std::to_string(compressed_offset()) + ": " + what);
  }

 private:
  Status Fill() {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kInputChunk, file_->size() - next_read_));
    in_.resize(n);
    RETURN_IF_ERROR(file_->ReadAt(next_read_, n, in_.data()));
    next_read_ += n;
    in_pos_ = 0;
    return Status::Ok();
  }

  std::unique_ptr<ReadableFile> file_;
  const Compression format_;
  std::string in_;
  size_t in_pos_ = 0;
  uint64_t next_read_ = 0;
  bool in_member_ = false, done_ = false;
};

class GzipReader final : public StreamReader {
 public:
  using StreamReader::StreamReader;
  ~GzipReader() override {
    if (ready_) inflateEnd(&z_);
  }
  Status Init() {
    if (inflateInit2(&z_, 15 + 16) != Z_OK) return Internal("zlib: inflateInit2 failed");
    ready_ = true;
    return Status::Ok();
  }

 protected:
  Status Step(const char*& in, size_t& in_left, char*& out, size_t& out_left, bool* member_end) override {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
    z_.avail_in = static_cast<uInt>(std::min<size_t>(in_left, UINT_MAX));
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(out_left, UINT_MAX));
    const uInt in_before = z_.avail_in, out_before = z_.avail_out;
    const int r = inflate(&z_, Z_NO_FLUSH);
    in += in_before - z_.avail_in;
    in_left -= in_before - z_.avail_in;
    out += out_before - z_.avail_out;
    out_left -= out_before - z_.avail_out;
    if (r == Z_STREAM_END) {
      *member_end = true;
      inflateReset(&z_);  // a next member may follow
      return Status::Ok();
    }
    if (r == Z_OK || r == Z_BUF_ERROR) return Status::Ok();  // Z_BUF_ERROR: no progress possible
    return Bad(z_.msg != nullptr ? z_.msg : "zlib error " + std::to_string(r));
  }

 private:
  z_stream z_{};
  bool ready_ = false;
};

class ZstdReader final : public StreamReader {
 public:
  using StreamReader::StreamReader;
  ~ZstdReader() override { ZSTD_freeDCtx(ctx_); }
  Status Init() {
    ctx_ = ZSTD_createDCtx();
    return ctx_ != nullptr ? Status::Ok() : Internal("zstd: cannot create a decompression context");
  }

 protected:
  Status Step(const char*& in, size_t& in_left, char*& out, size_t& out_left, bool* member_end) override {
    ZSTD_inBuffer ib{in, in_left, 0};
    ZSTD_outBuffer ob{out, out_left, 0};
    const size_t r = ZSTD_decompressStream(ctx_, &ob, &ib);
    in += ib.pos;
    in_left -= ib.pos;
    out += ob.pos;
    out_left -= ob.pos;
    if (ZSTD_isError(r)) return Bad(ZSTD_getErrorName(r));
    if (r == 0 && (ib.pos > 0 || ob.pos > 0)) *member_end = true;  // a frame ended, all of it out
    return Status::Ok();
  }

 private:
  ZSTD_DCtx* ctx_ = nullptr;
};

class Bzip2Reader final : public StreamReader {
 public:
  using StreamReader::StreamReader;
  ~Bzip2Reader() override {
    if (ready_) BZ2_bzDecompressEnd(&bz_);
  }
  Status Init() {
    if (BZ2_bzDecompressInit(&bz_, 0, 0) != BZ_OK) return Internal("bzip2: BZ2_bzDecompressInit failed");
    ready_ = true;
    return Status::Ok();
  }

 protected:
  Status Step(const char*& in, size_t& in_left, char*& out, size_t& out_left, bool* member_end) override {
    if (out_left == 0) return Status::Ok();
    bz_.next_in = const_cast<char*>(in);
    bz_.avail_in = static_cast<unsigned>(std::min<size_t>(in_left, UINT_MAX));
    bz_.next_out = out;
    bz_.avail_out = static_cast<unsigned>(std::min<size_t>(out_left, UINT_MAX));
    const unsigned in_before = bz_.avail_in, out_before = bz_.avail_out;
    const int r = in_before == 0 && !pending_ ? BZ_OK : BZ2_bzDecompress(&bz_);
    in += in_before - bz_.avail_in;
    in_left -= in_before - bz_.avail_in;
    out += out_before - bz_.avail_out;
    out_left -= out_before - bz_.avail_out;
    pending_ = out_before != bz_.avail_out;  // it may hold more output without new input
    if (r == BZ_STREAM_END) {
      *member_end = true;
      pending_ = false;
      BZ2_bzDecompressEnd(&bz_);  // a next stream (pbzip2, cat) starts afresh
      ready_ = false;
      bz_ = bz_stream{};
      return Init();
    }
    if (r == BZ_OK) return Status::Ok();
    return Bad(r == BZ_DATA_ERROR_MAGIC ? "not bzip2 data (bad magic)" : "bzip2 error " + std::to_string(r));
  }

 private:
  bz_stream bz_{};
  bool ready_ = false, pending_ = false;
};

}  // namespace

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kBzip2:
      return "bzip2";
    case Compression::kNone:
      break;
  }
  return "uncompressed";
}

Compression DetectCompression(std::string_view path, std::string_view head) {
  if (EndsWith(path, ".gz")) return Compression::kGzip;
  if (EndsWith(path, ".zst")) return Compression::kZstd;
  if (EndsWith(path, ".bz2")) return Compression::kBzip2;
  if (head.size() >= 2 && head[0] == '\x1f' && head[1] == '\x8b') return Compression::kGzip;
  if (head.size() >= 4 && head.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) return Compression::kZstd;
  if (head.size() >= 4 && head.substr(0, 3) == "BZh" && head[3] >= '1' && head[3] <= '9') return Compression::kBzip2;
  return Compression::kNone;
}

Result<Compression> FileCompression(ReadableFile& file) {
  if (Compression c = DetectCompression(file.path(), {}); c != Compression::kNone) return c;
  char head[4];
  const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof head, file.size()));
  if (n > 0) RETURN_IF_ERROR(file.ReadAt(0, n, head));
  return DetectCompression(file.path(), std::string_view(head, n));
}

template <typename Reader>
Result<std::unique_ptr<DecompressingReader>> OpenReader(std::unique_ptr<ReadableFile> file, Compression c) {
  auto r = std::make_unique<Reader>(std::move(file), c);
  RETURN_IF_ERROR(r->Init());
  return std::unique_ptr<DecompressingReader>(std::move(r));
}

Result<std::unique_ptr<DecompressingReader>> DecompressingReader::Open(std::unique_ptr<ReadableFile> file,
                                                                       Compression c) {
  switch (c) {
    case Compression::kGzip:
      return OpenReader<GzipReader>(std::move(file), c);
    case Compression::kZstd:
      return OpenReader<ZstdReader>(std::move(file), c);
    case Compression::kBzip2:
      return OpenReader<Bzip2Reader>(std::move(file), c);
    case Compression::kNone:
      break;
  }
  return InvalidArgument(file->path() + ": not a compressed file");
}

Result<std::string> DecompressAll(std::unique_ptr<ReadableFile> file, Compression c) {
  ASSIGN_OR_RETURN(auto reader, DecompressingReader::Open(std::move(file), c));
  std::string out;
  std::vector<char> buf(64 << 10);
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, reader->Read(buf.data(), buf.size()));
    if (n == 0) return out;
    out.append(buf.data(), n);
  }
}

}  // namespace sawmill
