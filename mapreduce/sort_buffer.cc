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
  constexpr size_t kAhead = 8;  // the run's records lie all over the arena: fetch ahead
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) Prefetch(b[i + kAhead]);
    std::string_view k = key(b[i]);
    std::string_view rest = k.substr(std::min(depth, k.size()));  // keeps a non-null data()
    keys[i] = {KeyPrefix(rest), static_cast<uint32_t>(std::min(k.size(), depth + 9)), static_cast<uint32_t>(i)};
  }
  // The run arrives in emit order (Sort's radix key ends with the offset), so the index breaks
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

namespace {

// Byte d of an entry's 16-byte radix key: the partition, the prefix and the offset, all
// big-endian, so that byte order is (partition, prefix, emit order) order. Offsets are unique:
// the key orders every entry.
constexpr int kRadixBytes = 16;
inline unsigned RadixDigit(const SortBuffer::Entry& e, int d) {
  if (d < 4) return (e.partition >> (24 - 8 * d)) & 0xff;
  if (d < 12) return (e.prefix >> (56 - 8 * (d - 4))) & 0xff;
  return (e.offset >> (24 - 8 * (d - 12))) & 0xff;
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
// (partition, prefix, offset). A byte every entry shares is skipped without moving anything;
// small buckets finish with insertion sort. Entries equal in (partition, prefix), a hot key's,
// are ordered by their offsets' bytes like any others: no comparison sort of millions.
void RadixSort(SortBuffer::Entry* a, size_t n, int d) {
  // A pass costs a few 256-entry loops: below kSmall, comparison sorts are cheaper (keys of
  // decimal digits fill only 10 buckets a byte).
  constexpr size_t kInsertion = 32, kSmall = 384;
  for (;; ++d) {
    if (n <= kInsertion || d == kRadixBytes) return InsertionSort(a, n);
    if (n <= kSmall) return std::sort(a, a + n, [](const SortBuffer::Entry& x, const SortBuffer::Entry& y) { return EntryLess(x, y); });
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
                             : prefix_diff ? 4 + __builtin_clzll(prefix_diff) / 8 : 12;  // offsets always differ
  RadixSort(b, static_cast<size_t>(e - b), first);
  for (Entry* i = b; i < e;) {
    Entry* j = i + 1;
    while (j < e && j->partition == i->partition && j->prefix == i->prefix) ++j;
    // Equal prefixes leave keys undecided when one is longer than 8 bytes or their lengths
    // differ ("a" < "a\0" although both pad to the same prefix).
    if (j - i > 1) SortRun(i, j, 8);
    i = j;
  }
}

}  // namespace sawmill
