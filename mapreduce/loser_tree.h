// A loser tree (tournament tree) for k-way merges: after each advance the next smallest source
// is found with log2(k) comparisons, each against a stored loser. Order is (key, source index),
// so equal keys come out in source order, which keeps merges stable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace sawmill {

inline uint64_t LoadBigEndian64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// Source must provide `bool Next()` (advance; false when exhausted) and `std::string_view key()`.
template <typename Source>
class LoserTree {
 public:
  explicit LoserTree(std::vector<Source*> sources) : src_(std::move(sources)), k_(src_.size()) {}

  // Loads the first record of every source and builds the tree. Call once before Top().
  void Init() {
    live_.assign(k_, false);
    for (size_t i = 0; i < k_; ++i) live_[i] = src_[i]->Next();
    tree_.assign(k_ == 0 ? 1 : k_, k_);  // k_ stands for a virtual source that beats everyone
    for (size_t i = k_; i-- > 0;) Adjust(i);
  }
  // Index of the smallest live source, or -1 when all are exhausted.
  long Top() const { return k_ == 0 || !live_[tree_[0]] ? -1 : static_cast<long>(tree_[0]); }
  Source* source(size_t i) const { return src_[i]; }
  // Advances the top source and restores the tree.
  void Pop() {
    size_t w = tree_[0];
    live_[w] = src_[w]->Next();
    Adjust(w);
  }

 private:
  // True when source a must come out before source b.
  bool Before(size_t a, size_t b) const {
    if (a == k_) return true;
    if (b == k_) return false;
    if (!live_[a]) return false;
    if (!live_[b]) return true;
    std::string_view ka = src_[a]->key(), kb = src_[b]->key();
    // Most keys differ in their first 8 bytes: compare those as one integer first.
    if (ka.size() >= 8 && kb.size() >= 8) {
      uint64_t pa = LoadBigEndian64(ka.data()), pb = LoadBigEndian64(kb.data());
      if (pa != pb) return pa < pb;
    }
    int c = ka.compare(kb);
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
  std::vector<bool> live_;
};

}  // namespace sawmill
