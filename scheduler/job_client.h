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
Result<std::unique_ptr<CoordinatorConnection>> ConnectCoordinator(const std::string& cluster_dir);

// The job's status (a CoordinatorResponse holding `status`).
Result<std::unique_ptr<CapnpReader>> GetJobStatus(CoordinatorClient& client, const std::string& job_id);

// Polls the job every `poll_ms` until it ends, drawing a progress line on stderr when `progress`
// (maps and reduces done/total, bytes read, ETA). Returns the final status response.
Result<std::unique_ptr<CapnpReader>> WaitForJob(CoordinatorClient& client, const std::string& job_id, bool progress,
                                                int poll_ms = 50);

// "job-3 succeeded: 12/12 maps, 2/2 reduces, 1.2 GB in 10.3 s ..." and, with attempts, a table.
std::string FormatJobStatus(proto::JobStatus::Reader s, bool with_attempts);

}  // namespace sawmill::sched
