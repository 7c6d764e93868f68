// Map-side hash pre-aggregation (used when a job has a combiner): one entry per distinct key,
// values folded into it with the Combiner as they are emitted, so a counting job sorts and
// spills only distinct keys. Each entry is one 32-byte slot holding the key and the folded value
// inline when they fit (a word of up to 18 bytes and its count do), so a lookup touches one
// cache line and the table is half the size of one with a line per slot.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/big_buffer.h"
#include "mapreduce/user_code.h"

namespace sawmill {

// kShortKeyMask[n]: the low n bytes of a 16-byte key held as two little-endian words.
inline constexpr auto kShortKeyMask = [] {
  std::array<std::array<uint64_t, 2>, 17> m{};
  for (size_t n = 0; n <= 16; ++n) {
    m[n][0] = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
    m[n][1] = n >= 16 ? ~0ull : n <= 8 ? 0 : (1ull << (8 * (n - 8))) - 1;
  }
  return m;
}();

class HashAggregator {
 public:
  // Lookups of a word count's rare words miss the cache: the table's size is its speed. With
  // 64-byte slots a single-thread word count ran 31.2 ns a word against 29.8 now; with 128-byte
  // slots the job ran 25-30 % slower.
  struct alignas(32) Slot {
    uint32_t hash;    // the low 32 bits of the key's hash, forced odd; 0: empty
    uint8_t key_len;  // inline key bytes, or kExternal: key and value live in external_
    uint8_t acc_len;  // inline value bytes
    char data[26];    // inline key bytes, then value bytes; external: the index (4 bytes)
  };
  static constexpr uint8_t kExternal = 0xff;
  static constexpr size_t kInline = sizeof(Slot::data);

  // `budget` bounds the memory held (slots, external keys and values): Full() once reached.
  // The slot table takes at most half of it.
  HashAggregator(const Combiner* combiner, size_t budget);

  // Folds (key, value) in. Records wait in a ring of kAhead whose slots were prefetched when
  // they arrived, so each probe finds its slot loaded (lookups of rare keys miss the cache);
  // records are still folded in emit order. Keys of up to 16 bytes with 8-byte values (a word
  // and its count) travel as two zero-padded words: hashing, staging and comparing them takes no
  // branch on their length (mispredicted ones were a third of WordCount's time).
  void Add(std::string_view key, std::string_view value) {
    Pending& p = ring_[head_];
    if (pending_ == kAhead) {
      Probe(p);
    } else {
      ++pending_;
    }
    if (key.size() <= kShortKey && value.size() == 8) {
      p.packed = true;
      p.key_len = key.size();
      LoadShort(key, p.words);
      std::memcpy(p.small, value.data(), 8);
      p.hash = ShortHash(p.words, key.size());
    } else {
      p.packed = false;
      p.Set(key, value);
      p.hash = Hash(key);
    }
    __builtin_prefetch(&slots_[p.hash & (capacity_ - 1)]);
    head_ = (head_ + 1) % kAhead;
  }
  bool Full() const { return table_full_ || bytes_ >= budget_; }
  bool empty() const { return count_ == 0 && pending_ == 0; }
  // Starts over for a new task with another combiner instance; keeps the slot array.
  void Reset(const Combiner* combiner, size_t budget);

  // Folds staged records, assigns partitions and returns the occupied slots ordered by
  // (partition, key). Valid until the next Add or Clear.
  const std::vector<const Slot*>& Sorted(const Partitioner& partitioner, int num_partitions);
  std::string_view key(const Slot& s) const {
    return s.key_len != kExternal ? std::string_view(s.data, s.key_len) : std::string_view(external_[Ext(s)].key);
  }
  std::string_view value(const Slot& s) const {
    return s.key_len != kExternal ? std::string_view(s.data + s.key_len, s.acc_len)
                                  : std::string_view(external_[Ext(s)].acc);
  }
  // The slot's partition, as assigned by the last Sorted().
  uint32_t partition(const Slot& s) const { return partitions_[static_cast<size_t>(&s - slots_)]; }
  // Forgets all entries; keeps the slot array for the next spill or task.
  void Clear();

 private:
  struct External {
    std::string key, acc;
  };
  // A staged record. Packed (a key of up to kShortKey bytes, an 8-byte value): the key in
  // `words`, zero-padded, the value in small[0..8). Otherwise key then value, inline when they
  // are small (a string assign and append per record were 6% of WordCount's samples), else in
  // `large`.
  struct Pending {
    static constexpr size_t kInline = 48;
    uint64_t hash = 0;
    bool packed = false;
    uint64_t words[2] = {0, 0};
    size_t key_len = 0, len = 0;
    char small[kInline];
    std::string large;
    void Set(std::string_view k, std::string_view v) {
      key_len = k.size();
      len = k.size() + v.size();
      if (len > kInline) {
        large.resize(len);
        if (!k.empty()) std::memcpy(large.data(), k.data(), k.size());
        if (!v.empty()) std::memcpy(large.data() + k.size(), v.data(), v.size());
      } else {
        CopySmall(small, k.data(), k.size());
        CopySmall(small + k.size(), v.data(), v.size());
      }
    }
    // n <= kInline bytes with fixed-size (overlapping) loads and stores: a library call per
    // word and per count was 4.7% of WordCount's samples.
    static void CopySmall(char* to, const char* from, size_t n) {
      if (n >= 16) {
        CopyEnds<16>(to, from, n);
        if (n > 32) std::memcpy(to + 16, from + 16, 16);
      } else if (n >= 8) {
        CopyEnds<8>(to, from, n);
      } else if (n >= 4) {
        CopyEnds<4>(to, from, n);
      } else if (n > 0) {
        to[0] = from[0];
        to[n / 2] = from[n / 2];
        to[n - 1] = from[n - 1];
      }
    }
    // The first and the last k bytes of n >= k (overlapping when n < 2k).
    template <size_t k>
    static void CopyEnds(char* to, const char* from, size_t n) {
      char head[k], tail[k];
      std::memcpy(head, from, k);
      std::memcpy(tail, from + n - k, k);
      std::memcpy(to, head, k);
      std::memcpy(to + n - k, tail, k);
    }
    const char* bytes() const { return len > kInline ? large.data() : small; }
    std::string_view key() const {
      return packed ? std::string_view(reinterpret_cast<const char*>(words), key_len) : std::string_view(bytes(), key_len);
    }
    std::string_view value() const { return packed ? std::string_view(small, 8) : std::string_view(bytes() + key_len, len - key_len); }
  };
  static constexpr int kAhead = 16;
  static constexpr size_t kShortKey = 16;
  // The key's hash: ShortHash of its padded words for keys of up to kShortKey bytes.
  static uint64_t Hash(std::string_view key);
  // key's bytes into w[0..2), zero-padded; key.size() <= kShortKey.
  static void LoadShort(std::string_view key, uint64_t* w);
  static uint64_t ShortHash(const uint64_t* w, size_t len);
  void Probe(const Pending& p) {
    if (p.packed) {
      ProbeShort(p);
    } else {
      Probe(p.hash, p.key(), p.value());
    }
  }
  static uint32_t Ext(const Slot& s) {
    uint32_t i;
    std::memcpy(&i, s.data, 4);
    return i;
  }
  void AddExternal(Slot* s, std::string_view key, std::string_view acc);
  void ProcessPending();
  void Probe(uint64_t h, std::string_view key, std::string_view value);
  void ProbeShort(const Pending& p);
  void Insert(Slot* s, uint64_t h, std::string_view key, std::string_view value);
  void Fold(Slot* s, std::string_view key, std::string_view value);
  void Grow();
  void Resize(size_t slots);

  const Combiner* combiner_;
  size_t fixed_size_ = 0;  // combiner_->fixed_size(), cached
  size_t budget_;
  size_t bytes_ = 0;
  size_t count_ = 0;
  bool table_full_ = false;  // at the load limit and not allowed to grow
  BigBuffer table_;        // huge pages: a lookup of a rare key must not also miss the TLB
  Slot* slots_ = nullptr;
  size_t capacity_ = 0;  // slots; a power of two
  std::vector<External> external_;
  std::string scratch_;
  Pending ring_[kAhead];
  int head_ = 0;     // the oldest pending record when the ring is full, else the next free
  int pending_ = 0;
  struct Ordered {
    uint64_t prefix;
    uint32_t partition;
    uint32_t slot;
  };
  std::vector<Ordered> order_;
  std::vector<const Slot*> sorted_;
  std::vector<uint32_t> partitions_;  // by slot index, from Sorted()

 public:
  HashAggregator(const HashAggregator&) = delete;
  HashAggregator& operator=(const HashAggregator&) = delete;
};

// Reads 16 bytes from key.data() when they lie in the page of the key's first byte (bytes past
// the key are read but masked off: they may belong to another object, hence no address
// sanitizing here), else copies the key's bytes alone (an empty key may point past a mapping).
__attribute__((no_sanitize("address"))) inline void HashAggregator::LoadShort(std::string_view key, uint64_t* w) {
  if ((reinterpret_cast<uintptr_t>(key.data()) & 4095) <= 4096 - 16 && !key.empty()) {
    std::memcpy(w, key.data(), 16);
    w[0] &= kShortKeyMask[key.size()][0];
    w[1] &= kShortKeyMask[key.size()][1];
  } else {
    w[0] = w[1] = 0;
    if (!key.empty()) std::memcpy(w, key.data(), key.size());
  }
}

// A multiply-fold of the two words and the length, then a final mix; without branches.
inline uint64_t HashAggregator::ShortHash(const uint64_t* w, size_t len) {
  unsigned __int128 m = static_cast<unsigned __int128>(w[0] ^ 0x1cad21f72c81017cull) *
                        (w[1] ^ (0xdb979083e96dd4deull + len));
  uint64_t x = static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
  x ^= x >> 37;
  x *= 0x165667919e3779f9ull;
  x ^= x >> 32;
  return static_cast<uint32_t>(x) | 1u;  // what a slot keeps
}

}  // namespace sawmill
