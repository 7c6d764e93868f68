// pagerank: PageRank of the pages of an edge list (TSV lines src<TAB>dst) as a dataflow
// program with a loop. N = distinct pages, initial rank 1/N, and each iteration
//   rank(p) = (1-d)/N + d * (sum of rank(q)/outdeg(q) over edges q->p + dangling mass / N)
// where the dangling mass is the rank held by pages without out-edges. Output records: (page,
// rank as shortest round-trip decimal text), sorted by page.
#include <charconv>
#include <cmath>

#include <gflags/gflags.h>

#include "api/codec.h"
#include "api/dataflow.h"
#include "jobs/graph_input.h"

DEFINE_int32(iterations, 10, "Iterations of the rank update.");
DEFINE_double(damping, 0.85, "Damping factor d: the probability of following a link.");
DEFINE_int32(partitions, 4, "Partitions of the link and rank datasets (map tasks per iteration); fixed for "
             "byte-identical output.");
DEFINE_int32(checkpoint_every, 0, "Keep every k-th iteration's ranks durably (replicated in the store on a cluster), so "
             "that a lost iteration is recomputed from there rather than from the start; 0: never.");
DEFINE_bool(strict, false, "Fail on a malformed line instead of counting it in pagerank.malformed_lines.");

namespace {

using namespace sawmill;

using graph::Id;
using graph::ParseEdge;
using graph::PageId;
// Keys of the per-iteration globals, above every page id.
constexpr Id kPagesKey = ~0ull;
constexpr Id kDanglingKey = ~0ull - 1;

std::string RankText(double r) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, r);
  return std::string(buf, res.ptr);
}

void PageRank(df::Flow& flow) {
  const int parts = FLAGS_partitions;
  const double d = FLAGS_damping;
  auto lines = flow.ReadText();

  // links: page -> the targets of its out-edges (pages with out-edges only).
  using Edge = std::pair<Id, Id>;
  auto links = lines
                   .FlatMap<Edge>([](std::string_view line, const df::Emitter<Edge>& emit) {
                     std::string_view src, dst;
                     if (!ParseEdge(line, &src, &dst)) {
                       if (FLAGS_strict) throw std::runtime_error("malformed edge line (want src<TAB>dst)");
                       df::Increment("pagerank.malformed_lines");
                       return;
                     }
                     bool numeric;
                     emit(Edge(PageId(src, &numeric), PageId(dst, &numeric)));
                   })
                   .GroupByKey(parts);

  // Names of pages that are not plain numbers, for the output.
  auto names = graph::PageNames(lines, parts);

  // Every page (sources and targets), partitioned like links; N; the initial ranks 1/N.
  using Global = std::pair<Id, double>;
  auto pages = links
                   .FlatMap<Global>([](const std::pair<Id, std::vector<Id>>& p, const df::Emitter<Global>& emit) {
                     emit(Global(p.first, 0.0));
                     for (Id t : p.second) emit(Global(t, 0.0));
                   })
                   .ReduceByKey(std::plus<double>(), parts);
  auto count = pages.Map([](const Global&) { return Global(kPagesKey, 1.0); }).ReduceByKey(std::plus<double>(), 1);
  auto ranks0 = pages.MapValuesWith(count, [](double, const std::vector<Global>& g) {
    return g.empty() ? 0.0 : 1.0 / g[0].second;
  });

  df::IterateOptions loop;
  loop.checkpoint_every = FLAGS_checkpoint_every;
  auto ranks = flow.Iterate(ranks0, FLAGS_iterations, [&](df::Dataset<std::pair<Id, double>> rank) {
    // Each page sends rank/outdeg to its targets, 0 to itself (so that it exists next time),
    // and its count and dangling rank to the globals' keys.
    auto sums = rank.LeftJoin(links)
                    .FlatMap<Global>([](const std::pair<Id, std::pair<double, std::optional<std::vector<Id>>>>& p,
                                        const df::Emitter<Global>& emit) {
                      const auto& [r, targets] = p.second;
                      emit(Global(p.first, 0.0));
                      emit(Global(kPagesKey, 1.0));
                      if (!targets || targets->empty()) {
                        emit(Global(kDanglingKey, r));
                        return;
                      }
                      double share = r / static_cast<double>(targets->size());
                      for (Id t : *targets) emit(Global(t, share));
                    })
                    .ReduceByKey(std::plus<double>(), parts);
    auto globals = sums.Filter([](const Global& g) { return g.first >= kDanglingKey; });
    return sums.Filter([](const Global& g) { return g.first < kDanglingKey; })
        .MapValuesWith(globals, [d](double in, const std::vector<Global>& g) {
          double n = 0, dangling = 0;
          for (const auto& [k, v] : g) (k == kPagesKey ? n : dangling) += v;
          return (1 - d) / n + d * (in + dangling / n);
        });
  }, loop);

  auto named = ranks.LeftJoin(names).Map([](const std::pair<Id, std::pair<double, std::optional<std::string>>>& p) {
    const auto& [rank, name] = p.second;
    return std::pair<std::string, std::string>(name ? *name : graph::NumericName(p.first), RankText(rank));
  });
  graph::WriteByPage(named, parts, flow.output());
}

}  // namespace

SAWMILL_DATAFLOW_MAIN("pagerank: PageRank of an edge list (TSV src<TAB>dst); output records are (page, rank as "
                      "decimal text), sorted by page.",
                      PageRank)
