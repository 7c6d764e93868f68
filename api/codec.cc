#include "api/codec.h"

#include <stdexcept>

#include "common/checksum.h"

namespace sawmill {

void ThrowShortInt64(size_t size) {
  throw std::invalid_argument("decoding an 8-byte integer from " + std::to_string(size) + " bytes");
}

void ThrowInt64SumOverflow(int64_t a, int64_t b) {
  throw std::overflow_error("sum overflows int64: " + DecimalString(a) + " + " + DecimalString(b));
}

uint64_t Fingerprint64(std::string_view bytes) { return Checksum64(bytes); }

}  // namespace sawmill
