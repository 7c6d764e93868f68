// The client's reader: maps a byte range to blocks and reads each from its replicas in a fixed
// order (this machine's first). A replica on this machine is read from its file after a grant
// from its datanode (short-circuit), others over the wire. A corrupt replica is reported to the
// namenode and skipped from then on; any other failure moves on to the next replica.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "common/file.h"
#include "dfs/client/client_internal.h"
#include "dfs/datanode/block_file.h"
#include "dfs/machine.h"
#include "dfs/proto_convert.h"

namespace sawmill::dfs {
namespace {

// Reads data bytes [offset, offset + n) of a validated block file straight into `dst`, checking
// every chunk it touches against the checksum table (docs/formats/block-file.md: data at
// kBlockFileHeaderBytes, then one XXH3-64 per chunk). Whole chunks are read into `dst` and hashed
// there; only the partly wanted chunks at the edges go through `scratch`. This is the
// short-circuit hot path: one kernel copy and one hash pass per byte.
Status ReadVerifiedInto(const RandomAccessFile& file, const BlockFileInfo& info, uint64_t offset, size_t n,
                        char* dst, std::string* scratch) {
  if (n == 0) return Status::Ok();
  if (offset > info.length || n > info.length - offset) {
    return Corruption(file.path() + ": block " + std::to_string(info.block_id) + ": read of " + std::to_string(n) +
                      " bytes at " + std::to_string(offset) + " past its length " + std::to_string(info.length));
  }
  const uint64_t cs = info.chunk_size;
  const uint64_t end = offset + n;
  const uint64_t first = offset / cs;
  const uint64_t last = (end - 1) / cs;  // inclusive
  std::string table((last - first + 1) * 8, '\0');
  RETURN_IF_ERROR(file.ReadAt(kBlockFileHeaderBytes + info.length + first * 8, table.size(), table.data()));
  auto check = [&](uint64_t chunk, const char* data, size_t len) {
    if (Checksum64(data, len) == DecodeFixed64(table.data() + (chunk - first) * 8)) return Status::Ok();
    return Corruption(file.path() + ": block " + std::to_string(info.block_id) +
                      ": checksum mismatch in chunk at block offset " + std::to_string(chunk * cs));
  };
  auto chunk_end = [&](uint64_t chunk) { return std::min(info.length, (chunk + 1) * cs); };
  // Chunks wholly inside the range: [whole_first, whole_last).
  uint64_t whole_first = offset % cs == 0 ? first : first + 1;
  uint64_t whole_last = chunk_end(last) == end ? last + 1 : last;
  // A few chunks per read, hashed while they are still in the CPU cache: one big read and then
  // a hash pass would stream every byte through memory twice.
  const uint64_t group = std::max<uint64_t>(1, (256 << 10) / cs);
  for (uint64_t g = whole_first; g < whole_last; g += group) {
    const uint64_t g_end = std::min(whole_last, g + group);
    const uint64_t begin = g * cs;
    const uint64_t stop = chunk_end(g_end - 1);
    char* out = dst + (begin - offset);
    RETURN_IF_ERROR(file.ReadAt(kBlockFileHeaderBytes + begin, stop - begin, out));
    for (uint64_t c = g; c < g_end; ++c) {
      RETURN_IF_ERROR(check(c, out + (c * cs - begin), chunk_end(c) - c * cs));
    }
  }
  // Edge chunks: read whole, check, copy the wanted part.
  for (uint64_t c : {first, last}) {
    if (c >= whole_first && c < whole_last) continue;
    const uint64_t begin = c * cs, stop = chunk_end(c);
    scratch->resize(stop - begin);
    RETURN_IF_ERROR(file.ReadAt(kBlockFileHeaderBytes + begin, scratch->size(), scratch->data()));
    RETURN_IF_ERROR(check(c, scratch->data(), scratch->size()));
    const uint64_t from = std::max(begin, offset), to = std::min(stop, end);
    std::memcpy(dst + (from - offset), scratch->data() + (from - begin), to - from);
    if (last == first) break;
  }
  return Status::Ok();
}

class DfsReader : public ReadableFile {
 public:
  DfsReader(DfsClient* client, DfsFileStatus status, std::vector<DfsLocatedBlock> blocks)
      : client_(client), status_(std::move(status)), blocks_(std::move(blocks)), machine_(LocalMachineId()) {
    // Same placement host first, then the same machine, then the namenode's order: every
    // reader of a file on a host tries replicas in the same order.
    const std::string& host = client_->options().client_host;
    for (auto& b : blocks_) {
      auto rank = [&](const DatanodeDescriptor& d) {
        if (d.machine == machine_) return !host.empty() && d.host == host ? 0 : 1;
        return 2;
      };
      std::stable_sort(b.datanodes.begin(), b.datanodes.end(),
                       [&](const auto& x, const auto& y) { return rank(x) < rank(y); });
    }
  }

  Status ReadAt(uint64_t offset, size_t n, char* dst) override {
    if (offset > status_.size || n > status_.size - offset) {
      return Corruption(status_.path + ": read of " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
                        " past the end of the file (" + std::to_string(status_.size) + " bytes)");
    }
    // The block holding `offset`: the last one starting at or before it.
    size_t i = std::upper_bound(blocks_.begin(), blocks_.end(), offset,
                                [](uint64_t off, const DfsLocatedBlock& b) { return off < b.offset; }) -
               blocks_.begin();
    i = i == 0 ? 0 : i - 1;
    while (n > 0) {
      const DfsLocatedBlock& b = blocks_[i];
      const uint64_t in_block = offset - b.offset;
      if (in_block >= b.block.length) {  // empty blocks, or offset at the end of this one
        ++i;
        continue;
      }
      const size_t len = std::min<uint64_t>(n, b.block.length - in_block);
      RETURN_IF_ERROR(ReadBlock(i, in_block, len, dst));
      offset += len;
      dst += len;
      n -= len;
      ++i;
    }
    return Status::Ok();
  }

  uint64_t size() const override { return status_.size; }
  const std::string& path() const override { return status_.path; }

 private:
  // A replica file opened for short-circuit reads, kept for the next read of the same block.
  struct LocalReplica {
    size_t block = 0;
    std::string datanode;
    std::unique_ptr<RandomAccessFile> file;
    BlockFileInfo info;
  };

  std::string Name(const DatanodeDescriptor& d) const { return "datanode " + d.id + " (" + d.address + ")"; }

  Status ReadBlock(size_t i, uint64_t offset, size_t len, char* dst) {
    const DfsLocatedBlock& b = blocks_[i];
    std::string errors;
    size_t corrupt = 0;
    for (const DatanodeDescriptor& d : b.datanodes) {
      if (bad_.count({i, d.id})) {
        errors += "; " + Name(d) + ": corrupt (found earlier)";
        ++corrupt;
        continue;
      }
      Status s = ReadReplica(i, d, offset, len, dst);
      if (s.ok()) return s;
      errors += "; " + Name(d) + ": " + s.ToString();
      if (s.code() == StatusCode::kCorruption) {
        ++corrupt;
        bad_.insert({i, d.id});
        ReportBadReplica(b.block.id, d);
      }
    }
    std::string msg = status_.path + ": block " + std::to_string(b.block.id) + " (file offset " +
                      std::to_string(b.offset + offset) + "): ";
    if (b.datanodes.empty()) {
      return IOError(msg + "no live replica (the block is missing)");
    }
    msg += "no replica could be read" + errors;
    return corrupt == b.datanodes.size() ? Corruption(msg) : IOError(msg);
  }

  Status ReadReplica(size_t i, const DatanodeDescriptor& d, uint64_t offset, size_t len, char* dst) {
    if (client_->options().short_circuit && d.machine == machine_ && !no_local_.count({i, d.id})) {
      Status s = ReadLocal(i, d, offset, len, dst);
      if (s.ok() || s.code() == StatusCode::kCorruption) return s;
      // No grant or the file went away (deleted, moved): the datanode may still serve it.
      VLOG(1) << status_.path << ": short-circuit read of block " << blocks_[i].block.id << " from " << Name(d)
              << " failed, reading over the wire: " << s.ToString();
      no_local_.insert({i, d.id});
      local_.reset();
    }
    return ReadRemote(i, d, offset, len, dst);
  }

  Result<Connection*> DatanodeConnection(const DatanodeDescriptor& d) {
    auto it = conns_.find(d.address);
    if (it != conns_.end()) return it->second.get();
    ASSIGN_OR_RETURN(auto conn, ConnectDatanode(client_->transport(), d));
    return (conns_[d.address] = std::move(conn)).get();
  }

  // The next answer on `conn`, parsed; its bulk bytes into `body` when given.
  static Result<std::unique_ptr<CapnpReader>> ReceiveReply(Connection* conn, std::string* body) {
    auto reply = conn->Receive();
    if (!reply.ok()) return reply.status();
    ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(reply->header));
    if (body != nullptr) *body = std::move(reply->body);
    return reader;
  }

  Status ReadLocal(size_t i, const DatanodeDescriptor& d, uint64_t offset, size_t len, char* dst) {
    const BlockInfo& block = blocks_[i].block;
    if (local_ == nullptr || local_->block != i || local_->datanode != d.id) {
      local_.reset();
      ASSIGN_OR_RETURN(Connection * conn, DatanodeConnection(d));
      capnp::MallocMessageBuilder m;
      m.initRoot<proto::DatanodeRequest>().setLocalBlock(block.id);
      std::string grant_path;
      uint64_t generation = 0;
      Status s = conn->Send(CapnpToString(m));
      if (s.ok()) {
        auto reply = ReceiveReply(conn, nullptr);
        s = reply.status();
        if (s.ok()) {
          s = CatchCapnp("datanode grant", [&] {
            auto r = (*reply)->Root<proto::DatanodeResponse>();
            RETURN_IF_ERROR(ToStatus(r.getError()));
            if (!r.isGrant()) return Internal("localBlock answered without a grant");
            grant_path = r.getGrant().getPath().cStr();
            generation = r.getGrant().getGeneration();
            return Status::Ok();
          });
        }
      }
      if (!s.ok()) {
        conns_.erase(d.address);  // reconnecting is cheap; a half-answered conversation is not
        // A refused grant says nothing about the replica's bytes: the wire read decides.
        return Status(s.code() == StatusCode::kCorruption ? StatusCode::kIOError : s.code(), s.message());
      }
      auto lr = std::make_unique<LocalReplica>();
      lr->block = i;
      lr->datanode = d.id;
      ASSIGN_OR_RETURN(lr->file, RandomAccessFile::Open(grant_path));
      ASSIGN_OR_RETURN(lr->info, ReadBlockFileInfo(*lr->file, block.id));
      if (lr->info.generation != generation) {
        return IOError(grant_path + ": generation " + std::to_string(lr->info.generation) + ", granted " +
                       std::to_string(generation));
      }
      if (lr->info.length != block.length) {
        return Corruption(grant_path + ": block " + std::to_string(block.id) + " has " +
                          std::to_string(lr->info.length) + " bytes, the file says " + std::to_string(block.length));
      }
      lr->file->WillNeed(0, lr->info.file_size);
      local_ = std::move(lr);
    }
    return ReadVerifiedInto(*local_->file, local_->info, offset, len, dst, &scratch_);
  }

  Status ReadRemote(size_t i, const DatanodeDescriptor& d, uint64_t offset, size_t len, char* dst) {
    const BlockInfo& block = blocks_[i].block;
    ASSIGN_OR_RETURN(Connection * conn, DatanodeConnection(d));
    Status s = ReadRemoteOn(conn, d, block, offset, len, dst);
    if (!s.ok()) conns_.erase(d.address);
    return s;
  }

  Status ReadRemoteOn(Connection* conn, const DatanodeDescriptor& d, const BlockInfo& block, uint64_t offset,
                      size_t len, char* dst) {
    capnp::MallocMessageBuilder m;
    auto rb = m.initRoot<proto::DatanodeRequest>().initReadBlock();
    rb.setBlockId(block.id);
    rb.setOffset(offset);
    rb.setLength(len);
    RETURN_IF_ERROR(conn->Send(CapnpToString(m)));
    {
      ASSIGN_OR_RETURN(auto start, ReceiveReply(conn, nullptr));
      RETURN_IF_ERROR(CatchCapnp("datanode response", [&] {
        auto r = start->Root<proto::DatanodeResponse>();
        RETURN_IF_ERROR(ToStatus(r.getError()));
        if (!r.isReadStart()) return Internal("readBlock answered without readStart");
        return Status::Ok();
      }));
    }
    size_t got = 0;
    for (bool last = false; !last;) {
      std::string body;
      ASSIGN_OR_RETURN(auto packet, ReceiveReply(conn, &body));
      RETURN_IF_ERROR(CatchCapnp("datanode packet", [&] {
        auto r = packet->Root<proto::DatanodeResponse>();
        RETURN_IF_ERROR(ToStatus(r.getError()));
        if (!r.isPacket()) return Internal("a read packet expected");
        RETURN_IF_ERROR(ToStatus(r.getPacket().getError()));
        last = r.getPacket().getLast();
        return Status::Ok();
      }));
      if (body.size() > len - got) {
        return Internal("sent more than the " + std::to_string(len) + " bytes asked for");
      }
      std::memcpy(dst + got, body.data(), body.size());
      got += body.size();
    }
    if (got != len) {
      return IOError("sent " + std::to_string(got) + " of " + std::to_string(len) + " bytes at block offset " +
                     std::to_string(offset));
    }
    return Status::Ok();
  }

  void ReportBadReplica(uint64_t block_id, const DatanodeDescriptor& d) {
    capnp::MallocMessageBuilder m;
    auto b = m.initRoot<proto::NamenodeRequest>().initReportBadReplica();
    b.setBlockId(block_id);
    b.setDatanode(d.id);
    Status s = client_->CallNamenode(m).status();
    if (!s.ok()) LOG(WARNING) << "reporting corrupt block " << block_id << " on " << Name(d) << ": " << s.ToString();
  }

  DfsClient* const client_;
  const DfsFileStatus status_;
  std::vector<DfsLocatedBlock> blocks_;
  const std::string machine_;
  std::map<std::string, std::unique_ptr<Connection>> conns_;  // by datanode address
  std::unique_ptr<LocalReplica> local_;
  std::string scratch_;  // edge chunks of short-circuit reads
  std::set<std::pair<size_t, std::string>> bad_;       // (block index, datanode id): corrupt
  std::set<std::pair<size_t, std::string>> no_local_;  // short-circuit failed: use the wire
};

}  // namespace

std::unique_ptr<ReadableFile> NewDfsReader(DfsClient* client, DfsFileStatus status,
                                           std::vector<DfsLocatedBlock> blocks) {
  return std::make_unique<DfsReader>(client, std::move(status), std::move(blocks));
}

}  // namespace sawmill::dfs
