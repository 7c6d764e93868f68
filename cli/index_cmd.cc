// `sawmill index query`: AND/OR term queries over an index built by jobs/inverted_index, ranked
// by tf-idf, reading only the queried terms' records (docs/index.md).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <charconv>
#include <map>
#include <unordered_map>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/store_args.h"
#include "common/file.h"
#include "mapreduce/dataset_catalog.h"
#include "mapreduce/manifest.h"
#include "mapreduce/record_file.h"
#include "mapreduce/user_code.h"

namespace sawmill {
namespace {

constexpr char kUsage[] = R"(sawmill index: queries over an inverted index (docs/index.md).

Usage:
  sawmill index query INDEX [--or] [--k 10] [--store DIR | --cluster D] TERM...
      INDEX: an output directory of jobs/inverted_index, or dataset:NAME[@VERSION].
      Documents holding every term (or, with --or, any term), ranked by
      sum over terms of tf * ln(N / df), ties by document id; the top k as DOC<TAB>SCORE.
      Terms are lowercased. Only the terms' records are read (their parts, found by hashing
      the term, and their blocks, found through the block index).
)";

class Index {
 public:
  explicit Index(std::string dir) : dir_(std::move(dir)) {}
  Status Open() {
    ASSIGN_OR_RETURN(manifest_, ReadManifest(JoinPath(dir_, kManifestName)));
    if (manifest_.partitioner != "hash" || manifest_.num_partitions < 1) {
      return InvalidArgument(dir_ + " is not an inverted index (hash-partitioned output of jobs/inverted_index)");
    }
    return Status::Ok();
  }
  // The records whose key starts with `prefix` (or equals it when exact) in the term's part.
  // fn returns false to stop early.
  Status Scan(const std::string& term, const std::string& seek, bool exact,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) {
    int p = HashPartitioner().Partition(term, manifest_.num_partitions);
    auto& reader = readers_[p];
    if (!reader) {
      for (const auto& part : manifest_.parts) {
        if (part.partition == p) {
          ASSIGN_OR_RETURN(reader, RecordFileReader::Open(JoinPath(dir_, part.name)));
        }
      }
      if (!reader) return Corruption(dir_ + ": no part for partition " + std::to_string(p));
    }
    RecordIterator it = reader->NewIterator();
    RETURN_IF_ERROR(it.Seek(seek));
    while (it.Next()) {
      std::string_view k = it.key();
      if (exact ? k != seek : k.substr(0, seek.size()) != seek) break;
      ++records_read_;
      if (!fn(k, it.value()) || exact) break;
    }
    return it.status();
  }
  uint64_t records_read() const { return records_read_; }

 private:
  std::string dir_;
  Manifest manifest_;
  std::map<int, std::unique_ptr<RecordFileReader>> readers_;
  uint64_t records_read_ = 0;
};

}  // namespace

int IndexCommand(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[2], "--help") == 0 || std::strcmp(argv[2], "help") == 0) {
    std::fputs(kUsage, argc < 3 ? stderr : stdout);
    return argc < 3 ? 2 : 0;
  }
  Args args;
  if (!Args::Parse(argc, argv, 3, &args, {"or"}) || !args.OnlyFlags({"or", "k", "store", "cluster"})) return 2;
  if (std::strcmp(argv[2], "query") != 0 || args.positional.size() < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  uint64_t k = 10;
  if (!args.GetU64("k", 10, &k)) return 2;
  std::unique_ptr<StoreArgs> store;
  std::string dir = args.positional[0];
  if (datasets::IsDatasetPath(dir)) {
    auto opened = OpenStore(args);
    if (!opened.ok()) {
      std::fprintf(stderr, "error: %s\n", opened.status().message().c_str());
      return 2;
    }
    store = std::make_unique<StoreArgs>(std::move(opened).value());
    auto resolved = datasets::ResolveForRead(store->root, dir);
    if (!resolved.ok()) {
      std::fprintf(stderr, "error: %s\n", resolved.status().message().c_str());
      return 2;
    }
    dir = *resolved;
  }
  auto t0 = std::chrono::steady_clock::now();
  Index index(dir);
  Status s = index.Open();
  double n = 0;
  if (s.ok()) {
    s = index.Scan("", std::string(), true, [&](std::string_view, std::string_view v) {
      n = std::stod(std::string(v));
      return true;
    });
  }
  const bool any = args.Has("or");
  std::vector<std::string> terms;
  for (size_t i = 1; i < args.positional.size(); ++i) {
    std::string term;
    for (char c : args.positional[i]) term.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (std::find(terms.begin(), terms.end(), term) == terms.end()) terms.push_back(term);
  }
  // One term: postings are in impact order (tf descending, then document), so its top k are
  // the first k postings and the rest need not be read.
  const bool first_k = terms.size() == 1;
  // Keyed by views into `chunks`, which keeps every record read until the end.
  std::unordered_map<std::string_view, double> score;
  std::unordered_map<std::string_view, size_t> hits;  // how many query terms each document holds
  std::deque<std::string> chunks;
  for (const auto& term : terms) {
    if (!s.ok()) break;
    double df = 0;
    std::vector<std::pair<std::string_view, double>> postings;
    s = index.Scan(term, term + std::string(1, '\0'), false, [&](std::string_view, std::string_view v) {
      chunks.emplace_back(v);
      std::string_view c = chunks.back();
      size_t pos = 0;
      if (df == 0) {
        size_t nl = c.find('\n');
        std::from_chars(c.data(), c.data() + nl, df);
        pos = nl + 1;
      }
      while (pos < c.size()) {
        size_t nl = c.find('\n', pos);
        std::string_view line = c.substr(pos, nl - pos);
        size_t tab = line.rfind('\t');
        double tf = 0;
        std::from_chars(line.data() + tab + 1, line.data() + line.size(), tf);
        postings.emplace_back(line.substr(0, tab), tf);
        pos = nl + 1;
      }
      return !(first_k && postings.size() >= k);
    });
    if (df == 0) continue;
    double idf = std::log(n / df);
    score.reserve(score.size() + postings.size());
    for (const auto& [doc, tf] : postings) {
      score[doc] += tf * idf;
      ++hits[doc];
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  std::vector<std::pair<std::string_view, double>> ranked;
  for (const auto& [doc, sc] : score) {
    if (any || hits[doc] == terms.size()) ranked.emplace_back(doc, sc);
  }
  std::sort(ranked.begin(), ranked.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  if (ranked.size() > k) ranked.resize(k);
  for (const auto& [doc, sc] : ranked) std::printf("%.*s\t%.17g\n", static_cast<int>(doc.size()), doc.data(), sc);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "query: %zu result(s), %llu index records read, %.2f ms\n", ranked.size(),
               static_cast<unsigned long long>(index.records_read()), ms);
  return 0;
}

}  // namespace sawmill
