// A reduce task: merge its partition of every map output (file order = map task order, so equal
// keys arrive in (map task index, emit order)), group by key, run the reducer, write the part.
#include <algorithm>
#include <functional>
#include <memory>

#include "common/file.h"
#include "mapreduce/merger.h"
#include "mapreduce/task.h"
#include "mapreduce/task_context.h"
#include "records/record_file.h"

namespace sawmill {
namespace {

// The values of the current key (or key group), streamed from the merge.
class GroupValues final : public ValueIterator {
 public:
  GroupValues(PartitionMerge* merge, const std::function<size_t(std::string_view)>* group_prefix)
      : merge_(merge), group_prefix_(group_prefix && *group_prefix ? group_prefix : nullptr) {}

  // Starts a group at the merge's current record (which must be valid).
  void Start() {
    key_.assign(merge_->key());
    group_len_ = group_prefix_ ? std::min((*group_prefix_)(key_), key_.size()) : key_.size();
    has_member_ = false;
    first_pending_ = true;
    done_ = false;
    merge_valid_ = true;
  }
  bool Next(std::string_view* value) override {
    if (done_) return false;
    if (first_pending_) {
      first_pending_ = false;
    } else {
      merge_valid_ = merge_->Next();
      if (!merge_valid_ || !InGroup(merge_->key())) {
        done_ = true;
        return false;
      }
    }
    ++records_in_;
    *value = merge_->value();
    return true;
  }
  std::string_view key() const override { return done_ ? std::string_view(key_) : merge_->key(); }
  // Skips the values the reducer did not read; returns whether the merge has another record.
  bool SkipRest() {
    std::string_view v;
    while (Next(&v)) {
    }
    return merge_valid_;
  }
  const std::string& first_key() const { return key_; }
  uint64_t records_in() const { return records_in_; }

 private:
  bool InGroup(std::string_view k) {
    if (!group_prefix_) return k == std::string_view(key_);
    // A group's keys come in runs of equal keys (a join's buffered rows, then its streamed
    // ones): a key equal to the last one found in the group is in it, without the prefix call.
    if (has_member_ && k == std::string_view(member_)) return true;
    std::string_view group(key_.data(), group_len_);
    if (k.size() < group_len_ || k.substr(0, group_len_) != group || (*group_prefix_)(k) != group_len_) return false;
    member_.assign(k);
    has_member_ = true;
    return true;
  }

  PartitionMerge* merge_;
  const std::function<size_t(std::string_view)>* group_prefix_;
  uint64_t records_in_ = 0;
  std::string key_;
  std::string member_;  // the last key found in the group (has_member_)
  size_t group_len_ = 0;
  bool has_member_ = false;
  bool first_pending_ = false, done_ = true, merge_valid_ = false;
};

class PartSink {
 public:
  explicit PartSink(RecordFileWriter* w) : w_(w) {}
  Status Add(std::string_view key, std::string_view value) { return w_->Add(key, value); }

 private:
  RecordFileWriter* w_;
};

}  // namespace

Status RunReduceTask(const TaskConfig& c, const std::vector<std::string>& map_outputs, TaskStats* stats) {
  const JobSpec& spec = *c.spec;
  std::string where = "reduce task " + std::to_string(c.task_index);
  std::unique_ptr<Combiner> combiner = spec.combiner && !c.tail ? spec.combiner() : nullptr;
  MergeOptions mo;
  mo.merge_factor = c.merge_factor;
  mo.combiner = combiner.get();
  mo.file_options.block_bytes = c.block_bytes;
  mo.file_options.compress = c.compress_intermediate;
  mo.tmp_prefix = JoinPath(c.work_dir, "reduce");
  // The tail reads the one partition of the map tasks' tail outputs; its part follows theirs.
  int32_t read = c.tail ? 0 : c.task_index;
  if (c.tail) where = "tail reduce task";
  std::vector<int32_t> partition = {read};
  ASSIGN_OR_RETURN(auto files, ReduceFileCount(map_outputs, partition, mo, false));
  ASSIGN_OR_RETURN(auto merge, PartitionMerge::Open(files, read));

  RecordFileOptions out_options;
  out_options.block_bytes = c.spec->output_block_kb > 0 ? c.spec->output_block_kb << 10 : c.block_bytes;
  out_options.partition = c.task_index;
  out_options.detect_sorted = true;
  out_options.replication = c.output_replication;
  out_options.compress = c.spec->compress_output;
  ASSIGN_OR_RETURN(auto writer, RecordFileWriter::Create(c.output_path, out_options));
  PartSink sink(writer.get());
  if (!(c.tail ? spec.tail_reducer : spec.reducer)) return InvalidArgument(where + ": job " + spec.name + " has no reducer");
  std::unique_ptr<Reducer> reducer = c.tail ? spec.tail_reducer() : spec.reducer();
  TaskContextImpl<PartSink> ctx(c, stats, &sink);
  RETURN_IF_ERROR(CallUserCode([&] { return where + " setup"; }, [&] { reducer->Setup(ctx); }));

  GroupValues values(merge.get(), c.tail ? nullptr : &spec.group_prefix);
  bool more = merge->Next();
  while (more) {
    values.Start();
    ++stats->groups;
    RETURN_IF_ERROR(CallUserCode([&] { return where + " at key '" + PrintableKey(values.first_key()) + "'"; },
                                 [&] { reducer->Reduce(values.first_key(), values, ctx); }));
    more = values.SkipRest();
  }
  stats->records_in = values.records_in();
  RETURN_IF_ERROR(merge->status());
  RETURN_IF_ERROR(CallUserCode([&] { return where + " finish"; }, [&] { reducer->Finish(ctx); }));
  RETURN_IF_ERROR(writer->Finish());
  stats->bytes_out = writer->file_size();
  stats->content_hash = writer->ContentHash();
  stats->sorted = writer->in_order();
  return Status::Ok();
}

}  // namespace sawmill
