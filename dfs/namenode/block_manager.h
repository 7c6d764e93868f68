// The namenode's map of block replicas and datanode liveness, and the replication monitor's
// decisions. Not persisted: rebuilt from block reports. Pure logic: no I/O, no clock, no threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "dfs/block_info.h"

namespace sawmill::dfs {

// An order to a datanode, produced by BlockManager::ComputeWork.
struct BlockCommand {
  enum class Kind { kCopy, kDelete };
  Kind kind = Kind::kDelete;
  // Copy: the expected block. Delete: the replica as the datanode reported it (a stale
  // generation stamp names exactly the file to remove).
  BlockInfo block;
  std::string datanode;  // Copy: the source; Delete: the datanode that deletes
  std::string target;    // Copy only
  bool operator==(const BlockCommand&) const = default;
};

// What the block manager knows of one datanode (for status pages and DatanodeInfo).
struct DatanodeState {
  std::string id;
  std::string host;
  uint64_t capacity = 0;
  uint64_t used = 0;
  int64_t last_heartbeat_ms = 0;  // on the clock passed in
  bool live = false;
  size_t replicas = 0;  // replicas known on it (none once dead)
};

struct ReplicaRef {
  uint64_t block_id = 0;
  std::string datanode;
  bool operator==(const ReplicaRef&) const = default;
};

// Rules (each one tested in tests/dfs/block_manager_test.cc):
// - A datanode silent for longer than heartbeat_timeout_ms is dead; its replicas are dropped
//   from the map (they no longer count) and it must re-register and send a full block report.
// - A replica is good when it was not reported corrupt and its generation and length equal the
//   expected block's; otherwise it is corrupt (a stale generation counts as corrupt). While a
//   block's file is under construction its length is unknown (the writer tells it on Complete):
//   any length counts as good then, and Complete's lengths decide afterwards.
// - Blocks of files under construction are neither copied nor trimmed: their pipeline may still
//   be writing, and the replication factor is restored once the file is complete.
// - ComputeWork deletes a replica as soon as it orders it (the map forgets it at once), so a
//   later round cannot trim a second copy for the same excess; a datanode that failed to delete
//   reports the replica again in its next full report and it is trimmed again.
// - Corrupt replicas are deleted only while the block has a live good replica, and only once the
//   good count reaches the replication factor or no copy could be placed this round (the
//   corrupt replica's datanode is then freed to become a target). A block whose replicas are all
//   corrupt keeps them: never delete the last copies, a person may salvage one.
class BlockManager {
 public:
  struct Options {
    int64_t heartbeat_timeout_ms = 10'000;
    // Copies per datanode per ComputeWork round, as source and as target counted together.
    size_t max_transfers_per_datanode = 2;
    // A copy ordered but not yet reported (ReplicaAdded) counts towards the factor this long;
    // after that it is assumed lost and ordered again.
    int64_t pending_copy_timeout_ms = 60'000;
    // See PlacementRequest::allow_shared_hosts.
    bool allow_shared_hosts = false;
  };

  BlockManager();
  explicit BlockManager(Options options);

  // Datanodes. Registering (again) makes a datanode live with no replicas: its full block
  // report follows.
  Status RegisterDatanode(const std::string& id, const std::string& host, uint64_t capacity,
                          uint64_t used, int64_t now_ms);
  // Fails for an unknown or dead datanode: it must register again.
  Status Heartbeat(const std::string& id, uint64_t capacity, uint64_t used, int64_t now_ms);
  // Live datanodes silent for longer than the timeout at `now_ms`, sorted.
  std::vector<std::string> DeadDatanodes(int64_t now_ms) const;
  Status MarkDead(const std::string& id);
  bool IsLive(const std::string& id) const;

  // Replicas, from live datanodes. A full report replaces everything known about the datanode.
  Status ProcessBlockReport(const std::string& datanode, const std::vector<BlockInfo>& blocks);
  Status ReplicaAdded(const std::string& datanode, const BlockInfo& block);
  Status ReplicaRemoved(const std::string& datanode, uint64_t block_id);
  Status ReportCorrupt(const std::string& datanode, uint64_t block_id);

  // Expected blocks, from the namespace. Adding an expected block again replaces its expected
  // generation/length (Complete sets the length, pipeline recovery bumps the generation).
  // `under_construction`: the block's file is open, so its length is not known yet.
  Status AddExpectedBlock(const BlockInfo& block, uint32_t replication, bool under_construction = false);
  Status RemoveExpectedBlock(uint64_t block_id);
  Status SetReplication(uint64_t block_id, uint32_t replication);

  // Live datanodes holding a good replica, sorted by id.
  std::vector<std::string> Locations(uint64_t block_id) const;
  // Expected blocks with at least one but fewer good live replicas than their factor, fewest
  // good replicas first, then by id.
  std::vector<uint64_t> UnderReplicated() const;
  // Expected blocks with more good live replicas than their factor, by id.
  std::vector<uint64_t> OverReplicated() const;
  // Expected blocks with no good live replica, by id.
  std::vector<uint64_t> Missing() const;
  // Corrupt replicas on live datanodes of expected blocks, by block id then datanode.
  std::vector<ReplicaRef> CorruptReplicas() const;

  // Every datanode ever registered, live or dead, by id.
  std::vector<DatanodeState> Datanodes() const;

  // One round of the replication monitor: marks silent datanodes dead, then orders copies for
  // under-replicated blocks and deletes for excess, corrupt and orphan replicas (see the rules).
  std::vector<BlockCommand> ComputeWork(int64_t now_ms);

 private:
  struct Datanode {
    std::string host;
    uint64_t capacity = 0;
    uint64_t used = 0;
    int64_t last_heartbeat_ms = 0;
    bool live = true;
    uint64_t free() const { return capacity > used ? capacity - used : 0; }
  };
  struct Replica {
    BlockInfo reported;
    bool reported_corrupt = false;
  };
  struct Expected {
    BlockInfo block;
    uint32_t replication = 0;
    bool under_construction = false;
  };
  struct PendingCopy {
    std::string target;
    int64_t expires_ms = 0;
  };

  Status CheckLive(const std::string& datanode) const;
  bool IsGood(uint64_t block_id, const Replica& replica) const;
  size_t GoodCount(uint64_t block_id) const;
  // Removes the replica of `block_id` on `datanode` from both maps.
  void Forget(uint64_t block_id, const std::string& datanode);
  void AddReplica(const std::string& datanode, const BlockInfo& block);

  Options options_;
  std::map<std::string, Datanode> datanodes_;
  std::map<uint64_t, Expected> expected_;
  // Replicas on live datanodes only, by block id then datanode id.
  std::map<uint64_t, std::map<std::string, Replica>> replicas_;
  std::map<std::string, std::set<uint64_t>> blocks_of_;
  std::map<uint64_t, std::vector<PendingCopy>> pending_;
};

}  // namespace sawmill::dfs
