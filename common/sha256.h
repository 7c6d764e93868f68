// SHA-256 of files, as lowercase hex: how job binaries are named in the store and checked by
// workers before they run them (content addressing; XXH3 guards against accidents, not people).
#pragma once

#include <string>

#include "common/status.h"

namespace sawmill {

// Streams the file; errors name it.
Result<std::string> Sha256FileHex(const std::string& path);

}  // namespace sawmill
