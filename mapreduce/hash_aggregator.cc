#include "mapreduce/hash_aggregator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/coding.h"
#include "mapreduce/user_code_errors.h"

namespace sawmill {
namespace {

constexpr size_t kInitialSlots = 1 << 12;
constexpr size_t kMinSlots = 64;

// The largest power-of-two slot count whose table fits in `bytes`.
size_t SlotsFitting(size_t bytes) {
  size_t n = kMinSlots;
  while (n * 2 * sizeof(HashAggregator::Slot) <= bytes) n *= 2;
  return n;
}

// Equality of short byte strings without a libc call.
inline bool BytesEqual(const char* a, const char* b, size_t n) {
  while (n >= 8) {
    uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    if (x != y) return false;
    a += 8, b += 8, n -= 8;
  }
  while (n > 0) {
    if (*a++ != *b++) return false;
    --n;
  }
  return true;
}

}  // namespace

HashAggregator::HashAggregator(const Combiner* combiner, size_t budget)
    : combiner_(combiner), fixed_size_(combiner->fixed_size()), budget_(budget) {
  Resize(std::min(kInitialSlots, SlotsFitting(budget / 2)));
}

void HashAggregator::Resize(size_t n) {
  BigBuffer old_table = std::move(table_);
  Slot* old = slots_;
  size_t old_n = capacity_;
  table_ = BigBuffer(n * sizeof(Slot));  // fresh anonymous memory reads as zeros
  slots_ = reinterpret_cast<Slot*>(table_.data());
  capacity_ = n;
  for (size_t i = 0; i < old_n; ++i) {
    if (old[i].hash == 0) continue;
    size_t j = old[i].hash & (n - 1);
    while (slots_[j].hash != 0) j = (j + 1) & (n - 1);
    slots_[j] = old[i];
  }
  bytes_ += (n - old_n) * sizeof(Slot);
}

void HashAggregator::Grow() { Resize(capacity_ * 2); }

uint64_t HashAggregator::Hash(std::string_view key) {
  if (key.size() <= kShortKey) {
    uint64_t w[2];
    LoadShort(key, w);
    return ShortHash(w, key.size());
  }
  return static_cast<uint32_t>(XXH3_64bits(key.data(), key.size())) | 1u;  // what a slot keeps
}

void HashAggregator::Reset(const Combiner* combiner, size_t budget) {
  combiner_ = combiner;
  fixed_size_ = combiner->fixed_size();
  budget_ = budget;
  if (capacity_ * sizeof(Slot) > budget / 2) {
    table_ = BigBuffer();
    slots_ = nullptr;
    capacity_ = 0;
    bytes_ = 0;
    Resize(std::min(kInitialSlots, SlotsFitting(budget / 2)));
  }
  Clear();
}

void HashAggregator::ProcessPending() {
  int first = (head_ - pending_ + kAhead) % kAhead;
  for (int i = 0; i < pending_; ++i) {
    Probe(ring_[(first + i) % kAhead]);
  }
  pending_ = 0;
  head_ = 0;
}

void HashAggregator::Probe(uint64_t h, std::string_view key, std::string_view value) {
  size_t mask = capacity_ - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot* s = &slots_[i];
    if (s->hash == h) {
      bool equal = s->key_len != kExternal
                       ? s->key_len == key.size() && BytesEqual(s->data, key.data(), key.size())
                       : std::string_view(external_[Ext(*s)].key) == key;
      if (equal) return Fold(s, key, value);
    } else if (s->hash == 0) {
      Insert(s, h, key, value);
      // Linear probing stays short below 70% load; past that, grow within the budget or spill.
      if (++count_ * 10 > capacity_ * 7) {
        if ((capacity_ * 2) * sizeof(Slot) <= budget_ / 2) {
          Grow();
        } else {
          table_full_ = true;
        }
      }
      return;
    }
  }
}

// Probe for a packed record: the key's padded words against the slot's first 16 bytes, masked
// to the key's length (the value follows the key there).
void HashAggregator::ProbeShort(const Pending& p) {
  size_t mask = capacity_ - 1;
  size_t len = p.key_len;
  uint64_t m0 = kShortKeyMask[len][0], m1 = kShortKeyMask[len][1];
  for (size_t i = p.hash & mask;; i = (i + 1) & mask) {
    Slot* s = &slots_[i];
    if (s->hash == p.hash) {
      if (s->key_len == len) {
        uint64_t a[2];
        std::memcpy(a, s->data, 16);
        if ((((a[0] & m0) ^ p.words[0]) | ((a[1] & m1) ^ p.words[1])) == 0) {
          // Fold's fixed-size path, inline: calling Fold here cost 9 % of a word count.
          if (fixed_size_ == 8 && s->acc_len == 8) {
            try {
              combiner_->CombineFixed(s->data + len, p.small);
            } catch (...) {
              RethrowNamingKey(p.key());
            }
            return;
          }
          return Fold(s, p.key(), p.value());
        }
      } else if (s->key_len == kExternal && std::string_view(external_[Ext(*s)].key) == p.key()) {
        return Fold(s, p.key(), p.value());
      }
    } else if (s->hash == 0) {
      return Probe(p.hash, p.key(), p.value());  // inserts at s
    }
  }
}

void HashAggregator::Insert(Slot* s, uint64_t h, std::string_view key, std::string_view value) {
  s->hash = static_cast<uint32_t>(h);
  if (key.size() + value.size() <= kInline) {
    s->key_len = static_cast<uint8_t>(key.size());
    s->acc_len = static_cast<uint8_t>(value.size());
    std::memcpy(s->data, key.data(), key.size());
    std::memcpy(s->data + key.size(), value.data(), value.size());
    return;
  }
  AddExternal(s, key, value);
}

void HashAggregator::AddExternal(Slot* s, std::string_view key, std::string_view acc) {
  uint32_t i = static_cast<uint32_t>(external_.size());
  external_.push_back(External{std::string(key), std::string(acc)});
  s->key_len = kExternal;
  s->acc_len = 0;
  std::memcpy(s->data, &i, 4);
  bytes_ += sizeof(External) + key.size() + acc.size();
}

// A combiner's exception (e.g. an int64 sum past its range) leaves naming the key.
void HashAggregator::Fold(Slot* s, std::string_view key, std::string_view value) try {
  if (s->key_len == kExternal) {
    std::string& acc = external_[Ext(*s)].acc;
    size_t before = acc.capacity();
    combiner_->Combine(key, &acc, value);
    if (acc.capacity() > before) bytes_ += acc.capacity() - before;
    return;
  }
  if (fixed_size_ != 0 && s->acc_len == fixed_size_ && value.size() == fixed_size_) {
    combiner_->CombineFixed(s->data + s->key_len, value.data());
    return;
  }
  scratch_.assign(s->data + s->key_len, s->acc_len);
  combiner_->Combine(key, &scratch_, value);
  if (s->key_len + scratch_.size() <= kInline) {
    std::memcpy(s->data + s->key_len, scratch_.data(), scratch_.size());
    s->acc_len = static_cast<uint8_t>(scratch_.size());
    return;
  }
  // The folded value outgrew the slot: move key and value out of line.
  AddExternal(s, key, scratch_);
} catch (...) {
  RethrowNamingKey(key);
}

const std::vector<const HashAggregator::Slot*>& HashAggregator::Sorted(const Partitioner& partitioner,
                                                                      int num_partitions) {
  ProcessPending();
  // Sorted on (partition, 8-byte key prefix) in registers; only runs of equal prefixes (keys
  // longer than 8 bytes, or of different lengths) compare whole keys. Comparing through the slot
  // pointers instead misses the cache on every comparison once the table outgrows it.
  order_.clear();
  order_.reserve(count_);
  if (partitions_.size() < capacity_) partitions_.resize(capacity_);
  for (size_t i = 0; i < capacity_; ++i) {
    Slot& s = slots_[i];
    if (s.hash == 0) continue;
    uint32_t p = num_partitions == 1 ? 0 : static_cast<uint32_t>(partitioner.Partition(key(s), num_partitions));
    partitions_[i] = p;
    order_.push_back({KeyPrefix(key(s)), p, static_cast<uint32_t>(i)});
  }
  std::sort(order_.begin(), order_.end(), [](const Ordered& a, const Ordered& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.prefix < b.prefix;
  });
  sorted_.clear();
  sorted_.reserve(order_.size());
  for (const auto& o : order_) sorted_.push_back(&slots_[o.slot]);
  for (size_t i = 0; i < sorted_.size();) {
    size_t j = i + 1;
    while (j < sorted_.size() && order_[j].partition == order_[i].partition && order_[j].prefix == order_[i].prefix) ++j;
    if (j - i > 1) {
      std::sort(sorted_.begin() + static_cast<ptrdiff_t>(i), sorted_.begin() + static_cast<ptrdiff_t>(j),
                [this](const Slot* a, const Slot* b) { return key(*a) < key(*b); });
    }
    i = j;
  }
  return sorted_;
}

void HashAggregator::Clear() {
  table_full_ = false;
  pending_ = 0;
  head_ = 0;
  std::memset(static_cast<void*>(slots_), 0, capacity_ * sizeof(Slot));
  external_.clear();
  sorted_.clear();
  count_ = 0;
  bytes_ = capacity_ * sizeof(Slot);
}

}  // namespace sawmill
