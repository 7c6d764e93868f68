// The index format and the pruned top-k query against a scoring of the corpus in the test, over
// random corpora with many tf layers and chunk sizes down to one posting.
#include "index/search_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/temp_dir.h"

namespace sawmill::search {
namespace {

using Corpus = std::map<std::string, std::map<std::string, int64_t>>;  // doc -> term -> tf

// Documents with random ids, Zipf-like term choice and term frequencies up to a dozen, so that
// terms have many layers.
Corpus RandomCorpus(uint32_t seed, int docs, int vocabulary) {
  std::mt19937 rng(seed);
  Corpus corpus;
  for (int d = 0; d < docs; ++d) {
    auto& tf = corpus["d" + std::to_string(rng() % (docs * 4))];
    const int words = 1 + static_cast<int>(rng() % 30);
    for (int w = 0; w < words; ++w) {
      double u = std::uniform_real_distribution<double>(0, 1)(rng);
      int term = std::min(vocabulary - 1, static_cast<int>(std::pow(vocabulary, u * u) - 1));
      ++tf["t" + std::to_string(term)];
    }
  }
  return corpus;
}

// Writes the corpus as one sorted index part (as one reducer would for every term).
std::string WriteIndex(const Corpus& corpus, const testing::TempDir& dir, size_t chunk) {
  std::map<std::string, std::vector<Posting>> postings;
  std::map<std::string, std::string> table;  // the document table, sorted by key
  for (const auto& [doc, tfs] : corpus) {
    for (const auto& [term, tf] : tfs) postings[term].push_back({DocNumber(doc), tf});
    table[DocKey(DocNumber(doc))] = doc;
  }
  std::vector<std::pair<std::string, std::string>> records = {{"", std::to_string(corpus.size())}};
  records.insert(records.end(), table.begin(), table.end());
  for (auto& [term, list] : postings) {
    EncodeTerm(term, &list, chunk, [&](std::string_view k, std::string_view v) { records.emplace_back(k, v); });
  }
  EXPECT_TRUE(std::is_sorted(records.begin(), records.end()));
  RecordFileOptions options;
  options.sorted = true;
  options.block_bytes = 512;  // many blocks, so that seeks cross them
  std::string path = dir.Sub("part-" + std::to_string(chunk));
  auto writer = RecordFileWriter::Create(path, options);
  EXPECT_TRUE(writer.ok());
  for (const auto& [k, v] : records) EXPECT_TRUE((*writer)->Add(k, v).ok());
  EXPECT_TRUE((*writer)->Finish().ok());
  return path;
}

std::vector<Hit> Brute(const Corpus& corpus, const std::vector<std::string>& terms, bool any, size_t k) {
  std::map<std::string, double> df;
  for (const auto& [doc, tfs] : corpus) {
    for (const auto& t : terms) df[t] += tfs.count(t);
  }
  std::vector<Hit> hits;
  const double n = static_cast<double>(corpus.size());
  for (const auto& [doc, tfs] : corpus) {
    double s = 0;
    size_t held = 0;
    for (const auto& t : terms) {
      auto it = tfs.find(t);
      if (it == tfs.end()) continue;
      s += static_cast<double>(it->second) * std::log(n / df[t]);
      ++held;
    }
    if (held > 0 && (any || held == terms.size())) hits.push_back({doc, s});
  }
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    return a.score != b.score ? a.score > b.score : DocNumber(a.doc) < DocNumber(b.doc);
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

std::string Show(const std::vector<Hit>& hits) {
  std::string s;
  for (const auto& h : hits) s += h.doc + "=" + std::to_string(h.score) + " ";
  return s;
}

class Opened {
 public:
  explicit Opened(const std::string& path) : reader_(std::move(RecordFileReader::Open(path)).value()) {}
  PartForKey parts() {
    return [this](std::string_view) -> Result<const RecordFileReader*> { return reader_.get(); };
  }

 private:
  std::unique_ptr<RecordFileReader> reader_;
};

TEST(SearchIndex, PrunedQueriesEqualScoringEveryDocument) {
  testing::TempDir dir;
  for (uint32_t seed : {1u, 2u, 3u}) {
    const int vocabulary = 40;
    Corpus corpus = RandomCorpus(seed, 1500, vocabulary);
    for (size_t chunk : {1, 3, 64}) {
      Opened index(WriteIndex(corpus, dir, chunk));
      std::mt19937 rng(seed * 100 + static_cast<uint32_t>(chunk));
      for (int q = 0; q < 60; ++q) {
        std::vector<std::string> terms;
        const int m = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < m; ++i) {
          // Mostly frequent terms; sometimes one no document holds.
          std::string t = rng() % 10 == 0 ? "absent" : "t" + std::to_string(rng() % (rng() % 2 ? 5 : vocabulary));
          if (std::find(terms.begin(), terms.end(), t) == terms.end()) terms.push_back(t);
        }
        QueryOptions options;
        options.any = rng() % 2;
        options.k = std::vector<size_t>{1, 3, 10, 50, 100000}[rng() % 5];
        std::vector<Hit> want = Brute(corpus, terms, options.any, options.k);
        QueryStats stats;
        auto got = Query(index.parts(), terms, options, &stats);
        ASSERT_TRUE(got.ok()) << got.status().message();
        std::string what = (options.any ? "OR" : "AND") + std::string(" k=") + std::to_string(options.k) + " seed " +
                           std::to_string(seed) + " chunk " + std::to_string(chunk) + ":";
        for (const auto& t : terms) what += " " + t;
        ASSERT_EQ(Show(*got), Show(want)) << what;
        for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ((*got)[i].score, want[i].score) << what;  // bit for bit
        options.exhaustive = true;
        auto exhaustive = Query(index.parts(), terms, options, nullptr);
        ASSERT_TRUE(exhaustive.ok());
        ASSERT_EQ(Show(*exhaustive), Show(want)) << what;
      }
    }
  }
}

// Two terms of one document frequency (so tf vectors (2,1) and (1,2) score alike) and a term
// every document holds (idf 0: its tf never changes a score): documents of different vectors tie
// and must still rank by document number.
TEST(SearchIndex, EqualScoresFromDifferentTfVectorsRankByNumber) {
  testing::TempDir dir;
  std::mt19937 rng(11);
  Corpus corpus;
  for (int d = 0; d < 300; ++d) {
    auto& tf = corpus["doc" + std::to_string(d)];
    if (d < 100) tf["p"] = 1 + static_cast<int64_t>(rng() % 3);
    if (d >= 50 && d < 150) tf["q"] = 1 + static_cast<int64_t>(rng() % 3);
    tf["z"] = 1 + static_cast<int64_t>(rng() % 4);
  }
  for (size_t chunk : {1, 7}) {
    Opened index(WriteIndex(corpus, dir, chunk));
    for (const auto& terms : std::vector<std::vector<std::string>>{{"p", "q"}, {"p", "z"}, {"z", "q", "p"}, {"z"}}) {
      for (bool any : {false, true}) {
        for (size_t k : {5, 40, 400}) {
          QueryOptions options;
          options.any = any;
          options.k = k;
          auto got = Query(index.parts(), terms, options, nullptr);
          ASSERT_TRUE(got.ok());
          ASSERT_EQ(Show(*got), Show(Brute(corpus, terms, any, k))) << terms.size() << " terms, any " << any;
        }
      }
    }
  }
}

TEST(SearchIndex, TopKOfAFrequentTermReadsFewChunks) {
  testing::TempDir dir;
  Corpus corpus = RandomCorpus(7, 3000, 40);
  Opened index(WriteIndex(corpus, dir, 16));
  QueryStats stats;
  QueryOptions options;
  options.k = 5;
  auto got = Query(index.parts(), {"T0"}, options, &stats);  // terms are lowercased
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Show(*got), Show(Brute(corpus, {"t0"}, false, 5)));
  QueryStats all;
  options.exhaustive = true;
  ASSERT_TRUE(Query(index.parts(), {"t0"}, options, &all).ok());
  EXPECT_GT(all.postings_read, 1000u);
  // The top layers are small; the first chunk of each one down to the fifth document, and the
  // five ids.
  EXPECT_LE(stats.records_read, 2 + 5u + 5u);
  EXPECT_LE(stats.postings_read, 5 * 16u);
}

TEST(SearchIndex, RepeatedDocumentNumbersAreOneDocument) {
  std::vector<Posting> postings = {{2, 1}, {1, 2}, {2, 2}, {300, 3}};
  std::vector<std::pair<std::string, std::string>> records;
  EncodeTerm("x", &postings, 2, [&](std::string_view k, std::string_view v) { records.emplace_back(k, v); });
  ASSERT_EQ(records.size(), 3u);  // header, layer tf=3 (2 and 300), layer tf=2 (1)
  EXPECT_EQ(records[0].first, std::string("x\0", 2));
  EXPECT_EQ(records[0].second, "3\n3\t2\n2\t1\n");
  // Chunk keys: TERM NUL, 0xFFFFFFFF - tf and the chunk's last number, big-endian. Values: the
  // first number, then deltas, as varints.
  EXPECT_EQ(records[1].first, std::string("x\0\xff\xff\xff\xfc\0\0\0\0\0\0\x01\x2c", 14));
  EXPECT_EQ(records[1].second, "\x02\xaa\x02");  // 2, then 298
  EXPECT_EQ(records[2].first, std::string("x\0\xff\xff\xff\xfd\0\0\0\0\0\0\0\x01", 14));
  EXPECT_EQ(records[2].second, "\x01");
  EXPECT_EQ(DocKey(0x0102), std::string("\x01\0\0\0\0\0\0\x01\x02", 9));
  EXPECT_EQ(DocNumber("a", 4), DocNumber("a") & 15);
}

TEST(SearchIndex, DamagedRecordsAreCorruptionNamingTheTerm) {
  testing::TempDir dir;
  auto write = [&](const std::vector<std::pair<std::string, std::string>>& records) {
    RecordFileOptions options;
    options.sorted = true;
    std::string path = dir.Sub("bad");
    auto writer = RecordFileWriter::Create(path, options);
    for (const auto& [k, v] : records) EXPECT_TRUE((*writer)->Add(k, v).ok()) << k;
    EXPECT_TRUE((*writer)->Finish().ok());
    return path;
  };
  std::vector<Posting> postings = {{1, 1}, {2, 1}, {3, 2}};
  std::vector<std::pair<std::string, std::string>> good = {{"", "10"}, {DocKey(1), "a"}, {DocKey(2), "b"}, {DocKey(3), "c"}};
  EncodeTerm("x", &postings, 1, [&](std::string_view k, std::string_view v) { good.emplace_back(k, v); });
  auto damaged = [&](size_t i, std::string value) {
    auto r = good;
    r[i].second = std::move(value);
    return r;
  };
  auto without = [&](size_t i) {
    auto r = good;
    r.erase(r.begin() + static_cast<ptrdiff_t>(i));
    return r;
  };
  auto long_key = good;
  long_key[5].first.push_back('z');  // layer tf=2's only chunk key, one byte long
  // good: N, the document table (1 a, 2 b, 3 c), the header "3\n2\t1\n1\t2\n", layer tf=2's
  // chunk [3], layer tf=1's chunks [1] and [2].
  struct Case {
    std::vector<std::pair<std::string, std::string>> records;
    std::string message;
    bool exhaustive_only;  // damage a pruned query need not read
  };
  std::vector<Case> cases = {
      {damaged(4, "4\n2\t1\n1\t2\n"), "do not add up", false},
      {damaged(4, "3\n1\t1\n2\t2\n"), "bad layer line", false},
      {damaged(4, "x\n2\t1\n1\t2\n"), "bad document frequency", false},
      {damaged(5, "\x04"), "does not end with its key's document", false},
      {long_key, "bad chunk key", false},
      {damaged(6, std::string("\x01\x00", 2)), "bad chunk", false},  // a delta of 0: not ascending
      {damaged(6, "\x81"), "bad chunk", false},                      // a truncated varint
      {without(0), "no document count", false},
      {without(3), "no document id for document number 3", false},
      {without(7), "layer tf=1 holds 1 documents, its header says 2", true},
      {damaged(7, "\x01\x01"), "chunks overlap", true},
  };
  for (const auto& c : cases) {
    Opened index(write(c.records));
    for (bool exhaustive : {false, true}) {
      if (c.exhaustive_only && !exhaustive) continue;
      QueryOptions options;
      options.any = true;
      options.exhaustive = exhaustive;
      auto got = Query(index.parts(), {"x"}, options, nullptr);
      ASSERT_FALSE(got.ok()) << "no error for " << c.message;
      EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
      EXPECT_NE(got.status().message().find(c.message), std::string::npos) << got.status().message();
      if (c.message.rfind("no document", 0) != 0) {
        EXPECT_NE(got.status().message().find("'x'"), std::string::npos) << got.status().message();
      }
    }
  }
}

}  // namespace
}  // namespace sawmill::search
