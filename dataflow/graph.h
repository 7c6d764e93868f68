// The logical plan of a dataflow program: a DAG of type-erased operator nodes that the typed
// Dataset<T> API (api/dataflow.h) builds and the planner (plan.h) cuts into stages.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mapreduce/user_code.h"

namespace sawmill::df::internal {

// Receives the elements of one dataset, one at a time, inside a fused task pipeline. An element
// is passed by address and is valid only during Push (views in it point into task buffers).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Push(const void* element) = 0;
  // End of the task's input: emit what is held back, then finish the next sink.
  virtual void Finish() {}
};

// An operator: pushes to the next sink and finishes it after itself.
class OpSink : public Sink {
 public:
  explicit OpSink(Sink* next) : next_(next) {}
  void Finish() override { next_->Finish(); }

 protected:
  Sink* next_;
};

// What an operator may need from the task it runs in.
struct OpEnv {
  TaskContext* ctx = nullptr;
  // Map-side joins: the directory of the other side (its parts are named like the streamed
  // input's), and the streamed input file's part name.
  std::string side_path;
  std::string part_name;
};

enum class NodeKind {
  kSource,   // files read by a stage (text lines or record files)
  kLoopVar,  // an iteration's input: the previous iteration's result
  kNarrow,   // one element in, any number out, no shuffle (Map, Filter, FlatMap, MapValues)
  kUnion,    // the elements of every parent
  kShuffle,  // ReduceByKey, GroupByKey, Distinct, SortBy
  kJoin,     // two keyed parents; reduce-side (a shuffle) or map-side, as the planner decides
  kWrite,    // the parent's elements, written to a path
  kLoop,     // the result of an iteration
};

// How a dataset's elements are stored as (key, value) records: pairs as (first, second),
// anything else as ("", element).
struct RecordCodec {
  void (*encode)(const void* element, std::string* key, std::string* value) = nullptr;
  // Decodes a record and pushes the element to `next`; false when the record is malformed.
  bool (*decode_push)(std::string_view key, std::string_view value, Sink* next) = nullptr;
  bool keyed = false;  // elements are pairs
};

// The shuffle of a kShuffle node (or of a reduce-side kJoin): what map tasks emit for an element
// of parent `side`, how map output is combined, and how a reduce task turns a key's values into
// elements.
class ShuffleOps {
 public:
  virtual ~ShuffleOps() = default;
  virtual void EncodeMapOutput(int side, const void* element, std::string* key, std::string* value) const = 0;
  // The end of a map task's fused operators on `side`: emits each element's map output. The
  // default encodes with EncodeMapOutput; ops override it with a typed sink that skips copies.
  virtual std::unique_ptr<Sink> NewMapSink(int side, TaskContext* ctx) const;
  virtual std::unique_ptr<Combiner> NewCombiner() const { return nullptr; }
  virtual void Reduce(std::string_view key, ValueIterator& values, Sink* next) const = 0;
  // Output records are keyed like the input (hash of the record key) and sorted by it, so a later
  // join with a dataset partitioned alike needs no shuffle.
  virtual bool key_partitioned() const { return false; }
  virtual bool total_order() const { return false; }  // SortBy: range-partitioned
  // Reduce-side joins: map output keys end in a one-byte side tag; reducers group without it.
  virtual bool tagged() const { return false; }
  // Folds floating point (sums of doubles): map task boundaries change the result's last bits,
  // so the stage's splits must not depend on the thread count.
  virtual bool inexact_fold() const { return false; }
  // Map output keys are unsigned 64-bit integers (and values fixed-size, or lists): small keys
  // (ids from 0) fold into an array or are grouped by a counting sort (JobSpec::dense_keys).
  virtual bool dense_keys() const { return false; }
  // What the partitioner hashes of a map output key: the record key the reduce emits, so that
  // outputs of different shuffles with the same key and partition count are partitioned alike.
  virtual std::string_view PartitionKey(std::string_view key, std::string* scratch) const { return key; }
};

enum class JoinMode { kUndecided, kReduce, kCoPartitioned, kBroadcast };
enum class JoinHint { kAuto, kReduce, kBroadcast };

// Map-side join operators of a kJoin node (the streamed side is parent 0).
class JoinOps : public ShuffleOps {
 public:
  virtual std::unique_ptr<Sink> NewMapSideOp(JoinMode mode, Sink* next, const OpEnv& env) const = 0;
  // Unmatched right rows must be emitted, which a broadcast join cannot find per task.
  virtual bool keeps_right_unmatched() const = 0;
};

class Graph;

struct Node {
  int id = 0;
  NodeKind kind = NodeKind::kNarrow;
  std::string op;  // what Explain shows: "Map", "ReadText", ...
  std::vector<std::shared_ptr<Node>> parents;
  RecordCodec codec;
  Graph* graph = nullptr;

  // kNarrow (and kUnion/kWrite, which pass elements on): the operator fed with the parent's
  // elements that pushes this node's elements to `next`.
  std::function<std::unique_ptr<Sink>(Sink* next, const OpEnv& env)> make_op;
  bool keeps_keys = false;  // kNarrow: element keys are unchanged (Filter, MapValues)

  std::shared_ptr<const ShuffleOps> shuffle;  // kShuffle
  std::shared_ptr<const JoinOps> join;        // kJoin
  JoinHint join_hint = JoinHint::kAuto;
  int partitions = 0;                         // kShuffle/kJoin: 0 means the job's --reducers

  std::vector<std::string> inputs;  // kSource
  bool text = false;                // kSource: text lines, else record files
  std::string path;                 // kWrite

  // kLoop: the body (loop_var → result), run `iterations` times or until `until` says stop.
  std::shared_ptr<Node> loop_var, loop_result;
  int iterations = 0;
  int checkpoint_every = 0;
  std::function<bool(int iteration, const std::map<std::string, int64_t>& counters)> until;
};
using NodePtr = std::shared_ptr<Node>;

// Owns the nodes of one program, numbered in creation order (so a task process that rebuilds
// the program finds the same numbers).
class Graph {
 public:
  NodePtr Add(NodeKind kind, std::string op, std::vector<NodePtr> parents, RecordCodec codec) {
    auto n = std::make_shared<Node>();
    n->id = static_cast<int>(nodes_.size()) + 1;
    n->kind = kind;
    n->op = std::move(op);
    n->parents = std::move(parents);
    n->codec = codec;
    n->graph = this;
    nodes_.push_back(n);
    return n;
  }
  const std::vector<NodePtr>& nodes() const { return nodes_; }
  const std::vector<NodePtr>& writes() const { return writes_; }
  void AddWrite(NodePtr w) { writes_.push_back(std::move(w)); }
  // Set while a loop body is being built: nested loops are refused.
  bool in_loop_body = false;

 private:
  std::vector<NodePtr> nodes_;
  std::vector<NodePtr> writes_;
};

// The task's context while user code of a dataflow task runs (for df::Increment).
TaskContext*& CurrentTaskContext();

}  // namespace sawmill::df::internal
