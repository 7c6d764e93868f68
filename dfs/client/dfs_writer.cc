// The client's writer: fills one block in memory while streaming it as packets to the first
// datanode of the block's pipeline (so reading the input overlaps the datanodes' writes), waits
// for the pipeline's one ack when the block is full, and on any failure abandons the block and
// rewrites it from memory to a new pipeline that excludes the datanode that failed. A block
// appended as a range of a local file is not held in memory: packets are sent from the file
// (sendfile), and a rewrite sends them from the file again. A block whose one datanode runs on
// this machine is written short-circuit (local_block_write.h): straight into the datanode's
// block file, neither buffered nor sent; if that fails, the block is rewritten through a
// pipeline from that file's data.
#include <algorithm>
#include <cstring>
#include <set>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "dfs/client/client_internal.h"
#include "dfs/client/local_block_write.h"
#include "dfs/machine.h"
#include "dfs/proto_convert.h"

namespace sawmill::dfs {
namespace {

// One block's pipeline, from addBlock to the ack.
struct Pipeline {
  BlockInfo block;
  std::vector<DatanodeDescriptor> datanodes;
  std::unique_ptr<Connection> conn;
  uint64_t sent = 0;   // bytes of the block sent as packets
  uint64_t seqno = 0;  // of the next packet
  // Set: the block is written short-circuit, neither buffered nor sent as packets.
  std::unique_ptr<LocalBlockWrite> local;
  // The first failure and the datanode to blame (exclude) for it, "" for none; once broken, the
  // rest of the block is only buffered.
  Status broken;
  std::string failed_id;

  std::string Describe() const {
    std::string s = "block " + std::to_string(block.id) + " pipeline [";
    for (size_t i = 0; i < datanodes.size(); ++i) {
      s += (i ? ", " : "") + datanodes[i].id + " " + datanodes[i].address;
    }
    return s + "]" + (local ? " (short-circuit)" : "");
  }
  void Break(Status s, std::string id) {
    if (!broken.ok()) return;
    broken = std::move(s);
    failed_id = std::move(id);
    if (conn) conn->Close();
  }
};

class DfsWriter : public DfsOutputFile {
 public:
  DfsWriter(DfsClient* client, std::string path, uint64_t block_size)
      : client_(client), path_(std::move(path)), block_size_(block_size) {
    client_->WriterOpened();
  }

  ~DfsWriter() override {
    if (closed_) return;
    // Never completed, so never visible; removing it now rather than when its lease expires
    // frees its blocks at once. Ignored on failure: the lease expiry removes it anyway.
    pipe_.reset();
    Discard();
    client_->WriterClosed();
  }

  Status Append(std::string_view data) override {
    if (closed_) return InvalidArgument(path_ + ": append after close");
    RETURN_IF_ERROR(failed_);
    if (src_fd_ >= 0) return InvalidArgument(path_ + ": Append after AppendFileRange");
    while (!data.empty()) {
      RETURN_IF_ERROR(EnsurePipeline());
      const size_t take = std::min<uint64_t>(block_size_ - len_, data.size());
      if (pipe_->local) {
        if (Status s = pipe_->local->Append(data.substr(0, take)); !s.ok()) return Fail(s.WithContext(path_));
      } else {
        // Reused for every block of the file; only address space until written.
        if (buf_ == nullptr) buf_.reset(new char[block_size_]);
        std::memcpy(buf_.get() + len_, data.data(), take);
      }
      len_ += take;
      data.remove_prefix(take);
      size_ += take;
      if (!pipe_->local) SendPackets(*pipe_, /*last=*/false);
      if (len_ == block_size_) RETURN_IF_ERROR(FinishBlock());
    }
    return Status::Ok();
  }

  Status AppendFileRange(int fd, uint64_t offset, uint64_t length) override {
    if (closed_) return InvalidArgument(path_ + ": append after close");
    RETURN_IF_ERROR(failed_);
    if (src_fd_ < 0 && size_ > 0) return InvalidArgument(path_ + ": AppendFileRange after Append");
    if (src_fd_ >= 0 && (fd != src_fd_ || offset != src_end_)) {
      return InvalidArgument(path_ + ": AppendFileRange does not continue the previous range");
    }
    src_fd_ = fd;
    src_end_ = offset;
    while (length > 0) {
      RETURN_IF_ERROR(EnsurePipeline());
      const uint64_t take = std::min(block_size_ - len_, length);
      len_ += take;
      src_end_ += take;
      length -= take;
      size_ += take;
      SendPackets(*pipe_, /*last=*/false);
      RETURN_IF_ERROR(failed_);  // the file shrank
      if (len_ == block_size_) RETURN_IF_ERROR(FinishBlock());
    }
    return Status::Ok();
  }

  uint64_t size() const override { return size_; }

  Status Close() override {
    if (closed_) return close_status_;
    Status s = failed_;
    if (s.ok() && pipe_ != nullptr) s = FinishBlock();
    if (s.ok()) s = Complete();
    pipe_.reset();
    if (!s.ok()) Discard();
    closed_ = true;
    close_status_ = s;
    client_->WriterClosed();
    return s;
  }

  const std::string& path() const override { return path_; }

 private:
  Status Fail(Status s) {
    if (failed_.ok()) failed_ = std::move(s);
    return failed_;
  }

  Status EnsurePipeline() {
    if (pipe_ != nullptr) return Status::Ok();
    auto p = StartPipeline();
    if (!p.ok()) return Fail(p.status());
    pipe_ = std::move(p).value();
    return Status::Ok();
  }

  void Discard() {
    capnp::MallocMessageBuilder m;
    auto d = m.initRoot<proto::NamenodeRequest>().initDelete();
    d.setPath(path_);
    d.setRecursive(false);
    Status s = client_->CallNamenode(m).status();
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      LOG(WARNING) << "removing unfinished " << path_ << ": " << s.ToString();
    }
  }

  // addBlock, then the writeBlock header to the first datanode. A datanode that cannot be
  // reached breaks the pipeline (retried at the block's end); a namenode error is returned.
  Result<std::unique_ptr<Pipeline>> StartPipeline() {
    capnp::MallocMessageBuilder m;
    auto a = m.initRoot<proto::NamenodeRequest>().initAddBlock();
    a.setPath(path_);
    a.setClient(client_->client_name());
    a.setWriterHost(client_->options().client_host);
    a.setBlocksBefore(static_cast<int64_t>(lengths_.size()));  // makes a repeat safe
    auto ex = a.initExcludeDatanodes(exclude_.size());
    unsigned i = 0;
    for (const auto& id : exclude_) ex.set(i++, id);
    auto reply = client_->CallNamenode(m);
    if (!reply.ok() && reply.status().code() == StatusCode::kUnavailable && !exclude_.empty()) {
      // Every datanode left is excluded: the failures may have been passing, so try them again.
      exclude_.clear();
      a.initExcludeDatanodes(0);
      reply = client_->CallNamenode(m);
    }
    if (!reply.ok()) return reply.status();
    auto p = std::make_unique<Pipeline>();
    RETURN_IF_ERROR(CatchCapnp("namenode response", [&] {
      auto r = (*reply)->Root<proto::NamenodeResponse>();
      if (!r.isLocatedBlock()) return Internal("namenode answered addBlock for " + path_ + " without a block");
      p->block = ToBlockInfo(r.getLocatedBlock().getBlock());
      for (auto d : r.getLocatedBlock().getDatanodes()) p->datanodes.push_back(ToDatanodeDescriptor(d));
      return Status::Ok();
    }));
    if (p->datanodes.empty()) {
      // Nothing to write to; give the block back so that the file's block list stays clean.
      Status abandoned = AbandonBlock(p->block.id);
      (void)abandoned;
      return Status(StatusCode::kUnavailable,
                    path_ + ": namenode gave block " + std::to_string(p->block.id) + " no datanodes");
    }
    const DatanodeDescriptor& first = p->datanodes[0];
    auto conn = ConnectDatanode(client_->transport(), first);
    if (!conn.ok()) {
      p->Break(conn.status(), first.id);
      return p;
    }
    p->conn = std::move(conn).value();
    if (WritesShortCircuit(*p)) {
      bool conn_usable = false;
      auto local = LocalBlockWrite::Start(*p->conn, p->block, client_->client_name(), &conn_usable);
      if (local.ok()) {
        p->local = std::move(local).value();
        return p;
      }
      // The file's other blocks go through pipelines too: what failed here would again.
      no_short_circuit_ = true;
      LOG(WARNING) << path_ << ": " << local.status().ToString() << "; writing through the datanode";
      if (!conn_usable) {
        // A datanode that went away is blamed; a file we could not create blames no datanode.
        p->Break(local.status(), local.status().code() == StatusCode::kUnavailable ? first.id : "");
        return p;
      }
    }
    capnp::MallocMessageBuilder w;
    auto wb = w.initRoot<proto::DatanodeRequest>().initWriteBlock();
    SetBlock(BlockInfo{p->block.id, p->block.generation, 0}, wb.initBlock());
    auto down = wb.initDownstream(p->datanodes.size() - 1);
    for (size_t k = 1; k < p->datanodes.size(); ++k) SetDatanodeInfo(p->datanodes[k], down[k - 1]);
    wb.setClient(client_->client_name());
    Status s = p->conn->Send(CapnpToString(w));
    if (!s.ok()) p->Break(s, first.id);
    return p;
  }

  // A block with one datanode, on this machine, written by Append: short-circuit (unless it
  // failed for this file already).
  bool WritesShortCircuit(const Pipeline& p) const {
    const DfsClient::Options& o = client_->options();
    return o.short_circuit_writes && !no_short_circuit_ && src_fd_ < 0 && p.datanodes.size() == 1 &&
           p.datanodes[0].machine == LocalMachineId();
  }

  // Sends the block's bytes not yet sent, in packets of at most packet_bytes; without `last`
  // only whole packets. With `last`, the final packet (possibly empty) carries last = true.
  void SendPackets(Pipeline& p, bool last) {
    const uint64_t packet = client_->options().packet_bytes;
    while (p.broken.ok()) {
      const uint64_t remaining = len_ - p.sent;
      if (!last && remaining < packet) return;
      const uint64_t n = std::min(remaining, packet);
      const bool is_last = last && n == remaining;
      capnp::MallocMessageBuilder m;
      auto pk = m.initRoot<proto::DatanodeRequest>().initPacket();
      pk.setSeqno(p.seqno);
      pk.setLast(is_last);
      Status s = src_fd_ >= 0 ? p.conn->SendFile(CapnpToString(m), src_fd_, src_end_ - len_ + p.sent, n)
                 : recovered_ ? p.conn->SendFile(CapnpToString(m), recovered_->data_fd(), kBlockFileHeaderBytes + p.sent, n)
                              : p.conn->Send(CapnpToString(m), std::string_view(buf_.get() + p.sent, n));
      if (!s.ok()) {
        if (s.code() != StatusCode::kUnavailable) {
          // The source file, not a datanode, failed (it shrank): no new pipeline can help.
          Fail(s.WithContext(recovered_ ? path_ + ": resending the block's data from " + recovered_->path()
                                        : path_)).ok();
        }
        p.Break(s, p.datanodes[0].id);
        return;
      }
      p.sent += n;
      ++p.seqno;
      if (is_last) return;
    }
  }

  // Sends the rest of the block and reads the pipeline's ack: ok when at least one datanode
  // stored the whole block (the namenode re-replicates the rest).
  Status FinishPipeline(Pipeline& p) {
    SendPackets(p, /*last=*/true);
    if (!p.broken.ok()) return p.broken;
    const std::string& first = p.datanodes[0].id;
    auto reply = p.conn->Receive();
    p.conn->Close();
    if (!reply.ok()) {
      p.Break(reply.status(), first);
      return p.broken;
    }
    Status error;
    std::string failed;
    std::vector<std::string> stored;
    uint64_t length = 0;
    bool has_ack = false;
    auto parsed = CapnpReader::Parse(reply->header);
    if (!parsed.ok()) {
      p.Break(parsed.status().WithContext("ack from " + p.datanodes[0].address), first);
      return p.broken;
    }
    Status read = CatchCapnp("datanode ack", [&] {
      auto r = (*parsed)->Root<proto::DatanodeResponse>();
      error = ToStatus(r.getError());
      if (r.isAck()) {
        has_ack = true;
        failed = r.getAck().getFailed().cStr();
        length = r.getAck().getLength();
        for (auto id : r.getAck().getStored()) stored.push_back(id.cStr());
      }
      return Status::Ok();
    });
    if (!read.ok()) {
      p.Break(read, first);
      return p.broken;
    }
    const std::string blame = failed.empty() ? first : failed;
    if (!error.ok()) {
      p.Break(error, blame);
    } else if (!has_ack) {
      p.Break(Internal("datanode " + p.datanodes[0].address + " answered a write without an ack"), first);
    } else if (stored.empty()) {
      p.Break(IOError("no datanode stored the block" + (failed.empty() ? "" : " (" + failed + " failed)")), blame);
    } else if (length != len_) {
      p.Break(IOError("the pipeline stored " + std::to_string(length) + " bytes of " + std::to_string(len_)),
              first);
    } else if (!failed.empty()) {
      // Accepted; the datanode that failed downstream is left out of this file's next blocks.
      exclude_.insert(failed);
      LOG(WARNING) << path_ << ": " << p.Describe() << ": " << failed << " failed; stored on " << stored.size()
                   << " datanode(s), the namenode re-replicates the rest";
    }
    return p.broken;
  }

  Status AbandonBlock(uint64_t id) {
    capnp::MallocMessageBuilder m;
    auto a = m.initRoot<proto::NamenodeRequest>().initAbandonBlock();
    a.setPath(path_);
    a.setClient(client_->client_name());
    a.setBlockId(id);
    return client_->CallNamenode(m).status();
  }

  // Finishes a short-circuit block: ok once the datanode acknowledged it.
  Status FinishLocal(Pipeline& p) {
    Status s = p.local->Finalize(*p.conn);
    // Whether the datanode or this side failed, the datanode may be fine for a pipeline.
    if (!s.ok()) p.Break(s, "");
    return p.broken;
  }

  // Ends the current block: its ack, or new pipelines until one takes it. A failed
  // short-circuit block is rewritten from its file (recovered_), through pipelines only.
  Status FinishBlock() {
    const uint64_t block_offset = size_ - len_;
    std::string history;
    Status s = pipe_->local ? FinishLocal(*pipe_) : FinishPipeline(*pipe_);
    for (int attempt = 1; !s.ok(); ++attempt) {
      if (!failed_.ok()) {
        Status abandoned = AbandonBlock(pipe_->block.id);
        (void)abandoned;  // the file is discarded anyway
        pipe_.reset();
        return failed_;
      }
      history += (history.empty() ? "" : "; ") + pipe_->Describe() + ": " + s.ToString();
      if (!pipe_->failed_id.empty()) exclude_.insert(pipe_->failed_id);
      if (pipe_->local) {
        LOG(WARNING) << path_ << ": " << s.ToString() << "; rewriting the block through a pipeline";
        recovered_ = std::move(pipe_->local);
        no_short_circuit_ = true;
      }
      Status abandoned = AbandonBlock(pipe_->block.id);
      pipe_.reset();
      if (!abandoned.ok()) return Fail(abandoned.WithContext(path_ + ": abandoning a failed block"));
      if (attempt > client_->options().write_retries) {
        return Fail(Status(StatusCode::kIOError, path_ + ": writing the block at offset " +
                                                     std::to_string(block_offset) + " failed " +
                                                     std::to_string(attempt) + " times: " + history));
      }
      auto p = StartPipeline();
      if (!p.ok()) {
        return Fail(p.status().WithContext(path_ + ": after " + std::to_string(attempt) +
                                           " failed pipeline(s) (" + history + ")"));
      }
      pipe_ = std::move(p).value();
      s = FinishPipeline(*pipe_);
    }
    lengths_.push_back(len_);
    len_ = 0;
    pipe_.reset();
    recovered_.reset();
    return Status::Ok();
  }

  Status Complete() {
    capnp::MallocMessageBuilder m;
    auto c = m.initRoot<proto::NamenodeRequest>().initComplete();
    c.setPath(path_);
    c.setClient(client_->client_name());
    auto l = c.initBlockLengths(lengths_.size());
    for (size_t i = 0; i < lengths_.size(); ++i) l.set(i, lengths_[i]);
    return client_->CallNamenode(m).status();
  }

  DfsClient* const client_;
  const std::string path_;
  const uint64_t block_size_;
  // The current block's bytes: len_ of them, kept until acknowledged, in buf_, or (src_fd_ >= 0)
  // in the local file before offset src_end_, or in a short-circuit block file (pipe_->local,
  // then recovered_).
  std::unique_ptr<char[]> buf_;
  uint64_t len_ = 0;
  int src_fd_ = -1;
  uint64_t src_end_ = 0;
  std::unique_ptr<Pipeline> pipe_;
  // A failed short-circuit block's file, kept open while pipelines resend its data.
  std::unique_ptr<LocalBlockWrite> recovered_;
  bool no_short_circuit_ = false;
  std::vector<uint64_t> lengths_;  // of the acknowledged blocks
  std::set<std::string> exclude_;  // datanodes that failed a pipeline of this file
  uint64_t size_ = 0;
  Status failed_;
  bool closed_ = false;
  Status close_status_;
};

}  // namespace

std::unique_ptr<DfsOutputFile> NewDfsWriter(DfsClient* client, std::string path, uint64_t block_size) {
  return std::make_unique<DfsWriter>(client, std::move(path), block_size);
}

}  // namespace sawmill::dfs
