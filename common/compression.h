// LZ4 block compression used by every record block, spill and shuffle segment.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace sawmill {

// Upper bound of the compressed size of n bytes.
size_t Lz4MaxCompressedSize(size_t n);
// Compresses src[0,n) into dst (capacity Lz4MaxCompressedSize(n)); returns the compressed size,
// or 0 when LZ4 fails. `acceleration` > 1 trades ratio for speed.
size_t Lz4Compress(const char* src, size_t n, char* dst, size_t capacity, int acceleration = 1);
// Decompresses exactly `raw_size` bytes; kCorruption when the input is malformed or the size
// does not match.
Status Lz4Decompress(const char* src, size_t n, char* dst, size_t raw_size);

}  // namespace sawmill
