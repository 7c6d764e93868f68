// wordcount: counts words (maximal runs of bytes other than space, tab, CR and LF).
// Output: (word, count as decimal text). Map-side hash aggregation through the sum combiner.
#include <algorithm>
#include <array>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"

namespace {

using namespace sawmill;

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

class WordMapper final : public Mapper {
 public:
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    char one[8];
    std::string_view v = EncodeInt64(1, one);
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
          ctx.Emit({line.data() + start, base + bit - start}, v);
        } else {
          start = base + bit;
        }
        in_word = !in_word;
      }
    }
    if (in_word) ctx.Emit({line.data() + start, n - start}, v);
  }
};

JobSpec MakeSpec() {
  JobSpec spec;
  spec.name = "wordcount";
  spec.input_format = InputFormat::kTextLines;
  spec.mapper = [] { return std::make_unique<WordMapper>(); };
  spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("wordcount: counts words in text files; output records are (word, count).", MakeSpec)
