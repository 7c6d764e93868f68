#include "tests/dfs/client/fake_dfs.h"

#include <algorithm>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "dfs/client/client_internal.h"
#include "dfs/datanode/block_file.h"
#include "dfs/path.h"
#include "dfs/proto_convert.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs::testing {
namespace {

void SetFileStatus(const std::string& path, const FakeNamenode::File& f, proto::FileStatus::Builder out) {
  out.setPath(path);
  uint64_t size = 0;
  for (const auto& b : f.blocks) size += b.length;
  out.setSize(size);
  out.setReplication(f.replication);
  out.setBlockSize(f.block_size);
  out.setMtime(1700000000000);
}

}  // namespace

Handler FakeNamenode::handler() {
  return [this](Connection& conn) { Serve(conn); };
}

void FakeNamenode::Serve(Connection& conn) {
  for (;;) {
    auto msg = conn.Receive();
    if (!msg.ok()) return;
    auto parsed = CapnpReader::Parse(msg->header);
    if (!parsed.ok()) return;
    capnp::MallocMessageBuilder out;
    auto resp = out.initRoot<proto::NamenodeResponse>();
    Status s = CatchCapnp("request", [&]() -> Status {
      auto req = (*parsed)->Root<proto::NamenodeRequest>();
      std::lock_guard<std::mutex> l(mu_);
      switch (req.which()) {
        case proto::NamenodeRequest::CREATE: {
          auto c = req.getCreate();
          std::string path = c.getPath().cStr();
          if (auto it = files.find(path); it != files.end()) {
            // As NamenodeCore: a repeat of the writer's own create, before any block, is no error.
            const File& f = it->second;
            if (f.complete || f.client != c.getClient().cStr() || !f.blocks.empty()) {
              return AlreadyExists(path + ": exists");
            }
            ++repeats;
            SetFileStatus(path, f, resp.initFileStatus());
            return Status::Ok();
          }
          File f;
          f.client = c.getClient().cStr();
          f.replication = c.getReplication() ? c.getReplication() : default_replication;
          f.block_size = c.getBlockSize() ? c.getBlockSize() : default_block_size;
          SetFileStatus(path, f, resp.initFileStatus());
          files[path] = f;
          return Status::Ok();
        }
        case proto::NamenodeRequest::ADD_BLOCK: {
          auto a = req.getAddBlock();
          std::string path = a.getPath().cStr();
          auto it = files.find(path);
          if (it == files.end() || it->second.complete) return NotFound(path + ": not open");
          std::vector<std::string> exclude;
          for (auto e : a.getExcludeDatanodes()) exclude.push_back(e.cStr());
          add_block_excludes.push_back(exclude);
          add_block_hosts.push_back(a.getWriterHost().cStr());
          std::vector<DatanodeDescriptor> chosen;
          for (const auto& d : datanodes_) {
            if (chosen.size() < it->second.replication &&
                std::find(exclude.begin(), exclude.end(), d.id) == exclude.end()) {
              chosen.push_back(d);
            }
          }
          if (chosen.empty()) return Status(StatusCode::kUnavailable, "no datanode left for " + path);
          const int64_t before = a.getBlocksBefore();
          const bool repeat = before >= 0 && it->second.blocks.size() == static_cast<size_t>(before) + 1;
          if (repeat) {
            ++repeats;
            it->second.replicas.back().clear();
          } else {
            it->second.blocks.push_back(BlockInfo{next_block_++, 1, 0});
            it->second.replicas.emplace_back();
          }
          const BlockInfo b = it->second.blocks.back();
          auto lb = resp.initLocatedBlock();
          SetBlock(b, lb.initBlock());
          auto ds = lb.initDatanodes(chosen.size());
          for (size_t i = 0; i < chosen.size(); ++i) {
            SetDatanodeInfo(chosen[i], ds[i]);
            it->second.replicas.back().push_back(chosen[i].id);
          }
          return Status::Ok();
        }
        case proto::NamenodeRequest::ABANDON_BLOCK: {
          auto a = req.getAbandonBlock();
          auto it = files.find(a.getPath().cStr());
          if (it == files.end() || it->second.blocks.empty() || it->second.blocks.back().id != a.getBlockId()) {
            return InvalidArgument("abandonBlock: not the last block");
          }
          it->second.blocks.pop_back();
          it->second.replicas.pop_back();
          abandoned.push_back(a.getBlockId());
          return Status::Ok();
        }
        case proto::NamenodeRequest::COMPLETE: {
          auto c = req.getComplete();
          std::string path = c.getPath().cStr();
          auto it = files.find(path);
          auto lengths = c.getBlockLengths();
          if (it != files.end() && it->second.complete && lengths.size() == it->second.blocks.size()) {
            bool same = true;
            for (size_t i = 0; i < lengths.size(); ++i) same = same && it->second.blocks[i].length == lengths[i];
            if (same) {
              ++repeats;
              return Status::Ok();
            }
          }
          if (it == files.end() || it->second.complete) return NotFound(path + ": not open");
          if (lengths.size() != it->second.blocks.size()) return InvalidArgument(path + ": wrong block count");
          for (size_t i = 0; i < lengths.size(); ++i) it->second.blocks[i].length = lengths[i];
          it->second.complete = true;
          return Status::Ok();
        }
        case proto::NamenodeRequest::RENEW_LEASE:
          ++renewals;
          return Status::Ok();
        case proto::NamenodeRequest::GET_BLOCK_LOCATIONS: {
          std::string path = req.getGetBlockLocations().cStr();
          auto it = files.find(path);
          if (it == files.end() || !it->second.complete) return NotFound(path + ": no such file");
          auto loc = resp.initLocations();
          SetFileStatus(path, it->second, loc.initFile());
          auto bl = loc.initBlocks(it->second.blocks.size());
          for (size_t i = 0; i < it->second.blocks.size(); ++i) {
            SetBlock(it->second.blocks[i], bl[i].initBlock());
            const auto& ids = it->second.replicas[i];
            auto ds = bl[i].initDatanodes(ids.size());
            for (size_t k = 0; k < ids.size(); ++k) {
              for (const auto& d : datanodes_) {
                if (d.id == ids[k]) SetDatanodeInfo(d, ds[k]);
              }
            }
          }
          return Status::Ok();
        }
        case proto::NamenodeRequest::REPORT_BAD_REPLICA:
          bad_replicas.emplace_back(req.getReportBadReplica().getBlockId(),
                                    req.getReportBadReplica().getDatanode().cStr());
          return Status::Ok();
        case proto::NamenodeRequest::DELETE: {
          std::string path = req.getDelete().getPath().cStr();
          deleted.push_back(path);
          if (files.erase(path) == 0) return NotFound(path + ": no such file");
          return Status::Ok();
        }
        case proto::NamenodeRequest::STAT: {
          std::string path = req.getStat().cStr();
          if (dirs.count(path) || path == "/") {
            auto st = resp.initFileStatus();
            st.setPath(path);
            st.setIsDir(true);
            return Status::Ok();
          }
          auto it = files.find(path);
          if (it == files.end() || !it->second.complete) return NotFound(path + ": no such file");
          SetFileStatus(path, it->second, resp.initFileStatus());
          return Status::Ok();
        }
        case proto::NamenodeRequest::MKDIRS:
          dirs.insert(req.getMkdirs().cStr());
          return Status::Ok();
        case proto::NamenodeRequest::LIST: {
          // Direct children only: files and directories whose parent is the listed path.
          std::string dir = req.getList().cStr();
          std::vector<std::pair<std::string, const File*>> children;
          for (const auto& [path, f] : files) {
            if (f.complete && ParentOf(path) == dir) children.emplace_back(path, &f);
          }
          for (const auto& d : dirs) {
            if (d != "/" && ParentOf(d) == dir) children.emplace_back(d, nullptr);
          }
          std::sort(children.begin(), children.end());
          auto out = resp.initListing(children.size());
          for (size_t i = 0; i < children.size(); ++i) {
            if (children[i].second != nullptr) {
              SetFileStatus(children[i].first, *children[i].second, out[i]);
            } else {
              out[i].setPath(children[i].first);
              out[i].setIsDir(true);
            }
          }
          return Status::Ok();
        }
        case proto::NamenodeRequest::RENAME: {
          std::string src = req.getRename().getSrc().cStr(), dst = req.getRename().getDst().cStr();
          if (!files.count(src)) return NotFound(src + ": no such file");
          if (files.count(dst)) return AlreadyExists(dst + ": exists");
          files[dst] = files[src];
          files.erase(src);
          return Status::Ok();
        }
        case proto::NamenodeRequest::SET_REPLICATION: {
          auto it = files.find(req.getSetReplication().getPath().cStr());
          if (it == files.end()) return NotFound("no such file");
          it->second.replication = req.getSetReplication().getReplication();
          return Status::Ok();
        }
        case proto::NamenodeRequest::FSCK: {
          auto f = resp.initFsck();
          uint64_t total = 0;
          for (const auto& [path, file] : files) total += file.blocks.size();
          f.setTotalBlocks(total);
          f.setLiveDatanodes(datanodes_.size());
          auto m = f.initMissing(missing.size());
          for (size_t i = 0; i < missing.size(); ++i) {
            m[i].setBlockId(missing[i].first);
            m[i].setPath(missing[i].second);
          }
          return Status::Ok();
        }
        case proto::NamenodeRequest::DATANODES: {
          auto out = resp.initDatanodes(datanodes_.size());
          for (size_t i = 0; i < datanodes_.size(); ++i) SetDatanodeInfo(datanodes_[i], out[i]);
          return Status::Ok();
        }
        default:
          return Internal("the fake namenode does not serve this request");
      }
    });
    if (!s.ok()) SetError(s, resp.initError());
    if (!conn.Send(CapnpToString(out)).ok()) return;
  }
}

Handler FakeDatanode::handler() {
  return [this](Connection& conn) { Serve(conn); };
}

std::string FakeDatanode::BlockData(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = blocks_.find(id);
  return it == blocks_.end() ? "" : it->second;
}

bool FakeDatanode::HasBlock(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  return blocks_.count(id) > 0;
}

std::string FakeDatanode::BlockFilePath(uint64_t id) const { return JoinPath(local_dir_, "blk_" + std::to_string(id)); }

void FakeDatanode::Serve(Connection& conn) {
  for (;;) {
    auto msg = conn.Receive();
    if (!msg.ok()) return;
    auto parsed = CapnpReader::Parse(msg->header);
    if (!parsed.ok()) return;
    auto req = (*parsed)->Root<proto::DatanodeRequest>();
    bool go_on = false;
    switch (req.which()) {
      case proto::DatanodeRequest::WRITE_BLOCK:
        go_on = ServeWrite(conn, msg->header);
        break;
      case proto::DatanodeRequest::READ_BLOCK:
        go_on = ServeRead(conn, req.getReadBlock().getBlockId(), req.getReadBlock().getOffset(),
                          req.getReadBlock().getLength());
        break;
      case proto::DatanodeRequest::LOCAL_BLOCK: {
        uint64_t id = req.getLocalBlock();
        capnp::MallocMessageBuilder out;
        auto resp = out.initRoot<proto::DatanodeResponse>();
        if (local_dir_.empty() || !HasBlock(id)) {
          SetError(NotFound("no local replica of block " + std::to_string(id)), resp.initError());
        } else {
          ++grants;
          auto g = resp.initGrant();
          g.setPath(BlockFilePath(id));
          g.setGeneration(1);
          g.setLength(BlockData(id).size());
          g.setChunkSize(chunk_bytes);
          g.setDataOffset(kBlockFileHeaderBytes);
        }
        go_on = conn.Send(CapnpToString(out)).ok();
        break;
      }
      case proto::DatanodeRequest::LOCAL_WRITE: {
        // Refused as a real datanode refuses one: an error, and the conversation goes on.
        ++local_writes_refused;
        capnp::MallocMessageBuilder out;
        SetError(InvalidArgument("the fake datanode grants no short-circuit writes"),
                 out.initRoot<proto::DatanodeResponse>().initError());
        go_on = conn.Send(CapnpToString(out)).ok();
        break;
      }
      default:
        return;
    }
    if (!go_on) return;
  }
}

bool FakeDatanode::ServeWrite(Connection& conn, const std::string& header) {
  auto parsed = CapnpReader::Parse(header);
  auto wb = (*parsed)->Root<proto::DatanodeRequest>().getWriteBlock();
  const uint64_t id = wb.getBlock().getId();
  // The rest of the pipeline, reached like the real datanode does: writeBlock with the tail.
  std::unique_ptr<Connection> down;
  std::string down_id, failed;
  if (wb.getDownstream().size() > 0) {
    down_id = wb.getDownstream()[0].getId().cStr();
    auto c = network_->Connect(wb.getDownstream()[0].getAddress().cStr());
    if (c.ok()) {
      down = std::move(c).value();
      capnp::MallocMessageBuilder fwd;
      auto f = fwd.initRoot<proto::DatanodeRequest>().initWriteBlock();
      f.setBlock(wb.getBlock());
      auto rest = f.initDownstream(wb.getDownstream().size() - 1);
      for (unsigned i = 1; i < wb.getDownstream().size(); ++i) rest.setWithCaveats(i - 1, wb.getDownstream()[i]);
      f.setClient(wb.getClient());
      if (!down->Send(CapnpToString(fwd)).ok()) down.reset();
    }
    if (down == nullptr) failed = down_id;
  }
  std::string data;
  for (;;) {
    auto msg = conn.Receive();
    if (!msg.ok()) return false;
    auto p = CapnpReader::Parse(msg->header);
    auto packet = (*p)->Root<proto::DatanodeRequest>().getPacket();
    if (down != nullptr && !down->Send(msg->header, msg->body).ok()) {
      down.reset();
      failed = down_id;
    }
    if (fail_writes) {
      capnp::MallocMessageBuilder out;
      auto resp = out.initRoot<proto::DatanodeResponse>();
      SetError(IOError("datanode " + info_.id + ": disk failed writing block " + std::to_string(id)), resp.initError());
      resp.initAck().setFailed(info_.id);
      (void)conn.Send(CapnpToString(out));
      return false;
    }
    data += msg->body;
    if (packet.getLast()) break;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    blocks_[id] = data;
  }
  if (!local_dir_.empty()) {
    auto w = BlockFileWriter::Create(BlockFilePath(id), id, 1, chunk_bytes);
    if (w.ok() && (*w)->Append(data).ok()) (void)(*w)->Finish();
  }
  std::vector<std::string> stored{info_.id};
  if (down != nullptr) {
    auto ack = down->Receive();
    bool acked = false;
    if (ack.ok()) {
      auto a = CapnpReader::Parse(ack->header);
      auto r = (*a)->Root<proto::DatanodeResponse>();
      if (r.isAck()) {
        acked = true;
        for (auto s : r.getAck().getStored()) stored.push_back(s.cStr());
        if (failed.empty()) failed = r.getAck().getFailed().cStr();
      }
    }
    if (!acked && failed.empty()) failed = down_id;
  }
  capnp::MallocMessageBuilder out;
  auto ack = out.initRoot<proto::DatanodeResponse>().initAck();
  auto st = ack.initStored(stored.size());
  for (size_t i = 0; i < stored.size(); ++i) st.set(i, stored[i]);
  ack.setFailed(failed);
  ack.setLength(data.size());
  (void)conn.Send(CapnpToString(out));
  return false;  // one write per conversation
}

bool FakeDatanode::ServeRead(Connection& conn, uint64_t id, uint64_t offset, uint64_t length) {
  ++wire_reads;
  std::string data;
  bool has = false, bad = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = blocks_.find(id);
    if (it != blocks_.end()) {
      has = true;
      data = it->second;
    }
  }
  {
    std::lock_guard<std::mutex> l(corrupt_mu);
    bad = corrupt.count(id) > 0;
  }
  capnp::MallocMessageBuilder start;
  auto resp = start.initRoot<proto::DatanodeResponse>();
  if (refuse_reads) {
    SetError(Status(StatusCode::kUnavailable, "datanode " + info_.id + " is shutting down"), resp.initError());
    return conn.Send(CapnpToString(start)).ok();
  }
  if (!has || offset > data.size()) {
    SetError(NotFound("datanode " + info_.id + ": no block " + std::to_string(id)), resp.initError());
    return conn.Send(CapnpToString(start)).ok();
  }
  SetBlock(BlockInfo{id, 1, data.size()}, resp.initReadStart());
  if (!conn.Send(CapnpToString(start)).ok()) return false;
  const uint64_t end = offset + std::min<uint64_t>(length, data.size() - offset);
  uint64_t seq = 0;
  for (uint64_t pos = offset;;) {
    capnp::MallocMessageBuilder out;
    auto pk = out.initRoot<proto::DatanodeResponse>().initPacket();
    pk.setSeqno(seq++);
    if (bad) {
      // Like the real one: a checksum mismatch found mid-stream ends the read.
      SetError(Corruption("datanode " + info_.id + ": block " + std::to_string(id) + ": checksum mismatch"),
               pk.initError());
      pk.setLast(true);
      return conn.Send(CapnpToString(out)).ok();
    }
    const uint64_t n = std::min<uint64_t>(read_packet_bytes, end - pos);
    pk.setLast(pos + n == end);
    if (!conn.Send(CapnpToString(out), std::string_view(data).substr(pos, n)).ok()) return false;
    pos += n;
    if (pos == end) return true;
  }
}

}  // namespace sawmill::dfs::testing
