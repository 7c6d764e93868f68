// Compressed input files (gzip, zstd, bzip2) read as the bytes they hold: how a text input such
// as a rotated `access.log.2.gz` is recognised, and a stream that decompresses it as it reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/fs.h"
#include "common/status.h"

namespace sawmill {

enum class Compression { kNone, kGzip, kZstd, kBzip2 };

const char* CompressionName(Compression c);

// The format a file is in: its name's suffix (.gz, .zst, .bz2) or, failing that, its first
// bytes (`head`, at least the first 4 when the file has them) matching a format's magic number.
Compression DetectCompression(std::string_view path, std::string_view head);
// The same for an open file: its path, then its first bytes.
Result<Compression> FileCompression(ReadableFile& file);

// Reads `file` (the whole of it, from its first byte) decompressed. Concatenated members or
// frames (as `cat a.gz b.gz` or pbzip2 make) are read one after the other. A file that ends
// inside a member, or whose bytes are not the format, is kCorruption naming the file and the
// compressed byte offset where it went wrong; never read as text.
class DecompressingReader {
 public:
  static Result<std::unique_ptr<DecompressingReader>> Open(std::unique_ptr<ReadableFile> file, Compression c);
  virtual ~DecompressingReader() = default;
  // Up to n decompressed bytes into dst; 0 once the file's end is reached.
  virtual Result<size_t> Read(char* dst, size_t n) = 0;
  // Compressed bytes consumed so far (for progress).
  virtual uint64_t compressed_offset() const = 0;
};

// Every decompressed byte of a whole compressed file (tests, small files).
Result<std::string> DecompressAll(std::unique_ptr<ReadableFile> file, Compression c);

}  // namespace sawmill
