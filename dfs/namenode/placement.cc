// Placement policy: writer-local first, then distinct hosts, fewest replicas then most free space.
#include "dfs/namenode/placement.h"

#include <algorithm>

namespace sawmill::dfs {

std::vector<std::string> ChooseTargets(const std::vector<PlacementCandidate>& live,
                                       const PlacementRequest& request) {
  std::vector<const PlacementCandidate*> order;
  for (const auto& c : live) {
    if (!request.exclude_datanodes.contains(c.id)) order.push_back(&c);
  }
  // Fewest replicas first (balance), then most free space; the id makes ties deterministic.
  std::sort(order.begin(), order.end(),
            [](const PlacementCandidate* a, const PlacementCandidate* b) {
              if (a->replicas != b->replicas) return a->replicas < b->replicas;
              if (a->free_bytes != b->free_bytes) return a->free_bytes > b->free_bytes;
              return a->id < b->id;
            });

  std::vector<std::string> chosen;
  std::set<std::string> chosen_ids;
  std::set<std::string> used_hosts = request.exclude_hosts;
  auto take = [&](const PlacementCandidate* c) {
    chosen.push_back(c->id);
    chosen_ids.insert(c->id);
    used_hosts.insert(c->host);
  };

  if (request.count > 0 && !request.writer_host.empty() &&
      !request.exclude_hosts.contains(request.writer_host)) {
    for (const auto* c : order) {
      if (c->host == request.writer_host) {
        take(c);
        break;
      }
    }
  }
  for (const auto* c : order) {
    if (chosen.size() >= request.count) break;
    if (!used_hosts.contains(c->host)) take(c);
  }
  if (request.allow_shared_hosts) {
    for (const auto* c : order) {
      if (chosen.size() >= request.count) break;
      if (!chosen_ids.contains(c->id)) take(c);
    }
  }
  return chosen;
}

}  // namespace sawmill::dfs
