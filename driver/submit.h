// Cluster mode of a job binary (`JOB --cluster D --input dfs:/... --output dfs:/...`): plans
// the job here (splits with their hosts, partitioning, sampling for total order), uploads the
// binary to the store under its SHA-256 unless it is there, submits, and optionally follows it.
// Used by job_main.cc (SubmitJob, which prints) and by drivers that run jobs one after another
// in one process, such as the dataflow executor (RunClusterJob, which does not).
#pragma once

#include <string>
#include <vector>

#include "common/capnp_util.h"
#include "common/reconnect.h"
#include "common/status.h"
#include "mapreduce/job_spec.h"

namespace sawmill {

// A stage of a dataflow program as its master describes it to the coordinator (the picture of
// the program's DAG; scheduler/coordinator.capnp StageInfo).
struct StageDescription {
  struct Edge {
    std::string from;  // the producing stage's key; "" for the program's input
    std::string kind;  // "shuffle", "broadcast" or "read"
  };
  std::string key;  // unique in the program; a key the program already ran is not run again
  std::vector<std::string> operators;
  std::vector<Edge> inputs;
};

struct SubmitOptions {
  std::string cluster_dir;
  // Without cluster_dir: the coordinator's "ip:port" and the cluster secret's file (a program
  // master, which runs on a worker, knows these rather than a cluster directory).
  std::string coordinator_address, secret_file;
  // A stage of the program `parent_job` (submitted by its master).
  std::string parent_job;
  std::string master_attempt;  // the submitting master's attempt id
  StageDescription stage;
  bool wait = false;                   // SubmitJob only; RunClusterJob always waits
  bool progress = false;               // draw a progress line on stderr while waiting
  std::vector<std::string> task_args;  // the binary's flags to repeat in task mode
  uint64_t task_timeout_ms = 0;        // 0: the coordinator's default
  uint64_t task_memory_mb = 0;
  int max_attempts = 0;
  bool speculation = true;
  // How long calls to the coordinator and the store wait out one that cannot be reached
  // (--reconnect_s; common/reconnect.h).
  ReconnectOptions reconnect;
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

// A program master's stage that its program already has (submit.stage.key): asks for it as
// RunClusterJob would, without planning it, and follows it to its end.
Result<JobResult> RejoinClusterStage(const SubmitOptions& submit);

// RunClusterJob for a job binary's main: prints `submitted <id>: ...` once the coordinator
// accepted the job, then, with `submit.wait`, follows it and prints the counters and `summary`
// lines (errors on stderr). Without wait it returns right after submitting. Returns the process
// exit code: 0 submitted (or, with wait, succeeded), 1 the job failed, 2 it was rejected.
int SubmitJob(const JobSpec& spec, const JobOptions& options, const SubmitOptions& submit);

// A whole dataflow program, submitted as one job: the coordinator runs its master (this binary
// in task mode, with `task_flags` after the submit options' task_args), which submits its
// stages. `scratch_dir` (dfs:/) holds its intermediates and is removed when it ends.
struct ProgramSubmission {
  std::string name;
  std::vector<std::string> inputs;
  std::string output;
  std::string scratch_dir;
  std::vector<std::string> task_flags;
};
struct SubmittedProgram {
  std::string job_id;
  std::string coordinator_http;  // "ip:port" of the coordinator's web pages
};
// Errors are rejections (an unreachable cluster, a refused submission).
Result<SubmittedProgram> SubmitProgram(const ProgramSubmission& program, const SubmitOptions& submit);

// Follows a job (a program) to its end; its final JobStatus as a response message.
Result<std::unique_ptr<CapnpReader>> FollowJob(const std::string& job_id, const SubmitOptions& submit);

}  // namespace sawmill
