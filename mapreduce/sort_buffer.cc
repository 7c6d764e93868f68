#include "mapreduce/sort_buffer.h"

#include <algorithm>
#include <vector>

#include "common/coding.h"

namespace sawmill {

SortBuffer::SortBuffer(size_t capacity)
    : buf_(std::min<size_t>(capacity, size_t{4} << 30) & ~size_t{15}),
      capacity_(buf_.capacity()), index_begin_(capacity_) {}

bool SortBuffer::Add(uint32_t partition, std::string_view key, std::string_view value) {
  size_t need = RecordBytes(key, value);
  size_t record_at = (data_end_ + 3) & ~size_t{3};
  // Below the entries stays room for as many again: the radix sort's scratch.
  if (record_at + need + 2 * sizeof(Entry) > 2 * index_begin_ - capacity_) return false;
  char* p = buf_.data() + record_at;
  uint32_t klen = static_cast<uint32_t>(key.size()), vlen = static_cast<uint32_t>(value.size());
  std::memcpy(p, &klen, 4);
  std::memcpy(p + 4, &vlen, 4);
  std::memcpy(p + 8, key.data(), key.size());
  std::memcpy(p + 8 + key.size(), value.data(), value.size());
  data_end_ = record_at + need;
  index_begin_ -= sizeof(Entry);
  uint32_t exact = key.size() <= 8 && (key.empty() || key.back() != '\0') ? kExact : 0;
  *reinterpret_cast<Entry*>(buf_.data() + index_begin_) =
      Entry{KeyPrefix(key), partition, static_cast<uint32_t>(record_at) | exact};
  return true;
}

// Runs of equal (partition, prefix) are rare with distinct keys but long with skewed ones (a hot
// join key); comparing their full keys with memcmp would touch the arena on every comparison.
// Instead each entry's next 8 key bytes are loaded once per depth and the run is sorted in
// registers, recursing into ties of longer keys. The order is the same: (partition, key bytes,
// shorter key first, emit order).
void SortBuffer::SortRun(Entry* b, Entry* e, size_t depth) {
  size_t n = static_cast<size_t>(e - b);
  size_t level = depth / 8;
  if (rekeyed_.size() <= level) rekeyed_.resize(level + 1);
  std::vector<Rekeyed>& keys = rekeyed_[level];
  if (keys.size() < n) keys.resize(n);
  constexpr size_t kAhead = 8;  // the run's records lie all over the arena: fetch ahead
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) Prefetch(b[i + kAhead]);
    std::string_view k = key(b[i]);
    std::string_view rest = k.substr(std::min(depth, k.size()));  // keeps a non-null data()
    keys[i] = {KeyPrefix(rest), static_cast<uint32_t>(std::min(k.size(), depth + 9)), static_cast<uint32_t>(i)};
  }
  // The run arrives in emit order (Sort's radix sort is stable), so the index breaks
  // ties; a hot key's run, all one key, is already in order and is left as it is.
  auto less = [](const Rekeyed& x, const Rekeyed& y) {
    if (x.chunk != y.chunk) return x.chunk < y.chunk;
    if (x.length != y.length) return x.length < y.length;
    return x.index < y.index;
  };
  auto end = keys.begin() + static_cast<ptrdiff_t>(n);
  if (!std::is_sorted(keys.begin(), end, less)) {
    std::sort(keys.begin(), end, less);
    if (sorted_.size() < n) sorted_.resize(n);
    for (size_t i = 0; i < n; ++i) sorted_[i] = b[keys[i].index];
    std::copy(sorted_.begin(), sorted_.begin() + static_cast<ptrdiff_t>(n), b);
  }
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && keys[j].chunk == keys[i].chunk && keys[j].length == keys[i].length) ++j;
    if (j - i > 1 && keys[i].length == depth + 9) SortRun(b + i, b + j, depth + 8);
    i = j;
  }
}

// Stable LSD radix sort on the (partition, prefix) bytes that vary, least significant first,
// between the entries and the scratch index below them; returns where the sorted entries are.
// The entries lie in reverse emit order (the index grows down): the first pass reads them
// backwards, so ties come out in emit order.
SortBuffer::Entry* SortBuffer::RadixSortStable(uint32_t partition_diff, uint64_t prefix_diff) {
  size_t n = size();
  Entry* a = entries();
  Entry* tmp = a - n;  // Add keeps [data_end_, index_begin_) at least n entries long
  // Radix positions 0..11: the prefix's bytes from the lowest, then the partition's.
  int positions[12];
  int k = 0;
  for (int pos = 0; pos < 12; ++pos) {
    bool varies = pos < 8 ? ((prefix_diff >> (8 * pos)) & 0xff) != 0 : ((partition_diff >> (8 * (pos - 8))) & 0xff) != 0;
    if (varies) positions[k++] = pos;
  }
  if (k == 0) {
    std::reverse(a, a + n);
    return a;
  }
  auto digit = [](const Entry& e, int pos) -> unsigned {
    return pos < 8 ? static_cast<unsigned>(e.prefix >> (8 * pos)) & 0xff
                   : static_cast<unsigned>(e.partition >> (8 * (pos - 8))) & 0xff;
  };
  // Every pass's counts in one read of the entries.
  std::vector<uint32_t>& counts = radix_counts_;
  counts.assign(static_cast<size_t>(k) * 256, 0);
  for (size_t i = 0; i < n; ++i) {
    for (int j = 0; j < k; ++j) ++counts[static_cast<size_t>(j) * 256 + digit(a[i], positions[j])];
  }
  Entry* from = a;
  Entry* to = tmp;
  for (int j = 0; j < k; ++j) {
    uint32_t at[256];
    uint32_t sum = 0;
    for (int b = 0; b < 256; ++b) {
      at[b] = sum;
      sum += counts[static_cast<size_t>(j) * 256 + static_cast<size_t>(b)];
    }
    int pos = positions[j];
    if (j == 0) {
      for (size_t i = n; i-- > 0;) to[at[digit(from[i], pos)]++] = from[i];
    } else {
      for (size_t i = 0; i < n; ++i) to[at[digit(from[i], pos)]++] = from[i];
    }
    std::swap(from, to);
  }
  return from;
}

void SortBuffer::Sort() {
  Entry* b = entries();
  size_t n = size();
  sorted_at_ = b;
  if (n == 0) return;
  uint32_t partition_diff = 0;
  uint64_t prefix_diff = 0;
  for (size_t i = 0; i < n; ++i) {
    partition_diff |= b[i].partition ^ b[0].partition;
    prefix_diff |= b[i].prefix ^ b[0].prefix;
  }
  b = sorted_at_ = RadixSortStable(partition_diff, prefix_diff);
  Entry* e = b + n;
  for (Entry* i = b; i < e;) {
    Entry* j = i + 1;
    uint32_t exact = i->offset_bits;
    while (j < e && j->partition == i->partition && j->prefix == i->prefix) exact &= (j++)->offset_bits;
    // Equal prefixes leave keys undecided when one is longer than 8 bytes or their lengths
    // differ ("a" < "a\0" although both pad to the same prefix).
    if (j - i > 1 && !(exact & kExact)) SortRun(i, j, 8);
    i = j;
  }
}

}  // namespace sawmill
