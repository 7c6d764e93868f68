// The namenode's map of block replicas and datanode liveness, and the replication monitor's
// decisions. Not persisted: rebuilt from block reports. Pure logic: no I/O, no clock, no threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
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
//
// Memory (a namenode holds millions of blocks; docs/scale.md): one hash-table entry per block
// (64 bytes and a bucket) holds the expected block, its factor and its first four replicas,
// 4 bytes each (the datanode's index and flags); a replica whose reported generation or length
// differs from the expected block keeps it in a side map. There is no set of blocks per
// datanode: a datanode's death or re-registration, and a full report that leaves out replicas
// known before, scan every block (rare); a full report that repeats all of them does not.
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
  Status AddExpectedBlock(const BlockInfo& block, uint32_t replication,
                          bool under_construction = false);
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
    std::string id;
    std::string host;
    uint64_t capacity = 0;
    uint64_t used = 0;
    int64_t last_heartbeat_ms = 0;
    bool live = true;
    size_t replicas = 0;  // replicas in the map on it (kept instead of a set per datanode)
    uint64_t free() const { return capacity > used ? capacity - used : 0; }
  };
  // A replica in an Entry: its datanode's index in nodes_, and two flags.
  static constexpr uint32_t kCorrupt = 1u << 31;  // reported corrupt (ReportCorrupt)
  static constexpr uint32_t kDiffers = 1u << 30;  // reported another block: see differing_
  static constexpr uint32_t kIndexMask = kDiffers - 1;
  // One block, as compact as its numbers allow (a namenode holds millions): the expected block
  // (once no longer expected, the last one, which its orphan replicas are compared to), its
  // factor and its replicas, the first kInline of them inline. A replica without kDiffers
  // reported exactly the entry's generation and length, so most replicas are 4 bytes.
  struct Entry {
    static constexpr uint16_t kInline = 4;
    uint64_t generation = 0;
    uint64_t length = 0;
    uint32_t replication = 0;
    uint16_t count = 0;  // replicas
    bool expected = false;
    bool under_construction = false;
    union {
      uint32_t local[kInline];
      uint32_t* heap;  // count > kInline: capacity max(8, bit_ceil(count)) or more
    };

    Entry() : local{} {}
    ~Entry();
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    uint32_t* replicas() { return count > kInline ? heap : local; }
    const uint32_t* replicas() const { return count > kInline ? heap : local; }
    // The position of `datanode`'s replica, or -1.
    int Find(uint32_t datanode) const;
    void Add(uint32_t replica);
    void RemoveAt(size_t i);
  };
  using Table = std::unordered_map<uint64_t, Entry>;
  struct PendingCopy {
    std::string target;
    int64_t expires_ms = 0;
  };

  Status CheckLive(const std::string& datanode) const;
  // The index of datanode `id`; it must be registered.
  uint32_t IndexOf(const std::string& id) const { return index_.at(id); }
  BlockInfo Reported(uint64_t block_id, const Entry& e, uint32_t replica) const;
  bool IsGood(uint64_t block_id, const Entry& e, uint32_t replica) const;
  size_t GoodCount(uint64_t block_id, const Entry& e) const;
  // Makes `replica` (of entry `e`) say that it reported `block`.
  void SetReported(const BlockInfo& block, const Entry& e, uint32_t& replica);
  // Removes the replica at position `i` of `e` (for block `block_id`), keeping the counters;
  // the caller erases an entry left with no replica that is not expected.
  void RemoveAt(uint64_t block_id, Entry& e, size_t i);
  // Removes the replica of `block_id` on datanode `datanode` (an index), if there is one.
  void Forget(uint64_t block_id, uint32_t datanode);
  // Returns whether the datanode already had a replica of the block.
  bool AddReplica(uint32_t datanode, const BlockInfo& block);
  // Removes every replica on `datanode` whose block is not in `keep` (sorted; null: all).
  void ForgetAllOn(uint32_t datanode, const std::vector<uint64_t>* keep);

  Options options_;
  std::vector<Datanode> nodes_;            // every datanode ever registered, by index
  std::map<std::string, uint32_t> index_;  // datanode id -> index in nodes_
  // Blocks that are expected or have replicas on live datanodes, by id.
  Table blocks_;
  // The reported block of each replica flagged kDiffers, by block id and datanode index: rare
  // (a stale or short replica, or one reported while its file is being written).
  std::map<std::pair<uint64_t, uint32_t>, BlockInfo> differing_;
  std::map<uint64_t, std::vector<PendingCopy>> pending_;
};

}  // namespace sawmill::dfs
