// Checksums and content hashes (xxHash XXH3): 64-bit for block checksums, 128-bit streaming
// for per-file content hashes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sawmill {

uint64_t Checksum64(const void* data, size_t n);
inline uint64_t Checksum64(std::string_view s) { return Checksum64(s.data(), s.size()); }
// Checksum of two byte ranges as if concatenated.
uint64_t Checksum64(const void* a, size_t na, const void* b, size_t nb);

// Streaming 128-bit content hash; Hex() gives 32 lowercase hex digits.
class ContentHasher {
 public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  std::string Hex() const;

 private:
  void* state_;  // XXH3_state_t, kept out of this header.
};

}  // namespace sawmill
