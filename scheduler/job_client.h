// The client side of cluster jobs, shared by job binaries submitting themselves and by
// `sawmill job`: reaching the coordinator named in a cluster directory, and following a job.
#pragma once

#include <memory>
#include <string>

#include "common/cluster_config.h"
#include "common/rpc.h"
#include "common/status.h"
#include "scheduler/coordinator_client.h"

namespace sawmill::sched {

struct CoordinatorConnection {
  ClusterConfig config;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<CoordinatorClient> client;
};

// Reads D/cluster.json and the secret; errors name them, or say the cluster runs no coordinator.
// `reconnect`: how long the client's calls wait out an unreachable coordinator (--reconnect_s).
Result<std::unique_ptr<CoordinatorConnection>> ConnectCoordinator(const std::string& cluster_dir,
                                                                  ReconnectOptions reconnect = {});

// The coordinator at "ip:port", with the cluster secret in `secret_file` (no cluster.json: a
// program master on a worker knows these).
Result<std::unique_ptr<CoordinatorConnection>> ConnectCoordinatorAt(const std::string& address,
                                                                    const std::string& secret_file,
                                                                    ReconnectOptions reconnect = {});

// The job's status (a CoordinatorResponse holding `status`).
Result<std::unique_ptr<CapnpReader>> GetJobStatus(CoordinatorClient& client, const std::string& job_id);

// Follows the job until it ends (long polls: the coordinator answers as it ends), drawing a
// progress line on stderr when `progress` (maps and reduces done/total, bytes read, ETA; every
// 250 ms). Returns the final status response. A coordinator that cannot be reached is waited
// out as the client's ReconnectOptions say, and the same job followed on; one that answers that
// it does not know the job (restarted without it) ends the wait with kNotFound saying so.
Result<std::unique_ptr<CapnpReader>> WaitForJob(CoordinatorClient& client, const std::string& job_id, bool progress);

// "job-3 succeeded: 12/12 maps, 2/2 reduces, 1.2 GB in 10.3 s ..." and, with attempts, a table;
// for a stage, the program it belongs to; for a program, with attempts, its stages in submission
// order (key, operators, state, maps and reduces done/total, seconds; "-" for one that has not
// started) before its master's attempts.
std::string FormatJobStatus(proto::JobStatus::Reader s, bool with_attempts);

}  // namespace sawmill::sched
