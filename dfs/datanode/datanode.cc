// Datanode: the data service (write pipeline, reads, short-circuit grants) and the lifecycle of
// conversations. The namenode side lives in datanode_namenode.cc.
#include "dfs/datanode/datanode.h"

#include <algorithm>

#include <capnp/message.h>
#include <glog/logging.h>

#include "dfs/machine.h"
#include "dfs/proto_convert.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs {
namespace {

std::string BlockName(uint64_t id) { return "block " + std::to_string(id); }

}  // namespace

DatanodeTarget ToDatanodeTarget(proto::DatanodeInfo::Reader info) {
  return {info.getId(), info.getAddress(), info.getMachine(), info.getLocalSocket()};
}

namespace {

Datanode::Options WithDefaults(Datanode::Options options) {
  if (options.machine.empty()) options.machine = LocalMachineId();
  return options;
}

Status SendResponse(Connection& conn, capnp::MessageBuilder& message, std::string_view body = {}) {
  return conn.Send(CapnpToString(message), body);
}

// An error answer; with `failed` it also carries the ack union, as the write protocol wants.
Status SendError(Connection& conn, const Status& status, const std::string* failed = nullptr) {
  capnp::MallocMessageBuilder message;
  auto response = message.initRoot<proto::DatanodeResponse>();
  SetError(status, response.initError());
  if (failed) {
    auto ack = response.initAck();
    ack.initStored(0);
    ack.setFailed(*failed);
  }
  return SendResponse(conn, message);
}

}  // namespace

Datanode::Conversation::Conversation(Datanode* datanode, Connection* conn) : datanode_(datanode), conn_(conn) {
  std::lock_guard lock(datanode_->mu_);
  if (datanode_->stopping_) {
    conn_->Close();
    return;
  }
  datanode_->open_.insert(conn_);
  ok_ = true;
}

Datanode::Conversation::~Conversation() {
  if (!ok_) return;
  std::lock_guard lock(datanode_->mu_);
  datanode_->open_.erase(conn_);
}

Datanode::Datanode(Options options, Transport* transport, BlockStore* store)
    : options_(WithDefaults(std::move(options))), transport_(transport), store_(store) {
  CHECK_GT(options_.packet_bytes, 0u);
}

Datanode::~Datanode() { Stop(); }

Result<std::unique_ptr<Connection>> Datanode::ConnectTo(const DatanodeTarget& target) {
  if (!target.local_socket.empty() && target.machine == options_.machine) {
    auto c = transport_->Connect(target.local_socket);
    if (c.ok()) return c;
    LOG(WARNING) << Name() << ": " << c.status().ToString() << "; trying " << target.address;
  }
  return transport_->Connect(target.address);
}

std::string Datanode::Name() const { return "datanode " + options_.id + " (" + options_.address + ")"; }

Handler Datanode::handler() {
  return [this](Connection& conn) { Serve(conn); };
}

void Datanode::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && local_writes_ > 0) LOG(INFO) << Name() << ": stored " << local_writes_ << " short-circuit writes";
    stopping_ = true;
    for (Connection* c : open_) c->Close();
    cv_.notify_all();
  }
  {
    std::lock_guard lock(nn_active_mu_);
    if (nn_active_) nn_active_->Close();
  }
  if (namenode_thread_.joinable()) namenode_thread_.join();
  if (scanner_thread_.joinable()) scanner_thread_.join();
  ReapCopies(/*all=*/true);
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return serving_ == 0; });
  }
  std::lock_guard lock(nn_mu_);
  if (nn_conn_) nn_conn_->Close();
  nn_conn_.reset();
}

void Datanode::Serve(Connection& conn) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    ++serving_;
    open_.insert(&conn);
  }
  while (true) {
    Result<Message> m = conn.Receive();
    if (!m.ok()) break;
    auto reader = CapnpReader::Parse(m->header);
    if (!reader.ok()) {
      SendError(conn, reader.status().WithContext(Name() + ": bad request")).ok();
      break;
    }
    proto::DatanodeRequest::Which which{};
    uint64_t id = 0, offset = 0, length = 0;
    Status parsed = CatchCapnp("datanode request", [&] {
      auto request = (*reader)->Root<proto::DatanodeRequest>();
      which = request.which();
      if (which == proto::DatanodeRequest::READ_BLOCK) {
        id = request.getReadBlock().getBlockId();
        offset = request.getReadBlock().getOffset();
        length = request.getReadBlock().getLength();
      } else if (which == proto::DatanodeRequest::LOCAL_BLOCK) {
        id = request.getLocalBlock();
      }
      return Status::Ok();
    });
    if (!parsed.ok()) {
      SendError(conn, parsed.WithContext(Name())).ok();
      break;
    }
    bool go_on = false;
    switch (which) {
      case proto::DatanodeRequest::WRITE_BLOCK:
        go_on = ServeWrite(conn, **reader);
        break;
      case proto::DatanodeRequest::READ_BLOCK:
        go_on = ServeRead(conn, id, offset, length);
        break;
      case proto::DatanodeRequest::LOCAL_BLOCK:
        go_on = ServeLocalBlock(conn, id);
        break;
      case proto::DatanodeRequest::LOCAL_WRITE:
        go_on = ServeLocalWrite(conn, **reader);
        break;
      case proto::DatanodeRequest::FINALIZE_LOCAL:
        SendError(conn, InvalidArgument(Name() + ": finalizeLocal without a localWrite grant")).ok();
        break;
      case proto::DatanodeRequest::PACKET:
        SendError(conn, InvalidArgument(Name() + ": packet outside a block write")).ok();
        break;
      default:
        SendError(conn, InvalidArgument(Name() + ": unknown request")).ok();
        break;
    }
    if (!go_on) break;
  }
  std::lock_guard lock(mu_);
  open_.erase(&conn);
  --serving_;
  cv_.notify_all();
}

// The pipeline: connect downstream first (so packets can be forwarded as they come), then for
// each packet forward it and append it locally; finalize, collect the downstream's ack, tell the
// namenode, and answer one ack for the rest of the pipeline. A downstream failure only marks it
// failed: the local replica is still written, so the writer keeps at least this one.
bool Datanode::ServeWrite(Connection& up, CapnpReader& request) {
  BlockInfo block;
  std::vector<DatanodeTarget> downstream;
  std::string forward;  // the writeBlock header for downstream[0]
  Status parsed = CatchCapnp("writeBlock request", [&] {
    auto write = request.Root<proto::DatanodeRequest>().getWriteBlock();
    block = ToBlockInfo(write.getBlock());
    block.length = 0;
    auto list = write.getDownstream();
    for (auto d : list) downstream.push_back(ToDatanodeTarget(d));
    if (!downstream.empty()) {
      capnp::MallocMessageBuilder message;
      auto next = message.initRoot<proto::DatanodeRequest>().initWriteBlock();
      next.setBlock(write.getBlock());
      next.setClient(write.getClient());
      auto rest = next.initDownstream(list.size() - 1);
      for (unsigned i = 1; i < list.size(); ++i) rest.setWithCaveats(i - 1, list[i]);
      forward = CapnpToString(message);
    }
    return Status::Ok();
  });
  if (!parsed.ok()) {
    SendError(up, parsed.WithContext(Name())).ok();
    return false;
  }
  const std::string what = Name() + ": " + BlockName(block.id) + " generation " + std::to_string(block.generation);

  // Downstream connection. down_failed names downstream[0] once anything about it failed.
  std::unique_ptr<Connection> down;
  std::unique_ptr<Conversation> down_tracked;
  std::string down_failed;
  Status down_status;
  if (!downstream.empty()) {
    auto c = ConnectTo(downstream[0]);
    if (c.ok()) {
      down = std::move(c).value();
      down_tracked = std::make_unique<Conversation>(this, down.get());
      down_status = down_tracked->ok() ? down->Send(forward) : Aborted(Name() + " is stopping");
    } else {
      down_status = c.status();
    }
    if (!down_status.ok()) down_failed = downstream[0].id;
  }
  auto close_down = [&] {
    if (down) down->Close();
  };

  auto own_failure = [&](const Status& s) {
    Status named(s.code(), what + ": " + s.message());
    LOG(WARNING) << "write failed: " << named.ToString();
    close_down();  // the downstream aborts its partial replica
    SendError(up, named, &options_.id).ok();
    return false;
  };

  auto writer = store_->CreateBlock(block.id, block.generation);
  if (!writer.ok()) return own_failure(writer.status());

  Message m;  // reused: one body buffer for the whole block
  for (uint64_t seqno = 0;; ++seqno) {
    if (Status r = up.ReceiveInto(&m); !r.ok()) {
      // The writer went away: nothing to acknowledge; the partial replica is aborted.
      LOG(WARNING) << what << ": writer connection ended before the last packet: " << r.ToString();
      close_down();
      return false;
    }
    bool is_packet = false, last = false;
    uint64_t got = 0;
    auto reader = CapnpReader::Parse(m.header);
    Status s = reader.ok() ? CatchCapnp("packet", [&] {
      auto r = (*reader)->Root<proto::DatanodeRequest>();
      is_packet = r.which() == proto::DatanodeRequest::PACKET;
      if (is_packet) {
        got = r.getPacket().getSeqno();
        last = r.getPacket().getLast();
      }
      return Status::Ok();
    })
                           : reader.status();
    if (s.ok() && !is_packet) s = InvalidArgument("expected a packet");
    if (s.ok() && got != seqno) {
      s = InvalidArgument("packet " + std::to_string(got) + " out of order, expected " + std::to_string(seqno));
    }
    if (!s.ok()) {
      // The writer broke the protocol; no datanode failed.
      close_down();
      static const std::string kNone;
      SendError(up, Status(s.code(), what + ": " + s.message()), &kNone).ok();
      return false;
    }
    // Forward first, so the downstream writes while we do.
    if (down && down_failed.empty()) {
      down_status = down->Send(m.header, m.body);
      if (!down_status.ok()) down_failed = downstream[0].id;
    }
    if (Status a = (*writer)->Append(m.body); !a.ok()) return own_failure(a);
    if (last) break;
  }
  auto finalized = (*writer)->Finalize();
  if (!finalized.ok()) return own_failure(finalized.status());

  std::vector<std::string> stored = {options_.id};
  std::string failed = down_failed;
  if (down && down_failed.empty()) {
    Result<Message> m = down->Receive();
    Status s = m.status();
    std::vector<std::string> down_stored;
    std::string down_reported_failed;
    if (m.ok()) {
      auto reader = CapnpReader::Parse(m->header);
      s = reader.ok() ? CatchCapnp("ack", [&] {
        auto r = (*reader)->Root<proto::DatanodeResponse>();
        Status error = r.hasError() ? ToStatus(r.getError()) : Status::Ok();
        if (r.which() != proto::DatanodeResponse::ACK) {
          return error.ok() ? InvalidArgument("answer is not an ack") : error;
        }
        for (auto id : r.getAck().getStored()) down_stored.push_back(id);
        down_reported_failed = r.getAck().getFailed();
        if (error.ok() && r.getAck().getLength() != finalized->length) {
          return Corruption("acked length " + std::to_string(r.getAck().getLength()) + ", wrote " +
                            std::to_string(finalized->length));
        }
        return error.ok() || !down_reported_failed.empty() ? Status::Ok() : error;
      })
                      : reader.status();
    }
    if (s.ok()) {
      stored.insert(stored.end(), down_stored.begin(), down_stored.end());
      failed = down_reported_failed;
    } else {
      down_status = s;
      failed = downstream[0].id;
    }
  }
  close_down();
  if (!failed.empty()) {
    LOG(WARNING) << what << ": pipeline member " << failed << " failed"
                 << (down_status.ok() ? "" : ": " + down_status.ToString());
  }

  return AcknowledgeWrite(up, *finalized, stored, failed);
}

bool Datanode::AcknowledgeWrite(Connection& up, const BlockInfo& stored_block, const std::vector<std::string>& stored,
                                const std::string& failed) {
  // Before the ack, so that a writer who sees the ack can count on the namenode knowing.
  SendEvent(Event::kReceived, stored_block);

  capnp::MallocMessageBuilder message;
  auto ack = message.initRoot<proto::DatanodeResponse>().initAck();
  auto list = ack.initStored(stored.size());
  for (size_t i = 0; i < stored.size(); ++i) list.set(i, stored[i]);
  ack.setFailed(failed);
  ack.setLength(stored_block.length);
  return SendResponse(up, message).ok();
}

bool Datanode::ServeRead(Connection& conn, uint64_t id, uint64_t offset, uint64_t length) {
  auto local = store_->LocalPath(id);
  if (!local.ok()) {
    if (local.status().code() == StatusCode::kCorruption) ReportCorrupt(id, local.status());
    return SendError(conn, local.status().WithContext(Name())).ok();
  }
  if (offset > local->length) {
    return SendError(conn, InvalidArgument(Name() + ": " + BlockName(id) + ": read offset " + std::to_string(offset) +
                                           " past its length " + std::to_string(local->length)))
        .ok();
  }
  {
    capnp::MallocMessageBuilder message;
    SetBlock({id, local->generation, local->length}, message.initRoot<proto::DatanodeResponse>().initReadStart());
    if (!SendResponse(conn, message).ok()) return false;
  }
  const uint64_t end = offset + std::min(length, local->length - offset);
  const uint64_t packet = options_.packet_bytes;
  uint64_t pos = offset;
  for (uint64_t seqno = 0;; ++seqno) {
    // Packet ends on multiples of packet_bytes, so that chunks are not verified twice.
    const uint64_t n = std::min(end, (pos / packet + 1) * packet) - pos;
    auto data = store_->Read(id, pos, n);
    Status s = data.status();
    if (s.ok() && data->size() != n) {
      s = Corruption(BlockName(id) + ": read " + std::to_string(data->size()) + " bytes at " + std::to_string(pos) +
                     ", expected " + std::to_string(n));
    }
    capnp::MallocMessageBuilder message;
    auto p = message.initRoot<proto::DatanodeResponse>().initPacket();
    p.setSeqno(seqno);
    if (!s.ok()) {
      if (s.code() == StatusCode::kCorruption) ReportCorrupt(id, s);
      p.setLast(true);
      SetError(s.WithContext(Name()), p.initError());
      return SendResponse(conn, message).ok();
    }
    pos += n;
    p.setLast(pos >= end);
    if (!SendResponse(conn, message, *data).ok()) return false;
    if (pos >= end) return true;
  }
}

bool Datanode::ServeLocalBlock(Connection& conn, uint64_t id) {
  auto local = store_->LocalPath(id);
  if (!local.ok()) return SendError(conn, local.status().WithContext(Name())).ok();
  capnp::MallocMessageBuilder message;
  auto grant = message.initRoot<proto::DatanodeResponse>().initGrant();
  grant.setPath(local->path);
  grant.setGeneration(local->generation);
  grant.setLength(local->length);
  grant.setChunkSize(local->chunk_size);
  grant.setDataOffset(local->data_offset);
  return SendResponse(conn, message).ok();
}

// A short-circuit write: grant a reserved tmp file to a writer on this machine, wait for its
// finalizeLocal, then store the file as ServeWrite stores a pipeline's replica. A refusal leaves
// the conversation open (the writer sends writeBlock next); a conversation that ends before
// finalizeLocal destroys the reservation, which removes the tmp file.
bool Datanode::ServeLocalWrite(Connection& conn, CapnpReader& request) {
  BlockInfo block;
  std::string machine;
  Status parsed = CatchCapnp("localWrite request", [&] {
    auto write = request.Root<proto::DatanodeRequest>().getLocalWrite();
    block = ToBlockInfo(write.getBlock());
    machine = write.getMachine();
    return Status::Ok();
  });
  if (!parsed.ok()) {
    SendError(conn, parsed.WithContext(Name())).ok();
    return false;
  }
  const std::string what = Name() + ": " + BlockName(block.id) + " generation " + std::to_string(block.generation);
  // Only a writer on this machine can write the file we grant. The check keeps a confused
  // remote client from being granted a path it cannot reach; the real barrier is the file
  // system: only a process here with write access to our tmp/ can produce the file.
  if (machine != options_.machine) {
    return SendError(conn, InvalidArgument(what + ": short-circuit write from machine " + machine +
                                              ", not this datanode's " + options_.machine))
        .ok();
  }
  auto writer = store_->ReserveBlock(block.id, block.generation);
  if (!writer.ok()) return SendError(conn, writer.status().WithContext(what)).ok();
  {
    capnp::MallocMessageBuilder message;
    auto grant = message.initRoot<proto::DatanodeResponse>().initGrant();
    grant.setPath((*writer)->tmp_path());
    grant.setGeneration(block.generation);
    grant.setChunkSize(store_->options().chunk_size);
    grant.setDataOffset(kBlockFileHeaderBytes);
    grant.setSync(store_->options().sync_on_finalize);
    if (!SendResponse(conn, message).ok()) return false;
  }
  Result<Message> m = conn.Receive();
  if (!m.ok()) {
    LOG(WARNING) << what << ": short-circuit writer went away before finalizing: " << m.status().ToString();
    return false;
  }
  BlockInfo written;
  auto reader = CapnpReader::Parse(m->header);
  Status s = reader.ok() ? CatchCapnp("finalizeLocal", [&] {
    auto r = (*reader)->Root<proto::DatanodeRequest>();
    if (r.which() != proto::DatanodeRequest::FINALIZE_LOCAL) return InvalidArgument("expected finalizeLocal");
    written = ToBlockInfo(r.getFinalizeLocal());
    return Status::Ok();
  })
                         : reader.status();
  if (s.ok() && (written.id != block.id || written.generation != block.generation)) {
    s = InvalidArgument("finalizeLocal names " + BlockName(written.id) + " generation " +
                        std::to_string(written.generation));
  }
  if (s.ok()) {
    auto finalized = (*writer)->FinalizeWritten(written.length);
    if (finalized.ok()) {
      ++local_writes_;
      return AcknowledgeWrite(conn, *finalized, {options_.id}, "");
    }
    s = finalized.status();
  }
  Status named(s.code(), what + ": " + s.message());
  LOG(WARNING) << "short-circuit write failed: " << named.ToString();
  SendError(conn, named, &options_.id).ok();
  return false;
}

}  // namespace sawmill::dfs
