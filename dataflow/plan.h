// The planner: decides join strategies and which datasets are materialized, then cuts the DAG
// into stages at shuffles. A stage is one MapReduce job: map tasks run the fused narrow operators
// from its inputs to the shuffle, reduce tasks the shuffle's operator and the fused operators
// after it, up to the dataset the stage materializes. Loops get a plan of their own per body.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "dataflow/graph.h"

namespace sawmill::df::internal {

struct StageInput {
  NodePtr node;               // a source, loop variable, loop or materialized dataset
  std::vector<NodePtr> path;  // the fused operators from it to the stage's shuffle or output
  int side = 0;               // which parent of the shuffle the path feeds
};

struct Stage {
  int plan = 0;   // 0: the program's plan; else the id of the loop whose body it is in
  int index = 0;  // within its plan, in execution order
  NodePtr output;                    // what the stage materializes (a kLoop node: runs the loop)
  NodePtr shuffle;                   // null: a map-only stage
  std::vector<NodePtr> reduce_path;  // fused after the shuffle, ending with `output`
  std::vector<StageInput> inputs;
  int partitions = 0;                // of the shuffle
  bool whole_files = false;          // a co-partitioned join reads part i of both sides in task i
  bool is_loop() const { return output->kind == NodeKind::kLoop; }
  std::string Tag() const { return std::to_string(plan) + "." + std::to_string(index); }
};

struct Plan {
  int id = 0;
  std::vector<Stage> stages;
};

// The analysis of a whole program.
class Analysis {
 public:
  // kInvalidArgument for programs the planner refuses (nested loops, a loop body with a Write
  // or a branch that does not lead to its result, a broadcast join that keeps right rows).
  static Result<Analysis> Run(const Graph& graph, int default_partitions);

  const Plan& program() const { return plans_.at(0); }
  const Plan& plan(int id) const { return plans_.at(id); }
  const Stage* FindStage(const std::string& tag) const;
  bool materialized(const Node& n) const { return materialized_.at(n.id); }
  JoinMode join_mode(const Node& n) const;
  int partitions(const Node& n) const;  // of a shuffle or join node, resolved
  // Nodes of the loop's body (depend on its variable and lead to its result), in id order.
  const std::vector<NodePtr>& body(const Node& loop) const { return bodies_.at(loop.id); }
  int shuffle_stages() const;  // over all plans (a loop body counted once)

  // The stages, their fused operators and strategies, as --explain prints them.
  std::string Explain() const;

 private:
  Status Analyze(const Graph& graph);
  Status BuildPlans(const Graph& graph);
  Result<Stage> BuildStage(const NodePtr& output) const;
  Status CollectInputs(const NodePtr& n, const NodePtr& output, std::vector<NodePtr> suffix, int side,
                       Stage* stage) const;

  int default_partitions_ = 1;
  std::map<int, bool> materialized_, reduce_side_;
  std::map<int, int> part_;  // key partitioning: partition count, 0 when none
  std::map<int, JoinMode> join_modes_;
  std::map<int, std::vector<NodePtr>> bodies_;
  std::map<int, int> loop_of_;  // body node id → loop id
  std::map<int, Plan> plans_;
};

}  // namespace sawmill::df::internal
