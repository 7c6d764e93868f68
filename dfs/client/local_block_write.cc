// LocalBlockWrite: the localWrite grant, writing the granted block file, finalizeLocal.
#include "dfs/client/local_block_write.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "dfs/machine.h"
#include "dfs/proto_convert.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs {
namespace {

// Receives one DatanodeResponse and hands its reader to `read`; the response's error first, and
// then *refused (when given) is true: the datanode answered in step, with an error.
Status ReceiveResponse(Connection& conn, const std::function<Status(proto::DatanodeResponse::Reader)>& read,
                       bool* refused = nullptr) {
  ASSIGN_OR_RETURN(Message reply, conn.Receive());
  ASSIGN_OR_RETURN(auto parsed, CapnpReader::Parse(reply.header));
  return CatchCapnp("datanode response", [&] {
    auto r = parsed->Root<proto::DatanodeResponse>();
    if (Status error = ToStatus(r.getError()); !error.ok()) {
      if (refused) *refused = true;
      return error;
    }
    return read(r);
  });
}

}  // namespace

Result<std::unique_ptr<LocalBlockWrite>> LocalBlockWrite::Start(Connection& conn, const BlockInfo& block,
                                                               const std::string& client, bool* conn_usable) {
  *conn_usable = false;
  {
    capnp::MallocMessageBuilder m;
    auto w = m.initRoot<proto::DatanodeRequest>().initLocalWrite();
    SetBlock(BlockInfo{block.id, block.generation, 0}, w.initBlock());
    w.setClient(client);
    w.setMachine(LocalMachineId());
    RETURN_IF_ERROR(conn.Send(CapnpToString(m)));
  }
  std::string path;
  bool sync = true;
  uint32_t chunk_size = 0;
  bool refused = false;
  auto read_grant = [&](proto::DatanodeResponse::Reader r) {
    if (!r.isGrant()) return Internal("localWrite answered without a grant");
    auto grant = r.getGrant();
    path = grant.getPath().cStr();
    sync = grant.getSync();
    chunk_size = grant.getChunkSize();
    if (grant.getDataOffset() != kBlockFileHeaderBytes) {
      return Internal("localWrite grant with data offset " + std::to_string(grant.getDataOffset()));
    }
    return Status::Ok();
  };
  Status s = ReceiveResponse(conn, read_grant, &refused);
  if (!s.ok()) {
    // An error answer leaves the datanode waiting for the next request; anything else does not.
    *conn_usable = refused;
    return s.WithContext("block " + std::to_string(block.id) + ": localWrite");
  }
  std::unique_ptr<LocalBlockWrite> w(new LocalBlockWrite(block, path, sync));
  auto writer = BlockFileWriter::Create(path, block.id, block.generation, chunk_size);
  if (!writer.ok()) return writer.status().WithContext(w->What());
  w->writer_ = std::move(writer).value();
  w->data_fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (w->data_fd_ < 0) return ErrnoError("cannot open", path, errno).WithContext(w->What());
  return w;
}

LocalBlockWrite::~LocalBlockWrite() {
  writer_.reset();  // closes the file
  if (data_fd_ >= 0) ::close(data_fd_);
  if (!finalized_ && ::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    LOG(WARNING) << "cannot remove " << What() << ": " << ErrnoError("unlink", path_, errno).ToString();
  }
}

std::string LocalBlockWrite::What() const {
  return "short-circuit write of block " + std::to_string(block_.id) + " to " + path_;
}

Status LocalBlockWrite::Append(std::string_view data) {
  Status s = writer_->Append(data);
  return s.ok() ? s : s.WithContext(What());
}

Status LocalBlockWrite::Finalize(Connection& conn) {
  RETURN_IF_ERROR(writer_->Finish(sync_).WithContext(What()));
  const uint64_t length = writer_->length();
  capnp::MallocMessageBuilder m;
  SetBlock(BlockInfo{block_.id, block_.generation, length},
           m.initRoot<proto::DatanodeRequest>().initFinalizeLocal());
  RETURN_IF_ERROR(conn.Send(CapnpToString(m)).WithContext(What()));
  Status s = ReceiveResponse(conn, [&](proto::DatanodeResponse::Reader r) {
    if (!r.isAck()) return Internal("finalizeLocal answered without an ack");
    if (r.getAck().getStored().size() == 0) return IOError("the datanode stored nothing");
    if (r.getAck().getLength() != length) {
      return IOError("the datanode stored " + std::to_string(r.getAck().getLength()) + " bytes of " +
                     std::to_string(length));
    }
    return Status::Ok();
  });
  RETURN_IF_ERROR(s.WithContext(What()));
  finalized_ = true;
  return Status::Ok();
}

}  // namespace sawmill::dfs
