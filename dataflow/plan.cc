#include "dataflow/plan.h"

#include <set>
#include <sstream>

namespace sawmill::df::internal {
namespace {

bool IsShuffle(const Node& n, JoinMode mode) {
  return n.kind == NodeKind::kShuffle || (n.kind == NodeKind::kJoin && mode == JoinMode::kReduce);
}

const char* JoinModeName(JoinMode m) {
  switch (m) {
    case JoinMode::kReduce: return "reduce-side";
    case JoinMode::kCoPartitioned: return "co-partitioned merge";
    case JoinMode::kBroadcast: return "broadcast";
    default: return "undecided";
  }
}

std::string Describe(const Node& n) {
  std::string s = n.op + "#" + std::to_string(n.id);
  if (n.kind == NodeKind::kSource) {
    std::string list;
    for (const auto& i : n.inputs) list += (list.empty() ? "" : ",") + i;
    s += "(" + list + ")";
  }
  if (n.kind == NodeKind::kWrite) s += "(" + n.path + ")";
  return s;
}

}  // namespace

Result<Analysis> Analysis::Run(const Graph& graph, int default_partitions) {
  Analysis a;
  a.default_partitions_ = default_partitions > 0 ? default_partitions : 1;
  RETURN_IF_ERROR(a.Analyze(graph));
  RETURN_IF_ERROR(a.BuildPlans(graph));
  return a;
}

JoinMode Analysis::join_mode(const Node& n) const {
  auto it = join_modes_.find(n.id);
  return it == join_modes_.end() ? JoinMode::kUndecided : it->second;
}

int Analysis::partitions(const Node& n) const { return n.partitions > 0 ? n.partitions : default_partitions_; }

Status Analysis::Analyze(const Graph& graph) {
  const auto& nodes = graph.nodes();
  std::map<int, std::vector<NodePtr>> consumers;
  for (const auto& n : nodes) {
    for (const auto& p : n->parents) consumers[p->id].push_back(n);
  }
  // Loop bodies: the nodes that depend on the loop variable and lead to the result.
  std::map<int, NodePtr> loop_of_var;
  std::set<int> outer, loop_ends;  // outer: read by a body from outside it
  for (const auto& l : nodes) {
    if (l->kind != NodeKind::kLoop) continue;
    const Node& var = *l->loop_var;
    std::set<int> dep{var.id}, anc;
    for (const auto& n : nodes) {
      for (const auto& p : n->parents) {
        if (n->id > var.id && dep.count(p->id)) dep.insert(n->id);
      }
    }
    std::vector<NodePtr> stack{l->loop_result};
    while (!stack.empty()) {
      NodePtr n = stack.back();
      stack.pop_back();
      if (!anc.insert(n->id).second || n->id == var.id) continue;
      for (const auto& p : n->parents) stack.push_back(p);
    }
    if (l->loop_result.get() == &var) return InvalidArgument("Iterate: the loop body returns its input unchanged");
    if (!dep.count(l->loop_result->id)) return InvalidArgument("Iterate: the loop body's result does not depend on its input");
    auto& body = bodies_[l->id];
    for (const auto& n : nodes) {
      if (!dep.count(n->id) || n->id == var.id) continue;
      if (!anc.count(n->id)) {
        return InvalidArgument("Iterate: " + Describe(*n) +
                               " in the loop body does not lead to the body's result (Write the loop's result instead)");
      }
      if (n->kind == NodeKind::kLoop) return InvalidArgument("Iterate: nested loops are not supported");
      body.push_back(n);
      loop_of_[n->id] = l->id;
      for (const auto& p : n->parents) {
        if (p->id != var.id && !dep.count(p->id)) outer.insert(p->id);
      }
    }
    loop_of_var[var.id] = l;
    loop_ends.insert(l->loop_result->id);
    loop_ends.insert(l->parents[0]->id);
  }

  // Key partitioning and join strategies, parents first (ids are in creation order).
  auto decide = [&](const Node& n) -> Status {
    auto p0 = [&] { return part_[n.parents[0]->id]; };
    switch (n.kind) {
      case NodeKind::kSource:
      case NodeKind::kUnion: part_[n.id] = 0; break;
      case NodeKind::kLoopVar: part_[n.id] = part_[loop_of_var.at(n.id)->parents[0]->id]; break;
      case NodeKind::kNarrow: part_[n.id] = n.keeps_keys ? p0() : 0; break;
      case NodeKind::kWrite: part_[n.id] = p0(); break;
      case NodeKind::kShuffle: part_[n.id] = n.shuffle->key_partitioned() ? partitions(n) : 0; break;
      case NodeKind::kLoop: part_[n.id] = part_[n.loop_result->id]; break;
      case NodeKind::kJoin: {
        JoinMode m = JoinMode::kReduce;
        if (n.join_hint == JoinHint::kBroadcast) {
          if (n.join->keeps_right_unmatched()) {
            return InvalidArgument(Describe(n) + ": a broadcast join cannot keep unmatched rows of its broadcast (right) side");
          }
          m = JoinMode::kBroadcast;
        } else if (n.join_hint == JoinHint::kAuto && p0() > 0 && p0() == part_[n.parents[1]->id]) {
          m = JoinMode::kCoPartitioned;
        }
        join_modes_[n.id] = m;
        part_[n.id] = m == JoinMode::kReduce          ? partitions(n)
                      : m == JoinMode::kCoPartitioned ? p0()
                                                      : (n.keeps_keys ? p0() : 0);
        break;
      }
    }
    return Status::Ok();
  };
  for (const auto& n : nodes) {
    RETURN_IF_ERROR(decide(*n));
    // A loop variable is partitioned like the loop's input only if every iteration's result is
    // partitioned alike; otherwise the body is planned again without that assumption.
    if (n->kind == NodeKind::kLoop && part_[n->loop_result->id] != part_[n->loop_var->id]) {
      part_[n->loop_var->id] = 0;
      for (const auto& b : bodies_[n->id]) RETURN_IF_ERROR(decide(*b));
      RETURN_IF_ERROR(decide(*n));
    }
  }

  for (const auto& n : nodes) {
    const auto kind = n->kind;
    bool rs = IsShuffle(*n, join_mode(*n));
    if (!rs && (kind == NodeKind::kNarrow || kind == NodeKind::kWrite)) {
      const Node& p = *n->parents[0];
      rs = reduce_side_[p.id] && !materialized_[p.id];
    }
    reduce_side_[n->id] = rs;
    bool mat = false;
    if (kind == NodeKind::kWrite || kind == NodeKind::kLoop) {
      mat = true;
    } else if (kind != NodeKind::kSource && kind != NodeKind::kLoopVar) {
      const auto& cs = consumers[n->id];
      mat = outer.count(n->id) || loop_ends.count(n->id) || cs.size() >= 2;
      for (const auto& c : cs) {
        // A map-side join reads its other side whole (or part by part); a co-partitioned one
        // streams its left side file by file too.
        JoinMode m = c->kind == NodeKind::kJoin ? join_mode(*c) : JoinMode::kReduce;
        if (m == JoinMode::kCoPartitioned || (m == JoinMode::kBroadcast && c->parents[1] == n)) mat = true;
        if (rs && c->kind != NodeKind::kNarrow && c->kind != NodeKind::kWrite) mat = true;
      }
    }
    materialized_[n->id] = mat;
  }
  return Status::Ok();
}

Status Analysis::BuildPlans(const Graph& graph) {
  // What the writes need.
  std::set<int> needed;
  std::vector<NodePtr> stack(graph.writes().begin(), graph.writes().end());
  while (!stack.empty()) {
    NodePtr n = stack.back();
    stack.pop_back();
    if (!needed.insert(n->id).second) continue;
    for (const auto& p : n->parents) stack.push_back(p);
    if (n->kind == NodeKind::kLoop) {
      for (const auto& b : bodies_.at(n->id)) stack.push_back(b);
    }
  }
  auto add = [&](Plan* plan, const NodePtr& n) -> Status {
    ASSIGN_OR_RETURN(Stage st, BuildStage(n));
    st.plan = plan->id;
    st.index = static_cast<int>(plan->stages.size());
    plan->stages.push_back(std::move(st));
    return Status::Ok();
  };
  plans_[0].id = 0;
  for (const auto& n : graph.nodes()) {
    if (!needed.count(n->id) || !materialized_[n->id]) continue;
    auto loop = loop_of_.find(n->id);
    Plan* plan = &plans_[loop == loop_of_.end() ? 0 : loop->second];
    plan->id = loop == loop_of_.end() ? 0 : loop->second;
    RETURN_IF_ERROR(add(plan, n));
  }
  return Status::Ok();
}

Result<Stage> Analysis::BuildStage(const NodePtr& output) const {
  Stage st;
  st.output = output;
  if (output->kind == NodeKind::kLoop) return st;
  if (reduce_side_.at(output->id)) {
    NodePtr n = output;
    std::vector<NodePtr> path;
    while (!IsShuffle(*n, join_mode(*n))) {
      path.insert(path.begin(), n);
      n = n->parents[0];
    }
    st.shuffle = n;
    st.reduce_path = std::move(path);
    st.partitions = partitions(*n);
    for (size_t s = 0; s < n->parents.size(); ++s) {
      RETURN_IF_ERROR(CollectInputs(n->parents[s], output, {}, static_cast<int>(s), &st));
    }
  } else {
    RETURN_IF_ERROR(CollectInputs(output, output, {}, 0, &st));
    // A map-only stage writes a part per split: it keeps its input's partitioning (and a later
    // join may rely on it) only with one split per input part.
    if (part_.at(output->id) > 0) st.whole_files = true;
  }
  return st;
}

Status Analysis::CollectInputs(const NodePtr& n, const NodePtr& output, std::vector<NodePtr> suffix, int side,
                               Stage* stage) const {
  bool input = n != output && (n->kind == NodeKind::kSource || n->kind == NodeKind::kLoopVar ||
                               n->kind == NodeKind::kLoop || materialized_.at(n->id));
  if (input) {
    stage->inputs.push_back({n, std::move(suffix), side});
    return Status::Ok();
  }
  suffix.insert(suffix.begin(), n);
  switch (n->kind) {
    case NodeKind::kNarrow:
    case NodeKind::kWrite: return CollectInputs(n->parents[0], output, std::move(suffix), side, stage);
    case NodeKind::kUnion:
      for (const auto& p : n->parents) RETURN_IF_ERROR(CollectInputs(p, output, suffix, side, stage));
      return Status::Ok();
    case NodeKind::kJoin:
      if (join_mode(*n) == JoinMode::kCoPartitioned) stage->whole_files = true;
      if (join_mode(*n) != JoinMode::kReduce) return CollectInputs(n->parents[0], output, std::move(suffix), side, stage);
      break;
    default: break;
  }
  return Internal("planner: " + Describe(*n) + " is neither a stage input nor fusable into a map task");
}

const Stage* Analysis::FindStage(const std::string& tag) const {
  for (const auto& [id, plan] : plans_) {
    for (const auto& st : plan.stages) {
      if (st.Tag() == tag) return &st;
    }
  }
  return nullptr;
}

int Analysis::shuffle_stages() const {
  int n = 0;
  for (const auto& [id, plan] : plans_) {
    for (const auto& st : plan.stages) n += st.shuffle != nullptr;
  }
  return n;
}

std::string Analysis::Explain() const {
  std::ostringstream out;
  auto chain = [&](const std::vector<NodePtr>& path) {
    std::string s;
    for (const auto& n : path) {
      s += " -> " + Describe(*n);
      if (n->kind == NodeKind::kJoin) s += std::string("[") + JoinModeName(join_mode(*n)) + "]";
    }
    return s;
  };
  auto print_plan = [&](const Plan& plan, const std::string& indent) {
    for (const auto& st : plan.stages) {
      if (st.is_loop()) {
        const Node& l = *st.output;
        out << indent << "stage " << st.Tag() << "  loop " << Describe(l) << ": ";
        if (l.until) out << "up to ";
        out << l.iterations << " iterations";
        if (l.checkpoint_every > 0) out << ", checkpoint every " << l.checkpoint_every;
        out << ", input " << Describe(*l.parents[0]) << ", body:\n";
        continue;
      }
      out << indent << "stage " << st.Tag() << "  ";
      if (st.shuffle) {
        const Node& s = *st.shuffle;
        out << "shuffle " << Describe(s);
        if (s.kind == NodeKind::kJoin) out << " [" << JoinModeName(join_mode(s)) << "]";
        out << " (" << st.partitions << " partitions";
        const ShuffleOps& ops = s.kind == NodeKind::kJoin ? *s.join : *s.shuffle;
        if (ops.total_order()) out << ", total order";
        if (ops.NewCombiner()) out << ", map-side combining";
        out << ")";
      } else {
        out << "map-only";
      }
      out << ", materializes " << Describe(*st.output) << "\n";
      for (const auto& in : st.inputs) {
        out << indent << "  map     " << Describe(*in.node) << chain(in.path);
        if (st.shuffle) out << " => " << st.shuffle->op << "#" << st.shuffle->id;
        out << "\n";
      }
      if (st.shuffle) out << indent << "  reduce  " << Describe(*st.shuffle) << chain(st.reduce_path) << "\n";
    }
  };
  const Plan& top = plans_.at(0);
  int stages = 0;
  for (const auto& st : top.stages) stages += !st.is_loop();
  out << "plan: " << shuffle_stages() << " shuffle stages in all";
  if (plans_.size() > 1) out << " (a loop body's counted once)";
  out << "\n";
  for (const auto& st : top.stages) {
    Plan one;
    one.stages.push_back(st);
    print_plan(one, "");
    if (st.is_loop()) {
      auto it = plans_.find(st.output->id);
      if (it != plans_.end()) print_plan(it->second, "    ");
    }
  }
  return out.str();
}

}  // namespace sawmill::df::internal
