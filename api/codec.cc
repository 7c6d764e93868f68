#include "api/codec.h"

#include <stdexcept>

#include "common/checksum.h"

namespace sawmill {

void ThrowInt64SumOverflow(int64_t a, int64_t b) {
  throw std::overflow_error("sum overflows int64: " + DecimalString(a) + " + " + DecimalString(b));
}

uint64_t Fingerprint64(std::string_view bytes) { return Checksum64(bytes); }

}  // namespace sawmill
