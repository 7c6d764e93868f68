// ConnectDfs and ScopedDfs: a DFS client over TCP for a cluster directory or a namenode address.
#include "dfs/client/connect_dfs.h"

#include "common/auth.h"
#include "common/local_fs.h"
#include "common/rpc_tcp.h"

namespace sawmill::dfs {

Result<std::unique_ptr<DfsConnection>> ConnectDfs(const std::string& cluster_dir, DfsClient::Options options) {
  auto c = std::make_unique<DfsConnection>();
  ASSIGN_OR_RETURN(c->config, LoadClusterConfig(cluster_dir));
  // The namenode answers create with the block size it chose; the cluster's setting is the same one.
  if (options.block_size == 0) options.block_size = c->config.block_size;
  ASSIGN_OR_RETURN(std::string secret, LoadSecret(c->config.SecretPath()));
  auto made = ConnectDfsAt(c->config.namenode_address, std::move(secret), std::move(options));
  made->config = std::move(c->config);
  return made;
}

std::unique_ptr<DfsConnection> ConnectDfsAt(const std::string& namenode_address, std::string secret,
                                            DfsClient::Options options) {
  auto c = std::make_unique<DfsConnection>();
  c->transport = std::make_unique<TcpTransport>(std::move(secret));
  c->client = std::make_unique<DfsClient>(c->transport.get(), namenode_address, std::move(options));
  return c;
}

Result<std::unique_ptr<ScopedDfs>> ScopedDfs::Connect(const std::string& cluster_dir, DfsClient::Options options) {
  ASSIGN_OR_RETURN(auto conn, ConnectDfs(cluster_dir, std::move(options)));
  // The registered pointer shares ownership of the whole connection (client and transport).
  std::shared_ptr<DfsConnection> shared = std::move(conn);
  SetDfs(std::shared_ptr<FileSystem>(shared, shared->client.get()));
  return std::unique_ptr<ScopedDfs>(new ScopedDfs(std::move(shared)));
}

ScopedDfs::~ScopedDfs() { SetDfs(nullptr); }

}  // namespace sawmill::dfs
