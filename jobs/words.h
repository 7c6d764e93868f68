// Word splitting shared by wordcount and wordcount_df: words are maximal runs of bytes other
// than space, tab, CR and LF, found 16 bytes at a time.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace sawmill::words {

constexpr std::array<bool, 256> kSeparator = [] {
  std::array<bool, 256> t{};
  t[' '] = t['\t'] = t['\r'] = t['\n'] = true;
  return t;
}();

// Bit i set when line[base + i] is a separator, for up to 16 bytes.
inline uint32_t SeparatorMask(const unsigned char* p, size_t n) {
#ifdef __SSE2__
  if (n >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))),
                             _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))));
    return static_cast<uint32_t>(_mm_movemask_epi8(m));
  }
#endif
  uint32_t mask = 0;
  for (size_t i = 0; i < n && i < 16; ++i) mask |= static_cast<uint32_t>(kSeparator[p[i]]) << i;
  return mask;
}

// Calls emit(word) for each word of `line`, in order.
template <class Emit>
inline void ForEachWord(std::string_view line, Emit&& emit) {
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  size_t n = line.size();
  bool in_word = false;
  size_t start = 0;
  // Walk 16-byte chunks; words are the runs of clear bits in the separator masks.
  for (size_t base = 0; base < n; base += 16) {
    size_t len = std::min<size_t>(16, n - base);
    uint32_t valid = len == 16 ? 0xffffu : (1u << len) - 1;
    uint32_t sep = SeparatorMask(p + base, len) & valid;
    uint32_t word = ~sep & valid;
    while (true) {
      uint32_t next = in_word ? sep : word;
      if (next == 0) break;
      int bit = __builtin_ctz(next);
      uint32_t below = (2u << bit) - 1;  // bits 0..bit
      sep &= ~below;
      word &= ~below;
      if (in_word) {
        emit(std::string_view(line.data() + start, base + bit - start));
      } else {
        start = base + bit;
      }
      in_word = !in_word;
    }
  }
  if (in_word) emit(std::string_view(line.data() + start, n - start));
}

}  // namespace sawmill::words
