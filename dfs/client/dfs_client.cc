#include "dfs/client/dfs_client.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/auth.h"
#include "common/capnp_util.h"
#include "common/rpc_client.h"
#include "dfs/client/client_internal.h"
#include "dfs/machine.h"
#include "dfs/path.h"
#include "dfs/proto_convert.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs {
namespace {

// Used when neither the caller nor the namenode's create answer says (an older namenode that
// answers create with `none`): the namenode's documented default.
constexpr uint64_t kFallbackBlockSize = 64ull << 20;

std::string MakeClientName() {
  std::string nonce = RandomNonce();
  char hex[9];
  std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", static_cast<unsigned char>(nonce[0]),
                static_cast<unsigned char>(nonce[1]), static_cast<unsigned char>(nonce[2]),
                static_cast<unsigned char>(nonce[3]));
  return LocalMachineId() + "-" + std::to_string(::getpid()) + "-" + hex;
}

Result<std::string> ClientPath(const std::string& path) { return NormalizePath(StripDfsScheme(path)); }

FileInfo ToFileInfo(const DfsFileStatus& s) { return FileInfo{s.path, s.is_dir, s.size, s.mtime_ms}; }

// Which namenode requests are sent again after a try whose answer was lost (the namenode died
// while it handled it). Reads, and changes whose repeat leaves the namespace as the first left
// it, may: mkdirs of a directory that exists is ok; renewLease; setReplication; a bad replica
// reported twice; and a writer's create, addBlock with blocksBefore, abandonBlock and complete,
// which the namenode tells apart as repeats (NamenodeCore: answered as the first time, nothing
// changed). Rename and delete may not (a repeat would fail as if the namespace had changed
// under the client): they are retried only when nothing reached the namenode (connect or send
// failed, common/rpc_client.h), and when their answer is lost they read back whether they were
// applied (below).
CallKind NamenodeRequestKind(proto::NamenodeRequest::Reader r) {
  switch (r.which()) {
    case proto::NamenodeRequest::MKDIRS:
    case proto::NamenodeRequest::RENEW_LEASE:
    case proto::NamenodeRequest::STAT:
    case proto::NamenodeRequest::LIST:
    case proto::NamenodeRequest::GET_BLOCK_LOCATIONS:
    case proto::NamenodeRequest::REPORT_BAD_REPLICA:
    case proto::NamenodeRequest::FSCK:
    case proto::NamenodeRequest::DATANODES:
    case proto::NamenodeRequest::SET_REPLICATION:
    case proto::NamenodeRequest::CREATE:
    case proto::NamenodeRequest::ABANDON_BLOCK:
    case proto::NamenodeRequest::COMPLETE:
      return CallKind::kIdempotent;
    case proto::NamenodeRequest::ADD_BLOCK:
      return r.getAddBlock().getBlocksBefore() >= 0 ? CallKind::kIdempotent : CallKind::kMutation;
    default:
      return CallKind::kMutation;
  }
}

Status Unexpected(const char* what) { return Internal(std::string("namenode answered ") + what + " with an unexpected response"); }

}  // namespace

std::string StripDfsScheme(const std::string& path) {
  return path.rfind("dfs:", 0) == 0 ? path.substr(4) : path;
}

DatanodeDescriptor ToDatanodeDescriptor(proto::DatanodeInfo::Reader in) {
  DatanodeDescriptor d;
  d.id = in.getId().cStr();
  d.host = in.getHost().cStr();
  d.address = in.getAddress().cStr();
  d.machine = in.getMachine().cStr();
  d.local_socket = in.getLocalSocket().cStr();
  d.capacity_bytes = in.getCapacityBytes();
  d.used_bytes = in.getUsedBytes();
  d.live = in.getLive();
  d.blocks = in.getBlocks();
  d.last_heartbeat_ms = in.getLastHeartbeatMs();
  return d;
}

Result<std::unique_ptr<Connection>> ConnectDatanode(Transport* transport, const DatanodeDescriptor& d) {
  if (!d.local_socket.empty() && d.machine == LocalMachineId()) {
    auto conn = transport->Connect(d.local_socket);
    if (conn.ok()) return conn;
    VLOG(1) << "datanode " << d.id << ": " << conn.status().ToString() << "; trying " << d.address;
  }
  return transport->Connect(d.address);
}

void SetDatanodeInfo(const DatanodeDescriptor& d, proto::DatanodeInfo::Builder out) {
  out.setId(d.id);
  out.setHost(d.host);
  out.setAddress(d.address);
  out.setMachine(d.machine);
  out.setLocalSocket(d.local_socket);
  out.setCapacityBytes(d.capacity_bytes);
  out.setUsedBytes(d.used_bytes);
  out.setLive(d.live);
  out.setBlocks(d.blocks);
  out.setLastHeartbeatMs(d.last_heartbeat_ms);
}

DfsFileStatus ToDfsFileStatus(proto::FileStatus::Reader in) {
  DfsFileStatus s;
  s.path = in.getPath().cStr();
  s.is_dir = in.getIsDir();
  s.mtime_ms = in.getMtime();
  s.size = in.getSize();
  s.replication = in.getReplication();
  s.block_size = in.getBlockSize();
  return s;
}

DfsClient::DfsClient(Transport* transport, std::string namenode_address, Options options)
    : transport_(transport),
      namenode_address_(std::move(namenode_address)),
      options_(std::move(options)),
      client_name_(MakeClientName()),
      namenode_(std::make_unique<RpcClient>(transport, namenode_address_, "namenode", options_.reconnect)) {
  CHECK(transport_ != nullptr);
  CHECK_GT(options_.packet_bytes, 0u);
}

DfsClient::~DfsClient() {
  {
    std::lock_guard<std::mutex> l(lease_mu_);
    CHECK_EQ(open_writers_, 0) << "files of a DfsClient must be destroyed before it";
    stopping_ = true;
  }
  lease_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

Result<std::unique_ptr<CapnpReader>> DfsClient::CallNamenode(capnp::MallocMessageBuilder& request,
                                                             CallOutcome* outcome) {
  CallKind kind = CallKind::kMutation;
  bool new_block = false;
  RETURN_IF_ERROR(CatchCapnp("namenode request", [&] {
    auto r = request.getRoot<proto::NamenodeRequest>().asReader();
    kind = NamenodeRequestKind(r);
    new_block = r.isAddBlock() && r.getAddBlock().getExcludeDatanodes().size() == 0;
    return Status::Ok();
  }));
  CallOutcome ignored;
  if (outcome == nullptr) outcome = &ignored;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  for (int64_t pause_ms = 50;; pause_ms = std::min<int64_t>(pause_ms * 2, 1000)) {
    auto reply = namenode_->Call<proto::NamenodeResponse>(request, kind, outcome);
    // A namenode that has just restarted knows no live datanode until their next heartbeats:
    // waited for from its first such answer (the call itself may have waited out the restart).
    const bool no_datanode = !reply.ok() && reply.status().code() == StatusCode::kUnavailable &&
                             *outcome == CallOutcome::kAnswered;
    if (!new_block || !no_datanode) return reply;
    const auto now = std::chrono::steady_clock::now();
    if (!deadline) deadline = now + std::chrono::milliseconds(options_.no_datanode_wait_ms);
    if (now >= *deadline) return reply;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
}

Status DfsClient::Mkdirs(const std::string& path) {
  ASSIGN_OR_RETURN(std::string p, ClientPath(path));
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::NamenodeRequest>().setMkdirs(p);
  return CallNamenode(m).status();
}

Result<std::unique_ptr<AppendableFile>> DfsClient::Create(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<DfsOutputFile> file, Create(path, 0, 0));
  return std::unique_ptr<AppendableFile>(std::move(file));
}

Result<std::unique_ptr<AppendableFile>> DfsClient::CreateReplicated(const std::string& path, uint32_t replication) {
  ASSIGN_OR_RETURN(std::unique_ptr<DfsOutputFile> file, Create(path, replication, 0));
  return std::unique_ptr<AppendableFile>(std::move(file));
}

Result<std::unique_ptr<DfsOutputFile>> DfsClient::Create(const std::string& path, uint32_t replication,
                                                         uint64_t block_size) {
  ASSIGN_OR_RETURN(std::string p, ClientPath(path));
  if (replication == 0) replication = options_.replication;
  if (block_size == 0) block_size = options_.block_size;
  capnp::MallocMessageBuilder m;
  auto c = m.initRoot<proto::NamenodeRequest>().initCreate();
  c.setPath(p);
  c.setClient(client_name_);
  c.setReplication(replication);
  c.setBlockSize(block_size);
  auto reply = CallNamenode(m);
  // The namenode creates no parents (kNotFound): make them and try once more.
  if (!reply.ok() && reply.status().code() == StatusCode::kNotFound && p != "/") {
    RETURN_IF_ERROR(Mkdirs(ParentOf(p)));
    reply = CallNamenode(m);
  }
  if (!reply.ok()) return reply.status();
  // The namenode may answer with the new file's status, which carries the block size it chose.
  RETURN_IF_ERROR(CatchCapnp("namenode response", [&] {
    auto r = (*reply)->Root<proto::NamenodeResponse>();
    if (r.isFileStatus() && r.getFileStatus().getBlockSize() > 0) block_size = r.getFileStatus().getBlockSize();
    return Status::Ok();
  }));
  if (block_size == 0) block_size = kFallbackBlockSize;
  return NewDfsWriter(this, std::move(p), block_size);
}

Result<bool> DfsClient::Exists(const std::string& path) {
  auto st = StatFull(path);
  if (st.ok()) return true;
  if (st.status().code() == StatusCode::kNotFound) return false;
  return st.status();
}

// A rename whose answer was lost (the namenode died while it handled it) is read back once the
// namenode answers: moved (src gone, dst there) is done, unmoved (src there, dst not) is sent
// again, anything else is the lost answer's error. The reading assumes no other client moves
// these paths meanwhile, which holds for commits (the coordinator alone moves a job's staging
// paths) and for a task's own files.
Status DfsClient::Rename(const std::string& src, const std::string& dst) {
  ASSIGN_OR_RETURN(std::string s, ClientPath(src));
  ASSIGN_OR_RETURN(std::string d, ClientPath(dst));
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<proto::NamenodeRequest>().initRename();
  r.setSrc(s);
  r.setDst(d);
  for (int tries = 1;; ++tries) {
    CallOutcome outcome;
    Status sent = CallNamenode(m, &outcome).status();
    if (outcome != CallOutcome::kUnanswered || tries == 3) return sent;
    auto src_there = Exists(s);
    auto dst_there = Exists(d);
    if (!src_there.ok() || !dst_there.ok() || *src_there == *dst_there) return sent;
    if (*dst_there) return Status::Ok();
  }
}

// As Rename: a delete whose answer was lost is done if the path is gone, else sent again. (A file
// under construction reads as gone; if the delete was not applied, the namenode abandons it
// when its writer's lease expires.)
Status DfsClient::Delete(const std::string& path, bool recursive) {
  ASSIGN_OR_RETURN(std::string p, ClientPath(path));
  capnp::MallocMessageBuilder m;
  auto d = m.initRoot<proto::NamenodeRequest>().initDelete();
  d.setPath(p);
  d.setRecursive(recursive);
  for (int tries = 1;; ++tries) {
    CallOutcome outcome;
    Status sent = CallNamenode(m, &outcome).status();
    if (outcome != CallOutcome::kUnanswered || tries == 3) return sent;
    auto there = Exists(p);
    if (!there.ok()) return sent;
    if (!*there) return Status::Ok();
  }
}

Result<DfsFileStatus> DfsClient::StatFull(const std::string& path) {
  ASSIGN_OR_RETURN(std::string p, ClientPath(path));
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::NamenodeRequest>().setStat(p);
  ASSIGN_OR_RETURN(auto reply, CallNamenode(m));
  DfsFileStatus out;
  RETURN_IF_ERROR(CatchCapnp("namenode response", [&] {
    auto r = reply->Root<proto::NamenodeResponse>();
    if (!r.isFileStatus()) return Unexpected("stat");
    out = ToDfsFileStatus(r.getFileStatus());
    return Status::Ok();
  }));
  return out;
}

Result<FileInfo> DfsClient::Stat(const std::string& path) {
  ASSIGN_OR_RETURN(DfsFileStatus s, StatFull(path));
  return ToFileInfo(s);
}

Result<std::vector<DfsFileStatus>> DfsClient::ListFull(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string p, ClientPath(dir));
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::NamenodeRequest>().setList(p);
  ASSIGN_OR_RETURN(auto reply, CallNamenode(m));
  std::vector<DfsFileStatus> out;
  RETURN_IF_ERROR(CatchCapnp("namenode response", [&] {
    auto r = reply->Root<proto::NamenodeResponse>();
    if (!r.isListing()) return Unexpected("list");
    for (auto s : r.getListing()) out.push_back(ToDfsFileStatus(s));
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<FileInfo>> DfsClient::List(const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<DfsFileStatus> all, ListFull(dir));
  std::vector<FileInfo> out;
  out.reserve(all.size());
  for (const auto& s : all) out.push_back(ToFileInfo(s));
  return out;
}

Result<std::pair<DfsFileStatus, std::vector<DfsLocatedBlock>>> DfsClient::Locate(const std::string& path) {
  ASSIGN_OR_RETURN(std::string p, ClientPath(path));
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::NamenodeRequest>().setGetBlockLocations(p);
  ASSIGN_OR_RETURN(auto reply, CallNamenode(m));
  std::pair<DfsFileStatus, std::vector<DfsLocatedBlock>> out;
  RETURN_IF_ERROR(CatchCapnp("namenode response", [&] {
    auto r = reply->Root<proto::NamenodeResponse>();
    if (!r.isLocations()) return Unexpected("getBlockLocations");
    out.first = ToDfsFileStatus(r.getLocations().getFile());
    uint64_t offset = 0;
    for (auto lb : r.getLocations().getBlocks()) {
      DfsLocatedBlock b;
      b.block = ToBlockInfo(lb.getBlock());
      b.offset = offset;
      offset += b.block.length;
      for (auto d : lb.getDatanodes()) b.datanodes.push_back(ToDatanodeDescriptor(d));
      out.second.push_back(std::move(b));
    }
    return Status::Ok();
  }));
  if (out.first.path.empty()) out.first.path = p;
  if (out.first.is_dir) return InvalidArgument(p + ": is a directory");
  uint64_t total = 0;
  for (const auto& b : out.second) total += b.block.length;
  if (total != out.first.size) {
    return Corruption(p + ": block lengths add up to " + std::to_string(total) + " bytes, the file's size is " +
                      std::to_string(out.first.size));
  }
  return out;
}

Result<std::vector<BlockLocation>> DfsClient::GetBlockLocations(const std::string& path) {
  ASSIGN_OR_RETURN(auto located, Locate(path));
  std::vector<BlockLocation> out;
  for (const auto& b : located.second) {
    BlockLocation loc{b.offset, b.block.length, {}};
    for (const auto& d : b.datanodes) loc.hosts.push_back(d.host);
    out.push_back(std::move(loc));
  }
  return out;
}

Result<std::unique_ptr<ReadableFile>> DfsClient::OpenRead(const std::string& path) {
  ASSIGN_OR_RETURN(auto located, Locate(path));
  // A block without replicas is usually a namenode that has just restarted and not yet heard
  // from the datanodes: ask again for a little while before reads report it missing.
  auto any_missing = [&] {
    for (const auto& b : located.second) {
      if (b.datanodes.empty()) return true;
    }
    return false;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.missing_block_wait_ms);
  for (int64_t pause_ms = 50; any_missing() && std::chrono::steady_clock::now() < deadline;
       pause_ms = std::min<int64_t>(pause_ms * 2, 1000)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    ASSIGN_OR_RETURN(located, Locate(path));
  }
  return NewDfsReader(this, std::move(located.first), std::move(located.second));
}

Status DfsClient::SetReplication(const std::string& path, uint32_t replication) {
  ASSIGN_OR_RETURN(std::string p, ClientPath(path));
  capnp::MallocMessageBuilder m;
  auto s = m.initRoot<proto::NamenodeRequest>().initSetReplication();
  s.setPath(p);
  s.setReplication(replication);
  return CallNamenode(m).status();
}

Result<DfsFsckReport> DfsClient::Fsck() {
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::NamenodeRequest>().setFsck();
  ASSIGN_OR_RETURN(auto reply, CallNamenode(m));
  DfsFsckReport out;
  RETURN_IF_ERROR(CatchCapnp("namenode response", [&] {
    auto r = reply->Root<proto::NamenodeResponse>();
    if (!r.isFsck()) return Unexpected("fsck");
    auto f = r.getFsck();
    out.total_blocks = f.getTotalBlocks();
    out.open_blocks = f.getOpenBlocks();
    out.live_datanodes = f.getLiveDatanodes();
    out.dead_datanodes = f.getDeadDatanodes();
    auto entries = [](auto list, std::vector<DfsFsckEntry>* v) {
      for (auto e : list) v->push_back(DfsFsckEntry{e.getBlockId(), e.getPath().cStr(), e.getDatanode().cStr()});
    };
    entries(f.getUnderReplicated(), &out.under_replicated);
    entries(f.getMissing(), &out.missing);
    entries(f.getCorrupt(), &out.corrupt);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<DatanodeDescriptor>> DfsClient::Datanodes() {
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::NamenodeRequest>().setDatanodes();
  ASSIGN_OR_RETURN(auto reply, CallNamenode(m));
  std::vector<DatanodeDescriptor> out;
  RETURN_IF_ERROR(CatchCapnp("namenode response", [&] {
    auto r = reply->Root<proto::NamenodeResponse>();
    if (!r.isDatanodes()) return Unexpected("datanodes");
    for (auto d : r.getDatanodes()) out.push_back(ToDatanodeDescriptor(d));
    return Status::Ok();
  }));
  return out;
}

Status DfsClient::RenewLease() {
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::NamenodeRequest>().setRenewLease(client_name_);
  return CallNamenode(m).status();
}

void DfsClient::WriterOpened() {
  std::lock_guard<std::mutex> l(lease_mu_);
  ++open_writers_;
  if (!renewer_.joinable()) renewer_ = std::thread([this] { RenewLoop(); });
}

void DfsClient::WriterClosed() {
  std::lock_guard<std::mutex> l(lease_mu_);
  CHECK_GT(open_writers_, 0);
  --open_writers_;
}

void DfsClient::RenewLoop() {
  std::unique_lock<std::mutex> l(lease_mu_);
  while (!stopping_) {
    lease_cv_.wait_for(l, std::chrono::milliseconds(options_.lease_renew_ms), [&] { return stopping_; });
    if (stopping_ || open_writers_ == 0) continue;
    l.unlock();
    // A failed renewal is not fatal by itself: the next one (or any request) renews too, and a
    // lease that really expired makes the writer's next namenode call fail.
    Status s = RenewLease();
    if (!s.ok()) LOG(WARNING) << "renewing the lease of " << client_name_ << ": " << s.ToString();
    l.lock();
  }
}

}  // namespace sawmill::dfs
