// The file store's client: the FileSystem seam over the namenode and datanode protocol
// (dfs/protocol.capnp), plus the administrative calls `sawmill dfs` needs (fsck, datanodes,
// replication). Writers stream a block at a time through a datanode pipeline and keep the
// block in memory (or, for a range of a local file, in that file) until the pipeline
// acknowledges it, or write a block whose one datanode is on this machine into its file
// directly (short-circuit); readers prefer a replica on this machine and read its file directly
// (short-circuit), falling back to the wire and to other replicas.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/reconnect.h"
#include "common/rpc.h"
#include "common/status.h"
#include "dfs/block_info.h"

namespace capnp {
class MallocMessageBuilder;
}


namespace sawmill {
class CapnpReader;
class RpcClient;
enum class CallOutcome;  // common/rpc_client.h
}

namespace sawmill::dfs {

// A datanode as the namenode describes it (proto::DatanodeInfo).
struct DatanodeDescriptor {
  std::string id;
  std::string host;     // placement host
  std::string address;  // "ip:port" of its data service
  std::string machine;  // real machine: equal to LocalMachineId() => short-circuit reads
  std::string local_socket;  // "unix:/path" of its data service for same-machine clients, or ""
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  bool live = false;
  uint64_t blocks = 0;
  int64_t last_heartbeat_ms = 0;
};

// proto::FileStatus: FileInfo plus the store's own attributes.
struct DfsFileStatus {
  std::string path;
  bool is_dir = false;
  int64_t mtime_ms = 0;
  uint64_t size = 0;
  uint32_t replication = 0;
  uint64_t block_size = 0;
};

// A block of a file and the replicas to read it from (good live ones, in the namenode's order).
struct DfsLocatedBlock {
  BlockInfo block;
  uint64_t offset = 0;  // of the block's first byte in the file
  std::vector<DatanodeDescriptor> datanodes;
};

struct DfsFsckEntry {
  uint64_t block_id = 0;
  std::string path;
  std::string datanode;  // corrupt replicas only
};

// proto::FsckReport: the whole store (files under construction are counted, not checked).
struct DfsFsckReport {
  uint64_t total_blocks = 0;
  uint64_t open_blocks = 0;
  std::vector<DfsFsckEntry> under_replicated;
  std::vector<DfsFsckEntry> missing;
  std::vector<DfsFsckEntry> corrupt;
  uint32_t live_datanodes = 0;
  uint32_t dead_datanodes = 0;
};

// A file being written (what DfsClient::Create returns): AppendableFile, plus appending a range
// of a local file without copying it through this process.
class DfsOutputFile : public AppendableFile {
 public:
  // Appends bytes [offset, offset + length) of the regular file `fd`, which the pipelines get
  // with sendfile(2) and which a failed pipeline's retry reads again from the file, instead of
  // from a block kept in memory: the range must not change until Close. A file is written
  // either with Append or with AppendFileRange calls that continue each other on one fd (mixing
  // is kInvalidArgument). A file shorter than the range fails the write (kIOError).
  virtual Status AppendFileRange(int fd, uint64_t offset, uint64_t length) = 0;
};

// "dfs:/a/b" -> "/a/b"; other strings unchanged. Store paths may carry the scheme everywhere.
std::string StripDfsScheme(const std::string& path);

// Thread-safe. Files it opens keep a pointer to it: destroy them before the client.
class DfsClient : public FileSystem {
 public:
  struct Options {
    std::string client_host;        // placement host of this process ("" if it runs no datanode)
    uint32_t replication = 0;       // for new files; 0: the namenode's default
    uint64_t block_size = 0;        // for new files; 0: the namenode's default
    uint32_t packet_bytes = 1 << 20;  // body bytes per write packet
    int write_retries = 3;          // new pipelines tried after a failed one, per block
    bool short_circuit = true;      // read replicas on this machine from their files
    // Write a block whose one datanode runs on this machine into its block file directly
    // (replication 1, Append only; docs/dfs.md).
    bool short_circuit_writes = true;
    int64_t lease_renew_ms = 15000; // renewLease period while writers are open
    // How long OpenRead asks again for the locations of blocks without a live replica (a
    // namenode that just restarted learns them from the datanodes' next reports).
    int64_t missing_block_wait_ms = 3000;
    // How long a new block is asked for again while the namenode knows no live datanode with
    // room (one that just restarted learns them from their next heartbeats).
    int64_t no_datanode_wait_ms = 3000;
    // How long namenode calls wait out a namenode that cannot be reached (a restart; --reconnect_s,
    // common/reconnect.h). Which requests are sent again: NamenodeRequestKind in dfs_client.cc.
    ReconnectOptions reconnect;
  };

  // `transport` must outlive the client. Connects lazily.
  DfsClient(Transport* transport, std::string namenode_address, Options options);
  ~DfsClient() override;
  DfsClient(const DfsClient&) = delete;
  DfsClient& operator=(const DfsClient&) = delete;

  // FileSystem. Paths are store paths ("/a/b", "dfs:/a/b" accepted).
  Result<std::unique_ptr<ReadableFile>> OpenRead(const std::string& path) override;
  Result<std::unique_ptr<AppendableFile>> Create(const std::string& path) override;
  Result<std::unique_ptr<AppendableFile>> CreateReplicated(const std::string& path, uint32_t replication) override;
  Status Rename(const std::string& src, const std::string& dst) override;
  Status Delete(const std::string& path, bool recursive) override;
  Status Mkdirs(const std::string& path) override;
  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::vector<FileInfo>> List(const std::string& dir) override;
  Result<std::vector<BlockLocation>> GetBlockLocations(const std::string& path) override;

  // Create with a per-file replication / block size (0: the client's options, then the
  // namenode's default).
  Result<std::unique_ptr<DfsOutputFile>> Create(const std::string& path, uint32_t replication,
                                                uint64_t block_size);
  Result<DfsFileStatus> StatFull(const std::string& path);
  Result<std::vector<DfsFileStatus>> ListFull(const std::string& dir);
  // The file's status and its blocks with their replicas.
  Result<std::pair<DfsFileStatus, std::vector<DfsLocatedBlock>>> Locate(const std::string& path);
  Status SetReplication(const std::string& path, uint32_t replication);
  Result<DfsFsckReport> Fsck();
  Result<std::vector<DatanodeDescriptor>> Datanodes();

  const std::string& client_name() const { return client_name_; }
  const std::string& namenode_address() const { return namenode_address_; }
  const Options& options() const { return options_; }
  Transport* transport() const { return transport_; }

  // Used by the files this client opens.
  // One namenode round trip on the shared connection (reopened if it broke, and an unreachable
  // namenode waited out as options().reconnect says, see common/rpc_client.h); the response's
  // error is checked.
  // An addBlock (without excluded datanodes) that the namenode answers with kUnavailable (no live
  // datanode) is asked again for up to options().no_datanode_wait_ms. `outcome`: see
  // RpcClient::Call.
  Result<std::unique_ptr<CapnpReader>> CallNamenode(capnp::MallocMessageBuilder& request,
                                                    CallOutcome* outcome = nullptr);
  void WriterOpened();
  void WriterClosed();

 private:
  void RenewLoop();
  Status RenewLease();
  // Whether `path` exists (a file under construction does not), asking as Stat does.
  Result<bool> Exists(const std::string& path);

  Transport* const transport_;
  const std::string namenode_address_;
  const Options options_;
  const std::string client_name_;

  std::unique_ptr<RpcClient> namenode_;  // one request at a time on the namenode connection

  std::mutex lease_mu_;
  std::condition_variable lease_cv_;
  int open_writers_ = 0;
  bool stopping_ = false;
  std::thread renewer_;
};

}  // namespace sawmill::dfs
