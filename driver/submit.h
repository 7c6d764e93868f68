// Cluster mode of a job binary (`JOB --cluster D --input dfs:/... --output dfs:/...`): plans
// the job here (splits with their hosts, partitioning, sampling for total order), uploads the
// binary to the store under its SHA-256 unless it is there, submits, and optionally follows it.
// Used by job_main.cc (SubmitJob, which prints) and by drivers that run jobs one after another
// in one process, such as the dataflow executor (RunClusterJob, which does not).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "mapreduce/job_spec.h"

namespace sawmill {

struct SubmitOptions {
  std::string cluster_dir;
  bool wait = false;                   // SubmitJob only; RunClusterJob always waits
  bool progress = false;               // draw a progress line on stderr while waiting
  std::vector<std::string> task_args;  // the binary's flags to repeat in task mode
  uint64_t task_timeout_ms = 0;        // 0: the coordinator's default
  uint64_t task_memory_mb = 0;
  int max_attempts = 0;
  bool speculation = true;
};

// Runs the job on the cluster in `submit.cluster_dir` and waits for it to end; prints nothing
// (but the progress line when `submit.progress`). Blocks for the job's duration.
//
// The JobResult says how it ended, with exit_code as a job binary's: 0 the job succeeded; 1 it
// failed (error: "job-3 failed: <the coordinator's reason>") or the binary could not be
// uploaded; 2 it was rejected before running (bad usage, a local path, a missing input, an
// existing output without overwrite, an unreachable store or coordinator). On a cluster it
// fills records and bytes in/out (bytes_in: the planned input bytes), map/reduce task counts,
// seconds (submission to end), every counter (sawmill.* included), spills, shuffle_bytes and
// tail_bytes; peak_rss_bytes and the per-reduce vectors stay empty.
//
// An error Status means the outcome is unknown: the job was submitted (`*job_id` is set) but
// following it failed (the coordinator went away); it may still be running.
//
// The store: when one is registered (SetDfs, common/local_fs.h; e.g. a dfs::ScopedDfs of the
// same cluster, held across stages), the job is planned and the binary uploaded through it and
// it stays registered. Otherwise the call connects, registers that connection while it plans,
// and unregisters it before returning. Calls must not overlap (one job at a time per process:
// the registry and the binary's upload are per process).
//
// `job_id`, when not null, receives the coordinator's id of the job ("" if never submitted).
Result<JobResult> RunClusterJob(const JobSpec& spec, const JobOptions& options, const SubmitOptions& submit,
                                std::string* job_id = nullptr);

// RunClusterJob for a job binary's main: prints `submitted <id>: ...` once the coordinator
// accepted the job, then, with `submit.wait`, follows it and prints the counters and `summary`
// lines (errors on stderr). Without wait it returns right after submitting. Returns the process
// exit code: 0 submitted (or, with wait, succeeded), 1 the job failed, 2 it was rejected.
int SubmitJob(const JobSpec& spec, const JobOptions& options, const SubmitOptions& submit);

}  // namespace sawmill
