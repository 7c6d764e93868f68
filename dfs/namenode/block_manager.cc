// BlockManager: replica map, datanode liveness and the replication monitor's rounds.
#include "dfs/namenode/block_manager.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "dfs/namenode/placement.h"

namespace sawmill::dfs {

BlockManager::BlockManager() : BlockManager(Options()) {}
BlockManager::BlockManager(Options options) : options_(std::move(options)) {}

Status BlockManager::RegisterDatanode(const std::string& id, const std::string& host,
                                      uint64_t capacity, uint64_t used, int64_t now_ms) {
  if (id.empty()) return InvalidArgument("datanode id is empty (host '" + host + "')");
  if (host.empty()) return InvalidArgument("datanode " + id + " has an empty host");
  // A re-registering datanode restarted or was declared dead: what we knew of its replicas is
  // stale until its full report arrives.
  if (datanodes_.contains(id)) RETURN_IF_ERROR(MarkDead(id));
  datanodes_[id] = Datanode{host, capacity, used, now_ms, true};
  return Status::Ok();
}

Status BlockManager::Heartbeat(const std::string& id, uint64_t capacity, uint64_t used,
                               int64_t now_ms) {
  RETURN_IF_ERROR(CheckLive(id));
  Datanode& dn = datanodes_[id];
  dn.capacity = capacity;
  dn.used = used;
  dn.last_heartbeat_ms = std::max(dn.last_heartbeat_ms, now_ms);
  return Status::Ok();
}

std::vector<std::string> BlockManager::DeadDatanodes(int64_t now_ms) const {
  std::vector<std::string> dead;
  for (const auto& [id, dn] : datanodes_) {
    if (dn.live && now_ms - dn.last_heartbeat_ms > options_.heartbeat_timeout_ms)
      dead.push_back(id);
  }
  return dead;
}

Status BlockManager::MarkDead(const std::string& id) {
  auto it = datanodes_.find(id);
  if (it == datanodes_.end()) return NotFound("unknown datanode " + id);
  it->second.live = false;
  std::set<uint64_t> blocks = std::move(blocks_of_[id]);
  for (uint64_t b : blocks) Forget(b, id);
  blocks_of_.erase(id);
  return Status::Ok();
}

bool BlockManager::IsLive(const std::string& id) const {
  auto it = datanodes_.find(id);
  return it != datanodes_.end() && it->second.live;
}

Status BlockManager::CheckLive(const std::string& datanode) const {
  auto it = datanodes_.find(datanode);
  if (it == datanodes_.end()) return NotFound("unknown datanode " + datanode);
  if (!it->second.live) {
    return Status(
        StatusCode::kUnavailable,
        "datanode " + datanode + " is dead; it must register again and send a full block report");
  }
  return Status::Ok();
}

void BlockManager::Forget(uint64_t block_id, const std::string& datanode) {
  auto it = replicas_.find(block_id);
  if (it != replicas_.end()) {
    it->second.erase(datanode);
    if (it->second.empty()) replicas_.erase(it);
  }
  auto bit = blocks_of_.find(datanode);
  if (bit != blocks_of_.end()) bit->second.erase(block_id);
}

void BlockManager::AddReplica(const std::string& datanode, const BlockInfo& block) {
  Replica& r = replicas_[block.id][datanode];
  // A full report carries no corruption flag: keep the one from ReportCorrupt while the replica
  // is the same one, or a corrupt replica would look good again until the next scan.
  r.reported_corrupt = r.reported_corrupt && r.reported == block;
  r.reported = block;
  blocks_of_[datanode].insert(block.id);
}

Status BlockManager::ProcessBlockReport(const std::string& datanode,
                                        const std::vector<BlockInfo>& blocks) {
  RETURN_IF_ERROR(CheckLive(datanode));
  std::set<uint64_t> reported;
  for (const auto& b : blocks) {
    if (!reported.insert(b.id).second) {
      return InvalidArgument("block report from " + datanode + " lists block " +
                             std::to_string(b.id) + " twice");
    }
  }
  std::set<uint64_t> old = blocks_of_[datanode];
  for (uint64_t b : old) {
    if (!reported.contains(b)) Forget(b, datanode);
  }
  for (const auto& b : blocks) AddReplica(datanode, b);
  return Status::Ok();
}

Status BlockManager::ReplicaAdded(const std::string& datanode, const BlockInfo& block) {
  RETURN_IF_ERROR(CheckLive(datanode));
  AddReplica(datanode, block);
  return Status::Ok();
}

Status BlockManager::ReplicaRemoved(const std::string& datanode, uint64_t block_id) {
  RETURN_IF_ERROR(CheckLive(datanode));
  Forget(block_id, datanode);  // idempotent: the delete may have been ordered by us
  return Status::Ok();
}

Status BlockManager::ReportCorrupt(const std::string& datanode, uint64_t block_id) {
  RETURN_IF_ERROR(CheckLive(datanode));
  auto it = replicas_.find(block_id);
  if (it == replicas_.end() || !it->second.contains(datanode)) {
    return NotFound("datanode " + datanode + " holds no known replica of block " +
                    std::to_string(block_id));
  }
  it->second[datanode].reported_corrupt = true;
  return Status::Ok();
}

Status BlockManager::AddExpectedBlock(const BlockInfo& block, uint32_t replication,
                                      bool under_construction) {
  if (replication == 0) {
    return InvalidArgument("block " + std::to_string(block.id) +
                           ": replication must be at least 1");
  }
  expected_[block.id] = Expected{block, replication, under_construction};
  return Status::Ok();
}

Status BlockManager::RemoveExpectedBlock(uint64_t block_id) {
  if (expected_.erase(block_id) == 0)
    return NotFound("block " + std::to_string(block_id) + " is not expected");
  pending_.erase(block_id);
  return Status::Ok();
}

Status BlockManager::SetReplication(uint64_t block_id, uint32_t replication) {
  auto it = expected_.find(block_id);
  if (it == expected_.end())
    return NotFound("block " + std::to_string(block_id) + " is not expected");
  if (replication == 0) {
    return InvalidArgument("block " + std::to_string(block_id) +
                           ": replication must be at least 1");
  }
  it->second.replication = replication;
  return Status::Ok();
}

bool BlockManager::IsGood(uint64_t block_id, const Replica& replica) const {
  auto it = expected_.find(block_id);
  if (it == expected_.end() || replica.reported_corrupt) return false;
  const BlockInfo& want = it->second.block;
  // An open file's block: its length is known only at Complete.
  if (it->second.under_construction) {
    return replica.reported.id == want.id && replica.reported.generation == want.generation;
  }
  return replica.reported == want;
}

std::vector<DatanodeState> BlockManager::Datanodes() const {
  std::vector<DatanodeState> out;
  for (const auto& [id, dn] : datanodes_) {
    auto b = blocks_of_.find(id);
    out.push_back({id, dn.host, dn.capacity, dn.used, dn.last_heartbeat_ms, dn.live,
                   b == blocks_of_.end() ? 0 : b->second.size()});
  }
  return out;
}

std::vector<std::string> BlockManager::Locations(uint64_t block_id) const {
  std::vector<std::string> out;
  auto it = replicas_.find(block_id);
  if (it == replicas_.end()) return out;
  for (const auto& [dn, r] : it->second) {  // std::map: already sorted by id
    if (IsGood(block_id, r)) out.push_back(dn);
  }
  return out;
}

size_t BlockManager::GoodCount(uint64_t block_id) const { return Locations(block_id).size(); }

std::vector<uint64_t> BlockManager::UnderReplicated() const {
  std::vector<std::pair<size_t, uint64_t>> by_count;
  for (const auto& [id, e] : expected_) {
    size_t good = GoodCount(id);
    if (good > 0 && good < e.replication) by_count.emplace_back(good, id);
  }
  std::sort(by_count.begin(), by_count.end());
  std::vector<uint64_t> out;
  for (const auto& [good, id] : by_count) out.push_back(id);
  return out;
}

std::vector<uint64_t> BlockManager::OverReplicated() const {
  std::vector<uint64_t> out;
  for (const auto& [id, e] : expected_) {
    if (GoodCount(id) > e.replication) out.push_back(id);
  }
  return out;
}

std::vector<uint64_t> BlockManager::Missing() const {
  std::vector<uint64_t> out;
  for (const auto& [id, e] : expected_) {
    if (GoodCount(id) == 0) out.push_back(id);
  }
  return out;
}

std::vector<ReplicaRef> BlockManager::CorruptReplicas() const {
  std::vector<ReplicaRef> out;
  for (const auto& [id, reps] : replicas_) {
    if (!expected_.contains(id)) continue;  // orphans are reported as such, not as corrupt
    for (const auto& [dn, r] : reps) {
      if (!IsGood(id, r)) out.push_back({id, dn});
    }
  }
  return out;
}

std::vector<BlockCommand> BlockManager::ComputeWork(int64_t now_ms) {
  for (const auto& id : DeadDatanodes(now_ms)) (void)MarkDead(id);

  // Drop pending copies that landed, expired or whose target died.
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto reps = replicas_.find(it->first);
    std::erase_if(it->second, [&](const PendingCopy& p) {
      bool landed = reps != replicas_.end() && reps->second.contains(p.target);
      return landed || p.expires_ms <= now_ms || !IsLive(p.target);
    });
    it = it->second.empty() ? pending_.erase(it) : std::next(it);
  }

  std::vector<BlockCommand> commands;
  std::map<std::string, size_t> transfers;
  // Blocks still short of their factor after this round: their corrupt replicas may go.
  std::set<uint64_t> stuck;

  for (uint64_t id : UnderReplicated()) {
    const Expected& e = expected_.at(id);
    if (e.under_construction) continue;
    std::vector<std::string> good = Locations(id);
    std::vector<PendingCopy>& pending = pending_[id];
    int64_t need = static_cast<int64_t>(e.replication) - static_cast<int64_t>(good.size()) -
                   static_cast<int64_t>(pending.size());
    if (need <= 0) continue;

    PlacementRequest req;
    req.count = static_cast<size_t>(need);
    req.allow_shared_hosts = options_.allow_shared_hosts;
    for (const auto& [dn, r] : replicas_.at(id)) req.exclude_datanodes.insert(dn);
    for (const auto& dn : good) req.exclude_hosts.insert(datanodes_.at(dn).host);
    for (const auto& p : pending) {
      req.exclude_datanodes.insert(p.target);
      req.exclude_hosts.insert(datanodes_.at(p.target).host);
    }
    std::vector<PlacementCandidate> candidates;
    for (const auto& [dn, d] : datanodes_) {
      if (d.live && transfers[dn] < options_.max_transfers_per_datanode) {
        candidates.push_back({dn, d.host, d.free()});
      }
    }
    int64_t scheduled = 0;
    for (const auto& target : ChooseTargets(candidates, req)) {
      // The least busy good replica this round is the source; ties by id.
      const std::string* source = nullptr;
      for (const auto& dn : good) {
        if (transfers[dn] >= options_.max_transfers_per_datanode) continue;
        if (source == nullptr || transfers[dn] < transfers[*source]) source = &dn;
      }
      if (source == nullptr) break;
      commands.push_back({BlockCommand::Kind::kCopy, e.block, *source, target});
      ++transfers[*source];
      ++transfers[target];
      pending.push_back({target, now_ms + options_.pending_copy_timeout_ms});
      ++scheduled;
    }
    if (pending.empty()) pending_.erase(id);
    if (scheduled < need) stuck.insert(id);
  }

  auto order_delete = [&](uint64_t id, const std::string& dn) {
    commands.push_back({BlockCommand::Kind::kDelete, replicas_.at(id).at(dn).reported, dn, ""});
    Forget(id, dn);
  };

  for (uint64_t id : OverReplicated()) {
    if (expected_.at(id).under_construction) continue;
    std::vector<std::string> good = Locations(id);
    // Trim where space is tightest; ties by id.
    std::sort(good.begin(), good.end(), [&](const std::string& a, const std::string& b) {
      uint64_t fa = datanodes_.at(a).free(), fb = datanodes_.at(b).free();
      return fa != fb ? fa < fb : a < b;
    });
    size_t excess = good.size() - expected_.at(id).replication;
    for (size_t i = 0; i < excess; ++i) order_delete(id, good[i]);
  }

  for (const auto& ref : CorruptReplicas()) {
    size_t good = GoodCount(ref.block_id);
    if (good == 0) continue;  // never delete the last copies, even corrupt ones
    if (good >= expected_.at(ref.block_id).replication || stuck.contains(ref.block_id)) {
      order_delete(ref.block_id, ref.datanode);
    }
  }

  std::vector<ReplicaRef> orphans;
  for (const auto& [id, reps] : replicas_) {
    if (expected_.contains(id)) continue;
    for (const auto& [dn, r] : reps) orphans.push_back({id, dn});
  }
  for (const auto& ref : orphans) order_delete(ref.block_id, ref.datanode);
  return commands;
}

}  // namespace sawmill::dfs
