// The datanode service: serves block writes (the replication pipeline, or short-circuit writes
// by a client on this machine), verified reads and short-circuit grants over DatanodeRequest conversations, and keeps the namenode informed
// (register, heartbeats, block reports, incremental events) while executing its commands
// (delete a replica, copy a replica to another datanode). Wire protocol: dfs/protocol.capnp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/capnp_util.h"
#include "common/rpc.h"
#include "common/status.h"
#include "dfs/block_info.h"
#include "dfs/datanode/block_scanner.h"
#include "dfs/datanode/block_store.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs {

// Where a replica goes: the namenode's DatanodeInfo reduced to what a writer needs.
struct DatanodeTarget {
  std::string id;
  std::string address;
  std::string machine;       // its real machine
  std::string local_socket;  // "unix:/path" for peers on that machine, or ""
};
DatanodeTarget ToDatanodeTarget(proto::DatanodeInfo::Reader info);

class Datanode {
 public:
  struct Options {
    std::string dir;               // the datanode's directory (for messages)
    std::string id;                // stable id, kept in <dir>/datanode_id
    std::string host;              // placement host name
    std::string address;           // "ip:port" of this service, as advertised to others
    std::string local_socket;      // "unix:/path" of this service for same-machine peers, or ""
    std::string namenode_address;  // "" runs no namenode loop (tests of the data path alone)
    std::string machine;           // "" = LocalMachineId(); decides short-circuit reads
    int64_t heartbeat_ms = 1000;
    int64_t block_report_ms = 60000;   // <= 0: only at registration
    int64_t scan_interval_ms = 600000; // <= 0: no background scanner
    uint32_t packet_bytes = 1 << 20;   // data bytes per read packet and per copy packet
  };

  // `transport` reaches the namenode and other datanodes; `store` must be open. Both must
  // outlive the Datanode.
  Datanode(Options options, Transport* transport, BlockStore* store);
  ~Datanode();  // Stop()s
  Datanode(const Datanode&) = delete;
  Datanode& operator=(const Datanode&) = delete;

  // Serves one DatanodeRequest conversation; give it to a TcpServer or InProcessNetwork::Listen.
  Handler handler();

  // Starts the namenode loop (register, heartbeats, reports, commands) and the scanner.
  void Start();
  // Stops the background threads, closes every conversation still being served (and the
  // connections they opened) and waits for the handlers to return, so the store may be
  // destroyed afterwards. New conversations are refused. Idempotent.
  void Stop();

  // One synchronous scanner pass (what the background scanner runs every scan_interval_ms):
  // every corrupt replica, and every file found malformed at Open, is reported to the namenode.
  ScanResult ScanNow();

  const Options& options() const { return options_; }
  // Blocks stored through short-circuit writes (localWrite + finalizeLocal), for tests.
  uint64_t local_writes() const { return local_writes_.load(); }

 private:
  // Registers a connection with the datanode for its lifetime, so that Stop can close it and
  // unblock whoever waits on it. ok() is false when the datanode is stopping (the connection
  // is closed at once then).
  class Conversation {
   public:
    Conversation(Datanode* datanode, Connection* conn);
    ~Conversation();
    Conversation(const Conversation&) = delete;
    Conversation& operator=(const Conversation&) = delete;
    bool ok() const { return ok_; }

   private:
    Datanode* datanode_;
    Connection* conn_;
    bool ok_ = false;
  };
  struct CopyTask {
    BlockInfo block;
    DatanodeTarget target;
  };

  void Serve(Connection& conn);
  // Each returns false when the conversation must end.
  bool ServeWrite(Connection& up, CapnpReader& request);
  bool ServeRead(Connection& conn, uint64_t id, uint64_t offset, uint64_t length);
  bool ServeLocalBlock(Connection& conn, uint64_t id);
  bool ServeLocalWrite(Connection& conn, CapnpReader& request);
  // The end of every stored write: tells the namenode, then answers the writer's one ack.
  bool AcknowledgeWrite(Connection& up, const BlockInfo& stored_block, const std::vector<std::string>& stored,
                        const std::string& failed);
  // Opens a connection to another datanode: over its Unix socket when it runs on this machine
  // and has one (cheaper than loopback TCP), else, or when that fails, over TCP.
  Result<std::unique_ptr<Connection>> ConnectTo(const DatanodeTarget& target);
  // "datanode <id> (<address>)", the prefix of every error this datanode sends.
  std::string Name() const;

  // Namenode side. Call sends one request on the shared connection (reconnecting once when a
  // reused connection turns out broken) and returns the response; a non-ok result is a
  // transport failure, after which the connection is dropped. Namenode errors are inside the
  // response.
  Result<std::unique_ptr<CapnpReader>> CallNamenode(const std::string& request);
  void NoteNamenodeReachable(const Status& transport_status);
  Status Register();
  // Ok, kNotFound ("register again") or another failure.
  Status Heartbeat();
  Status SendBlockReport();
  enum class Event { kReceived, kDeleted, kCorrupt };
  // One attempt; when it fails the next heartbeat round sends a full block report instead.
  void SendEvent(Event event, const BlockInfo& block);
  void ReportCorrupt(uint64_t id, const Status& why);

  void NamenodeLoop();
  void ScannerLoop();
  void ExecuteDelete(const BlockInfo& block);
  void StartCopy(CopyTask task);
  Status Copy(const CopyTask& task);
  void ReapCopies(bool all);
  // Waits until `ms` passed or Stop; false when stopping.
  bool SleepFor(int64_t ms);

  const Options options_;
  Transport* const transport_;
  BlockStore* const store_;

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  std::set<Connection*> open_;  // conversations served and connections opened by them
  size_t serving_ = 0;          // handlers running
  std::thread namenode_thread_, scanner_thread_;
  struct CopyThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<CopyThread> copies_;
  std::set<std::pair<uint64_t, std::string>> copying_;  // (block id, target id) in flight

  // The namenode connection, shared by the loop and the event senders.
  std::mutex nn_mu_;
  std::shared_ptr<Connection> nn_conn_;  // guarded by nn_mu_
  bool nn_down_ = false;                 // guarded by nn_mu_: an outage was logged
  std::mutex nn_active_mu_;
  std::shared_ptr<Connection> nn_active_;  // the connection of a call in flight, for Stop
  std::atomic<bool> report_needed_{false};  // an event was lost: send a full report
  std::atomic<uint64_t> local_writes_{0};
};

}  // namespace sawmill::dfs
