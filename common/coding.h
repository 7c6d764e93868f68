// Byte encodings shared by every format: varints, fixed-width little-endian integers, and the
// order-preserving big-endian encodings used for keys.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sawmill {

inline void PutFixed32(std::string* dst, uint32_t v) { dst->append(reinterpret_cast<const char*>(&v), 4); }
inline void PutFixed64(std::string* dst, uint64_t v) { dst->append(reinterpret_cast<const char*>(&v), 8); }
inline uint32_t DecodeFixed32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t DecodeFixed64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
inline void EncodeFixed32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void EncodeFixed64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }

// Writes v as a LEB128 varint at p (at most 10 bytes); returns the end.
inline char* EncodeVarint64(char* p, uint64_t v) {
  auto* u = reinterpret_cast<unsigned char*>(p);
  while (v >= 0x80) { *u++ = static_cast<unsigned char>(v | 0x80); v >>= 7; }
  *u++ = static_cast<unsigned char>(v);
  return reinterpret_cast<char*>(u);
}
inline void PutVarint64(std::string* dst, uint64_t v) {
  char buf[10];
  dst->append(buf, EncodeVarint64(buf, v) - buf);
}
inline int VarintLength(uint64_t v) {
  int n = 1;
  while (v >= 0x80) { v >>= 7; ++n; }
  return n;
}
// Reads a varint from [p, limit); returns the byte after it, or nullptr if truncated or over-long.
inline const char* DecodeVarint64(const char* p, const char* limit, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && p < limit; shift += 7) {
    uint64_t byte = static_cast<unsigned char>(*p++);
    if (shift == 63 && byte > 1) return nullptr;
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) { *v = result; return p; }
  }
  return nullptr;
}

// Big-endian load of the first 8 bytes of s, zero-padded: compares like memcmp on the prefix.
inline uint64_t KeyPrefix(std::string_view s) {
  unsigned char b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(b, s.data(), s.size() < 8 ? s.size() : 8);
  uint64_t v;
  std::memcpy(&v, b, 8);
  return __builtin_bswap64(v);
}

inline void PutBigEndian64(std::string* dst, uint64_t v) {
  uint64_t be = __builtin_bswap64(v);
  dst->append(reinterpret_cast<const char*>(&be), 8);
}
inline uint64_t DecodeBigEndian64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// Keys in memcmp order, 8-byte keys (encoded integers) compared as one word: merges and sorted
// writers compare every record's key, and a memcmp call showed in their profiles.
inline bool KeyLess(std::string_view a, std::string_view b) {
  if (a.size() == 8 && b.size() == 8) return DecodeBigEndian64(a.data()) < DecodeBigEndian64(b.data());
  return a < b;
}
inline bool KeyEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.size() == 8 ? DecodeBigEndian64(a.data()) == DecodeBigEndian64(b.data()) : a == b;
}

}  // namespace sawmill
