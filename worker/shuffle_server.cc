// The shuffle server: fetch requests answered from map.out files with SendFile packets.
#include "worker/shuffle_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "records/record_file.h"
#include "worker/shuffle.capnp.h"
#include "worker/shuffle_protocol.h"

namespace sawmill::worker {
namespace {

Status SendError(Connection& conn, const Status& error) {
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<proto::FetchResponse>();
  SetError(error, r.initError());
  r.setNone();
  return conn.Send(CapnpToString(message));
}

// Closes the descriptor on every path out of a fetch.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

ShuffleServer::ShuffleServer(MapOutputLocator locator, ShuffleServerOptions options)
    : locator_(std::move(locator)), options_(options) {
  options_.packet_bytes = std::clamp<uint64_t>(options_.packet_bytes, 1, kMaxShufflePacket);
}

Handler ShuffleServer::handler() {
  return [this](Connection& conn) { Serve(conn); };
}

void ShuffleServer::Serve(Connection& conn) {
  Message m;
  while (conn.ReceiveInto(&m).ok()) {
    std::string job_id, attempt_id;
    int32_t partition = 0;
    Status parsed = [&]() -> Status {
      ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(m.header));
      return CatchCapnp("shuffle request", [&] {
        auto r = reader->Root<proto::FetchRequest>();
        job_id = r.getJobId();
        attempt_id = r.getAttemptId();
        partition = r.getPartition();
        return Status::Ok();
      });
    }();
    if (!parsed.ok()) {
      // The peer does not speak this protocol: answer once and end the conversation.
      (void)SendError(conn, parsed.WithContext("shuffle server"));
      break;
    }
    if (!ServeFetch(conn, job_id, attempt_id, partition)) break;
  }
}

bool ShuffleServer::ServeFetch(Connection& conn, const std::string& job_id, const std::string& attempt_id,
                               int32_t partition) {
  const std::string what =
      "shuffle: job " + job_id + " attempt " + attempt_id + " partition " + std::to_string(partition);
  if (partition < 0) return SendError(conn, InvalidArgument(what + ": negative partition")).ok();
  Result<std::string> path = locator_(job_id, attempt_id);
  if (!path.ok()) {
    Status s = path.status().code() == StatusCode::kNotFound
                   ? NotFound(what + ": no map output for this attempt here (" + path.status().message() + ")")
                   : path.status().WithContext(what);
    return SendError(conn, s).ok();
  }
  // The descriptor first, then the index through the path: both see the same (immutable) file,
  // which the size comparison below confirms.
  Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return SendError(conn, ErrnoError("open", *path, errno).WithContext(what)).ok();
  auto reader = RecordFileReader::Open(*path);
  if (!reader.ok()) return SendError(conn, reader.status().WithContext(what)).ok();
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) != (*reader)->info().file_size) {
    return SendError(conn, IOError(what + ": " + *path + " changed while being opened")).ok();
  }
  const PartitionExtent extent = (*reader)->Extent(partition);
  reader->reset();  // only the descriptor is needed from here
  {
    capnp::MallocMessageBuilder message;
    SetSegment(extent, *path, message.initRoot<proto::FetchResponse>().initSegment());
    if (!conn.Send(CapnpToString(message)).ok()) return false;
  }
  uint64_t pos = 0;
  for (uint64_t seqno = 0; pos < extent.length; ++seqno) {
    const uint64_t n = std::min(options_.packet_bytes, extent.length - pos);
    capnp::MallocMessageBuilder message;
    auto p = message.initRoot<proto::FetchResponse>().initPacket();
    p.setSeqno(seqno);
    p.setLast(pos + n == extent.length);
    Status s = conn.SendFile(CapnpToString(message), fd.get(), extent.offset + pos, n);
    if (!s.ok()) {
      // The frame could not be completed, so the connection is closed: the peer sees the fetch
      // fail and must not use a partial segment.
      LOG(WARNING) << what << ": sending " << n << " bytes at offset " << extent.offset + pos << " of " << *path
                   << " to " << conn.peer() << ": " << s.ToString();
      return false;
    }
    pos += n;
  }
  return true;
}

}  // namespace sawmill::worker
