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

// Checksum64 of bytes that arrive in pieces: Digest() equals Checksum64 over everything updated
// since the last Reset (or construction). For checking a block as it streams in.
class Checksum64Stream {
 public:
  Checksum64Stream();
  ~Checksum64Stream();
  Checksum64Stream(const Checksum64Stream&) = delete;
  Checksum64Stream& operator=(const Checksum64Stream&) = delete;
  void Reset();
  void Update(const void* data, size_t n);
  uint64_t Digest() const;

 private:
  void* state_;  // XXH3_state_t, kept out of this header.
};

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
