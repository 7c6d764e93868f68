// Opening a client for a local cluster directory (cluster.json): the namenode address and the
// secret come from there, the connections are TCP.
#pragma once

#include <memory>
#include <string>

#include "cli/cluster_config.h"
#include "common/rpc.h"
#include "common/status.h"
#include "dfs/client/dfs_client.h"

namespace sawmill::dfs {

// Owns the transport its client talks through (destroyed after the client).
struct DfsConnection {
  ClusterConfig config;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<DfsClient> client;
};

// Errors name cluster.json or the secret file.
Result<std::unique_ptr<DfsConnection>> ConnectDfs(const std::string& cluster_dir, DfsClient::Options options = {});

}  // namespace sawmill::dfs
