// The namenode's request logic without networking: the namespace (durable) and the block
// manager (soft state) kept consistent, for the RPC layer to call. Time is passed in.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "dfs/block_info.h"
#include "dfs/namenode/block_manager.h"
#include "dfs/namenode/namespace_store.h"

namespace sawmill::dfs {

// A block and the datanodes to write it to (AddBlock) or read it from (GetBlockLocations).
struct LocatedBlock {
  BlockInfo block;
  std::vector<std::string> datanodes;
};

struct FsckBlock {
  uint64_t block_id = 0;
  std::string path;
};

struct FsckCorruptReplica {
  uint64_t block_id = 0;
  std::string path;
  std::string datanode;
};

// Blocks of files under construction are left out (their replicas are still being written).
struct FsckReport {
  size_t total_blocks = 0;  // blocks of closed files
  size_t open_blocks = 0;   // blocks of files under construction, not checked
  std::vector<FsckBlock> under_replicated;
  std::vector<FsckBlock> missing;
  std::vector<FsckCorruptReplica> corrupt;
  bool healthy() const { return under_replicated.empty() && missing.empty() && corrupt.empty(); }
};

// FsckReport's sizes.
struct FsckCounts {
  size_t total_blocks = 0;
  size_t open_blocks = 0;
  size_t under_replicated = 0;
  size_t missing = 0;
  size_t corrupt = 0;
};

class NamenodeCore {
 public:
  struct Options {
    BlockManager::Options block_manager;
    // A datanode gets a new block only while its free space (as of its last heartbeat, less the
    // blocks placed on it since) is at least the block's size plus this: a full disk is left out
    // of placement until it has room again, before a write runs into it.
    uint64_t datanode_reserve_bytes = 4ull << 20;
  };

  // Opens the namespace in `dir` and registers every block it holds as expected, before any
  // datanode reports, so that existing replicas are not taken for orphans.
  static Result<std::unique_ptr<NamenodeCore>> Open(const std::string& dir, Options options);

  // Datanode side.
  Status RegisterDatanode(const std::string& id, const std::string& host, uint64_t capacity, uint64_t used,
                          int64_t now_ms);
  Status Heartbeat(const std::string& id, uint64_t capacity, uint64_t used, int64_t now_ms);
  Status BlockReport(const std::string& datanode, const std::vector<BlockInfo>& blocks);
  Status ReplicaAdded(const std::string& datanode, const BlockInfo& block);
  Status ReplicaRemoved(const std::string& datanode, uint64_t block_id);
  Status ReportCorrupt(const std::string& datanode, uint64_t block_id);
  std::vector<BlockCommand> ComputeWork(int64_t now_ms);
  // Marks datanodes silent past the timeout dead (ComputeWork does so too) and returns them, so
  // that Fsck sees their replicas gone without waiting for a replication round.
  std::vector<std::string> ExpireDatanodes(int64_t now_ms);

  // Client side. Paths are client paths (normalized here).
  Status Mkdirs(std::string_view path, int64_t now_ms);
  //
  // A writer's create, addBlock (given `blocks_before`), abandonBlock and complete may be
  // repeats: a namenode that journaled one and died before answering leaves its client to send
  // it again after the restart. Each tells a repeat apart and answers it as the first time
  // without changing anything: create of the client's own file that has no block yet; addBlock
  // when the file already has the block after `blocks_before` (the same block, new targets);
  // abandonBlock of a block the file no longer has; complete of a closed file whose block
  // lengths are the ones given.
  Status Create(std::string_view path, const std::string& client, uint32_t replication, uint64_t block_size,
                int64_t now_ms);
  // Allocates the next block of an open file and chooses its pipeline, never among `exclude`
  // (datanode ids that failed the writer before). Fails with kUnavailable (allocating nothing)
  // when no live datanode has room for a block (Options::datanode_reserve_bytes).
  // `blocks_before`: the blocks the writer knows the file has (-1: unknown, never a repeat).
  Result<LocatedBlock> AddBlock(std::string_view path, const std::string& client, const std::string& writer_host,
                                int64_t now_ms, const std::set<std::string>& exclude = {},
                                int64_t blocks_before = -1);
  // Drops the last block of an open file (the writer's pipeline for it failed); its replicas
  // become orphans and are deleted by a later ComputeWork.
  Status AbandonBlock(std::string_view path, const std::string& client, uint64_t block_id);
  Status Complete(std::string_view path, const std::string& client, const std::vector<uint64_t>& block_lengths,
                  int64_t now_ms);
  Status Rename(std::string_view src, std::string_view dst, int64_t now_ms);
  Status Delete(std::string_view path, bool recursive, int64_t now_ms);
  Status Abandon(std::string_view path);
  Status SetReplication(std::string_view path, uint32_t replication);
  Result<FileStatus> Stat(std::string_view path) const;
  Result<std::vector<FileStatus>> List(std::string_view path) const;
  // Every block of a closed file with its live good replicas (possibly none).
  Result<std::vector<LocatedBlock>> GetBlockLocations(std::string_view path) const;

  // Builds a block id -> path map of every block: O(blocks) allocations (1.4 s at 1 M files,
  // 22 s at 10 M, under the service's lock). For the fsck request; the tick and the status page use the cheaper calls below.
  FsckReport Fsck() const;
  // Fsck's counts without the paths: no per-block allocation beyond the block manager's scans.
  FsckCounts FsckSummary() const;
  // Blocks of closed files with no good reported replica: what keeps the namenode in safe mode.
  size_t MissingClosedBlocks() const;
  // Files under construction with their lease holders, by path.
  std::vector<OpenFile> OpenFiles() const;
  // See NamespaceStore::Checkpoint, StartCheckpoint and PollCheckpoint.
  Status Checkpoint() { return store_->Checkpoint(); }
  Status StartCheckpoint() { return store_->StartCheckpoint(); }
  Result<bool> PollCheckpoint(bool wait) { return store_->PollCheckpoint(wait); }
  bool checkpoint_in_flight() const { return store_->checkpoint_in_flight(); }

  const NamespaceStore& store() const { return *store_; }
  NamespaceStore& store() { return *store_; }
  const BlockManager& block_manager() const { return blocks_; }

 private:
  struct OpenFileParams {
    uint32_t replication = 0;
    uint64_t block_size = 0;
    std::string lease_holder;
  };
  struct DatanodeSpace {
    std::string host;
    uint64_t capacity = 0;
    uint64_t used = 0;
    uint64_t scheduled = 0;  // bytes of blocks placed on it since its last heartbeat
  };

  NamenodeCore(std::unique_ptr<NamespaceStore> store, Options options)
      : store_(std::move(store)), options_(options), blocks_(options.block_manager) {}
  Status LoadExpectedBlocks();
  void RemoveFreed(const std::vector<BlockInfo>& freed);
  void ForgetOpenFilesUnder(const std::string& path);
  // The blocks of files under construction, from open_files_ (few) rather than the tree.
  std::set<uint64_t> OpenBlocks() const;
  // What Fsck and FsckSummary report: the under-replicated, missing and corrupt blocks of
  // closed files, and how many blocks are open (not checked).
  struct ClosedProblems {
    size_t open_blocks = 0;
    std::vector<uint64_t> under_replicated, missing;
    std::vector<ReplicaRef> corrupt;
  };
  ClosedProblems ProblemsOfClosedFiles() const;

  std::unique_ptr<NamespaceStore> store_;
  Options options_;
  BlockManager blocks_;
  // BlockManager keeps datanode space private; placement needs it.
  std::map<std::string, DatanodeSpace> datanodes_;
  // Open files by normalized path: Namespace::Stat hides files under construction, and AddBlock
  // needs their replication and block size to place the pipeline.
  std::map<std::string, OpenFileParams> open_files_;
};

}  // namespace sawmill::dfs
