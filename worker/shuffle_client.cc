// The shuffle fetch client: request, checked announcement, packets verified block by block as they
// arrive and streamed into a SegmentWriter.
#include "worker/shuffle_client.h"

#include <memory>
#include <vector>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "records/block_verifier.h"
#include "records/record_file.h"
#include "worker/shuffle.capnp.h"
#include "worker/shuffle_protocol.h"

namespace sawmill::worker {
namespace {

// About the size of the segment file that `reply` announces: its blocks, index and footer.
uint64_t SegmentFileBytes(const FetchReply& reply) {
  uint64_t bytes = reply.total_bytes + 64;
  for (const BlockHandle& h : reply.blocks) bytes += 32 + h.first_key.size();
  return bytes;
}

Status SendRequest(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition) {
  capnp::MallocMessageBuilder message;
  auto req = message.initRoot<proto::FetchRequest>();
  req.setJobId(job_id);
  req.setAttemptId(attempt_id);
  req.setPartition(partition);
  return conn.Send(CapnpToString(message));
}

// The answer to a sent request, but for the final rename: the segment written and validated at
// *dest + ".tmp", where *dest is what `place` chose ("" while nothing was written).
Status ReceiveInto(Connection& conn, int32_t partition, const SegmentPlacement& place, std::string* dest,
                   FetchStats* stats) {
  Message m;
  RETURN_IF_ERROR(conn.ReceiveInto(&m));
  FetchReply reply;
  RETURN_IF_ERROR(ParseFetchResponse(m.header, &reply));
  if (reply.kind != FetchReply::Kind::kSegment) return Corruption("answered without a segment announcement");
  if (!m.body.empty()) return Corruption("segment announcement carries a body");
  RETURN_IF_ERROR(CheckSegment(reply, partition));
  const uint64_t total = reply.total_bytes;
  const uint64_t records = reply.records;
  *dest = place(SegmentFileBytes(reply));
  const std::string tmp = *dest + ".tmp";
  // Errors about a block name the server's file and the block's offset there.
  BlockStreamVerifier verifier(reply.path.empty() ? "the map output" : reply.path, reply.blocks);
  ASSIGN_OR_RETURN(auto writer, SegmentWriter::Create(tmp, partition, std::move(reply.blocks), reply.sorted));
  uint64_t got = 0;
  for (uint64_t seqno = 0; got < total; ++seqno) {
    RETURN_IF_ERROR(conn.ReceiveInto(&m));
    RETURN_IF_ERROR(ParseFetchResponse(m.header, &reply));
    if (reply.kind != FetchReply::Kind::kPacket) return Corruption("a packet expected");
    if (reply.seqno != seqno) {
      return Corruption("packet " + std::to_string(reply.seqno) + " where " + std::to_string(seqno) + " was expected");
    }
    if (m.body.size() > total - got) {
      return Corruption("sent more than the announced " + std::to_string(total) + " bytes");
    }
    if (m.body.empty()) return Corruption("empty packet " + std::to_string(seqno));
    got += m.body.size();
    if (reply.last != (got == total)) {
      return Corruption("packet " + std::to_string(seqno) + (reply.last ? " marked last" : " not marked last") +
                        " after " + std::to_string(got) + " of " + std::to_string(total) + " bytes");
    }
    RETURN_IF_ERROR(verifier.Update(m.body));
    RETURN_IF_ERROR(writer->Append(m.body));
  }
  RETURN_IF_ERROR(verifier.Finish());
  RETURN_IF_ERROR(writer->Finish());
  writer.reset();
  // The index and footer just written must read back as this partition's blocks.
  ASSIGN_OR_RETURN(auto check, RecordFileReader::Open(tmp));
  auto [first, end] = check->PartitionBlocks(partition);
  if (first != 0 || end != check->blocks().size() || check->info().record_count != records) {
    return Internal(tmp + ": written segment does not read back as partition " + std::to_string(partition));
  }
  if (stats) {
    stats->bytes = total;
    stats->records = records;
  }
  return Status::Ok();
}

// The answer to a sent request, renamed into place; errors say what was fetched from where.
Status ReceiveSegment(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition,
                      const SegmentPlacement& place, FetchStats* stats) {
  std::string dest;
  Status s = ReceiveInto(conn, partition, place, &dest, stats);
  if (s.ok()) s = Rename(dest + ".tmp", dest);
  if (s.ok() && stats) stats->path = dest;
  if (!s.ok()) {
    if (!dest.empty()) (void)RemoveAll(dest + ".tmp");  // best effort; the fetch error is what matters
    return s.WithContext("fetching partition " + std::to_string(partition) + " of map attempt " + attempt_id +
                         " (job " + job_id + ") from " + conn.peer());
  }
  return Status::Ok();
}

Status Unreachable(const Status& connect, const std::string& address, const std::string& job_id,
                   const std::string& attempt_id, int32_t partition) {
  return connect.WithContext("fetching partition " + std::to_string(partition) + " of map attempt " + attempt_id +
                             " (job " + job_id + ") from " + address);
}

}  // namespace

Status FetchSegment(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition,
                    const SegmentPlacement& place, FetchStats* stats) {
  Status sent = SendRequest(conn, job_id, attempt_id, partition);
  if (!sent.ok()) {
    return sent.WithContext("fetching partition " + std::to_string(partition) + " of map attempt " + attempt_id +
                            " (job " + job_id + ") from " + conn.peer());
  }
  return ReceiveSegment(conn, job_id, attempt_id, partition, place, stats);
}

Status FetchSegment(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition,
                    const std::string& dest_path, FetchStats* stats) {
  return FetchSegment(conn, job_id, attempt_id, partition, [&](uint64_t) { return dest_path; }, stats);
}

Status FetchSegment(Transport& transport, const std::string& address, const std::string& job_id,
                    const std::string& attempt_id, int32_t partition, const std::string& dest_path,
                    FetchStats* stats) {
  auto conn = transport.Connect(address);
  if (!conn.ok()) return Unreachable(conn.status(), address, job_id, attempt_id, partition);
  Status s = FetchSegment(**conn, job_id, attempt_id, partition, dest_path, stats);
  (*conn)->Close();
  return s;
}

Status ShuffleConnections::Fetch(const std::string& address, const std::string& job_id,
                                 const std::string& attempt_id, int32_t partition, const std::string& dest_path,
                                 FetchStats* stats) {
  return Fetch(address, job_id, attempt_id, partition, [&](uint64_t) { return dest_path; }, stats);
}

Status ShuffleConnections::Fetch(const std::string& address, const std::string& job_id,
                                 const std::string& attempt_id, int32_t partition, const SegmentPlacement& place,
                                 FetchStats* stats) {
  for (auto it = kept_.begin(); it != kept_.end(); ++it) {
    if (it->first != address) continue;
    std::unique_ptr<Connection> conn = std::move(it->second);
    kept_.erase(it);
    if (FetchSegment(*conn, job_id, attempt_id, partition, place, stats).ok()) {
      kept_.emplace_back(address, std::move(conn));
      return Status::Ok();
    }
    conn->Close();  // a new connection decides
    break;
  }
  auto conn = transport_->Connect(address);
  if (!conn.ok()) return Unreachable(conn.status(), address, job_id, attempt_id, partition);
  Status s = FetchSegment(**conn, job_id, attempt_id, partition, place, stats);
  if (!s.ok()) {
    (*conn)->Close();  // after an error the conversation may be out of step
    return s;
  }
  Keep(address, std::move(conn).value());
  return Status::Ok();
}

void ShuffleConnections::Clear() {
  for (auto& [address, conn] : kept_) conn->Close();
  kept_.clear();
}

// Sends requests [from, end) over `conn`, then receives their answers in order; returns the
// index of the first that failed (its status set) or requests.size().
static size_t Pipeline(Connection& conn, std::vector<SegmentRequest>& reqs, size_t from) {
  for (size_t i = from; i < reqs.size(); ++i) {
    const SegmentRequest& r = reqs[i];
    Status sent = SendRequest(conn, r.job_id, r.attempt_id, r.partition);
    if (!sent.ok()) {
      reqs[from].status = Unreachable(sent, conn.peer(), reqs[from].job_id, reqs[from].attempt_id, reqs[from].partition);
      return from;
    }
  }
  for (size_t i = from; i < reqs.size(); ++i) {
    SegmentRequest& r = reqs[i];
    r.status = ReceiveSegment(conn, r.job_id, r.attempt_id, r.partition, r.place, &r.stats);
    if (!r.status.ok()) return i;
  }
  return reqs.size();
}

void ShuffleConnections::FetchAll(const std::string& address, std::vector<SegmentRequest>* requests) {
  std::vector<SegmentRequest>& reqs = *requests;
  std::unique_ptr<Connection> conn;
  for (auto it = kept_.begin(); it != kept_.end(); ++it) {
    if (it->first != address) continue;
    conn = std::move(it->second);
    kept_.erase(it);
    break;
  }
  size_t done = 0;
  if (conn) {
    done = Pipeline(*conn, reqs, 0);
    if (done == reqs.size()) {
      Keep(address, std::move(conn));
      return;
    }
    conn->Close();  // the server may have closed it, or the conversation be out of step
  }
  // A new connection decides from the first request that failed (or the first).
  auto fresh = transport_->Connect(address);
  if (!fresh.ok()) {
    for (size_t i = done; i < reqs.size(); ++i) {
      reqs[i].status = Unreachable(fresh.status(), address, reqs[i].job_id, reqs[i].attempt_id, reqs[i].partition);
    }
    return;
  }
  conn = std::move(fresh).value();
  done = Pipeline(*conn, reqs, done);
  if (done == reqs.size()) {
    Keep(address, std::move(conn));
    return;
  }
  conn->Close();
  // That failure stands; the requests after it are fetched one by one.
  for (size_t i = done + 1; i < reqs.size(); ++i) {
    SegmentRequest& r = reqs[i];
    r.status = Fetch(address, r.job_id, r.attempt_id, r.partition, r.place, &r.stats);
  }
}

void ShuffleConnections::Keep(const std::string& address, std::unique_ptr<Connection> conn) {
  if (kept_.size() >= max_kept_) {
    kept_.front().second->Close();
    kept_.erase(kept_.begin());
  }
  kept_.emplace_back(address, std::move(conn));
}

}  // namespace sawmill::worker
