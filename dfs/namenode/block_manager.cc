// BlockManager: replica map, datanode liveness and the replication monitor's rounds.
#include "dfs/namenode/block_manager.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>
#include <utility>

#include "dfs/namenode/placement.h"

namespace sawmill::dfs {

// ---- Entry: a block's replicas, the first few inline ----

BlockManager::Entry::~Entry() {
  if (count > kInline) delete[] heap;
}

int BlockManager::Entry::Find(uint32_t datanode) const {
  const uint32_t* r = replicas();
  for (int i = 0; i < count; ++i) {
    if ((r[i] & kIndexMask) == datanode) return i;
  }
  return -1;
}

void BlockManager::Entry::Add(uint32_t replica) {
  if (count < kInline) {
    local[count++] = replica;
    return;
  }
  if (count == kInline || (count >= 8 && std::has_single_bit(count))) {
    const size_t capacity = count == kInline ? 8 : size_t{count} * 2;
    auto* grown = new uint32_t[capacity];
    std::memcpy(grown, replicas(), count * sizeof(uint32_t));
    if (count > kInline) delete[] heap;
    heap = grown;
  }
  heap[count++] = replica;
}

void BlockManager::Entry::RemoveAt(size_t i) {
  uint32_t* r = replicas();
  std::memmove(r + i, r + i + 1, (count - i - 1) * sizeof(uint32_t));
  if (count == kInline + 1) {
    uint32_t* old = heap;
    std::memcpy(local, old, kInline * sizeof(uint32_t));
    delete[] old;
  }
  --count;
}

// ---- datanodes ----

BlockManager::BlockManager() : BlockManager(Options()) {}
BlockManager::BlockManager(Options options) : options_(std::move(options)) {}

Status BlockManager::RegisterDatanode(const std::string& id, const std::string& host,
                                      uint64_t capacity, uint64_t used, int64_t now_ms) {
  if (id.empty()) return InvalidArgument("datanode id is empty (host '" + host + "')");
  if (host.empty()) return InvalidArgument("datanode " + id + " has an empty host");
  // A re-registering datanode restarted or was declared dead: what we knew of its replicas is
  // stale until its full report arrives.
  auto it = index_.find(id);
  if (it != index_.end()) {
    RETURN_IF_ERROR(MarkDead(id));
  } else {
    it = index_.emplace(id, static_cast<uint32_t>(nodes_.size())).first;
    nodes_.emplace_back();
  }
  nodes_[it->second] = Datanode{id, host, capacity, used, now_ms, true, 0};
  return Status::Ok();
}

Status BlockManager::Heartbeat(const std::string& id, uint64_t capacity, uint64_t used,
                               int64_t now_ms) {
  RETURN_IF_ERROR(CheckLive(id));
  Datanode& dn = nodes_[IndexOf(id)];
  dn.capacity = capacity;
  dn.used = used;
  dn.last_heartbeat_ms = std::max(dn.last_heartbeat_ms, now_ms);
  return Status::Ok();
}

std::vector<std::string> BlockManager::DeadDatanodes(int64_t now_ms) const {
  std::vector<std::string> dead;
  for (const auto& [id, i] : index_) {
    const Datanode& dn = nodes_[i];
    if (dn.live && now_ms - dn.last_heartbeat_ms > options_.heartbeat_timeout_ms)
      dead.push_back(id);
  }
  return dead;
}

Status BlockManager::MarkDead(const std::string& id) {
  auto it = index_.find(id);
  if (it == index_.end()) return NotFound("unknown datanode " + id);
  nodes_[it->second].live = false;
  ForgetAllOn(it->second, nullptr);
  return Status::Ok();
}

bool BlockManager::IsLive(const std::string& id) const {
  auto it = index_.find(id);
  return it != index_.end() && nodes_[it->second].live;
}

Status BlockManager::CheckLive(const std::string& datanode) const {
  auto it = index_.find(datanode);
  if (it == index_.end()) return NotFound("unknown datanode " + datanode);
  if (!nodes_[it->second].live) {
    return Status(
        StatusCode::kUnavailable,
        "datanode " + datanode + " is dead; it must register again and send a full block report");
  }
  return Status::Ok();
}

// ---- replicas ----

BlockInfo BlockManager::Reported(uint64_t block_id, const Entry& e, uint32_t replica) const {
  if (replica & kDiffers) return differing_.at({block_id, replica & kIndexMask});
  return {block_id, e.generation, e.length};
}

void BlockManager::SetReported(const BlockInfo& block, const Entry& e, uint32_t& replica) {
  const std::pair<uint64_t, uint32_t> key{block.id, replica & kIndexMask};
  if (block.generation == e.generation && block.length == e.length) {
    if (replica & kDiffers) differing_.erase(key);
    replica &= ~kDiffers;
  } else {
    differing_[key] = block;
    replica |= kDiffers;
  }
}

void BlockManager::RemoveAt(uint64_t block_id, Entry& e, size_t i) {
  const uint32_t replica = e.replicas()[i];
  if (replica & kDiffers) differing_.erase({block_id, replica & kIndexMask});
  --nodes_[replica & kIndexMask].replicas;
  e.RemoveAt(i);
}

void BlockManager::Forget(uint64_t block_id, uint32_t datanode) {
  auto it = blocks_.find(block_id);
  if (it == blocks_.end()) return;
  const int i = it->second.Find(datanode);
  if (i < 0) return;
  RemoveAt(block_id, it->second, static_cast<size_t>(i));
  if (it->second.count == 0 && !it->second.expected) blocks_.erase(it);
}

void BlockManager::ForgetAllOn(uint32_t datanode, const std::vector<uint64_t>* keep) {
  // A scan of every block: datanodes die and lose replicas rarely, and a set of block ids per
  // datanode would cost more memory than all of a block's replicas.
  if (nodes_[datanode].replicas == 0) return;
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    const int i = it->second.Find(datanode);
    if (i >= 0 && (keep == nullptr || !std::binary_search(keep->begin(), keep->end(), it->first))) {
      RemoveAt(it->first, it->second, static_cast<size_t>(i));
      if (it->second.count == 0 && !it->second.expected) {
        it = blocks_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

bool BlockManager::AddReplica(uint32_t datanode, const BlockInfo& block) {
  auto [it, inserted] = blocks_.try_emplace(block.id);
  Entry& e = it->second;
  if (inserted) {  // an orphan (no file has it): compared to itself
    e.generation = block.generation;
    e.length = block.length;
  }
  const int i = e.Find(datanode);
  if (i < 0) {
    uint32_t replica = datanode;
    SetReported(block, e, replica);
    e.Add(replica);
    ++nodes_[datanode].replicas;
    return false;
  }
  uint32_t& replica = e.replicas()[i];
  // A full report carries no corruption flag: keep the one from ReportCorrupt while the replica
  // is the same one, or a corrupt replica would look good again until the next scan.
  const bool corrupt = (replica & kCorrupt) && Reported(block.id, e, replica) == block;
  SetReported(block, e, replica);
  replica = corrupt ? replica | kCorrupt : replica & ~kCorrupt;
  return true;
}

Status BlockManager::ProcessBlockReport(const std::string& datanode,
                                        const std::vector<BlockInfo>& blocks) {
  RETURN_IF_ERROR(CheckLive(datanode));
  std::vector<uint64_t> reported;
  reported.reserve(blocks.size());
  for (const auto& b : blocks) reported.push_back(b.id);
  std::sort(reported.begin(), reported.end());
  if (std::adjacent_find(reported.begin(), reported.end()) != reported.end()) {
    std::set<uint64_t> seen;  // name the first repeat in the report's order
    for (const auto& b : blocks) {
      if (!seen.insert(b.id).second) {
        return InvalidArgument("block report from " + datanode + " lists block " +
                               std::to_string(b.id) + " twice");
      }
    }
  }
  const uint32_t dn = IndexOf(datanode);
  const size_t before = nodes_[dn].replicas;
  size_t known = 0;
  for (const auto& b : blocks) known += AddReplica(dn, b);
  // Replicas known before and not reported again are gone; when every one was reported again
  // (the usual periodic report) there is nothing to look for.
  if (known < before) ForgetAllOn(dn, &reported);
  return Status::Ok();
}

Status BlockManager::ReplicaAdded(const std::string& datanode, const BlockInfo& block) {
  RETURN_IF_ERROR(CheckLive(datanode));
  AddReplica(IndexOf(datanode), block);
  return Status::Ok();
}

Status BlockManager::ReplicaRemoved(const std::string& datanode, uint64_t block_id) {
  RETURN_IF_ERROR(CheckLive(datanode));
  Forget(block_id, IndexOf(datanode));  // idempotent: the delete may have been ordered by us
  return Status::Ok();
}

Status BlockManager::ReportCorrupt(const std::string& datanode, uint64_t block_id) {
  RETURN_IF_ERROR(CheckLive(datanode));
  auto it = blocks_.find(block_id);
  const int i = it == blocks_.end() ? -1 : it->second.Find(IndexOf(datanode));
  if (i < 0) {
    return NotFound("datanode " + datanode + " holds no known replica of block " +
                    std::to_string(block_id));
  }
  it->second.replicas()[i] |= kCorrupt;
  return Status::Ok();
}

// ---- expected blocks ----

Status BlockManager::AddExpectedBlock(const BlockInfo& block, uint32_t replication,
                                      bool under_construction) {
  if (replication == 0) {
    return InvalidArgument("block " + std::to_string(block.id) +
                           ": replication must be at least 1");
  }
  auto [it, inserted] = blocks_.try_emplace(block.id);
  Entry& e = it->second;
  if (inserted) {
    e.generation = block.generation;
    e.length = block.length;
  } else if (e.generation != block.generation || e.length != block.length) {
    // Replicas that matched the old block keep what they reported; those that match the new
    // one need no copy of it.
    uint32_t* r = e.replicas();
    for (int i = 0; i < e.count; ++i) {
      if (!(r[i] & kDiffers)) {
        differing_[{block.id, r[i] & kIndexMask}] = {block.id, e.generation, e.length};
        r[i] |= kDiffers;
      }
    }
    e.generation = block.generation;
    e.length = block.length;
    for (int i = 0; i < e.count; ++i) SetReported(Reported(block.id, e, r[i]), e, r[i]);
  }
  e.expected = true;
  e.replication = replication;
  e.under_construction = under_construction;
  return Status::Ok();
}

Status BlockManager::RemoveExpectedBlock(uint64_t block_id) {
  auto it = blocks_.find(block_id);
  if (it == blocks_.end() || !it->second.expected)
    return NotFound("block " + std::to_string(block_id) + " is not expected");
  pending_.erase(block_id);
  if (it->second.count == 0) {
    blocks_.erase(it);
  } else {  // its replicas are orphans now
    it->second.expected = false;
    it->second.under_construction = false;
  }
  return Status::Ok();
}

Status BlockManager::SetReplication(uint64_t block_id, uint32_t replication) {
  auto it = blocks_.find(block_id);
  if (it == blocks_.end() || !it->second.expected)
    return NotFound("block " + std::to_string(block_id) + " is not expected");
  if (replication == 0) {
    return InvalidArgument("block " + std::to_string(block_id) +
                           ": replication must be at least 1");
  }
  it->second.replication = replication;
  return Status::Ok();
}

// ---- queries ----

bool BlockManager::IsGood(uint64_t block_id, const Entry& e, uint32_t replica) const {
  if (!e.expected || (replica & kCorrupt)) return false;
  if (!(replica & kDiffers)) return true;  // reported the expected block exactly
  const BlockInfo& got = differing_.at({block_id, replica & kIndexMask});
  // An open file's block: its length is known only at Complete.
  if (e.under_construction) return got.generation == e.generation;
  return got.generation == e.generation && got.length == e.length;
}

size_t BlockManager::GoodCount(uint64_t block_id, const Entry& e) const {
  size_t good = 0;
  const uint32_t* r = e.replicas();
  for (int i = 0; i < e.count; ++i) good += IsGood(block_id, e, r[i]);
  return good;
}

std::vector<DatanodeState> BlockManager::Datanodes() const {
  std::vector<DatanodeState> out;
  for (const auto& [id, i] : index_) {
    const Datanode& dn = nodes_[i];
    out.push_back({id, dn.host, dn.capacity, dn.used, dn.last_heartbeat_ms, dn.live, dn.replicas});
  }
  return out;
}

std::vector<std::string> BlockManager::Locations(uint64_t block_id) const {
  std::vector<std::string> out;
  auto it = blocks_.find(block_id);
  if (it == blocks_.end()) return out;
  const Entry& e = it->second;
  const uint32_t* r = e.replicas();
  for (int i = 0; i < e.count; ++i) {
    if (IsGood(block_id, e, r[i])) out.push_back(nodes_[r[i] & kIndexMask].id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint64_t> BlockManager::UnderReplicated() const {
  std::vector<std::pair<size_t, uint64_t>> by_count;
  for (const auto& [id, e] : blocks_) {
    if (!e.expected) continue;
    size_t good = GoodCount(id, e);
    if (good > 0 && good < e.replication) by_count.emplace_back(good, id);
  }
  std::sort(by_count.begin(), by_count.end());
  std::vector<uint64_t> out;
  out.reserve(by_count.size());
  for (const auto& [good, id] : by_count) out.push_back(id);
  return out;
}

std::vector<uint64_t> BlockManager::OverReplicated() const {
  std::vector<uint64_t> out;
  for (const auto& [id, e] : blocks_) {
    if (e.expected && GoodCount(id, e) > e.replication) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint64_t> BlockManager::Missing() const {
  std::vector<uint64_t> out;
  for (const auto& [id, e] : blocks_) {
    if (e.expected && GoodCount(id, e) == 0) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ReplicaRef> BlockManager::CorruptReplicas() const {
  std::vector<ReplicaRef> out;
  for (const auto& [id, e] : blocks_) {
    if (!e.expected) continue;  // orphans are reported as such, not as corrupt
    const uint32_t* r = e.replicas();
    for (int i = 0; i < e.count; ++i) {
      if (!IsGood(id, e, r[i])) out.push_back({id, nodes_[r[i] & kIndexMask].id});
    }
  }
  std::sort(out.begin(), out.end(), [](const ReplicaRef& a, const ReplicaRef& b) {
    return a.block_id != b.block_id ? a.block_id < b.block_id : a.datanode < b.datanode;
  });
  return out;
}

// ---- the replication monitor ----

std::vector<BlockCommand> BlockManager::ComputeWork(int64_t now_ms) {
  for (const auto& id : DeadDatanodes(now_ms)) (void)MarkDead(id);

  // Drop pending copies that landed, expired or whose target died.
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto entry = blocks_.find(it->first);
    std::erase_if(it->second, [&](const PendingCopy& p) {
      bool landed = entry != blocks_.end() && entry->second.Find(IndexOf(p.target)) >= 0;
      return landed || p.expires_ms <= now_ms || !IsLive(p.target);
    });
    it = it->second.empty() ? pending_.erase(it) : std::next(it);
  }

  std::vector<BlockCommand> commands;
  std::map<std::string, size_t> transfers;
  // Blocks still short of their factor after this round: their corrupt replicas may go.
  std::set<uint64_t> stuck;

  for (uint64_t id : UnderReplicated()) {
    const Entry& e = blocks_.at(id);
    if (e.under_construction) continue;
    std::vector<std::string> good = Locations(id);
    std::vector<PendingCopy>& pending = pending_[id];
    int64_t need = static_cast<int64_t>(e.replication) - static_cast<int64_t>(good.size()) -
                   static_cast<int64_t>(pending.size());
    if (need <= 0) continue;

    PlacementRequest req;
    req.count = static_cast<size_t>(need);
    req.allow_shared_hosts = options_.allow_shared_hosts;
    for (int i = 0; i < e.count; ++i)
      req.exclude_datanodes.insert(nodes_[e.replicas()[i] & kIndexMask].id);
    for (const auto& dn : good) req.exclude_hosts.insert(nodes_[IndexOf(dn)].host);
    for (const auto& p : pending) {
      req.exclude_datanodes.insert(p.target);
      req.exclude_hosts.insert(nodes_[IndexOf(p.target)].host);
    }
    std::vector<PlacementCandidate> candidates;
    for (const auto& [dn, i] : index_) {
      const Datanode& d = nodes_[i];
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
      commands.push_back(
          {BlockCommand::Kind::kCopy, {id, e.generation, e.length}, *source, target});
      ++transfers[*source];
      ++transfers[target];
      pending.push_back({target, now_ms + options_.pending_copy_timeout_ms});
      ++scheduled;
    }
    if (pending.empty()) pending_.erase(id);
    if (scheduled < need) stuck.insert(id);
  }

  auto order_delete = [&](uint64_t id, const std::string& dn) {
    const uint32_t index = IndexOf(dn);
    const Entry& e = blocks_.at(id);
    commands.push_back(
        {BlockCommand::Kind::kDelete, Reported(id, e, e.replicas()[e.Find(index)]), dn, ""});
    Forget(id, index);
  };

  for (uint64_t id : OverReplicated()) {
    if (blocks_.at(id).under_construction) continue;
    std::vector<std::string> good = Locations(id);
    // Trim where space is tightest; ties by id.
    std::sort(good.begin(), good.end(), [&](const std::string& a, const std::string& b) {
      uint64_t fa = nodes_[IndexOf(a)].free(), fb = nodes_[IndexOf(b)].free();
      return fa != fb ? fa < fb : a < b;
    });
    size_t excess = good.size() - blocks_.at(id).replication;
    for (size_t i = 0; i < excess; ++i) order_delete(id, good[i]);
  }

  for (const auto& ref : CorruptReplicas()) {
    const Entry& e = blocks_.at(ref.block_id);
    size_t good = GoodCount(ref.block_id, e);
    if (good == 0) continue;  // never delete the last copies, even corrupt ones
    if (good >= e.replication || stuck.contains(ref.block_id)) {
      order_delete(ref.block_id, ref.datanode);
    }
  }

  std::vector<ReplicaRef> orphans;
  for (const auto& [id, e] : blocks_) {
    if (e.expected) continue;
    for (int i = 0; i < e.count; ++i)
      orphans.push_back({id, nodes_[e.replicas()[i] & kIndexMask].id});
  }
  std::sort(orphans.begin(), orphans.end(), [](const ReplicaRef& a, const ReplicaRef& b) {
    return a.block_id != b.block_id ? a.block_id < b.block_id : a.datanode < b.datanode;
  });
  for (const auto& ref : orphans) order_delete(ref.block_id, ref.datanode);
  return commands;
}

}  // namespace sawmill::dfs
