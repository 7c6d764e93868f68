// Merging sorted record files: a streaming k-way merge of one partition across files (reduce
// input, final map output) and multi-pass merging that bounds the number of open files to a
// merge factor. Equal keys keep file order, so merges preserve (map task, emit order).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "mapreduce/loser_tree.h"
#include "mapreduce/user_code.h"
#include "records/record_file.h"

namespace sawmill {

// Writes a sorted stream into a record file, switching partitions as they change and, with a
// combiner, folding consecutive records of equal key (same partition) into one.
class CombiningWriter {
 public:
  CombiningWriter(RecordFileWriter* out, const Combiner* combiner) : out_(out), combiner_(combiner) {}
  Status Add(int32_t partition, std::string_view key, std::string_view value);
  Status Flush();  // writes the pending folded record; call at the end

 private:
  RecordFileWriter* out_;
  const Combiner* combiner_;
  int32_t partition_ = kNoPartition;
  bool pending_ = false;
  std::string key_, acc_;
};

// The records of one partition of several sorted record files, in (key, file order).
class PartitionMerge {
 public:
  static Result<std::unique_ptr<PartitionMerge>> Open(const std::vector<std::string>& files, int32_t partition);
  // Advances; false at the end or on error (status()).
  bool Next();
  std::string_view key() const { return current_->key(); }
  std::string_view value() const { return current_->value(); }
  const Status& status() const { return status_; }

 private:
  PartitionMerge() = default;
  std::vector<std::unique_ptr<RecordFileReader>> readers_;
  std::vector<std::unique_ptr<RecordIterator>> iters_;
  std::unique_ptr<LoserTree<RecordIterator>> tree_;
  RecordIterator* current_ = nullptr;
  bool started_ = false;
  Status status_;
};

struct MergeOptions {
  int merge_factor = 64;            // most files open at once in one merge
  const Combiner* combiner = nullptr;
  RecordFileOptions file_options;   // for intermediate and output files
  std::string tmp_prefix;           // intermediate files are tmp_prefix + ".merge-N"
};

// Merges `files` (each sorted within its partitions), partitions `partitions` in order, into
// `output`. Intermediate passes keep at most merge_factor files open.
Status MergeFiles(std::vector<std::string> files, const std::vector<int32_t>& partitions,
                  const std::string& output, const MergeOptions& options);

// Repeatedly merges consecutive groups of merge_factor files until at most merge_factor remain;
// returns the remaining files in order (inputs it merged are deleted only if `delete_inputs`).
Result<std::vector<std::string>> ReduceFileCount(std::vector<std::string> files,
                                                 const std::vector<int32_t>& partitions,
                                                 const MergeOptions& options, bool delete_inputs);

}  // namespace sawmill
