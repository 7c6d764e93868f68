// Input splits: byte ranges of input files (text, fixed-width) or block ranges of record files,
// in a deterministic order that defines the map task index.
#pragma once

#include <cstdint>
#include <climits>
#include <string>
#include <vector>

#include "common/status.h"
#include "mapreduce/job_spec.h"
#include "mapreduce/user_code.h"

namespace sawmill {

struct InputSplit {
  std::string path;
  uint64_t offset = 0;  // bytes (text, fixed-width) or first block (record files)
  uint64_t length = 0;  // bytes, or block count
  uint64_t bytes = 0;   // approximate input bytes, for progress
  int input_index = 0;  // position of its input in the job's input list (tagged inputs)
  // A log segment of a logs: input (docs/logs.md): read as a record file whatever the job's
  // input format, and only the records whose offset and timestamp fall in these inclusive
  // bounds.
  bool log_filter = false;
  uint64_t min_offset = 0, max_offset = ~uint64_t{0};
  int64_t min_time_ms = INT64_MIN, max_time_ms = INT64_MAX;
};

// Expands `inputs` (files, or directories whose visible files are taken in name order) into
// splits of about `split_bytes`. kNotFound names a missing input; kInvalidArgument an input that
// does not fit the format (e.g. a fixed-width file whose size is not a multiple of the record).
Result<std::vector<InputSplit>> ComputeSplits(const std::vector<std::string>& inputs,
                                              InputFormat format, uint64_t split_bytes,
                                              size_t fixed_record_bytes);

// The splits of a job: each input in its own format (JobSpec::FormatOf), tagged with its index,
// whole files when the spec asks for them.
Result<std::vector<InputSplit>> ComputeJobSplits(const JobSpec& spec, const std::vector<std::string>& inputs,
                                                 uint64_t split_bytes);

// One split covering all of `path` (record files: every block), tagged with `input_index`.
Result<InputSplit> WholeFileSplit(const std::string& path, InputFormat format, int input_index = 0);

// How a split is read: log segments are record files; others follow the job's input format.
inline InputFormat SplitFormat(const JobSpec& spec, const InputSplit& split) {
  return split.log_filter ? InputFormat::kRecordFile : spec.FormatOf(split.input_index);
}

// The files an input names: itself, a directory's files except names starting '_' or '.', or
// the log segments a logs: input selects (logs/log_archive.h).
Result<std::vector<std::string>> ExpandInput(const std::string& input);

}  // namespace sawmill
