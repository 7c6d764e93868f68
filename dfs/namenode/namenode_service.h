// The namenode's RPC service: NamenodeRequest conversations (dfs/protocol.capnp) from clients and
// datanodes served over any Transport, plus the background loop that expires leases, runs the
// replication monitor and checkpoints the journal. NamenodeCore does the logic; this adds the
// wire, the clock, leases, per-datanode command queues and safe mode.
//
// Safe mode: after a (re)start the block manager knows which blocks to expect but not where they
// are until datanodes report. Until every block of a closed file has a good reported replica,
// or safe_mode_grace_ms has passed since the start, no replication round runs: no copies (every
// block looks under-replicated) and, above all, no deletes (a replica of a block whose journal
// record was lost, or of a file deleted just before a crash, must not be destroyed before we
// know the rest is there). Writes and reads are served as usual in safe mode.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/rpc.h"
#include "common/status.h"
#include "dfs/namenode/namenode_core.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs {

// One datanode as the status page shows it.
struct DatanodeStatus {
  std::string id;
  std::string host;
  std::string address;
  std::string machine;
  bool live = false;
  uint64_t capacity = 0;
  uint64_t used = 0;
  size_t blocks = 0;             // replicas the namenode knows on it
  int64_t last_heartbeat_ms = 0;  // milliseconds since the epoch (0: never)
};

// A snapshot of the namenode for the HTTP status page.
struct NamenodeStatus {
  int64_t now_ms = 0;       // milliseconds since the epoch
  int64_t started_ms = 0;   // ditto
  bool safe_mode = false;
  std::string read_only;    // why mutations are refused ("" when they are not): the journal failed
  uint64_t last_txid = 0;
  size_t dirs = 0;
  size_t files = 0;
  size_t open_files = 0;
  size_t blocks = 0;        // of closed files
  size_t open_blocks = 0;   // of files under construction
  size_t under_replicated = 0;
  size_t missing = 0;
  size_t corrupt = 0;        // corrupt replicas
  size_t live_datanodes = 0;
  size_t dead_datanodes = 0;
  std::vector<DatanodeStatus> datanodes;  // by id
};

class NamenodeService {
 public:
  struct Options {
    uint32_t replication = 3;            // for creates that ask for 0
    uint64_t block_size = 64ull << 20;   // ditto
    int64_t lease_timeout_ms = 60'000;
    uint32_t heartbeat_interval_ms = 1000;       // told to datanodes at registration
    uint32_t block_report_interval_ms = 60'000;  // ditto
    int64_t replication_interval_ms = 1000;
    int64_t loop_interval_ms = 500;      // the background loop's period
    uint64_t checkpoint_every = 10'000;  // journal records between checkpoints
    // Tick's checkpoints are written by a forked child (NamespaceStore::StartCheckpoint) while
    // the namenode goes on answering; false: under the lock, as Stop's always is.
    bool background_checkpoint = true;
    // Safe mode lasts at most this long after the start; < 0: 2 × heartbeat timeout.
    int64_t safe_mode_grace_ms = -1;
    BlockManager::Options block_manager;
    // Monotonic milliseconds for liveness, leases and the loop (default: steady clock); tests
    // inject a fake. File mtimes always come from the system clock.
    std::function<int64_t()> clock;
  };

  // Opens the metadata in `dir` (NamespaceStore layout). Every lease found open starts fresh:
  // its holder has lease_timeout_ms from now to renew.
  static Result<std::unique_ptr<NamenodeService>> Open(const std::string& dir, Options options);
  ~NamenodeService();  // Stop()s
  NamenodeService(const NamenodeService&) = delete;
  NamenodeService& operator=(const NamenodeService&) = delete;

  // Serves one conversation: request, response, ... until the peer closes. The service must
  // outlive every conversation it serves.
  Handler handler();
  void Serve(Connection& conn);

  // The background loop: Tick() every loop_interval_ms on its own thread.
  void Start();
  // Stops the loop and writes a checkpoint if anything was journaled since the last one.
  void Stop();
  // One round of the loop: abandons files whose lease expired, leaves safe mode when due, runs
  // the replication monitor when replication_interval_ms passed (queuing its commands for the
  // datanodes' next heartbeats), checkpoints when checkpoint_every records accumulated (in the
  // background: a later Tick installs the image).
  void Tick();

  NamenodeStatus GetStatus() const;
  const RecoveryInfo& recovery() const { return recovery_; }
  bool safe_mode() const;

 private:
  // What a datanode told at registration, for DatanodeInfo answers.
  struct DatanodeAddress {
    std::string host;
    std::string address;
    std::string machine;
    std::string local_socket;  // "unix:/path" for same-machine peers, or ""
  };

  NamenodeService(std::unique_ptr<NamenodeCore> core, Options options);
  int64_t Now() const { return options_.clock(); }
  // Handles one request, filling `response`; the caller turns an error into an error-only
  // response. Reads every field it needs before changing anything (a malformed field throws).
  // Answers under the lock, then waits (without it) until the journal holds, durably, every
  // mutation the answer may show: its own or one a read saw (group commit).
  Status Dispatch(proto::NamenodeRequest::Reader request, proto::NamenodeResponse::Builder response);
  Status DispatchLocked(proto::NamenodeRequest::Reader request, proto::NamenodeResponse::Builder response);
  void TickLocked();
  Status DispatchDatanode(proto::NamenodeRequest::Reader request, proto::NamenodeResponse::Builder response,
                          int64_t now);
  // The rest run with mu_ held.
  void Renew(const std::string& client, int64_t now);
  std::map<std::string, DatanodeState> DatanodeStates() const;
  void FillDatanode(const std::string& id, const std::map<std::string, DatanodeState>& states, int64_t now,
                    proto::DatanodeInfo::Builder out) const;
  void FillLocated(const LocatedBlock& located, const std::map<std::string, DatanodeState>& states, int64_t now,
                   proto::LocatedBlock::Builder out) const;
  Status CheckDatanode(const std::string& id) const;
  // Reaps a background checkpoint that finished, then starts one (in the background, or
  // synchronously after waiting for the one in flight) once `every` records accumulated.
  void CheckpointIfNeeded(uint64_t every, bool background);
  // Installs a background checkpoint whose child has exited (with `wait`, waits for it) and logs
  // the outcome; false (and checkpoint_failed_) if it failed.
  bool ReapCheckpoint(bool wait);

  // Everything below is guarded by mu_ (the core included).
  mutable std::mutex mu_;
  std::unique_ptr<NamenodeCore> core_;
  const Options options_;
  const RecoveryInfo recovery_;
  const int64_t started_ms_;       // on options_.clock
  const int64_t started_wall_ms_;
  bool safe_mode_ = true;
  int64_t next_safe_mode_check_ms_ = 0;  // steady clock; see Tick
  int64_t last_replication_ms_;
  uint64_t last_checkpoint_txid_;
  bool checkpoint_failed_ = false;     // the last one, background or not
  int64_t checkpoint_started_ms_ = 0;  // of the one in flight, steady clock (for the log)
  std::map<std::string, int64_t> lease_renewed_ms_;  // client -> last renewal
  std::map<std::string, DatanodeAddress> addresses_;
  std::map<std::string, std::deque<BlockCommand>> commands_;  // by datanode id

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;
  std::thread loop_;
};

}  // namespace sawmill::dfs
