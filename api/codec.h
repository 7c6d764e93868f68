// Order-preserving encodings for keys and compact encodings for values: memcmp order of the
// encoded bytes equals the numeric order. Also a fast 64-bit fingerprint of bytes.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sawmill {

// Unsigned: 8 bytes big-endian.
inline std::string EncodeUint64(uint64_t v) {
  uint64_t be = __builtin_bswap64(v);
  return std::string(reinterpret_cast<const char*>(&be), 8);
}
// Fewer than 8 bytes (a key or value that is not an encoded integer: the caller's bug) throw
// std::invalid_argument naming the size; in a map or reduce task that fails the task naming the
// record or key. Longer input: its first 8 bytes are decoded.
[[noreturn]] void ThrowShortInt64(size_t size);
inline uint64_t DecodeUint64(std::string_view s) {
  if (s.size() < 8) [[unlikely]] ThrowShortInt64(s.size());
  uint64_t v;
  std::memcpy(&v, s.data(), 8);
  return __builtin_bswap64(v);
}
// Signed: big-endian with the sign bit flipped, so negatives sort first. Decoding takes 8 bytes
// as DecodeUint64 does.
inline std::string EncodeInt64(int64_t v) { return EncodeUint64(static_cast<uint64_t>(v) ^ (1ull << 63)); }
inline int64_t DecodeInt64(std::string_view s) { return static_cast<int64_t>(DecodeUint64(s) ^ (1ull << 63)); }
// Writes the 8-byte signed encoding into buf (no allocation).
inline std::string_view EncodeInt64(int64_t v, char (&buf)[8]) {
  uint64_t be = __builtin_bswap64(static_cast<uint64_t>(v) ^ (1ull << 63));
  std::memcpy(buf, &be, 8);
  return {buf, 8};
}

// a + b for the int64 sums (api/combiners.h, api/reducers.h); a sum outside int64's range
// throws std::overflow_error naming both terms (signed overflow would be undefined behaviour),
// and the runtime fails the task naming the key.
[[noreturn]] void ThrowInt64SumOverflow(int64_t a, int64_t b);
inline int64_t AddInt64OrThrow(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) [[unlikely]] ThrowInt64SumOverflow(a, b);
  return sum;
}

inline std::string DecimalString(int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// XXH3 64-bit of the bytes: stable across runs and machines.
uint64_t Fingerprint64(std::string_view bytes);

}  // namespace sawmill
