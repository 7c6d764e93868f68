#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>

#include "mapreduce/loser_tree.h"
#include "mapreduce/merger.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

using Rec = std::tuple<int32_t, std::string, std::string>;  // partition, key, value

// Writes sorted (within partitions) files; values say which file and position they came from.
std::vector<std::string> MakeFiles(const testing::TempDir& dir, int files, int partitions, std::vector<Rec>* all) {
  std::mt19937_64 rng(11);
  std::vector<std::string> paths;
  for (int f = 0; f < files; ++f) {
    std::vector<Rec> recs;
    int n = static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      recs.emplace_back(static_cast<int32_t>(rng() % partitions), "k" + std::to_string(rng() % 20), "");
    }
    std::stable_sort(recs.begin(), recs.end());
    for (size_t i = 0; i < recs.size(); ++i) std::get<2>(recs[i]) = std::to_string(f) + ":" + std::to_string(i);
    std::string path = dir.Sub("f" + std::to_string(f));
    RecordFileOptions o;
    o.block_bytes = 64;
    auto w = RecordFileWriter::Create(path, o);
    EXPECT_TRUE(w.ok());
    for (const auto& [p, k, v] : recs) {
      EXPECT_TRUE((*w)->StartPartition(p).ok());
      EXPECT_TRUE((*w)->Add(k, v).ok());
    }
    EXPECT_TRUE((*w)->Finish().ok());
    paths.push_back(path);
    all->insert(all->end(), recs.begin(), recs.end());
  }
  return paths;
}

// Expected merge of a partition: by key, then file order, then position: a stable sort of the
// files' records taken in file order.
std::vector<std::pair<std::string, std::string>> Expected(const std::vector<Rec>& all, int32_t p) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [q, k, v] : all) {
    if (q == p) out.emplace_back(k, v);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

// A sorted list of keys as a LoserTree source.
struct KeyList {
  std::vector<std::string> keys;
  size_t at = 0;
  bool started = false;
  bool Next() {
    if (started) ++at;
    started = true;
    return at < keys.size();
  }
  std::string_view key() const { return keys[at]; }
};

// Keys of 0-12 bytes over {a, 0x00, 0xff}: ties on the 8-byte prefix between keys that are
// equal, keys that differ only by trailing zeros ("a" < "a\0") and longer keys; the merge must
// give memcmp order, equal keys in source order.
TEST(LoserTree, MergesLikeAStableSortOfKeysThatTieOnTheirPrefix) {
  std::mt19937_64 rng(5);
  for (size_t k : {1, 2, 3, 17, 64}) {
    std::vector<KeyList> lists(k);
    std::vector<std::pair<std::string, size_t>> want;
    for (size_t s = 0; s < k; ++s) {
      for (int i = static_cast<int>(rng() % 300); i > 0; --i) {
        std::string key(rng() % 13, '\0');
        for (char& c : key) c = "a\0\xff"[rng() % 3];
        if (rng() % 4 == 0) key = std::string("abcdefgh").substr(0, 6 + rng() % 3);
        lists[s].keys.push_back(key);
      }
      std::sort(lists[s].keys.begin(), lists[s].keys.end());
      for (const auto& key : lists[s].keys) want.emplace_back(key, s);
    }
    std::stable_sort(want.begin(), want.end());  // by (key, source); a source's keys are sorted
    std::vector<KeyList*> sources;
    for (auto& l : lists) sources.push_back(&l);
    LoserTree<KeyList> tree(sources);
    tree.Init();
    std::vector<std::pair<std::string, size_t>> got;
    for (long top; (top = tree.Top()) >= 0; tree.Pop()) {
      got.emplace_back(std::string(lists[static_cast<size_t>(top)].key()), static_cast<size_t>(top));
    }
    ASSERT_EQ(got, want) << k << " sources";
  }
}

TEST(PartitionMerge, MergesStablyByKeyThenFileOrder) {
  testing::TempDir dir;
  std::vector<Rec> all;
  auto files = MakeFiles(dir, 9, 3, &all);
  for (int32_t p = 0; p < 3; ++p) {
    auto m = PartitionMerge::Open(files, p);
    ASSERT_TRUE(m.ok());
    std::vector<std::pair<std::string, std::string>> got;
    while ((*m)->Next()) got.emplace_back((*m)->key(), (*m)->value());
    ASSERT_TRUE((*m)->status().ok());
    EXPECT_EQ(got, Expected(all, p)) << "partition " << p;
  }
}

TEST(MergeFiles, MultiPassWithSmallFactorKeepsOrder) {
  testing::TempDir dir;
  std::vector<Rec> all;
  auto files = MakeFiles(dir, 23, 2, &all);
  MergeOptions mo;
  mo.merge_factor = 2;
  mo.tmp_prefix = dir.Sub("tmp");
  mo.file_options.block_bytes = 128;
  ASSERT_TRUE(MergeFiles(files, {0, 1}, dir.Sub("out"), mo).ok());
  auto r = RecordFileReader::Open(dir.Sub("out"));
  ASSERT_TRUE(r.ok());
  for (int32_t p = 0; p < 2; ++p) {
    auto [b, e] = (*r)->PartitionBlocks(p);
    RecordIterator it = (*r)->NewIterator(b, e);
    std::vector<std::pair<std::string, std::string>> got;
    while (it.Next()) got.emplace_back(it.key(), it.value());
    EXPECT_EQ(got, Expected(all, p));
  }
}

class Concat final : public Combiner {
 public:
  void Combine(std::string_view, std::string* acc, std::string_view v) const override {
    acc->append("|");
    acc->append(v);
  }
};

TEST(MergeFiles, CombinerFoldsEqualKeysInOrder) {
  testing::TempDir dir;
  std::vector<Rec> all;
  auto files = MakeFiles(dir, 5, 1, &all);
  Concat concat;
  MergeOptions mo;
  mo.merge_factor = 2;
  mo.combiner = &concat;
  mo.tmp_prefix = dir.Sub("tmp");
  ASSERT_TRUE(MergeFiles(files, {0}, dir.Sub("out"), mo).ok());
  std::vector<std::pair<std::string, std::string>> expect;
  for (const auto& [k, v] : Expected(all, 0)) {
    if (!expect.empty() && expect.back().first == k) {
      expect.back().second += "|" + v;
    } else {
      expect.emplace_back(k, v);
    }
  }
  auto r = RecordFileReader::Open(dir.Sub("out"));
  ASSERT_TRUE(r.ok());
  RecordIterator it = (*r)->NewIterator();
  std::vector<std::pair<std::string, std::string>> got;
  while (it.Next()) got.emplace_back(it.key(), it.value());
  EXPECT_EQ(got, expect);
}

}  // namespace
}  // namespace sawmill
