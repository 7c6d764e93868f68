// Replica placement: which datanodes should hold a new (or re-replicated) block. A pure function
// of the live datanodes and their free space, so the policy is unit-tested without a cluster.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace sawmill::dfs {

struct PlacementCandidate {
  std::string id;  // datanode id
  std::string host;
  uint64_t free_bytes = 0;
  // Replicas the namenode knows on it: new blocks go to the emptiest datanodes first, so that
  // datanodes sharing one disk (same free space) still get equal shares and maps stay local.
  uint64_t replicas = 0;
};

struct PlacementRequest {
  size_t count = 0;
  // The writer's host: its datanode (the one with the most free space if several) gets the
  // first replica so the first pipeline hop is local. Empty for re-replication.
  std::string writer_host;
  // Datanodes that already hold a replica (good or not): never chosen.
  std::set<std::string> exclude_datanodes;
  // Hosts that already hold a good replica: avoided so that one host failing loses one copy.
  std::set<std::string> exclude_hosts;
  // When distinct hosts run out, also use the remaining datanodes on hosts already used (still
  // never an excluded datanode). Off by default: a second copy on the same host does not protect
  // against the host failing. Single-host test clusters turn it on.
  bool allow_shared_hosts = false;
};

// Chooses up to `request.count` distinct datanodes among `live` (the caller passes only live
// datanodes with room). Preference: most free space, then smallest id. Returns fewer than asked
// when not enough fit; the caller decides whether that is an error.
std::vector<std::string> ChooseTargets(const std::vector<PlacementCandidate>& live,
                                       const PlacementRequest& request);

}  // namespace sawmill::dfs
