// Cluster mode of a job binary (`JOB --cluster D --input dfs:/... --output dfs:/...`): plans
// the job here (splits with their hosts, partitioning, sampling for total order), uploads the
// binary to the store under its SHA-256 unless it is there, submits, and optionally follows it.
// Internal to job_main.cc.
#pragma once

#include <string>
#include <vector>

#include "mapreduce/job_spec.h"

namespace sawmill {

struct SubmitOptions {
  std::string cluster_dir;
  bool wait = false;
  bool progress = false;
  std::vector<std::string> task_args;  // the binary's flags to repeat in task mode
  uint64_t task_timeout_ms = 0;        // 0: the coordinator's default
  uint64_t task_memory_mb = 0;
  int max_attempts = 0;
  bool speculation = true;
};

// Returns the process exit code: 0 submitted (or, with wait, succeeded), 1 the job failed, 2 it
// was rejected (bad usage, missing input, existing output).
int SubmitJob(const JobSpec& spec, const JobOptions& options, const SubmitOptions& submit);

}  // namespace sawmill
