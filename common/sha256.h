// SHA-256 of files, as lowercase hex: how job binaries are named in the store and checked by
// workers before they run them (content addressing; XXH3 guards against accidents, not people).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sawmill {

class FileSystem;

// SHA-256 of bytes that arrive in pieces.
class Sha256Stream {
 public:
  Sha256Stream();
  void Update(std::string_view bytes);
  std::string FinishHex();  // lowercase hex; call once

 private:
  alignas(8) std::array<unsigned char, 128> ctx_;  // OpenSSL's SHA256_CTX, kept out of this header
};

// Streams the file; errors name it.
Result<std::string> Sha256FileHex(const std::string& path);
// The same of a file of `fs` (the store: the coordinator checks a job's binary).
Result<std::string> Sha256FileHex(FileSystem& fs, const std::string& path);

}  // namespace sawmill
