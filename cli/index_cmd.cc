// `sawmill index query`: AND/OR term queries over an index built by jobs/inverted_index, ranked
// by tf-idf (index/search_index.h; docs/index.md).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/store_args.h"
#include "datasets/dataset_catalog.h"
#include "index/search_index.h"

namespace sawmill {
namespace {

constexpr char kUsage[] = R"(sawmill index: queries over an inverted index (docs/index.md).

Usage:
  sawmill index query INDEX [--or] [--k 10] [--exhaustive] [--store DIR | --cluster D] TERM...
      INDEX: an output directory of jobs/inverted_index, or dataset:NAME[@VERSION].
      Documents holding every term (or, with --or, any term), ranked by
      sum over terms of tf * ln(N / df), ties by document number (a hash of the id); the top
      k as DOC<TAB>SCORE. Terms are lowercased. Only the terms' records are read (their
      parts, found by hashing the term, and their blocks, found through the block index), of
      a long posting list only the chunks that can hold a top-k document, and the top k's
      ids. --exhaustive reads and scores every posting instead (same results; for checking).
      stderr: records read, time.
)";

}  // namespace

int IndexCommand(int argc, char** argv) {
  MoveVerbFirst(argc, argv, 2, {"or", "exhaustive"});
  if (argc < 3 || WantsHelp(argc, argv, 2) || std::strcmp(argv[2], "help") == 0) {
    std::fputs(kUsage, argc < 3 ? stderr : stdout);
    return argc < 3 ? 2 : 0;
  }
  Args args;
  if (!Args::Parse(argc, argv, 3, &args, {"or", "exhaustive"}) ||
      !args.OnlyFlags({"or", "exhaustive", "k", "store", "cluster"})) {
    return 2;
  }
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
  auto parts = search::IndexParts::Open(dir);
  if (!parts.ok()) {
    std::fprintf(stderr, "error: %s\n", parts.status().message().c_str());
    return 2;
  }
  search::QueryOptions options;
  options.any = args.Has("or");
  options.k = k;
  options.exhaustive = args.Has("exhaustive");
  search::QueryStats stats;
  std::vector<std::string> terms(args.positional.begin() + 1, args.positional.end());
  auto hits = search::Query([&](std::string_view key) { return (*parts)->ForKey(key); }, terms, options, &stats);
  if (!hits.ok()) {
    std::fprintf(stderr, "error: %s\n", hits.status().message().c_str());
    return 1;
  }
  for (const auto& h : *hits) std::printf("%s\t%.17g\n", h.doc.c_str(), h.score);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "query: %zu result(s), %llu index records read, %llu postings, %llu tf combinations, %.2f ms\n",
               hits->size(), static_cast<unsigned long long>(stats.records_read),
               static_cast<unsigned long long>(stats.postings_read), static_cast<unsigned long long>(stats.combinations),
               ms);
  return 0;
}

}  // namespace sawmill
