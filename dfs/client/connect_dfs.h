// Opening a client for a local cluster directory (cluster.json): the namenode address and the
// secret come from there, the connections are TCP.
#pragma once

#include <memory>
#include <string>

#include "common/cluster_config.h"
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
// A client of the namenode at "ip:port" authenticated with `secret` (a task on a worker knows
// these rather than a cluster directory); `config` stays empty.
std::unique_ptr<DfsConnection> ConnectDfsAt(const std::string& namenode_address, std::string secret,
                                            DfsClient::Options options = {});

// A connection registered as the store `dfs:/` paths resolve to (SetDfs, common/local_fs.h)
// for as long as it lives. The registry shares the connection: it closes when the last
// resolution or file still using it lets go.
class ScopedDfs {
 public:
  static Result<std::unique_ptr<ScopedDfs>> Connect(const std::string& cluster_dir,
                                                    DfsClient::Options options = {});
  ~ScopedDfs();
  ScopedDfs(const ScopedDfs&) = delete;
  ScopedDfs& operator=(const ScopedDfs&) = delete;

 private:
  explicit ScopedDfs(std::shared_ptr<DfsConnection> conn) : conn_(std::move(conn)) {}
  std::shared_ptr<DfsConnection> conn_;
};

}  // namespace sawmill::dfs
