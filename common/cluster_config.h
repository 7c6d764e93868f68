// A cluster's description, D/cluster.json: written by `sawmill cluster up` once every process
// is listening, read by `sawmill dfs --cluster D` and `sawmill cluster down` to find the
// namenode, the secret and the processes to stop. The same file, written by hand, is a
// multi-machine deployment's config: every daemon started with `--config FILE` takes its own
// entry and its peers' addresses from it (cli/daemon_util.h, docs/deploy.md).
//
//   {"secret_file": "...", "replication": 3, "block_size": 67108864,
//    "processes": [
//      {"role": "namenode", "host": "127.0.0.1", "address": "127.0.0.1:PORT",
//       "http": "127.0.0.1:HPORT", "dir": "...", "pid": N},
//      {"role": "datanode", "host": "h1", "id": "dn-...", "address": "127.0.0.1:PORT",
//       "dir": "...", "pid": N},
//      {"role": "coordinator", "host": "127.0.0.1", "address": ..., "http": ..., "dir": ...,
//       "pid": N},
//      {"role": "worker", "host": "h1", "address": "127.0.0.1:PORT", "dir": "...", "pid": N}, ...]}
//
// A relative secret_file is relative to the cluster directory (see SecretPath). "pid" (0 when
// missing: a deployment's processes are not started by `cluster up`) and a datanode's "id" ("",
// the datanode keeps its own in DIR/datanode_id) are optional. A datanode's "dir" is its host's
// directory (the datanode runs in DIR/datanode); a worker's "dir" is the worker's own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sawmill {

struct ClusterConfig {
  std::string dir;  // the cluster directory (not stored: where cluster.json was found)
  std::string secret_file;
  std::string namenode_address;
  std::string namenode_http;
  std::string namenode_dir;
  int namenode_pid = 0;
  // The coordinator (empty address when the cluster runs none).
  std::string coordinator_address;
  std::string coordinator_http;
  std::string coordinator_dir;
  int coordinator_pid = 0;
  uint32_t replication = 0;
  uint64_t block_size = 0;
  struct Host {
    std::string name;  // placement host
    std::string dir;
    std::string datanode_id;
    std::string datanode_address;
    int datanode_pid = 0;
    std::string worker_address;  // its shuffle server; empty when the host runs no worker
    int worker_pid = 0;
    std::string worker_dir;  // as listed; "" = dir/worker
  };
  std::vector<Host> hosts;

  // secret_file, resolved against `dir` when relative.
  std::string SecretPath() const;
  // `path` resolved against `dir` when relative ("" stays "").
  std::string Resolve(const std::string& path) const;
  // The entry of placement host `name`, or nullptr.
  const Host* FindHost(const std::string& name) const;
};

// D/cluster.json.
std::string ClusterConfigPath(const std::string& cluster_dir);
// Errors name the file and, for a missing or mistyped field, the field.
Result<ClusterConfig> LoadClusterConfig(const std::string& cluster_dir);
// The same for a config file at any path (`--config FILE`): `dir` becomes FILE's directory.
Result<ClusterConfig> LoadClusterConfigFile(const std::string& file);
// Writes config.dir/cluster.json atomically (temporary file + rename), pretty-printed.
Status WriteClusterConfig(const ClusterConfig& config);

}  // namespace sawmill
