#include "api/codec.h"

#include "common/checksum.h"

namespace sawmill {

uint64_t Fingerprint64(std::string_view bytes) { return Checksum64(bytes); }

}  // namespace sawmill
