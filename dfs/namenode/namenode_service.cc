// NamenodeService: request dispatch, leases, command queues, safe mode and the background loop.
#include "dfs/namenode/namenode_service.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "dfs/proto_convert.h"

namespace sawmill::dfs {
namespace {

using Req = proto::NamenodeRequest;
using Resp = proto::NamenodeResponse;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Text fields as std::string (size-based: an embedded NUL is kept, and refused by the path rules).
std::string Str(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

void SetFileStatus(const FileStatus& st, proto::FileStatus::Builder out) {
  out.setPath(st.path);
  out.setIsDir(st.is_dir);
  out.setMtime(st.mtime);
  out.setSize(st.size);
  out.setReplication(st.replication);
  out.setBlockSize(st.block_size);
}

template <typename Entries, typename List>
void SetFsckEntries(const Entries& entries, List list) {
  for (size_t i = 0; i < entries.size(); ++i) {
    list[i].setBlockId(entries[i].block_id);
    list[i].setPath(entries[i].path);
  }
}

std::string Join(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

}  // namespace

Result<std::unique_ptr<NamenodeService>> NamenodeService::Open(const std::string& dir, Options options) {
  if (!options.clock) options.clock = SteadyMs;
  NamenodeCore::Options core_options;
  core_options.block_manager = options.block_manager;
  ASSIGN_OR_RETURN(std::unique_ptr<NamenodeCore> core, NamenodeCore::Open(dir, core_options));
  return std::unique_ptr<NamenodeService>(new NamenodeService(std::move(core), std::move(options)));
}

NamenodeService::NamenodeService(std::unique_ptr<NamenodeCore> core, Options options)
    : core_(std::move(core)),
      options_(std::move(options)),
      recovery_(core_->store().recovery()),
      started_ms_(options_.clock()),
      started_wall_ms_(WallMs()),
      last_replication_ms_(started_ms_),
      last_checkpoint_txid_(core_->store().last_txid()) {
  core_->store().set_group_commit(true);
  // Leases found open start fresh: their writers get a whole timeout to come back.
  for (const OpenFile& f : core_->OpenFiles()) lease_renewed_ms_[f.lease_holder] = started_ms_;
}

NamenodeService::~NamenodeService() { Stop(); }

Handler NamenodeService::handler() {
  return [this](Connection& conn) { Serve(conn); };
}

void NamenodeService::Serve(Connection& conn) {
  while (true) {
    Result<Message> msg = conn.Receive();
    if (!msg.ok()) return;  // closed, or a broken frame: the connection is useless either way
    capnp::MallocMessageBuilder out;
    Status st;
    bool close = false;
    auto parsed = CapnpReader::Parse(msg->header);
    if (!parsed.ok()) {
      // Not even a Cap'n Proto message: the peer does not speak our protocol.
      st = parsed.status().WithContext("namenode request from " + conn.peer());
      close = true;
    } else {
      st = CatchCapnp("namenode request from " + conn.peer(),
                      [&] { return Dispatch((*parsed)->Root<Req>(), out.initRoot<Resp>()); });
    }
    std::string bytes;
    if (st.ok()) {
      bytes = CapnpToString(out);
    } else {
      if (close || st.message().rfind("malformed", 0) == 0) LOG(WARNING) << st.ToString();
      capnp::MallocMessageBuilder err;
      auto resp = err.initRoot<Resp>();
      SetError(st, resp.initError());
      resp.setNone();
      bytes = CapnpToString(err);
    }
    if (!conn.Send(bytes).ok()) return;
    if (close) {
      conn.Close();
      return;
    }
  }
}

void NamenodeService::Renew(const std::string& client, int64_t now) {
  if (!client.empty()) lease_renewed_ms_[client] = now;
}

std::map<std::string, DatanodeState> NamenodeService::DatanodeStates() const {
  std::map<std::string, DatanodeState> out;
  for (DatanodeState& d : core_->block_manager().Datanodes()) out[d.id] = std::move(d);
  return out;
}

void NamenodeService::FillDatanode(const std::string& id, const std::map<std::string, DatanodeState>& states,
                                   int64_t now, proto::DatanodeInfo::Builder out) const {
  out.setId(id);
  if (auto a = addresses_.find(id); a != addresses_.end()) {
    out.setHost(a->second.host);
    out.setAddress(a->second.address);
    out.setMachine(a->second.machine);
    out.setLocalSocket(a->second.local_socket);
  }
  if (auto s = states.find(id); s != states.end()) {
    out.setCapacityBytes(s->second.capacity);
    out.setUsedBytes(s->second.used);
    out.setLive(s->second.live);
    out.setBlocks(s->second.replicas);
    out.setLastHeartbeatMs(WallMs() - (now - s->second.last_heartbeat_ms));
  }
}

void NamenodeService::FillLocated(const LocatedBlock& located, const std::map<std::string, DatanodeState>& states,
                                  int64_t now, proto::LocatedBlock::Builder out) const {
  SetBlock(located.block, out.initBlock());
  auto dns = out.initDatanodes(located.datanodes.size());
  for (size_t i = 0; i < located.datanodes.size(); ++i) FillDatanode(located.datanodes[i], states, now, dns[i]);
}

Status NamenodeService::CheckDatanode(const std::string& id) const {
  if (!core_->block_manager().IsLive(id)) return NotFound("datanode " + id + " is unknown or dead: register again");
  return Status::Ok();
}

Status NamenodeService::Dispatch(Req::Reader req, Resp::Builder resp) {
  Status st;
  uint64_t txid;
  {
    std::lock_guard<std::mutex> lock(mu_);
    st = DispatchLocked(req, resp);
    txid = core_->store().last_txid();
  }
  // Concurrent callers share one fdatasync here; a reply never shows what a restart could lose
  // (a heartbeat's delete orders included).
  Status durable = core_->store().WaitDurable(txid);
  return durable.ok() ? st : durable;
}

Status NamenodeService::DispatchLocked(Req::Reader req, Resp::Builder resp) {
  const int64_t now = Now();  // liveness and leases
  const int64_t wall = WallMs();  // mtimes
  switch (req.which()) {
    case Req::MKDIRS:
      RETURN_IF_ERROR(core_->Mkdirs(Str(req.getMkdirs()), wall));
      resp.setNone();
      return Status::Ok();
    case Req::CREATE: {
      auto c = req.getCreate();
      std::string path = Str(c.getPath()), client = Str(c.getClient());
      Renew(client, now);
      uint32_t replication = c.getReplication() != 0 ? c.getReplication() : options_.replication;
      uint64_t block_size = c.getBlockSize() != 0 ? c.getBlockSize() : options_.block_size;
      RETURN_IF_ERROR(core_->Create(path, client, replication, block_size, wall));
      // The new file's status says the block size it got: a client that asked for none (0: the
      // namenode's default) writes blocks of that size, never larger.
      FileStatus st;  // a file under construction has no status to read back yet (Stat: kNotFound)
      st.path = path;
      st.mtime = wall;
      st.replication = replication;
      st.block_size = block_size;
      SetFileStatus(st, resp.initFileStatus());
      return Status::Ok();
    }
    case Req::ADD_BLOCK: {
      auto a = req.getAddBlock();
      std::string path = Str(a.getPath()), client = Str(a.getClient()), writer = Str(a.getWriterHost());
      std::set<std::string> exclude;
      for (auto id : a.getExcludeDatanodes()) exclude.insert(Str(id));
      Renew(client, now);
      ASSIGN_OR_RETURN(LocatedBlock located, core_->AddBlock(path, client, writer, now, exclude, a.getBlocksBefore()));
      FillLocated(located, DatanodeStates(), now, resp.initLocatedBlock());
      return Status::Ok();
    }
    case Req::ABANDON_BLOCK: {
      auto a = req.getAbandonBlock();
      std::string path = Str(a.getPath()), client = Str(a.getClient());
      Renew(client, now);
      RETURN_IF_ERROR(core_->AbandonBlock(path, client, a.getBlockId()));
      resp.setNone();
      return Status::Ok();
    }
    case Req::COMPLETE: {
      auto c = req.getComplete();
      std::string path = Str(c.getPath()), client = Str(c.getClient());
      std::vector<uint64_t> lengths;
      for (uint64_t len : c.getBlockLengths()) lengths.push_back(len);
      Renew(client, now);
      RETURN_IF_ERROR(core_->Complete(path, client, lengths, wall));
      resp.setNone();
      return Status::Ok();
    }
    case Req::RENEW_LEASE: {
      std::string client = Str(req.getRenewLease());
      if (client.empty()) return InvalidArgument("renewLease: empty client name");
      Renew(client, now);
      resp.setNone();
      return Status::Ok();
    }
    case Req::RENAME: {
      auto r = req.getRename();
      RETURN_IF_ERROR(core_->Rename(Str(r.getSrc()), Str(r.getDst()), wall));
      resp.setNone();
      return Status::Ok();
    }
    case Req::DELETE: {
      auto d = req.getDelete();
      RETURN_IF_ERROR(core_->Delete(Str(d.getPath()), d.getRecursive(), wall));
      resp.setNone();
      return Status::Ok();
    }
    case Req::STAT: {
      ASSIGN_OR_RETURN(FileStatus st, core_->Stat(Str(req.getStat())));
      SetFileStatus(st, resp.initFileStatus());
      return Status::Ok();
    }
    case Req::LIST: {
      ASSIGN_OR_RETURN(std::vector<FileStatus> entries, core_->List(Str(req.getList())));
      auto list = resp.initListing(entries.size());
      for (size_t i = 0; i < entries.size(); ++i) SetFileStatus(entries[i], list[i]);
      return Status::Ok();
    }
    case Req::GET_BLOCK_LOCATIONS: {
      std::string path = Str(req.getGetBlockLocations());
      ASSIGN_OR_RETURN(FileStatus st, core_->Stat(path));
      if (st.is_dir) return InvalidArgument(st.path + ": is a directory");
      ASSIGN_OR_RETURN(std::vector<LocatedBlock> blocks, core_->GetBlockLocations(path));
      auto locations = resp.initLocations();
      SetFileStatus(st, locations.initFile());
      auto list = locations.initBlocks(blocks.size());
      auto states = DatanodeStates();
      for (size_t i = 0; i < blocks.size(); ++i) FillLocated(blocks[i], states, now, list[i]);
      return Status::Ok();
    }
    case Req::REPORT_BAD_REPLICA: {
      auto b = req.getReportBadReplica();
      std::string datanode = Str(b.getDatanode());
      Status st = core_->ReportCorrupt(datanode, b.getBlockId());
      // A replica the namenode does not count (already dropped) needs nothing more.
      if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
      LOG(INFO) << "replica of block " << b.getBlockId() << " on " << datanode << " reported bad by a reader";
      resp.setNone();
      return Status::Ok();
    }
    case Req::FSCK: {
      FsckReport report = core_->Fsck();
      auto out = resp.initFsck();
      out.setTotalBlocks(report.total_blocks);
      out.setOpenBlocks(report.open_blocks);
      SetFsckEntries(report.under_replicated, out.initUnderReplicated(report.under_replicated.size()));
      SetFsckEntries(report.missing, out.initMissing(report.missing.size()));
      auto corrupt = out.initCorrupt(report.corrupt.size());
      for (size_t i = 0; i < report.corrupt.size(); ++i) {
        corrupt[i].setBlockId(report.corrupt[i].block_id);
        corrupt[i].setPath(report.corrupt[i].path);
        corrupt[i].setDatanode(report.corrupt[i].datanode);
      }
      uint32_t live = 0, dead = 0;
      for (const DatanodeState& d : core_->block_manager().Datanodes()) (d.live ? live : dead)++;
      out.setLiveDatanodes(live);
      out.setDeadDatanodes(dead);
      return Status::Ok();
    }
    case Req::DATANODES: {
      auto states = DatanodeStates();
      auto list = resp.initDatanodes(states.size());
      size_t i = 0;
      for (const auto& [id, state] : states) FillDatanode(id, states, now, list[i++]);
      return Status::Ok();
    }
    case Req::SET_REPLICATION: {
      auto s = req.getSetReplication();
      RETURN_IF_ERROR(core_->SetReplication(Str(s.getPath()), s.getReplication()));
      resp.setNone();
      return Status::Ok();
    }
    case Req::REGISTER:
    case Req::HEARTBEAT:
    case Req::BLOCK_REPORT:
    case Req::BLOCK_RECEIVED:
    case Req::BLOCK_DELETED:
    case Req::REPORT_CORRUPT:
      return DispatchDatanode(req, resp, now);
  }
  return InvalidArgument("unknown namenode request (union member " + std::to_string(static_cast<int>(req.which())) +
                         ")");
}

Status NamenodeService::DispatchDatanode(Req::Reader req, Resp::Builder resp, int64_t now) {
  switch (req.which()) {
    case Req::REGISTER: {
      auto r = req.getRegister();
      auto info = r.getDatanode();
      std::string id = Str(info.getId());
      DatanodeAddress address{Str(info.getHost()), Str(info.getAddress()), Str(info.getMachine()),
                              Str(info.getLocalSocket())};
      std::vector<BlockInfo> blocks;
      for (auto b : r.getBlocks()) blocks.push_back(ToBlockInfo(b));
      RETURN_IF_ERROR(core_->RegisterDatanode(id, address.host, info.getCapacityBytes(), info.getUsedBytes(), now));
      LOG(INFO) << "datanode " << id << " (host " << address.host << ", " << address.address << ") registered with "
                << blocks.size() << " blocks";
      addresses_[id] = std::move(address);
      // Work queued before is stale: the full report below lets the next round recompute it.
      commands_.erase(id);
      RETURN_IF_ERROR(core_->BlockReport(id, blocks));
      auto out = resp.initRegistered();
      out.setHeartbeatIntervalMs(options_.heartbeat_interval_ms);
      out.setBlockReportIntervalMs(options_.block_report_interval_ms);
      return Status::Ok();
    }
    case Req::HEARTBEAT: {
      auto h = req.getHeartbeat();
      std::string id = Str(h.getId());
      RETURN_IF_ERROR(CheckDatanode(id));
      RETURN_IF_ERROR(core_->Heartbeat(id, h.getCapacityBytes(), h.getUsedBytes(), now));
      std::deque<BlockCommand> queued;
      if (auto it = commands_.find(id); it != commands_.end()) {
        queued = std::move(it->second);
        commands_.erase(it);
      }
      auto states = DatanodeStates();
      auto list = resp.initCommands(queued.size());
      for (size_t i = 0; i < queued.size(); ++i) {
        const BlockCommand& c = queued[i];
        if (c.kind == BlockCommand::Kind::kCopy) {
          auto copy = list[i].initCopy();
          SetBlock(c.block, copy.initBlock());
          FillDatanode(c.target, states, now, copy.initTarget());
        } else {
          SetBlock(c.block, list[i].initDelete());
        }
      }
      return Status::Ok();
    }
    case Req::BLOCK_REPORT: {
      auto r = req.getBlockReport();
      std::string id = Str(r.getId());
      std::vector<BlockInfo> blocks;
      for (auto b : r.getBlocks()) blocks.push_back(ToBlockInfo(b));
      RETURN_IF_ERROR(CheckDatanode(id));
      RETURN_IF_ERROR(core_->BlockReport(id, blocks));
      resp.setNone();
      return Status::Ok();
    }
    case Req::BLOCK_RECEIVED:
    case Req::BLOCK_DELETED:
    case Req::REPORT_CORRUPT: {
      auto e = req.which() == Req::BLOCK_RECEIVED  ? req.getBlockReceived()
               : req.which() == Req::BLOCK_DELETED ? req.getBlockDeleted()
                                                   : req.getReportCorrupt();
      std::string id = Str(e.getId());
      BlockInfo block = ToBlockInfo(e.getBlock());
      RETURN_IF_ERROR(CheckDatanode(id));
      if (req.which() == Req::BLOCK_RECEIVED) {
        RETURN_IF_ERROR(core_->ReplicaAdded(id, block));
      } else if (req.which() == Req::BLOCK_DELETED) {
        RETURN_IF_ERROR(core_->ReplicaRemoved(id, block.id));
      } else {
        LOG(INFO) << "datanode " << id << " reports its replica of block " << block.id << " corrupt";
        Status st = core_->ReportCorrupt(id, block.id);
        // Not in the map: it counts for nothing already. (kNotFound would read "register again".)
        if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
      }
      resp.setNone();
      return Status::Ok();
    }
    default:
      break;
  }
  return Internal("not a datanode request");
}

bool NamenodeService::safe_mode() const {
  std::lock_guard<std::mutex> lock(mu_);
  return safe_mode_;
}

void NamenodeService::Tick() {
  uint64_t txid;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TickLocked();
    txid = core_->store().last_txid();
  }
  // The lease expiries' abandons; an error is already logged, and every request reports it.
  (void)core_->store().WaitDurable(txid);
}

void NamenodeService::TickLocked() {
  const int64_t now = Now();

  // Leases.
  std::set<std::string> holders;
  for (const OpenFile& f : core_->OpenFiles()) {
    holders.insert(f.lease_holder);
    auto [it, inserted] = lease_renewed_ms_.emplace(f.lease_holder, now);
    if (inserted || now - it->second <= options_.lease_timeout_ms) continue;
    Status st = core_->Abandon(f.path);
    if (st.ok()) {
      LOG(WARNING) << "lease of " << f.lease_holder << " expired (silent " << now - it->second
                   << " ms): abandoned " << f.path;
    } else {
      LOG(ERROR) << "abandoning " << f.path << " after its lease expired: " << st.ToString();
    }
  }
  std::erase_if(lease_renewed_ms_, [&](const auto& kv) {
    return !holders.contains(kv.first) && now - kv.second > options_.lease_timeout_ms;
  });

  // Safe mode.
  if (safe_mode_) {
    for (const std::string& id : core_->ExpireDatanodes(now)) LOG(WARNING) << "datanode " << id << " is dead";
    int64_t grace = options_.safe_mode_grace_ms >= 0 ? options_.safe_mode_grace_ms
                                                     : 2 * options_.block_manager.heartbeat_timeout_ms;
    // Not Fsck (its block -> path map takes 1.4 s at 1 M files, 22 s at 10 M), and not every
    // tick once the count itself is slow (0.9 s at 10 M): then the lock is held for it at most a
    // tenth of the time.
    const bool graced = now - started_ms_ >= grace;
    if (graced || SteadyMs() >= next_safe_mode_check_ms_) {
      const int64_t t = SteadyMs();
      const size_t missing = core_->MissingClosedBlocks();
      const int64_t took = SteadyMs() - t;
      next_safe_mode_check_ms_ = took >= 50 ? t + 10 * took : 0;
      if (missing == 0 || graced) {
        safe_mode_ = false;
        last_replication_ms_ = now - options_.replication_interval_ms;  // a round right away
        LOG(INFO) << "leaving safe mode after " << now - started_ms_ << " ms: " << missing
                  << " blocks of closed files have no reported replica";
      }
    }
  }

  // Replication monitor.
  if (!safe_mode_ && now - last_replication_ms_ >= options_.replication_interval_ms) {
    last_replication_ms_ = now;
    std::vector<std::string> before;
    for (const DatanodeState& d : core_->block_manager().Datanodes()) {
      if (d.live) before.push_back(d.id);
    }
    std::vector<BlockCommand> work = core_->ComputeWork(now);
    std::vector<std::string> died;
    for (const std::string& id : before) {
      if (!core_->block_manager().IsLive(id)) died.push_back(id);
    }
    if (!died.empty()) LOG(WARNING) << "datanodes dead (silent past the timeout): " << Join(died);
    for (BlockCommand& c : work) {
      VLOG(1) << (c.kind == BlockCommand::Kind::kCopy ? "copy" : "delete") << " block " << c.block.id << " on "
              << c.datanode << (c.target.empty() ? "" : " to " + c.target);
      commands_[c.datanode].push_back(std::move(c));
    }
  }

  CheckpointIfNeeded(options_.checkpoint_every, options_.background_checkpoint);
}

bool NamenodeService::ReapCheckpoint(bool wait) {
  if (!core_->checkpoint_in_flight()) return true;
  auto done = core_->PollCheckpoint(wait);
  if (!done.ok()) {
    LOG(ERROR) << "background checkpoint failed (the older checkpoint and the journals since it remain): "
               << done.status().ToString();
    checkpoint_failed_ = true;
    return false;
  }
  checkpoint_failed_ = false;
  if (*done) {
    LOG(INFO) << "checkpoint at transaction " << last_checkpoint_txid_ << " written in the background in "
              << SteadyMs() - checkpoint_started_ms_ << " ms";
  }
  return true;
}

void NamenodeService::CheckpointIfNeeded(uint64_t every, bool background) {
  ReapCheckpoint(/*wait=*/!background);
  if (core_->checkpoint_in_flight()) return;
  // The synchronous path (stop) writes one after a failed background checkpoint.
  const bool retry = !background && checkpoint_failed_;
  uint64_t txid = core_->store().last_txid();
  if (!retry && txid - last_checkpoint_txid_ < std::max<uint64_t>(every, 1)) return;
  // Not retried every tick on failure: the next attempt is `every` records later.
  last_checkpoint_txid_ = txid;
  if (background) {
    checkpoint_started_ms_ = SteadyMs();
    Status st = core_->StartCheckpoint();
    checkpoint_failed_ = !st.ok();
    if (st.ok()) {
      VLOG(1) << "checkpoint at transaction " << txid << " started in the background";
    } else {
      LOG(ERROR) << "checkpoint at transaction " << txid << " could not start: " << st.ToString();
    }
    return;
  }
  Status st = core_->Checkpoint();
  checkpoint_failed_ = !st.ok();
  if (st.ok()) {
    LOG(INFO) << "checkpoint at transaction " << txid;
  } else {
    LOG(ERROR) << "checkpoint at transaction " << txid << " failed: " << st.ToString();
  }
}

void NamenodeService::Start() {
  std::lock_guard<std::mutex> lock(loop_mu_);
  if (loop_.joinable()) return;
  stopping_ = false;
  loop_ = std::thread([this] {
    std::unique_lock<std::mutex> l(loop_mu_);
    while (!stopping_) {
      l.unlock();
      Tick();
      l.lock();
      loop_cv_.wait_for(l, std::chrono::milliseconds(options_.loop_interval_ms), [&] { return stopping_; });
    }
    l.unlock();
    // The checkpoint's child dies with the thread that forked it (PR_SET_PDEATHSIG): this one.
    std::lock_guard<std::mutex> lock(mu_);
    ReapCheckpoint(/*wait=*/true);
  });
}

void NamenodeService::Stop() {
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  std::lock_guard<std::mutex> lock(mu_);
  CheckpointIfNeeded(1, /*background=*/false);  // a restart then replays nothing
}

NamenodeStatus NamenodeService::GetStatus() const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = Now();
  NamenodeStatus s;
  s.now_ms = WallMs();
  s.started_ms = started_wall_ms_;
  s.safe_mode = safe_mode_;
  s.read_only = core_->store().read_only().message();
  s.last_txid = core_->store().last_txid();
  NamespaceCounts counts = core_->store().ns().Counts();
  s.dirs = counts.dirs;
  s.files = counts.files;
  s.open_files = counts.open_files;
  const FsckCounts report = core_->FsckSummary();
  s.blocks = report.total_blocks;
  s.open_blocks = report.open_blocks;
  s.under_replicated = report.under_replicated;
  s.missing = report.missing;
  s.corrupt = report.corrupt;
  for (const DatanodeState& d : core_->block_manager().Datanodes()) {
    DatanodeStatus out;
    out.id = d.id;
    out.host = d.host;
    if (auto a = addresses_.find(d.id); a != addresses_.end()) {
      out.address = a->second.address;
      out.machine = a->second.machine;
    }
    out.live = d.live;
    out.capacity = d.capacity;
    out.used = d.used;
    out.blocks = d.replicas;
    out.last_heartbeat_ms = s.now_ms - (now - d.last_heartbeat_ms);
    (d.live ? s.live_datanodes : s.dead_datanodes)++;
    s.datanodes.push_back(std::move(out));
  }
  return s;
}

}  // namespace sawmill::dfs
