// The dataflow API (docs/dataflow.md): typed Dataset<T> pipelines that the planner fuses into
// stages between shuffles and runs on the MapReduce runtime, locally or on a cluster.
//
//   SAWMILL_DATAFLOW_MAIN("wordcount_df: ...", [](df::Flow& flow) {
//     flow.ReadText()
//         .FlatMap<std::string_view>([](std::string_view line, auto& emit) { ... emit(word); })
//         .Map([](std::string_view w) { return std::pair<std::string_view, int64_t>(w, 1); })
//         .ReduceByKey([](int64_t a, int64_t b) { return a + b; })
//         .Write(flow.output());
//   })
//
// Elements are encoded by df::Codec (api/dataflow_codec.h) whenever they cross a shuffle or are
// stored; pairs are keyed datasets (first = key). A std::string_view element (ReadText's lines)
// is valid only during the call that receives it. The operators behind Dataset's methods are
// internal: dataflow/operators.h and dataflow/join_operators.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "api/dataflow_codec.h"
#include "common/status.h"
#include "dataflow/graph.h"
#include "dataflow/join_operators.h"
#include "dataflow/operators.h"

namespace sawmill::df {

using Counters = std::map<std::string, int64_t>;
using internal::JoinHint;

// Adds to a named counter of the running task (summed over tasks, shown in the run's summary,
// and given to Iterate's `until`). No-op outside a task.
inline void Increment(std::string_view counter, int64_t delta = 1) {
  if (TaskContext* ctx = internal::CurrentTaskContext()) ctx->Increment(counter, delta);
}

// What FlatMap's function emits through.
template <class U>
class Emitter {
 public:
  explicit Emitter(internal::Sink* next) : next_(next) {}
  void operator()(const U& u) const { next_->Push(&u); }

 private:
  internal::Sink* next_;
};

enum class Order { kAscending, kDescending };

template <class T>
class Dataset;

struct IterateOptions {
  // Called after each iteration with its number (from 0) and the counters of its tasks; true
  // stops the loop early.
  std::function<bool(int iteration, const Counters& counters)> until;
  // Every k iterations the iteration's result is also written durably (replicated in the file
  // store on a cluster) and a lost intermediate is recomputed from there; 0: never.
  int checkpoint_every = 0;
};

// A distributed collection of T, built lazily: nothing runs until the program returns.
template <class T>
class Dataset {
 public:
  Dataset() = default;

  template <class F>
  auto Map(F f) const {
    using U = std::decay_t<std::invoke_result_t<F&, const T&>>;
    return Narrow<U>("Map", false, [f](internal::Sink* next, const internal::OpEnv&) {
      return std::make_unique<internal::MapOp<T, U, F>>(next, f);
    });
  }
  template <class F>
  Dataset<T> Filter(F f) const {
    return Narrow<T>("Filter", true, [f](internal::Sink* next, const internal::OpEnv&) {
      return std::make_unique<internal::FilterOp<T, F>>(next, f);
    });
  }
  // f(const T&, Emitter<U>& emit) calls emit(u) any number of times.
  template <class U, class F>
  Dataset<U> FlatMap(F f) const {
    return Narrow<U>("FlatMap", false, [f](internal::Sink* next, const internal::OpEnv&) {
      return std::make_unique<internal::FlatMapOp<T, Emitter<U>, F>>(next, f);
    });
  }

  // --- keyed datasets (T = std::pair<K, V>) ---

  // The values of each key folded by f(V, V) -> V (associative), before the shuffle too.
  template <class F>
  Dataset<T> ReduceByKey(F f, int partitions = 0) const {
    using K = typename T::first_type;
    using V = typename T::second_type;
    static_assert(!std::is_same_v<V, std::string_view>, "ReduceByKey: fold std::string values, not views");
    return Shuffle<T>("ReduceByKey", partitions, std::make_shared<internal::ReduceByKeyOps<K, V, F>>(f));
  }
  // (key, every value of the key): values in input order.
  auto GroupByKey(int partitions = 0) const {
    using K = typename T::first_type;
    using V = typename T::second_type;
    using Out = std::pair<K, std::vector<internal::Owned<V>>>;
    return Shuffle<Out>("GroupByKey", partitions, std::make_shared<internal::GroupByKeyOps<K, V>>());
  }
  // f(value) or f(key, value) -> W: (key, W), keys (and so partitioning) unchanged.
  template <class F>
  auto MapValues(F f) const {
    using K = typename T::first_type;
    using V = typename T::second_type;
    constexpr bool with_key = std::is_invocable_v<F&, const K&, const V&>;
    auto call = [f](const T& x) mutable {
      if constexpr (with_key) {
        return f(x.first, x.second);
      } else {
        return f(x.second);
      }
    };
    using W = std::decay_t<std::invoke_result_t<decltype(call)&, const T&>>;
    auto g = [call](const T& x) mutable { return std::pair<K, W>(x.first, call(x)); };
    return Narrow<std::pair<K, W>>("MapValues", true, [g](internal::Sink* next, const internal::OpEnv&) {
      return std::make_unique<internal::MapOp<T, std::pair<K, W>, decltype(g)>>(next, g);
    });
  }
  // f(value, side) -> W with `side` the whole of a small dataset (every element, in order; read
  // once per map task): for globals such as counts and sums computed by an earlier stage.
  template <class S, class F>
  auto MapValuesWith(const Dataset<S>& side, F f) const {
    using W = std::decay_t<std::invoke_result_t<F&, const typename T::second_type&, const std::vector<S>&>>;
    return WithSide<S, W>(side, internal::NoPrepare{}, f);
  }
  // As above, with prepare(side) -> X run once per map task and f(value, const X&) -> W for each
  // element: for an index over a larger side (e.g. a vector by id, a hash map).
  template <class S, class P, class F>
  auto MapValuesWith(const Dataset<S>& side, P prepare, F f) const {
    using X = std::decay_t<std::invoke_result_t<P&, const std::vector<S>&>>;
    using W = std::decay_t<std::invoke_result_t<F&, const typename T::second_type&, const X&>>;
    return WithSide<S, W>(side, prepare, f);
  }
  // As above, with ahead(value, const X&) called on each element a few elements before f is
  // called on it, in the same task and order: a hint, typically __builtin_prefetch of what f
  // will read from X, so that the random reads of consecutive elements overlap instead of each
  // waiting on memory. It must not change what f computes (it may do nothing).
  template <class S, class P, class F, class A>
  auto MapValuesWith(const Dataset<S>& side, P prepare, F f, A ahead) const {
    using X = std::decay_t<std::invoke_result_t<P&, const std::vector<S>&>>;
    using W = std::decay_t<std::invoke_result_t<F&, const typename T::second_type&, const X&>>;
    static_assert(std::is_invocable_v<A&, const typename T::second_type&, const X&>,
                  "ahead(value, prepared side) is called before f(value, prepared side)");
    return WithSide<S, W>(side, prepare, f, ahead);
  }
  // Inner join on the key: (k, (v, w)) for every pair of rows with equal keys. Without a hint,
  // co-partitioned inputs (outputs of shuffles with the same partition count, keys kept) are
  // merged part by part without a shuffle, others are joined reduce-side; kBroadcast loads
  // `other` whole into every map task.
  template <class R>
  auto Join(const Dataset<R>& other, JoinHint hint = JoinHint::kAuto, int partitions = 0) const {
    return JoinWith<R, internal::JoinKind::kInner>("Join", other, hint, partitions);
  }
  // Left outer join: (k, (v, optional w)).
  template <class R>
  auto LeftJoin(const Dataset<R>& other, JoinHint hint = JoinHint::kAuto, int partitions = 0) const {
    return JoinWith<R, internal::JoinKind::kLeft>("LeftJoin", other, hint, partitions);
  }

  // --- any dataset ---

  // Globally sorted by key_of(x) (range-partitioned: part i's keys precede part i+1's); equal
  // keys keep their input order.
  template <class F>
  Dataset<T> SortBy(F key_of, Order order = Order::kAscending, int partitions = 0) const {
    using SK = std::decay_t<std::invoke_result_t<F&, const T&>>;
    return Shuffle<T>("SortBy", partitions,
                      std::make_shared<internal::SortByOps<T, SK, F>>(key_of, order == Order::kDescending));
  }
  Dataset<T> Distinct(int partitions = 0) const {
    return Shuffle<T>("Distinct", partitions, std::make_shared<internal::DistinctOps<T>>());
  }
  Dataset<T> Union(const Dataset<T>& other) const {
    auto n = node_->graph->Add(internal::NodeKind::kUnion, "Union", {node_, other.node_},
                               internal::Records<T>::Make());
    n->make_op = [](internal::Sink* next, const internal::OpEnv&) { return std::make_unique<internal::PassOp>(next); };
    return Dataset<T>(n);
  }
  // Writes the dataset as a directory of record files (pairs as (key, value) records, other
  // elements as ("", element)), replacing it with --overwrite.
  void Write(const std::string& path) const {
    auto n = node_->graph->Add(internal::NodeKind::kWrite, "Write", {node_}, internal::Records<T>::Make());
    n->path = path;
    n->keeps_keys = true;
    n->make_op = [](internal::Sink* next, const internal::OpEnv&) { return std::make_unique<internal::PassOp>(next); };
    node_->graph->AddWrite(n);
  }

  const internal::NodePtr& node() const { return node_; }
  explicit Dataset(internal::NodePtr n) : node_(std::move(n)) {}

 private:
  template <class U, class Make>
  Dataset<U> Narrow(const char* op, bool keeps_keys, Make make) const {
    auto n = node_->graph->Add(internal::NodeKind::kNarrow, op, {node_}, internal::Records<U>::Make());
    n->make_op = std::move(make);
    n->keeps_keys = keeps_keys;
    return Dataset<U>(n);
  }
  template <class U>
  Dataset<U> Shuffle(const char* op, int partitions, std::shared_ptr<const internal::ShuffleOps> ops) const {
    auto n = node_->graph->Add(internal::NodeKind::kShuffle, op, {node_}, internal::Records<U>::Make());
    n->shuffle = std::move(ops);
    n->partitions = partitions;
    return Dataset<U>(n);
  }
  template <class S, class W, class P, class F, class A = internal::NoAhead>
  auto WithSide(const Dataset<S>& side, const P& prepare, const F& f, const A& ahead = {}) const {
    using K = typename T::first_type;
    using V = typename T::second_type;
    using Ops = internal::SideOps<K, V, S, W, P, F, A>;
    auto n = node_->graph->Add(internal::NodeKind::kJoin, "MapValuesWith", {node_, side.node()},
                               internal::Records<std::pair<K, W>>::Make());
    n->join = std::make_shared<Ops>(prepare, f, ahead);
    n->join_hint = JoinHint::kBroadcast;
    n->keeps_keys = true;
    return Dataset<std::pair<K, W>>(n);
  }
  template <class R, internal::JoinKind kind>
  auto JoinWith(const char* op, const Dataset<R>& other, JoinHint hint, int partitions) const {
    static_assert(internal::IsPair<T>::value && internal::IsPair<R>::value, "joins take keyed datasets (pairs)");
    using K = typename T::first_type;
    using V = typename T::second_type;
    using W = typename R::second_type;
    static_assert(std::is_same_v<K, typename R::first_type>, "joined datasets must have the same key type");
    using Ops = internal::JoinOpsImpl<K, V, W, kind>;
    using Out = typename Ops::Out;
    auto n = node_->graph->Add(internal::NodeKind::kJoin, op, {node_, other.node()}, internal::Records<Out>::Make());
    n->join = std::make_shared<Ops>();
    n->join_hint = hint;
    n->partitions = partitions;
    return Dataset<Out>(n);
  }

  internal::NodePtr node_;
};

// The program's handle: its inputs, and the common flags' values.
class Flow {
 public:
  struct Options {
    std::vector<std::string> inputs;  // --input
    std::string output;               // --output
    int partitions = 1;               // --reducers: shuffles' default partition count
  };
  Flow(internal::Graph* graph, Options options) : graph_(graph), options_(std::move(options)) {}

  const std::vector<std::string>& inputs() const { return options_.inputs; }
  const std::string& output() const { return options_.output; }
  int partitions() const { return options_.partitions; }

  // The lines of text files (without '\n'); --input when `paths` is empty.
  Dataset<std::string_view> ReadText(std::vector<std::string> paths = {}) {
    return Source<std::string_view>("ReadText", paths.empty() ? options_.inputs : std::move(paths), true);
  }
  // The records of record files (a job's output directory), decoded as (K, V).
  template <class K, class V>
  Dataset<std::pair<K, V>> ReadRecords(std::vector<std::string> paths = {}) {
    return Source<std::pair<K, V>>("ReadRecords", paths.empty() ? options_.inputs : std::move(paths), false);
  }

  // body applied `iterations` times to `init` (fewer when options.until says stop). Between
  // iterations the dataset stays on local disks (replication 1 on a cluster) and is recomputed
  // from its lineage if lost. Datasets the body reads from outside it are computed once.
  template <class T, class Body>
  Dataset<T> Iterate(const Dataset<T>& init, int iterations, Body body, IterateOptions options = {}) {
    if (graph_->in_loop_body) throw std::invalid_argument("Iterate: nested loops are not supported");
    Dataset<T> start = init;
    if (init.node()->kind == internal::NodeKind::kSource) start = init.Map([](const T& x) { return x; });
    auto var = graph_->Add(internal::NodeKind::kLoopVar, "LoopInput", {}, internal::Records<T>::Make());
    graph_->in_loop_body = true;
    Dataset<T> result = body(Dataset<T>(var));
    graph_->in_loop_body = false;
    auto loop = graph_->Add(internal::NodeKind::kLoop, "Iterate", {start.node()}, internal::Records<T>::Make());
    loop->loop_var = var;
    loop->loop_result = result.node();
    loop->iterations = iterations;
    loop->checkpoint_every = options.checkpoint_every;
    loop->until = options.until;
    return Dataset<T>(loop);
  }

 private:
  template <class T>
  Dataset<T> Source(const char* op, std::vector<std::string> paths, bool text) {
    auto n = graph_->Add(internal::NodeKind::kSource, op, {}, internal::Records<T>::Make());
    n->inputs = std::move(paths);
    n->text = text;
    return Dataset<T>(n);
  }

  internal::Graph* graph_;
  Options options_;
};

using Program = std::function<void(Flow&)>;

// What a run reports (RunDataflow; the binary prints it as its summary line).
struct RunReport {
  bool ok = false;
  int exit_code = 1;  // 0 ok, 2 bad usage or input, 1 failure
  std::string error;
  int stages_run = 0;          // jobs run, counting each loop iteration's
  int shuffle_stages_run = 0;
  int iterations = 0;          // of the last loop
  int recomputed_stages = 0;   // rerun because an intermediate they had written was lost
  int intermediates = 0;            // datasets materialized between stages (not the writes)
  uint64_t intermediate_bytes = 0;  // their bytes
  uint64_t records_out = 0, bytes_out = 0;  // of the writes
  double seconds = 0;
  double loop_seconds = 0;     // spent in loops (their iterations' stages)
  Counters counters;           // user counters, summed
};

struct RunOptions {
  int threads = 2;
  size_t memory_mb = 512;
  int partitions = 1;
  bool overwrite = false;
  uint64_t split_bytes = 64 << 20;
  size_t block_kb = 64;
  uint64_t seed = 0;
  std::string tmp_dir;  // intermediates (default: $TMPDIR or /tmp)
  std::vector<std::string> inputs;
  std::string output;
};

// Runs a program in this process (local mode), e.g. from a test.
RunReport RunDataflow(const Program& program, const RunOptions& options);
// The plan --explain prints; kInvalidArgument when the planner refuses the program.
Result<std::string> ExplainDataflow(const Program& program, const RunOptions& options);

// The main() of a dataflow job binary: the common job flags plus --explain; runs locally or,
// with --cluster, submits each stage to the coordinator.
int RunDataflowMain(int argc, char** argv, const char* usage, const Program& program);

}  // namespace sawmill::df

#define SAWMILL_DATAFLOW_MAIN(usage, program)                      \
  int main(int argc, char** argv) {                                \
    return ::sawmill::df::RunDataflowMain(argc, argv, usage, program); \
  }
