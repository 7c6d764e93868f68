// Encoding of the index records: document numbers and keys, and a term's header and chunks.
#include "index/index_format.h"

#include <algorithm>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/coding.h"

namespace sawmill::search {

std::string LayerPrefix(std::string_view term, int64_t tf) {
  std::string key(term);
  key.push_back('\0');
  const uint32_t v = 0xFFFFFFFFu - static_cast<uint32_t>(tf);
  const char be[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                      static_cast<char>(v)};
  key.append(be, 4);
  return key;
}

std::string HeaderKey(std::string_view term) { return std::string(term) + '\0'; }

uint64_t DocNumber(std::string_view id, int bits) {
  const uint64_t h = XXH3_64bits(id.data(), id.size());
  return bits >= 64 ? h : h & ((uint64_t{1} << std::max(bits, 1)) - 1);
}

std::string DocKey(uint64_t number) {
  std::string key(1, '\x01');
  PutBigEndian64(&key, number);
  return key;
}

void EncodeTerm(std::string_view term, std::vector<Posting>* postings, size_t chunk_postings,
                const std::function<void(std::string_view key, std::string_view value)>& emit) {
  auto& p = *postings;
  std::sort(p.begin(), p.end(), [](const Posting& a, const Posting& b) { return a.doc < b.doc; });
  size_t n = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (n > 0 && p[n - 1].doc == p[i].doc) {
      p[n - 1].tf += p[i].tf;
    } else {
      p[n++] = p[i];
    }
  }
  p.resize(n);
  for (auto& posting : p) posting.tf = std::clamp<int64_t>(posting.tf, 1, 0xFFFFFFFE);
  // Layers: tf descending, each in document order (the sort is stable).
  std::stable_sort(p.begin(), p.end(), [](const Posting& a, const Posting& b) { return a.tf > b.tf; });
  const size_t chunk = std::max<size_t>(1, chunk_postings);
  std::string header = std::to_string(p.size()) + "\n";
  for (size_t begin = 0, end = 0; begin < p.size(); begin = end) {
    while (end < p.size() && p[end].tf == p[begin].tf) ++end;
    header += std::to_string(p[begin].tf) + "\t" + std::to_string(end - begin) + "\n";
  }
  emit(HeaderKey(term), header);
  std::string key, value;
  for (size_t begin = 0, end = 0; begin < p.size(); begin = end) {
    while (end < p.size() && p[end].tf == p[begin].tf) ++end;
    const std::string prefix = LayerPrefix(term, p[begin].tf);
    for (size_t c = begin; c < end; c += chunk) {
      value.clear();
      const size_t stop = std::min(end, c + chunk);
      uint64_t previous = 0;
      for (size_t i = c; i < stop; ++i) {
        PutVarint64(&value, p[i].doc - previous);  // the first is absolute
        previous = p[i].doc;
      }
      key.assign(prefix);
      PutBigEndian64(&key, p[stop - 1].doc);
      emit(key, value);
    }
  }
}

}  // namespace sawmill::search
