// connected_components: the connected components of an undirected graph given as an edge list
// (TSV lines a<TAB>b), by label propagation: every page starts labelled with its own id and
// takes the smallest label among itself and its neighbours until no label changes. Output
// records: (page, the name of the page with the smallest id in its component), sorted by page.
#include <gflags/gflags.h>

#include "api/dataflow.h"
#include "jobs/graph_input.h"

DEFINE_int32(max_iterations, 1000, "Stop after this many iterations even if labels still change.");
DEFINE_int32(partitions, 4, "Partitions of the adjacency and label datasets; fixed for byte-identical output.");
DEFINE_bool(strict, false, "Fail on a malformed line instead of counting it in cc.malformed_lines.");

namespace {

using namespace sawmill;
using graph::Id;

void ConnectedComponents(df::Flow& flow) {
  const int parts = FLAGS_partitions;
  auto lines = flow.ReadText();
  using Edge = std::pair<Id, Id>;
  auto links = lines
                   .FlatMap<Edge>([](std::string_view line, const df::Emitter<Edge>& emit) {
                     Id x, y;
                     if (!graph::EdgeIds(line, &x, &y)) {
                       if (FLAGS_strict) throw std::runtime_error("malformed edge line (want a<TAB>b)");
                       df::Increment("cc.malformed_lines");
                       return;
                     }
                     emit(Edge(x, y));
                     emit(Edge(y, x));
                   })
                   .GroupByKey(parts);
  auto names = graph::PageNames(lines, parts);
  auto labels0 = links.MapValues([](Id page, const std::vector<Id>&) { return page; });

  df::IterateOptions options;
  options.until = [](int, const df::Counters& c) {
    auto it = c.find("cc.changed");
    return it == c.end() || it->second == 0;
  };
  auto labels = flow.Iterate(
      labels0, FLAGS_max_iterations,
      [&](df::Dataset<Edge> label) {
        auto smallest = links.Join(label)
                            .FlatMap<Edge>([](const std::pair<Id, std::pair<std::vector<Id>, Id>>& p,
                                              const df::Emitter<Edge>& emit) {
                              Id l = p.second.second;
                              emit(Edge(p.first, l));
                              for (Id n : p.second.first) emit(Edge(n, l));
                            })
                            .ReduceByKey([](Id a, Id b) { return std::min(a, b); }, parts);
        return smallest.Join(label).MapValues([](const std::pair<Id, Id>& next_old) {
          if (next_old.first < next_old.second) df::Increment("cc.changed");
          return std::min(next_old.first, next_old.second);
        });
      },
      options);

  using Named = std::pair<Id, std::string>;
  auto named = labels.LeftJoin(names)
                   .Map([](const std::pair<Id, std::pair<Id, std::optional<std::string>>>& p) {
                     const auto& [label, name] = p.second;
                     return Named(label, name ? *name : graph::NumericName(p.first));
                   })
                   .LeftJoin(names)
                   .Map([](const std::pair<Id, std::pair<std::string, std::optional<std::string>>>& p) {
                     const auto& [page, label_name] = p.second;
                     return std::pair<std::string, std::string>(page,
                                                                label_name ? *label_name : graph::NumericName(p.first));
                   });
  graph::WriteByPage(named, parts, flow.output());
}

}  // namespace

SAWMILL_DATAFLOW_MAIN("connected_components: connected components of an undirected edge list (TSV a<TAB>b); "
                      "output records are (page, smallest-id page of its component), sorted by page.",
                      ConnectedComponents)
