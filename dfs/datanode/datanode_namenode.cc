// Datanode: the namenode side. One shared connection to the namenode (the loop and the event
// senders take turns), the register/heartbeat/report loop, command execution (delete inline,
// copies on their own threads so heartbeats keep flowing) and the background scanner.
#include <algorithm>
#include <chrono>

#include <capnp/message.h>
#include <glog/logging.h>

#include "dfs/datanode/datanode.h"
#include "dfs/proto_convert.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Error of a namenode response (Ok when it has none).
Status ResponseError(CapnpReader& reader) {
  return CatchCapnp("namenode response", [&] {
    auto r = reader.Root<proto::NamenodeResponse>();
    return r.hasError() ? ToStatus(r.getError()) : Status::Ok();
  });
}

void SetBlocks(const std::vector<BlockInfo>& blocks, capnp::List<proto::Block>::Builder out) {
  for (size_t i = 0; i < blocks.size(); ++i) SetBlock(blocks[i], out[i]);
}

}  // namespace

void Datanode::Start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  if (!options_.namenode_address.empty()) namenode_thread_ = std::thread([this] { NamenodeLoop(); });
  if (options_.scan_interval_ms > 0) scanner_thread_ = std::thread([this] { ScannerLoop(); });
}

bool Datanode::SleepFor(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(ms, 0)), [&] { return stopping_; });
  return !stopping_;
}

void Datanode::NoteNamenodeReachable(const Status& transport_status) {
  // Called with nn_mu_ held. One line per outage, not one per retry.
  if (transport_status.ok()) {
    if (nn_down_) LOG(INFO) << Name() << ": namenode " << options_.namenode_address << " reachable again";
    nn_down_ = false;
  } else if (!nn_down_) {
    nn_down_ = true;
    LOG(WARNING) << Name() << ": namenode " << options_.namenode_address
                 << " unreachable, retrying: " << transport_status.ToString();
  }
}

Result<std::unique_ptr<CapnpReader>> Datanode::CallNamenode(const std::string& request) {
  if (options_.namenode_address.empty()) return Status(StatusCode::kUnavailable, Name() + ": no namenode configured");
  std::lock_guard lock(nn_mu_);
  for (int attempt = 0;; ++attempt) {
    bool fresh = false;
    if (!nn_conn_) {
      {
        std::lock_guard l(mu_);
        if (stopping_) return Status(StatusCode::kUnavailable, Name() + " is stopping");
      }
      auto c = transport_->Connect(options_.namenode_address);
      if (!c.ok()) {
        NoteNamenodeReachable(c.status());
        return c.status();
      }
      nn_conn_ = std::shared_ptr<Connection>(std::move(c).value());
      fresh = true;
    }
    {
      std::lock_guard l(nn_active_mu_);
      nn_active_ = nn_conn_;
    }
    {
      // Stop closes nn_active_ after setting stopping_: one of the two sees the other.
      std::lock_guard l(mu_);
      if (stopping_) nn_conn_->Close();
    }
    Status s = nn_conn_->Send(request);
    Result<Message> m = s.ok() ? nn_conn_->Receive() : Result<Message>(s);
    {
      std::lock_guard l(nn_active_mu_);
      nn_active_.reset();
    }
    if (m.ok()) {
      auto reader = CapnpReader::Parse(m->header);
      if (!reader.ok()) {
        nn_conn_->Close();
        nn_conn_.reset();
        return reader.status().WithContext("namenode " + options_.namenode_address + " answered");
      }
      NoteNamenodeReachable(Status::Ok());
      return reader;
    }
    nn_conn_->Close();
    nn_conn_.reset();
    // A reused connection may have died while idle (a namenode restart): one fresh try.
    if (fresh || attempt > 0) {
      NoteNamenodeReachable(m.status());
      return m.status();
    }
  }
}

Status Datanode::Register() {
  auto usage = store_->Usage();
  if (!usage.ok()) LOG(WARNING) << Name() << ": " << usage.status().ToString();
  std::vector<BlockInfo> blocks = store_->List();
  capnp::MallocMessageBuilder message;
  auto reg = message.initRoot<proto::NamenodeRequest>().initRegister();
  auto info = reg.initDatanode();
  info.setId(options_.id);
  info.setHost(options_.host);
  info.setAddress(options_.address);
  info.setMachine(options_.machine);
  info.setLocalSocket(options_.local_socket);
  if (usage.ok()) {
    // Capacity is what this store could hold: its blocks plus the space still available.
    info.setCapacityBytes(usage->block_bytes + usage->available_bytes);
    info.setUsedBytes(usage->block_bytes);
  }
  info.setLive(true);
  info.setBlocks(blocks.size());
  SetBlocks(blocks, reg.initBlocks(blocks.size()));
  ASSIGN_OR_RETURN(auto response, CallNamenode(CapnpToString(message)));
  RETURN_IF_ERROR(ResponseError(*response).WithContext("namenode refused registration"));
  LOG(INFO) << Name() << ": registered with namenode " << options_.namenode_address << " (" << blocks.size()
            << " blocks)";
  return Status::Ok();
}

Status Datanode::Heartbeat() {
  auto usage = store_->Usage();
  capnp::MallocMessageBuilder message;
  auto hb = message.initRoot<proto::NamenodeRequest>().initHeartbeat();
  hb.setId(options_.id);
  if (usage.ok()) {
    hb.setCapacityBytes(usage->block_bytes + usage->available_bytes);
    hb.setUsedBytes(usage->block_bytes);
  }
  ASSIGN_OR_RETURN(auto response, CallNamenode(CapnpToString(message)));
  std::vector<BlockInfo> deletes;
  std::vector<CopyTask> copies;
  Status s = CatchCapnp("heartbeat response", [&] {
    auto r = response->Root<proto::NamenodeResponse>();
    if (r.hasError()) RETURN_IF_ERROR(ToStatus(r.getError()));
    if (r.which() != proto::NamenodeResponse::COMMANDS) return Status::Ok();
    for (auto c : r.getCommands()) {
      if (c.which() == proto::Command::DELETE) {
        deletes.push_back(ToBlockInfo(c.getDelete()));
      } else if (c.which() == proto::Command::COPY) {
        copies.push_back({ToBlockInfo(c.getCopy().getBlock()), ToDatanodeTarget(c.getCopy().getTarget())});
      }
    }
    return Status::Ok();
  });
  RETURN_IF_ERROR(s);
  for (const BlockInfo& b : deletes) ExecuteDelete(b);
  for (CopyTask& t : copies) StartCopy(std::move(t));
  return Status::Ok();
}

Status Datanode::SendBlockReport() {
  std::vector<BlockInfo> blocks = store_->List();
  capnp::MallocMessageBuilder message;
  auto report = message.initRoot<proto::NamenodeRequest>().initBlockReport();
  report.setId(options_.id);
  SetBlocks(blocks, report.initBlocks(blocks.size()));
  ASSIGN_OR_RETURN(auto response, CallNamenode(CapnpToString(message)));
  return ResponseError(*response).WithContext("namenode refused the block report");
}

void Datanode::SendEvent(Event event, const BlockInfo& block) {
  if (options_.namenode_address.empty()) return;
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<proto::NamenodeRequest>();
  auto e = event == Event::kReceived  ? request.initBlockReceived()
           : event == Event::kDeleted ? request.initBlockDeleted()
                                      : request.initReportCorrupt();
  e.setId(options_.id);
  SetBlock(block, e.initBlock());
  auto response = CallNamenode(CapnpToString(message));
  Status s = response.ok() ? ResponseError(**response) : response.status();
  if (!s.ok()) {
    // The namenode's view of this datanode is now stale; a full report repairs it.
    report_needed_ = true;
    if (response.ok()) LOG(WARNING) << Name() << ": namenode refused an event for block " << block.id << ": " << s.ToString();
  }
}

void Datanode::ReportCorrupt(uint64_t id, const Status& why) {
  LOG(ERROR) << Name() << ": corrupt replica: " << why.ToString();
  BlockInfo block{id, 0, 0};
  if (auto local = store_->LocalPath(id); local.ok()) block = {id, local->generation, local->length};
  SendEvent(Event::kCorrupt, block);
}

void Datanode::NamenodeLoop() {
  const int64_t initial_backoff = std::clamp<int64_t>(options_.heartbeat_ms, 10, 200);
  const int64_t max_backoff = std::max<int64_t>(options_.heartbeat_ms, 5000);
  int64_t backoff = initial_backoff;
  bool registered = false, reported_malformed = false;
  Clock::time_point last_report = Clock::now();
  auto fail = [&](const Status& s, const char* what) {
    // Transport failures were logged once per outage by CallNamenode; the namenode's refusals here.
    if (s.code() != StatusCode::kUnavailable) LOG(WARNING) << Name() << ": " << what << ": " << s.ToString();
    bool go_on = SleepFor(backoff);
    backoff = std::min(backoff * 2, max_backoff);
    return go_on;
  };
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (!registered) {
      if (Status s = Register(); !s.ok()) {
        if (!fail(s, "register")) return;
        continue;
      }
      registered = true;
      backoff = initial_backoff;
      report_needed_ = false;
      last_report = Clock::now();
      if (!reported_malformed) {
        // Files that failed validation at Open are not in the block list; the namenode decides.
        reported_malformed = true;
        for (uint64_t id : store_->MalformedIds()) ReportCorrupt(id, Corruption("block " + std::to_string(id) + " malformed at startup"));
      }
    }
    Status s = Heartbeat();
    if (s.code() == StatusCode::kNotFound) {
      LOG(INFO) << Name() << ": namenode asks to register again: " << s.message();
      registered = false;
      continue;
    }
    if (!s.ok()) {
      if (!fail(s, "heartbeat")) return;
      continue;
    }
    backoff = initial_backoff;
    if (report_needed_.exchange(false) ||
        (options_.block_report_ms > 0 && MsSince(last_report) >= options_.block_report_ms)) {
      if (Status r = SendBlockReport(); !r.ok()) {
        report_needed_ = true;
        if (r.code() != StatusCode::kUnavailable) LOG(WARNING) << Name() << ": " << r.ToString();
      } else {
        last_report = Clock::now();
      }
    }
    ReapCopies(/*all=*/false);
    if (!SleepFor(options_.heartbeat_ms)) return;
  }
}

void Datanode::ExecuteDelete(const BlockInfo& block) {
  // Delete names exactly one generation: a newer replica of the same id is not the one meant.
  if (auto local = store_->LocalPath(block.id); local.ok() && local->generation != block.generation) {
    LOG(INFO) << Name() << ": not deleting block " << block.id << ": have generation " << local->generation
              << ", asked for " << block.generation;
    return;
  }
  Status s = store_->Delete(block.id);
  if (!s.ok() && s.code() != StatusCode::kNotFound) {
    LOG(WARNING) << Name() << ": " << s.ToString();
    return;
  }
  LOG(INFO) << Name() << ": deleted block " << block.id << " generation " << block.generation;
  SendEvent(Event::kDeleted, block);
}

void Datanode::StartCopy(CopyTask task) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  // The namenode repeats a copy order until the target reports the replica; one is enough.
  auto key = std::make_pair(task.block.id, task.target.id);
  if (!copying_.insert(key).second) return;
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread t([this, task = std::move(task), done, key] {
    if (Status s = Copy(task); !s.ok()) LOG(WARNING) << Name() << ": copy failed: " << s.ToString();
    {
      std::lock_guard l(mu_);
      copying_.erase(key);
    }
    *done = true;
  });
  copies_.push_back({std::move(t), std::move(done)});
}

void Datanode::ReapCopies(bool all) {
  std::list<CopyThread> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = copies_.begin(); it != copies_.end();) {
      if (all || *it->done) {
        finished.push_back(std::move(*it));
        it = copies_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c.thread.join();
}

Status Datanode::Copy(const CopyTask& task) {
  const std::string what = Name() + ": copy of block " + std::to_string(task.block.id) + " to " + task.target.id +
                           " (" + task.target.address + ")";
  auto local = store_->LocalPath(task.block.id);
  if (!local.ok()) {
    if (local.status().code() == StatusCode::kCorruption) ReportCorrupt(task.block.id, local.status());
    return local.status().WithContext(what);
  }
  if (local->generation != task.block.generation) {
    return Aborted(what + ": have generation " + std::to_string(local->generation) + ", asked for " +
                   std::to_string(task.block.generation));
  }
  ASSIGN_OR_RETURN(auto conn, ConnectTo(task.target));
  Conversation tracked(this, conn.get());
  if (!tracked.ok()) return Aborted(what + ": stopping");
  {
    capnp::MallocMessageBuilder message;
    auto write = message.initRoot<proto::DatanodeRequest>().initWriteBlock();
    SetBlock({task.block.id, local->generation, 0}, write.initBlock());
    write.initDownstream(0);
    write.setClient("datanode " + options_.id);
    RETURN_IF_ERROR(conn->Send(CapnpToString(message)).WithContext(what));
  }
  uint64_t pos = 0;
  for (uint64_t seqno = 0;; ++seqno) {
    const uint64_t n = std::min<uint64_t>(options_.packet_bytes, local->length - pos);
    auto data = store_->Read(task.block.id, pos, n);
    if (!data.ok()) {
      if (data.status().code() == StatusCode::kCorruption) ReportCorrupt(task.block.id, data.status());
      return data.status().WithContext(what);  // closing the connection aborts the target's replica
    }
    pos += n;
    capnp::MallocMessageBuilder message;
    auto packet = message.initRoot<proto::DatanodeRequest>().initPacket();
    packet.setSeqno(seqno);
    packet.setLast(pos >= local->length);
    RETURN_IF_ERROR(conn->Send(CapnpToString(message), *data).WithContext(what));
    if (pos >= local->length) break;
  }
  ASSIGN_OR_RETURN(Message m, conn->Receive());
  ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(m.header));
  RETURN_IF_ERROR(CatchCapnp("copy ack", [&] {
                    auto r = reader->Root<proto::DatanodeResponse>();
                    if (r.hasError()) RETURN_IF_ERROR(ToStatus(r.getError()));
                    if (r.which() != proto::DatanodeResponse::ACK) return InvalidArgument("answer is not an ack");
                    return Status::Ok();
                  }).WithContext(what));
  LOG(INFO) << what << ": done (" << local->length << " bytes)";
  return Status::Ok();
}

ScanResult Datanode::ScanNow() {
  ScanResult result;
  for (uint64_t id : store_->MalformedIds()) {
    ReportCorrupt(id, Corruption("block " + std::to_string(id) + " malformed"));
    ++result.corrupt;
  }
  for (const BlockInfo& b : store_->List()) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    Status s = store_->Verify(b.id);
    if (s.ok()) {
      ++result.verified;
    } else if (s.code() == StatusCode::kCorruption) {
      ReportCorrupt(b.id, s);
      ++result.corrupt;
    } else if (s.code() != StatusCode::kNotFound) {  // deleted meanwhile: skipped
      LOG(WARNING) << Name() << ": scanner: " << s.ToString();
      ++result.errors;
    }
  }
  return result;
}

void Datanode::ScannerLoop() {
  while (SleepFor(options_.scan_interval_ms)) {
    ScanResult r = ScanNow();
    LOG(INFO) << Name() << ": scanned " << r.verified << " good, " << r.corrupt << " corrupt, " << r.errors
              << " errors";
  }
}

}  // namespace sawmill::dfs
