// Index records and the pruned top-k query. A term's postings are split into tf layers, each in
// document order. Every document holding a query term has one tf vector (its layer in each term,
// or "absent" for OR), and the vector alone fixes its score. The query visits the vectors in
// descending score (a best-first enumeration over the layers) and, for each, takes the first
// documents of the intersection of its layers (a leapfrog join, skipping by chunk directory), so
// it stops after k documents instead of reading whole lists (docs/index.md).
#include "index/search_index.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <queue>

#include "common/coding.h"
#include "common/file.h"
#include "mapreduce/user_code.h"

namespace sawmill::search {
namespace {

constexpr uint64_t kLastNumber = ~uint64_t{0};

// One chunk: its document numbers, ascending.
struct Chunk {
  std::vector<uint64_t> docs;
  // For any target in [floor, docs.back()], the layer's first document >= target is in this
  // chunk: what the reads that found it have shown.
  uint64_t floor = 0;
};

struct Layer {
  int64_t tf = 0;
  uint64_t count = 0;  // documents
  std::string prefix;  // of its chunk keys
  std::map<uint64_t, std::unique_ptr<Chunk>> chunks;  // read so far, by last document
  std::unique_ptr<RecordIterator> it;                 // reused: keeps its loaded block
  std::string scratch;                                // the key sought, reused
};

struct Term {
  std::string term;
  const RecordFileReader* file = nullptr;
  double df = 0;
  double idf = 0;
  std::vector<Layer> layers;  // tf descending
};

Status Malformed(const Term& t, const std::string& what) {
  return Corruption(t.file->path() + ": index record of term '" + t.term + "': " + what);
}

bool ParseU64(std::string_view s, uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Positions `it` on the record of `key`: true when there is one (it.value() is its value).
Result<bool> SeekExact(RecordIterator& it, std::string_view key) {
  RETURN_IF_ERROR(it.Seek(key));
  if (it.Next() && it.key() == key) return true;
  RETURN_IF_ERROR(it.status());
  return false;
}

// Reads the header; a term without one has no layers.
Status ReadHeader(Term* t, QueryStats* stats) {
  RecordIterator it = t->file->NewIterator();
  ASSIGN_OR_RETURN(bool found, SeekExact(it, HeaderKey(t->term)));
  if (!found) return Status::Ok();
  ++stats->records_read;
  std::string_view v = it.value();
  auto line = [&v](std::string_view* out) {
    size_t nl = v.find('\n');
    if (nl == std::string_view::npos) return false;
    *out = v.substr(0, nl);
    v.remove_prefix(nl + 1);
    return true;
  };
  std::string_view l;
  uint64_t df = 0;
  if (!line(&l) || !ParseU64(l, &df) || df == 0) return Malformed(*t, "bad document frequency");
  uint64_t total = 0;
  while (!v.empty()) {
    Layer layer;
    uint64_t tf = 0;
    size_t tab = 0;
    if (!line(&l) || (tab = l.find('\t')) == std::string_view::npos || !ParseU64(l.substr(0, tab), &tf) ||
        !ParseU64(l.substr(tab + 1), &layer.count) || tf == 0 || tf > 0xFFFFFFFEu || layer.count == 0 ||
        (!t->layers.empty() && static_cast<int64_t>(tf) >= t->layers.back().tf)) {
      return Malformed(*t, "bad layer line '" + std::string(l) + "'");
    }
    layer.tf = static_cast<int64_t>(tf);
    layer.prefix = LayerPrefix(t->term, layer.tf);
    total += layer.count;
    t->layers.push_back(std::move(layer));
  }
  if (total != df) return Malformed(*t, "layer sizes do not add up to the document frequency");
  t->df = static_cast<double>(df);
  return Status::Ok();
}

// Decodes a chunk's delta-coded numbers; false when truncated, over-long or not ascending.
bool DecodeChunk(std::string_view v, std::vector<uint64_t>* docs) {
  const char* p = v.data();
  const char* limit = p + v.size();
  uint64_t doc = 0;
  while (p < limit) {
    uint64_t delta = 0;
    p = DecodeVarint64(p, limit, &delta);
    if (p == nullptr || (!docs->empty() && (delta == 0 || doc + delta < doc))) return false;
    doc += delta;
    docs->push_back(doc);
  }
  return true;
}

// The chunk holding the layer's first document >= d, or null when there is none: from the
// chunks read so far when they show it, else read through the layer's iterator (one block).
Result<const Chunk*> FindChunk(Term& t, Layer& layer, uint64_t d, QueryStats* stats) {
  auto known = layer.chunks.lower_bound(d);
  if (known != layer.chunks.end() && known->second->floor <= d) return known->second.get();
  if (!layer.it) layer.it = std::make_unique<RecordIterator>(t.file->NewIterator());
  RecordIterator& it = *layer.it;
  std::string& target = layer.scratch;
  target.assign(layer.prefix);
  PutBigEndian64(&target, d);
  RETURN_IF_ERROR(it.Reposition(target));
  if (!it.Next() || it.key().substr(0, layer.prefix.size()) != layer.prefix) {
    RETURN_IF_ERROR(it.status());
    return nullptr;  // past the layer's last document
  }
  auto what = [&layer] { return "layer tf=" + std::to_string(layer.tf); };  // for errors only
  if (it.key().size() != layer.prefix.size() + 8) return Malformed(t, "bad chunk key in " + what());
  const uint64_t last = DecodeBigEndian64(it.key().data() + layer.prefix.size());
  known = layer.chunks.find(last);
  if (known != layer.chunks.end()) {
    Chunk* c = known->second.get();
    c->floor = std::min(c->floor, d);
    return c;
  }
  ++stats->records_read;
  auto chunk = std::make_unique<Chunk>();
  chunk->floor = d;
  if (!DecodeChunk(it.value(), &chunk->docs)) return Malformed(t, "bad chunk (not ascending numbers) in " + what());
  if (chunk->docs.empty() || chunk->docs.back() != last) {
    return Malformed(t, "a chunk of " + what() + " does not end with its key's document");
  }
  stats->postings_read += chunk->docs.size();
  const Chunk* c = chunk.get();
  layer.chunks.emplace(last, std::move(chunk));
  return c;
}

// The first index >= from of sorted `v` whose element is >= d: probes from, from+1, from+3, ...
// then bisects, so nearby targets (the common case in a leapfrog) cost a few comparisons.
size_t Gallop(const std::vector<uint64_t>& v, size_t from, uint64_t d) {
  size_t lo = from, step = 1;
  while (lo < v.size() && v[lo] < d) {
    const size_t next = lo + step;
    if (next >= v.size() || !(v[next] < d)) {
      return static_cast<size_t>(std::lower_bound(v.begin() + static_cast<ptrdiff_t>(lo) + 1,
                                                  v.begin() + static_cast<ptrdiff_t>(std::min(next, v.size())), d) -
                                 v.begin());
    }
    lo = next;
    step *= 2;
  }
  return lo;
}

// A position in one layer, moving forward only.
class Cursor {
 public:
  Cursor(Term* t, Layer* layer, QueryStats* stats) : t_(t), layer_(layer), stats_(stats) {}
  bool at_end() const { return end_; }
  uint64_t doc() const { return chunk_->docs[i_]; }
  size_t size() const { return layer_->count; }
  const Layer* layer() const { return layer_; }

  // The first document >= d at or after the current one; at_end() when none.
  Status SeekGE(uint64_t d) {
    if (end_) return Status::Ok();
    if (chunk_ != nullptr && d <= chunk_->docs.back()) {
      i_ = Gallop(chunk_->docs, i_, d);
      return Status::Ok();
    }
    return Enter(d);
  }
  Status Next() {
    if (end_) return Status::Ok();
    if (++i_ < chunk_->docs.size()) return Status::Ok();
    if (chunk_->docs.back() == kLastNumber) {
      end_ = true;
      return Status::Ok();
    }
    return Enter(chunk_->docs.back() + 1);
  }

 private:
  Status Enter(uint64_t d) {
    ASSIGN_OR_RETURN(chunk_, FindChunk(*t_, *layer_, d, stats_));
    end_ = chunk_ == nullptr;
    i_ = end_ ? 0 : Gallop(chunk_->docs, 0, d);
    return Status::Ok();
  }
  Term* t_;
  Layer* layer_;
  QueryStats* stats_;
  const Chunk* chunk_ = nullptr;
  size_t i_ = 0;
  bool end_ = false;
};

constexpr int kAbsent = -1;

// Two layers' intersection, found lazily: the common documents so far, ascending, and the
// cursors where the leapfrog stopped.
struct PairRun {
  Cursor a, b;
  std::vector<uint64_t> docs;
  bool done = false;

  // Appends the next common document, or sets done.
  Status Extend() {
    uint64_t target = 0;
    while (true) {
      RETURN_IF_ERROR(a.SeekGE(target));
      if (a.at_end()) break;
      target = a.doc();
      RETURN_IF_ERROR(b.SeekGE(target));
      if (b.at_end()) break;
      if (b.doc() == target) {
        docs.push_back(target);
        return a.Next();
      }
      target = b.doc();
    }
    done = true;
    return Status::Ok();
  }
};
using PairMemo = std::map<std::pair<const Layer*, const Layer*>, std::unique_ptr<PairRun>>;

// Whether every cursor holds d (all = true) or none does (all = false); cursors move forward.
Result<bool> HeldByEach(std::vector<Cursor>& cursors, size_t from, uint64_t d, bool all) {
  for (size_t j = from; j < cursors.size(); ++j) {
    RETURN_IF_ERROR(cursors[j].SeekGE(d));
    const bool held = !cursors[j].at_end() && cursors[j].doc() == d;
    if (held != all) return false;
  }
  return true;
}

// The first `need` documents, ascending, whose tf vector is `combo` (a layer per term, or
// kAbsent): in each named layer and in no layer of an absent term. Appends to `out`.
Status Evaluate(std::vector<Term>& terms, const std::vector<int>& combo, size_t need, QueryStats* stats,
                PairMemo* memo, std::vector<uint64_t>* out) {
  std::vector<Cursor> present, absent;
  for (size_t t = 0; t < terms.size(); ++t) {
    if (combo[t] != kAbsent) {
      present.emplace_back(&terms[t], &terms[t].layers[static_cast<size_t>(combo[t])], stats);
    } else {
      for (auto& layer : terms[t].layers) absent.emplace_back(&terms[t], &layer, stats);
    }
  }
  // The smallest layer drives; the others are probed in increasing size.
  std::sort(present.begin(), present.end(), [](const Cursor& a, const Cursor& b) { return a.size() < b.size(); });
  if (present.size() == 1) {
    // One layer: its documents in order, as many as the absent terms let through.
    Cursor& only = present[0];
    RETURN_IF_ERROR(only.SeekGE(0));
    size_t found = 0;
    while (found < need && !only.at_end()) {
      const uint64_t d = only.doc();
      ASSIGN_OR_RETURN(bool kept, HeldByEach(absent, 0, d, false));
      if (kept) {
        out->push_back(d);
        ++found;
      }
      RETURN_IF_ERROR(only.Next());
    }
    return Status::Ok();
  }
  size_t found = 0;
  // A candidate in the two smallest layers: keep it if the other layers hold it and no absent
  // term does.
  auto consider = [&](uint64_t d) -> Status {
    ASSIGN_OR_RETURN(bool in_rest, HeldByEach(present, 2, d, true));
    if (!in_rest) return Status::Ok();
    ASSIGN_OR_RETURN(bool kept, HeldByEach(absent, 0, d, false));
    if (!kept) return Status::Ok();
    out->push_back(d);
    ++found;
    return Status::Ok();
  };
  // The two smallest layers' intersection, extended only as far as needed and kept for the
  // query: tf vectors sharing their two most selective layers (common with three or more terms,
  // and among OR's absent variations) walk them once.
  auto& run = (*memo)[{present[0].layer(), present[1].layer()}];
  if (!run) run = std::make_unique<PairRun>(PairRun{present[0], present[1], {}, false});
  for (size_t i = 0; found < need; ++i) {
    while (i == run->docs.size() && !run->done) RETURN_IF_ERROR(run->Extend());
    if (i == run->docs.size()) break;
    RETURN_IF_ERROR(consider(run->docs[i]));
  }
  return Status::Ok();
}

// The score of a tf vector, summed in query-term order like the exhaustive path.
double Score(const std::vector<Term>& terms, const std::vector<int>& combo) {
  double s = 0;
  for (size_t t = 0; t < terms.size(); ++t) {
    if (combo[t] != kAbsent) s += static_cast<double>(terms[t].layers[static_cast<size_t>(combo[t])].tf) * terms[t].idf;
  }
  return s;
}

// A ranked document before its id is looked up.
struct Ranked {
  uint64_t doc;
  double score;
};

Result<std::vector<Ranked>> Pruned(std::vector<Term>& terms, const QueryOptions& options, QueryStats* stats) {
  // Each term's choices in descending contribution: its layers, then (OR) absent.
  std::vector<std::vector<int>> choices(terms.size());
  for (size_t t = 0; t < terms.size(); ++t) {
    for (size_t l = 0; l < terms[t].layers.size(); ++l) choices[t].push_back(static_cast<int>(l));
    if (options.any) choices[t].push_back(kAbsent);
    auto contribution = [&](int l) {
      return l == kAbsent ? 0.0 : static_cast<double>(terms[t].layers[static_cast<size_t>(l)].tf) * terms[t].idf;
    };
    std::stable_sort(choices[t].begin(), choices[t].end(),
                     [&](int a, int b) { return contribution(a) > contribution(b); });
  }
  // Best-first over choice indices. A vector's children advance one coordinate at or after the
  // one its parent advanced, so each vector is generated once and never scores above its parent.
  struct Node {
    double score;
    std::vector<uint32_t> pick;
    size_t advanced;
  };
  auto lower = [](const Node& a, const Node& b) { return a.score < b.score; };
  std::priority_queue<Node, std::vector<Node>, decltype(lower)> heap(lower);
  auto combo_of = [&](const std::vector<uint32_t>& pick) {
    std::vector<int> c(terms.size());
    for (size_t t = 0; t < terms.size(); ++t) c[t] = choices[t][pick[t]];
    return c;
  };
  Node root{0, std::vector<uint32_t>(terms.size(), 0), 0};
  root.score = Score(terms, combo_of(root.pick));
  heap.push(std::move(root));
  std::vector<Ranked> hits;
  PairMemo memo;
  while (!heap.empty() && hits.size() < options.k) {
    const double score = heap.top().score;
    std::vector<std::vector<int>> group;  // equal scores: their documents rank by number together
    while (!heap.empty() && heap.top().score == score) {
      Node n = heap.top();
      heap.pop();
      for (size_t t = n.advanced; t < terms.size(); ++t) {
        if (n.pick[t] + 1 >= choices[t].size()) continue;
        Node child{0, n.pick, t};
        ++child.pick[t];
        child.score = Score(terms, combo_of(child.pick));
        heap.push(std::move(child));
      }
      std::vector<int> c = combo_of(n.pick);
      if (std::any_of(c.begin(), c.end(), [](int l) { return l != kAbsent; })) group.push_back(std::move(c));
    }
    const size_t need = options.k - hits.size();
    std::vector<uint64_t> docs;
    for (const auto& c : group) {
      ++stats->combinations;
      RETURN_IF_ERROR(Evaluate(terms, c, need, stats, &memo, &docs));
    }
    std::sort(docs.begin(), docs.end());
    if (docs.size() > need) docs.resize(need);
    for (uint64_t d : docs) hits.push_back({d, score});
  }
  return hits;
}

Result<std::vector<Ranked>> Exhaustive(std::vector<Term>& terms, const QueryOptions& options, QueryStats* stats) {
  // Every posting's contribution, then sorted by document (stably: each document's terms stay in
  // query order, so its sum is the pruned path's to the bit). Sorting beats hashing at 10M+
  // postings by an order of magnitude.
  struct Contribution {
    uint64_t doc;
    double score;
  };
  std::vector<Contribution> all;
  for (auto& t : terms) {
    for (auto& layer : t.layers) {
      // Every chunk in order, checking the layer's size and order across chunks too.
      const double score = static_cast<double>(layer.tf) * t.idf;
      uint64_t n = 0;
      uint64_t previous = 0;
      ASSIGN_OR_RETURN(const Chunk* c, FindChunk(t, layer, 0, stats));
      while (c != nullptr) {
        if (n > 0 && c->docs.front() <= previous) {
          return Malformed(t, "chunks overlap in layer tf=" + std::to_string(layer.tf));
        }
        for (uint64_t d : c->docs) all.push_back({d, score});
        n += c->docs.size();
        previous = c->docs.back();
        layer.chunks.clear();  // read once, in order: no need to keep them
        if (previous == kLastNumber) break;
        ASSIGN_OR_RETURN(c, FindChunk(t, layer, previous + 1, stats));
      }
      if (n != layer.count) {
        return Malformed(t, "layer tf=" + std::to_string(layer.tf) + " holds " + std::to_string(n) +
                                " documents, its header says " + std::to_string(layer.count));
      }
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Contribution& a, const Contribution& b) { return a.doc < b.doc; });
  std::vector<Ranked> ranked;
  for (size_t i = 0, j = 0; i < all.size(); i = j) {
    double score = 0;
    for (j = i; j < all.size() && all[j].doc == all[i].doc; ++j) score += all[j].score;
    if (options.any || j - i == terms.size()) ranked.push_back({all[i].doc, score});
  }
  auto better = [](const Ranked& a, const Ranked& b) { return a.score != b.score ? a.score > b.score : a.doc < b.doc; };
  const size_t k = std::min(options.k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<ptrdiff_t>(k), ranked.end(), better);
  ranked.resize(k);
  return ranked;
}

// The hits' document ids, from the document table.
Result<std::vector<Hit>> LookUpIds(const PartForKey& parts, const std::vector<Ranked>& ranked, QueryStats* stats) {
  std::vector<Hit> hits;
  for (const auto& r : ranked) {
    const std::string key = DocKey(r.doc);
    ASSIGN_OR_RETURN(const RecordFileReader* file, parts(key));
    RecordIterator it = file->NewIterator();
    ASSIGN_OR_RETURN(bool found, SeekExact(it, key));
    if (!found || it.value().empty()) {
      return Corruption(file->path() + ": no document id for document number " + std::to_string(r.doc));
    }
    ++stats->records_read;
    hits.push_back({std::string(it.value()), r.score});
  }
  return hits;
}

}  // namespace

Result<std::vector<Hit>> Query(const PartForKey& parts, const std::vector<std::string>& raw_terms,
                               const QueryOptions& options, QueryStats* stats) {
  QueryStats ignored;
  if (stats == nullptr) stats = &ignored;
  ASSIGN_OR_RETURN(const RecordFileReader* n_file, parts(kDocCountKey));
  double n = 0;
  {
    RecordIterator it = n_file->NewIterator();
    ASSIGN_OR_RETURN(bool found, SeekExact(it, kDocCountKey));
    uint64_t count = 0;
    if (!found || !ParseU64(it.value(), &count)) {
      return Corruption(n_file->path() + ": no document count record (key \"\")");
    }
    ++stats->records_read;
    n = static_cast<double>(count);
  }
  std::vector<Term> terms;
  for (const auto& raw : raw_terms) {
    Term t;
    for (char c : raw) t.term.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (t.term.find('\0') != std::string::npos) return InvalidArgument("a query term holds a NUL byte");
    if (std::any_of(terms.begin(), terms.end(), [&](const Term& u) { return u.term == t.term; })) continue;
    ASSIGN_OR_RETURN(t.file, parts(t.term));
    RETURN_IF_ERROR(ReadHeader(&t, stats));
    if (t.layers.empty()) {
      if (!options.any) return std::vector<Hit>{};  // AND with a term no document holds
      continue;
    }
    t.idf = std::log(n / t.df);
    terms.push_back(std::move(t));
  }
  if (terms.empty() || options.k == 0) return std::vector<Hit>{};
  auto ranked = options.exhaustive ? Exhaustive(terms, options, stats) : Pruned(terms, options, stats);
  if (!ranked.ok()) return ranked.status();
  return LookUpIds(parts, *ranked, stats);
}

Result<std::unique_ptr<IndexParts>> IndexParts::Open(const std::string& dir) {
  ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(JoinPath(dir, kManifestName)));
  if (manifest.partitioner != "hash" || manifest.num_partitions < 1) {
    return InvalidArgument(dir + " is not an inverted index (hash-partitioned output of jobs/inverted_index)");
  }
  return std::unique_ptr<IndexParts>(new IndexParts(dir, std::move(manifest)));
}

Result<const RecordFileReader*> IndexParts::ForKey(std::string_view key) {
  const int p = HashPartitioner().Partition(key, manifest_.num_partitions);
  auto& reader = readers_[p];
  if (!reader) {
    for (const auto& part : manifest_.parts) {
      if (part.partition == p) {
        ASSIGN_OR_RETURN(reader, RecordFileReader::Open(JoinPath(dir_, part.name)));
      }
    }
    if (!reader) return Corruption(dir_ + ": no part for partition " + std::to_string(p));
  }
  return reader.get();
}

}  // namespace sawmill::search
