// pagerank: PageRank of the pages of an edge list (TSV lines src<TAB>dst) as a dataflow
// program with a loop. N = distinct pages, initial rank 1/N, and each iteration
//   rank(p) = (1-d)/N + d * (sum of rank(q)/outdeg(q) over edges q->p + dangling mass / N)
// where the dangling mass is the rank held by pages without out-edges. Output records: (page,
// rank as shortest round-trip decimal text), sorted by page.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

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
DEFINE_string(ranks, "broadcast", "How an iteration gets the ranks it needs: broadcast (every task reads all ranks "
              "of the previous iteration, N x 16 bytes, and no shuffle runs) or shuffle (ranks travel along the edges "
              "through a shuffle: for graphs whose ranks do not fit a task's memory).");
DEFINE_bool(strict, false, "Fail on a malformed line instead of counting it in pagerank.malformed_lines.");

namespace {

using namespace sawmill;

using graph::Id;
// Keys of the per-iteration globals, above every page id.
constexpr Id kPagesKey = ~0ull;
constexpr Id kDanglingKey = ~0ull - 1;

std::string RankText(double r) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, r);
  return std::string(buf, res.ptr);
}

using Global = std::pair<Id, double>;
using Ranks = df::Dataset<std::pair<Id, double>>;

// Calls emit(src id, dst id) for a well-formed line; counts (or, --strict, fails on) others.
template <class Emit>
void ForEdge(std::string_view line, Emit&& emit) {
  Id src, dst;
  if (!graph::EdgeIds(line, &src, &dst)) {
    if (FLAGS_strict) throw std::runtime_error("malformed edge line (want src<TAB>dst)");
    df::Increment("pagerank.malformed_lines");
    return;
  }
  emit(src, dst);
}

df::IterateOptions LoopOptions() {
  df::IterateOptions loop;
  loop.checkpoint_every = FLAGS_checkpoint_every;
  return loop;
}

// --ranks shuffle: each iteration sends rank/outdeg along every out-edge through a shuffle
// (ranks LEFT JOIN links, co-partitioned), for graphs whose ranks do not fit one task.
Ranks ShuffleRanks(df::Flow& flow, const df::Dataset<std::string_view>& lines, int parts, double d) {
  // links: page -> the targets of its out-edges (pages with out-edges only).
  using Edge = std::pair<Id, Id>;
  auto links = lines
                   .FlatMap<Edge>([](std::string_view line, const df::Emitter<Edge>& emit) {
                     ForEdge(line, [&](Id s, Id t) { emit(Edge(s, t)); });
                   })
                   .GroupByKey(parts);
  // Every page (sources and targets), partitioned like links; N; the initial ranks 1/N.
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
  return flow.Iterate(
      ranks0, FLAGS_iterations,
      [&](Ranks rank) {
        // Each page sends rank/outdeg to its targets, 0 to itself (so that it exists next
        // time), and its count and dangling rank to the globals' keys.
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
      },
      LoopOptions());
}

// What every task of an iteration of --ranks broadcast holds: each page's rank/outdeg, by id
// in a vector when ids are small (pages numbered from 0), else in a hash table; N; the rank
// of the pages without out-edges.
struct Contributions {
  double n = 0, dangling = 0;
  std::vector<double> dense;
  std::unordered_map<Id, double> sparse;
  double operator[](Id q) const {
    if (q < dense.size()) return dense[q];
    auto it = sparse.find(q);
    return it == sparse.end() ? 0.0 : it->second;
  }
};

using State = std::pair<double, uint64_t>;  // rank, out-degree

Contributions Index(const std::vector<std::pair<Id, State>>& pages) {
  Contributions c;
  c.n = static_cast<double>(pages.size());
  size_t dense_limit = 4 * pages.size() + 1024;
  // Sized once: each growth would map and fault in a larger copy.
  size_t dense_size = 0;
  for (const auto& [id, state] : pages) {
    if (id < dense_limit && state.second > 0) dense_size = std::max<size_t>(dense_size, id + 1);
  }
  c.dense.assign(dense_size, 0.0);
  for (const auto& [id, state] : pages) {
    const auto& [rank, outdeg] = state;
    if (outdeg == 0) {
      c.dangling += rank;
      continue;
    }
    double share = rank / static_cast<double>(outdeg);
    if (id < dense_limit) {
      c.dense[id] = share;
    } else {
      c.sparse[id] = share;
    }
  }
  return c;
}

// The look-ahead of an iteration's sum: the shares a page will read, fetched while the pages
// before it are summed. The in-neighbours are random pages, so each share is a cache miss;
// fetched one page at a time they waited on memory one page after another (1.23 of 7.3 core-s
// on one load instruction). A hub's first 64 are enough to keep the memory busy.
void Prefetch(const std::pair<State, std::optional<std::vector<Id>>>& page, const Contributions& c) {
  if (!page.second) return;
  const auto& in = *page.second;
  const size_t n = std::min<size_t>(in.size(), 64);
  for (size_t i = 0; i < n; ++i) {
    if (in[i] < c.dense.size()) __builtin_prefetch(c.dense.data() + in[i]);
  }
}

// --ranks broadcast: each page sums what its in-neighbours send, reading every page's rank from
// the previous iteration's whole dataset (N x 16 bytes per task): one map-only stage per
// iteration, no shuffle.
Ranks BroadcastRanks(df::Flow& flow, const df::Dataset<std::string_view>& lines, int parts, double d) {
  // inlinks: page -> its in-neighbours, in id order (so that sums do not depend on splits).
  using Edge = std::pair<Id, Id>;
  auto inlinks = lines
                     .FlatMap<Edge>([](std::string_view line, const df::Emitter<Edge>& emit) {
                       ForEdge(line, [&](Id s, Id t) { emit(Edge(t, s)); });
                     })
                     .GroupByKey(parts)
                     .MapValues([](std::vector<Id> sources) {
                       graph::SortIds(&sources);
                       return sources;
                     });
  // Every page with its out-degree: targets (the keys of inlinks) count 0, each in-neighbour 1.
  using Degree = std::pair<Id, uint64_t>;
  auto degrees = inlinks
                     .FlatMap<Degree>([](const std::pair<Id, std::vector<Id>>& p, const df::Emitter<Degree>& emit) {
                       emit(Degree(p.first, 0));
                       for (Id q : p.second) emit(Degree(q, 1));
                     })
                     .ReduceByKey(std::plus<uint64_t>(), parts);
  auto count = degrees.Map([](const Degree&) { return Global(kPagesKey, 1.0); }).ReduceByKey(std::plus<double>(), 1);
  auto state0 = degrees.MapValuesWith(count, [](uint64_t outdeg, const std::vector<Global>& g) {
    return State(g.empty() ? 0.0 : 1.0 / g[0].second, outdeg);
  });
  using Page = std::pair<State, std::optional<std::vector<Id>>>;  // its state, its in-neighbours
  auto state = flow.Iterate(
      state0, FLAGS_iterations,
      [&](df::Dataset<std::pair<Id, State>> previous) {
        return previous.LeftJoin(inlinks).MapValuesWith(previous, Index, [d](const Page& page, const Contributions& c) {
          double in = 0;
          if (page.second) {
            for (Id q : *page.second) in += c[q];
          }
          return State((1 - d) / c.n + d * (in + c.dangling / c.n), page.first.second);
        }, Prefetch);
      },
      LoopOptions());
  return state.MapValues([](const State& s) { return s.first; });
}

void PageRank(df::Flow& flow) {
  const int parts = FLAGS_partitions;
  auto lines = flow.ReadText();
  Ranks ranks = FLAGS_ranks == "shuffle" ? ShuffleRanks(flow, lines, parts, FLAGS_damping)
                                         : BroadcastRanks(flow, lines, parts, FLAGS_damping);
  // Names of pages that are not plain numbers, for the output.
  auto names = graph::PageNames(lines, parts);
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
