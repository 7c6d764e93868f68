#include "dataflow/lower.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "common/file.h"

namespace sawmill::df::internal {

std::string EncodeBindings(const Bindings& b) {
  std::string s;
  for (const auto& [id, path] : b) s += (s.empty() ? "" : ",") + std::to_string(id) + "=" + path;
  return s;
}

Result<Bindings> DecodeBindings(std::string_view s) {
  Bindings b;
  while (!s.empty()) {
    const size_t end = std::min(s.find(','), s.size());
    const std::string_view item = s.substr(0, end);
    s.remove_prefix(std::min(end + 1, s.size()));
    const size_t eq = item.find('=');
    int id = 0;
    const char* id_end = item.data() + (eq == std::string_view::npos ? item.size() : eq);
    auto [p, ec] = std::from_chars(item.data(), id_end, id);
    if (eq == std::string_view::npos || eq == 0 || ec != std::errc() || p != id_end || id < 0 ||
        eq + 1 == item.size() || !b.emplace(id, std::string(item.substr(eq + 1))).second) {
      return InvalidArgument("--df_bind: bad entry '" + std::string(item) + "' (want ID=PATH, each ID once)");
    }
  }
  return b;
}

namespace {

const ShuffleOps& OpsOf(const Node& n) { return n.kind == NodeKind::kJoin ? *n.join : *n.shuffle; }

// Map side, end of a shuffle stage's path: the element as map output of its side.
class ShuffleSink final : public Sink {
 public:
  ShuffleSink(const ShuffleOps& ops, int side, TaskContext* ctx) : ops_(ops), side_(side), ctx_(ctx) {}
  void Push(const void* e) override {
    key_.clear();
    value_.clear();
    ops_.EncodeMapOutput(side_, e, &key_, &value_);
    ctx_->Emit(key_, value_);
  }

 private:
  const ShuffleOps& ops_;
  int side_;
  TaskContext* ctx_;
  std::string key_, value_;
};

// End of a stage: the element as a record of the materialized dataset.
class RecordSink final : public Sink {
 public:
  RecordSink(const RecordCodec& codec, TaskContext* ctx) : codec_(codec), ctx_(ctx) {}
  void Push(const void* e) override {
    key_.clear();
    value_.clear();
    codec_.encode(e, &key_, &value_);
    ctx_->Emit(key_, value_);
  }

 private:
  const RecordCodec& codec_;
  TaskContext* ctx_;
  std::string key_, value_;
};

// The fused operators of one task: `path` in front of the sink that ends the stage.
struct Chain {
  std::unique_ptr<Sink> last;
  std::vector<std::unique_ptr<Sink>> ops;
  Sink* head = nullptr;

  void Build(const Analysis& analysis, const std::vector<NodePtr>& path, std::unique_ptr<Sink> end, const OpEnv& env,
             const Bindings& bindings) {
    last = std::move(end);
    head = last.get();
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      const Node& n = **it;
      std::unique_ptr<Sink> op;
      if (n.kind == NodeKind::kJoin) {
        OpEnv side = env;
        side.side_path = bindings.at(n.parents[1]->id);
        op = n.join->NewMapSideOp(analysis.join_mode(n), head, side);
      } else {
        op = n.make_op(head, env);
      }
      head = op.get();
      ops.push_back(std::move(op));
    }
  }
};

// Sets the task context df::Increment uses while user code runs on this thread.
struct ContextScope {
  explicit ContextScope(TaskContext* ctx) : saved(CurrentTaskContext()) { CurrentTaskContext() = ctx; }
  ~ContextScope() { CurrentTaskContext() = saved; }
  TaskContext* saved;
};

class StageMapper final : public Mapper {
 public:
  StageMapper(const Analysis& analysis, const Stage& stage, const StageInput& input, const Bindings& bindings)
      : analysis_(analysis), stage_(stage), input_(input), bindings_(bindings) {}

  void Setup(TaskContext& ctx) override {
    ContextScope scope(&ctx);
    OpEnv env;
    env.ctx = &ctx;
    env.part_name = Basename(std::string(ctx.input_path()));
    chain_.Build(analysis_, input_.path,
                 stage_.shuffle ? OpsOf(*stage_.shuffle).NewMapSink(input_.side, &ctx)
                                : std::make_unique<RecordSink>(stage_.output->codec, &ctx),
                 env, bindings_);
    text_ = input_.node->kind == NodeKind::kSource && input_.node->text;
  }
  void Map(std::string_view key, std::string_view value, TaskContext& ctx) override {
    ContextScope scope(&ctx);
    if (text_) {
      chain_.head->Push(&value);
    } else if (!input_.node->codec.decode_push(key, value, chain_.head)) {
      throw std::runtime_error("record does not decode as the elements of " + input_.node->op + "#" +
                               std::to_string(input_.node->id) + " (wrong types, or not written by this program)");
    }
  }
  void Finish(TaskContext& ctx) override {
    ContextScope scope(&ctx);
    chain_.head->Finish();
  }

 private:
  const Analysis& analysis_;
  const Stage& stage_;
  const StageInput& input_;
  const Bindings& bindings_;
  Chain chain_;
  bool text_ = false;
};

class StageReducer final : public Reducer {
 public:
  StageReducer(const Analysis& analysis, const Stage& stage, const Bindings& bindings)
      : analysis_(analysis), stage_(stage), bindings_(bindings), ops_of_(OpsOf(*stage.shuffle)) {}

  void Setup(TaskContext& ctx) override {
    ContextScope scope(&ctx);
    OpEnv env;
    env.ctx = &ctx;
    chain_.Build(analysis_, stage_.reduce_path, std::make_unique<RecordSink>(stage_.output->codec, &ctx), env,
                 bindings_);
  }
  void Reduce(std::string_view key, ValueIterator& values, TaskContext& ctx) override {
    ContextScope scope(&ctx);
    ops_of_.Reduce(key, values, chain_.head);
  }
  void Finish(TaskContext& ctx) override {
    ContextScope scope(&ctx);
    chain_.head->Finish();
  }

 private:
  const Analysis& analysis_;
  const Stage& stage_;
  const Bindings& bindings_;
  const ShuffleOps& ops_of_;
  Chain chain_;
};

}  // namespace

std::unique_ptr<Sink> ShuffleOps::NewMapSink(int side, TaskContext* ctx) const {
  return std::make_unique<ShuffleSink>(*this, side, ctx);
}

TaskContext*& CurrentTaskContext() {
  thread_local TaskContext* ctx = nullptr;
  return ctx;
}

std::vector<NodePtr> StageReads(const Analysis& analysis, const Stage& stage) {
  std::vector<NodePtr> out;
  for (const auto& in : stage.inputs) {
    out.push_back(in.node);
    for (const auto& n : in.path) {
      if (n->kind == NodeKind::kJoin) out.push_back(n->parents[1]);
    }
  }
  for (const auto& n : stage.reduce_path) {
    if (n->kind == NodeKind::kJoin) out.push_back(n->parents[1]);
  }
  return out;
}

bool KeepsSplitSize(const Stage& stage) {
  // Floating-point folds depend on task boundaries.
  return stage.shuffle && OpsOf(*stage.shuffle).inexact_fold();
}

bool WantsLargeSplits(const Stage& stage) {
  // Dense-key folds write up to one record per key per task, so fewer, larger tasks shuffle
  // less (PageRank's degrees: 0.51 s -> 0.23 s).
  return stage.shuffle && OpsOf(*stage.shuffle).dense_keys();
}

bool AnyStageKeepsSplitSize(const Analysis& analysis) {
  std::vector<const Plan*> plans = {&analysis.program()};
  for (size_t i = 0; i < plans.size(); ++i) {
    for (const auto& st : plans[i]->stages) {
      if (st.is_loop()) {
        plans.push_back(&analysis.plan(st.output->id));
      } else if (KeepsSplitSize(st)) {
        return true;
      }
    }
  }
  return false;
}

Result<JobSpec> StageJobSpec(const Analysis& analysis, const Stage& stage, const Bindings& bindings,
                             const std::string& program) {
  JobSpec spec;
  spec.name = program + "-s" + stage.Tag();
  for (const auto& n : StageReads(analysis, stage)) {
    if (n->kind != NodeKind::kSource && !bindings.count(n->id)) {
      return Internal("stage " + stage.Tag() + ": no path bound for " + n->op + "#" + std::to_string(n->id));
    }
  }
  // One job input per file list entry of each stage input; owner[i] = the stage input.
  auto owner = std::make_shared<std::vector<int>>();
  for (size_t i = 0; i < stage.inputs.size(); ++i) {
    const Node& n = *stage.inputs[i].node;
    std::vector<std::string> paths = n.kind == NodeKind::kSource ? n.inputs : std::vector<std::string>{bindings.at(n.id)};
    for (const auto& p : paths) {
      spec.inputs.push_back(p);
      spec.input_formats.push_back(n.kind == NodeKind::kSource && n.text ? InputFormat::kTextLines
                                                                        : InputFormat::kRecordFile);
      owner->push_back(static_cast<int>(i));
    }
  }
  const Analysis* a = &analysis;
  const Stage* st = &stage;
  const Bindings* b = &bindings;
  spec.mapper_for_input = [a, st, b, owner](int input) -> std::unique_ptr<Mapper> {
    return std::make_unique<StageMapper>(*a, *st, st->inputs[owner->at(input)], *b);
  };
  spec.whole_file_splits = stage.whole_files;
  // Intermediate datasets are read back once, soon, by the next stages: raw blocks.
  spec.compress_output = stage.output->kind == NodeKind::kWrite;
  if (stage.shuffle) {
    const ShuffleOps& ops = OpsOf(*stage.shuffle);
    spec.reducer = [a, st, b] { return std::make_unique<StageReducer>(*a, *st, *b); };
    if (ops.NewCombiner()) spec.combiner = [&ops] { return ops.NewCombiner(); };
    spec.total_order = ops.total_order();
    spec.dense_keys = ops.dense_keys();
    spec.keep_split_size = KeepsSplitSize(stage);
    spec.large_splits = WantsLargeSplits(stage);
    if (ops.tagged()) {
      spec.group_prefix = [](std::string_view key) { return key.empty() ? 0 : key.size() - 1; };
      spec.partition_key = [&ops](std::string_view key, std::string* scratch) { return ops.PartitionKey(key, scratch); };
    }
  }
  return spec;
}

}  // namespace sawmill::df::internal
