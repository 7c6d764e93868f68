#include "common/compression.h"

#include <lz4.h>

namespace sawmill {

size_t Lz4MaxCompressedSize(size_t n) { return static_cast<size_t>(LZ4_compressBound(static_cast<int>(n))); }

size_t Lz4Compress(const char* src, size_t n, char* dst, size_t capacity, int acceleration) {
  if (n > LZ4_MAX_INPUT_SIZE) return 0;
  int r = LZ4_compress_fast(src, dst, static_cast<int>(n), static_cast<int>(capacity), acceleration);
  return r <= 0 ? 0 : static_cast<size_t>(r);
}

Status Lz4Decompress(const char* src, size_t n, char* dst, size_t raw_size) {
  if (n > LZ4_MAX_INPUT_SIZE || raw_size > LZ4_MAX_INPUT_SIZE) return Corruption("lz4 block too large");
  int r = LZ4_decompress_safe(src, dst, static_cast<int>(n), static_cast<int>(raw_size));
  if (r < 0 || static_cast<size_t>(r) != raw_size) return Corruption("lz4 block does not decompress");
  return Status::Ok();
}

}  // namespace sawmill
