// Dataset inputs and outputs of a job binary's run (docs/datasets.md): dataset: paths resolved
// to version directories, and memoization by fingerprint. Internal to job_main.cc and
// dataflow_run.cc.
#pragma once

#include <string>

#include "common/status.h"
#include "mapreduce/job_spec.h"

namespace sawmill {

struct DatasetRun {
  std::string name;         // of the output dataset; empty when the output is a plain path
  std::string fingerprint;  // of this run (binary, arguments, input contents)
  std::string lineage;      // what the fingerprint hashed, written beside the version
  bool up_to_date = false;  // a complete version has the same fingerprint: nothing to run
  std::string version_dir;  // the new version (or, up to date, the existing one)
};

// Resolves dataset:NAME[@VERSION] inputs to a version's directory (current by default) and a
// dataset:NAME output to a new version's directory, unless a complete version has this run's
// fingerprint and --force is not given (then run->up_to_date). `keeps_split_size`: the job (a
// stage of a dataflow program) keeps --split_mb splits, so its output depends on map task
// boundaries and the split size is one of the fingerprint's arguments (--split_mb=N); other
// jobs' outputs do not depend on it, nor do their fingerprints.
Status ResolveDatasetPaths(JobOptions* options, DatasetRun* run, bool keeps_split_size);
// After the job succeeded: records the fingerprint beside the new version.
Status FinishDatasetRun(const DatasetRun& run);
// The line a binary prints for an up-to-date dataset instead of running.
void PrintUpToDate(const std::string& job, const DatasetRun& run);

}  // namespace sawmill
