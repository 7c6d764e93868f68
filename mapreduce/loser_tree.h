// A loser tree (tournament tree) for k-way merges: after each advance the next smallest source
// is found with log2(k) comparisons, each against a stored loser. Order is (key, source index),
// so equal keys come out in source order, which keeps merges stable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/coding.h"

namespace sawmill {

inline uint64_t LoadBigEndian64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// Source must provide `bool Next()` (advance; false when exhausted) and `std::string_view key()`
// (valid until its next Next()).
template <typename Source>
class LoserTree {
 public:
  explicit LoserTree(std::vector<Source*> sources) : src_(std::move(sources)), k_(src_.size()) {}

  // Loads the first record of every source and builds the tree. Call once before Top().
  void Init() {
    head_.assign(k_, Head{});
    for (size_t i = 0; i < k_; ++i) Load(i);
    tree_.assign(k_ == 0 ? 1 : k_, k_);  // k_ stands for a virtual source that beats everyone
    for (size_t i = k_; i-- > 0;) Adjust(i);
  }
  // Index of the smallest live source, or -1 when all are exhausted.
  long Top() const { return k_ == 0 || !head_[tree_[0]].live ? -1 : static_cast<long>(tree_[0]); }
  Source* source(size_t i) const { return src_[i]; }
  // Advances the top source and restores the tree.
  void Pop() {
    size_t w = tree_[0];
    Load(w);
    Adjust(w);
  }

 private:
  // Each source's current key and its first 8 bytes (big-endian, zero-padded), kept beside the
  // tree so that a comparison reads neither the source nor, mostly, the key's bytes.
  struct Head {
    uint64_t prefix = 0;
    std::string_view key;
    bool live = false;
  };
  void Load(size_t i) {
    Head& h = head_[i];
    h.live = src_[i]->Next();
    if (!h.live) return;
    h.key = src_[i]->key();
    h.prefix = h.key.size() >= 8 ? LoadBigEndian64(h.key.data()) : h.key.empty() ? 0 : KeyPrefix(h.key);
  }
  // True when source a must come out before source b.
  bool Before(size_t a, size_t b) const {
    if (a == k_) return true;
    if (b == k_) return false;
    const Head& x = head_[a];
    const Head& y = head_[b];
    if (!x.live) return false;
    if (!y.live) return true;
    if (x.prefix != y.prefix) return x.prefix < y.prefix;
    // Equal padded prefixes of keys of at most 8 bytes: equal keys, or one is the other with
    // zeros appended (shorter first). Ties of equal keys keep source order.
    if (x.key.size() <= 8 && y.key.size() <= 8) {
      return x.key.size() != y.key.size() ? x.key.size() < y.key.size() : a < b;
    }
    int c = x.key.compare(y.key);
    return c < 0 || (c == 0 && a < b);
  }
  void Adjust(size_t s) {
    for (size_t t = (s + k_) / 2; t > 0; t /= 2) {
      if (Before(tree_[t], s)) std::swap(s, tree_[t]);
    }
    tree_[0] = s;
  }

  std::vector<Source*> src_;
  size_t k_;
  std::vector<size_t> tree_;
  std::vector<Head> head_;
};

}  // namespace sawmill
