// Small in-process stand-ins for the namenode and datanode services, speaking the real protocol
// (dfs/protocol.capnp) so that the client is tested without the real services: the namenode
// hands out block ids and pipelines in a fixed order and records what clients ask; datanodes
// keep replicas in memory (and optionally as real block files, for short-circuit reads).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/rpc.h"
#include "dfs/block_info.h"
#include "dfs/client/dfs_client.h"
#include "dfs/datanode/block_file.h"

namespace sawmill::dfs::testing {

class FakeNamenode {
 public:
  struct File {
    bool complete = false;
    std::string client;  // the writer's (a repeat of its create is answered as the first)
    uint32_t replication = 0;
    uint64_t block_size = 0;
    std::vector<BlockInfo> blocks;
    std::vector<std::vector<std::string>> replicas;  // datanode ids per block (its pipeline)
  };

  explicit FakeNamenode(std::vector<DatanodeDescriptor> datanodes) : datanodes_(std::move(datanodes)) {}
  Handler handler();

  // Recorded requests (read under mu()).
  std::mutex& mu() { return mu_; }
  std::map<std::string, File> files;
  std::vector<std::vector<std::string>> add_block_excludes;
  std::vector<std::string> add_block_hosts;
  std::vector<uint64_t> abandoned;
  std::vector<std::pair<uint64_t, std::string>> bad_replicas;
  std::vector<std::string> deleted;
  int renewals = 0;
  int repeats = 0;  // repeated create, addBlock or complete requests answered as the first
  std::set<std::string> dirs;                              // from mkdirs
  std::vector<std::pair<uint64_t, std::string>> missing;  // what fsck reports as missing
  uint32_t default_replication = 2;
  uint64_t default_block_size = 64;

 private:
  void Serve(Connection& conn);
  std::mutex mu_;
  std::vector<DatanodeDescriptor> datanodes_;
  uint64_t next_block_ = 100;
};

class FakeDatanode {
 public:
  // `local_dir` non-empty: replicas are also written there as block files and short-circuit
  // grants are given for them.
  FakeDatanode(DatanodeDescriptor info, Transport* network, std::string local_dir = "")
      : info_(std::move(info)), network_(network), local_dir_(std::move(local_dir)) {}
  Handler handler();
  const DatanodeDescriptor& info() const { return info_; }

  std::string BlockData(uint64_t id);
  bool HasBlock(uint64_t id);
  std::string BlockFilePath(uint64_t id) const;

  std::atomic<bool> fail_writes{false};   // answer every write with an error after a packet
  std::atomic<bool> refuse_reads{false};  // readBlock answers kUnavailable
  std::mutex corrupt_mu;
  std::set<uint64_t> corrupt;             // readBlock of these fails mid-stream with kCorruption
  std::atomic<int> wire_reads{0};
  std::atomic<int> grants{0};
  std::atomic<int> local_writes_refused{0};  // localWrite requests, all refused (with an error)
  uint32_t read_packet_bytes = 10;
  uint32_t chunk_bytes = kDefaultChunkBytes;  // of the block files written for short-circuit

 private:
  void Serve(Connection& conn);
  bool ServeWrite(Connection& conn, const std::string& header);
  bool ServeRead(Connection& conn, uint64_t id, uint64_t offset, uint64_t length);

  const DatanodeDescriptor info_;
  Transport* const network_;
  const std::string local_dir_;
  std::mutex mu_;
  std::map<uint64_t, std::string> blocks_;
};

}  // namespace sawmill::dfs::testing
