// A dataflow program's master in the cluster: the job binary run by a worker for a program job
// (AttemptSpec.master), which drives the program's stages through the coordinator, and what it
// reports when the program has ended (an AttemptResult whose programError is the verdict).
#pragma once

#include <map>
#include <string>

#include "common/reconnect.h"
#include "common/status.h"

namespace sawmill {

struct MasterSpec {
  bool master = false;  // false: an ordinary task attempt's spec
  std::string job_id;   // the program's job
  int attempt = 0;      // 0 for the first master, then one more per restart
  std::string attempt_id;
  std::string namenode, secret_file, host, coordinator, result_path;
};

// Reads the attempt spec the worker wrote (task mode's --task file).
Result<MasterSpec> ReadMasterSpec(const std::string& spec_path);

// Connects the store the spec names and registers it for dfs: paths (common/local_fs.h), as
// task mode does; the registration lasts until SetDfs(nullptr). Its namenode calls wait out an
// unreachable namenode as `reconnect` says.
Status ConnectSpecStore(const MasterSpec& spec, const ReconnectOptions& reconnect);

// How the program ended, as the coordinator records it on the program's job.
struct MasterOutcome {
  std::string program_error;               // "" when the program succeeded
  std::map<std::string, int64_t> counters;  // user counters and the run's sawmill.df.* figures
  uint64_t records_out = 0, bytes_out = 0;
};
// The master's AttemptResult: ok when it ran the program to its end (whatever the verdict), or
// `master_error` (a master that could not run: retried on another worker).
Status WriteMasterResult(const MasterSpec& spec, const Status& master_error, const MasterOutcome& outcome);

}  // namespace sawmill
