// Lowering: one stage of a dataflow plan as a MapReduce JobSpec whose mappers run the fused
// operators of each input path and whose reducers run the shuffle's operator and those after it.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "dataflow/plan.h"
#include "mapreduce/job_spec.h"

namespace sawmill::df::internal {

// Where each materialized dataset (and source) a stage reads or writes lives: node id → path.
using Bindings = std::map<int, std::string>;

// Bindings as a task flag (--df_bind): "ID=PATH,ID=PATH" (paths hold no comma: the executor makes
// them), and back; a malformed entry is kInvalidArgument naming it.
std::string EncodeBindings(const Bindings& b);
Result<Bindings> DecodeBindings(std::string_view s);

// The stage's job. `bindings` must name every input of the stage and the other side of each of
// its map-side joins; the job's inputs are set, its output is bindings[stage.output->id].
Result<JobSpec> StageJobSpec(const Analysis& analysis, const Stage& stage, const Bindings& bindings,
                             const std::string& program);

// The datasets a stage reads (its inputs and map-side join sides), by node.
std::vector<NodePtr> StageReads(const Analysis& analysis, const Stage& stage);

// Whether the stage's job keeps --split_mb splits (JobSpec::keep_split_size): its shuffle folds
// floating point, so its output depends on map task boundaries.
bool KeepsSplitSize(const Stage& stage);
// Whether the stage's job wants large splits (JobSpec::large_splits): its shuffle folds dense
// keys, which fewer, larger tasks shuffle less of.
bool WantsLargeSplits(const Stage& stage);
// Whether any stage of the program does, loop bodies included.
bool AnyStageKeepsSplitSize(const Analysis& analysis);

}  // namespace sawmill::df::internal
