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
  if (record_at + need + sizeof(Entry) > index_begin_) return false;
  char* p = buf_.data() + record_at;
  uint32_t klen = static_cast<uint32_t>(key.size()), vlen = static_cast<uint32_t>(value.size());
  std::memcpy(p, &klen, 4);
  std::memcpy(p + 4, &vlen, 4);
  std::memcpy(p + 8, key.data(), key.size());
  std::memcpy(p + 8 + key.size(), value.data(), value.size());
  data_end_ = record_at + need;
  index_begin_ -= sizeof(Entry);
  *reinterpret_cast<Entry*>(buf_.data() + index_begin_) =
      Entry{KeyPrefix(key), partition, static_cast<uint32_t>(record_at)};
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
  for (size_t i = 0; i < n; ++i) {
    std::string_view k = key(b[i]);
    std::string_view rest = k.substr(std::min(depth, k.size()));  // keeps a non-null data()
    keys[i] = {KeyPrefix(rest), static_cast<uint32_t>(std::min<size_t>(rest.size(), 9)), static_cast<uint32_t>(i)};
  }
  std::sort(keys.begin(), keys.begin() + static_cast<ptrdiff_t>(n), [b](const Rekeyed& x, const Rekeyed& y) {
    if (x.chunk != y.chunk) return x.chunk < y.chunk;
    if (x.rest != y.rest) return x.rest < y.rest;
    return b[x.index].offset < b[y.index].offset;
  });
  if (sorted_.size() < n) sorted_.resize(n);
  for (size_t i = 0; i < n; ++i) sorted_[i] = b[keys[i].index];
  std::copy(sorted_.begin(), sorted_.begin() + static_cast<ptrdiff_t>(n), b);
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && keys[j].chunk == keys[i].chunk && keys[j].rest == keys[i].rest) ++j;
    if (j - i > 1 && keys[i].rest == 9) SortRun(b + i, b + j, depth + 8);
    i = j;
  }
}

namespace {

// Byte d of an entry's 12-byte radix key: the partition then the prefix, both big-endian, so that
// byte order is (partition, prefix) order.
inline unsigned RadixDigit(const SortBuffer::Entry& e, int d) {
  return d < 4 ? (e.partition >> (24 - 8 * d)) & 0xff : (e.prefix >> (56 - 8 * (d - 4))) & 0xff;
}

inline bool EntryLess(const SortBuffer::Entry& x, const SortBuffer::Entry& y) {
  if (x.partition != y.partition) return x.partition < y.partition;
  if (x.prefix != y.prefix) return x.prefix < y.prefix;
  return x.offset < y.offset;
}

void InsertionSort(SortBuffer::Entry* a, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    SortBuffer::Entry v = a[i];
    size_t j = i;
    for (; j > 0 && EntryLess(v, a[j - 1]); --j) a[j] = a[j - 1];
    a[j] = v;
  }
}

// In-place MSD radix sort (American flag sort) of [a, a+n) on radix bytes d.. of
// (partition, prefix), then emit order. A byte every entry shares is skipped without moving
// anything; small buckets finish with insertion sort; entries equal in all 12 bytes (a hot key)
// are put back in emit order, which the in-place permutation does not keep.
void RadixSort(SortBuffer::Entry* a, size_t n, int d) {
  constexpr size_t kSmall = 48;
  for (;; ++d) {
    if (n <= kSmall) return InsertionSort(a, n);
    if (d == 12) {
      std::sort(a, a + n, [](const SortBuffer::Entry& x, const SortBuffer::Entry& y) { return x.offset < y.offset; });
      return;
    }
    size_t count[256] = {};
    for (size_t i = 0; i < n; ++i) ++count[RadixDigit(a[i], d)];
    if (count[RadixDigit(a[0], d)] == n) continue;
    size_t head[256], end[256];
    for (size_t b = 0, at = 0; b < 256; ++b) {
      head[b] = at;
      at += count[b];
      end[b] = at;
    }
    for (unsigned b = 0; b < 256; ++b) {
      while (head[b] < end[b]) {
        SortBuffer::Entry v = a[head[b]];
        for (unsigned to = RadixDigit(v, d); to != b; to = RadixDigit(v, d)) std::swap(v, a[head[to]++]);
        a[head[b]++] = v;
      }
    }
    for (size_t b = 0, at = 0; b < 256; at += count[b], ++b) {
      if (count[b] > 1) RadixSort(a + at, count[b], d + 1);
    }
    return;
  }
}

}  // namespace

void SortBuffer::Sort() {
  Entry* b = entries();
  Entry* e = b + size();
  if (b == e) return;
  // Skip the leading radix bytes every entry shares (the partition's high bytes, a common key
  // prefix) in one pass instead of one counting pass each.
  uint32_t partition_diff = 0;
  uint64_t prefix_diff = 0;
  for (const Entry* i = b; i < e; ++i) {
    partition_diff |= i->partition ^ b->partition;
    prefix_diff |= i->prefix ^ b->prefix;
  }
  int first = partition_diff ? __builtin_clz(partition_diff) / 8
                             : prefix_diff ? 4 + __builtin_clzll(prefix_diff) / 8 : 12;
  RadixSort(b, static_cast<size_t>(e - b), first);
  for (Entry* i = b; i < e;) {
    Entry* j = i + 1;
    while (j < e && j->partition == i->partition && j->prefix == i->prefix) ++j;
    if (j - i > 1) {
      // Equal prefixes leave keys undecided when one is longer than 8 bytes or their lengths
      // differ ("a" < "a\0" although both pad to the same prefix).
      size_t size = key(*i).size();
      if (std::any_of(i, j, [&](const Entry& x) { return key(x).size() > 8 || key(x).size() != size; })) {
        SortRun(i, j, 0);
      }
    }
    i = j;
  }
}

}  // namespace sawmill
