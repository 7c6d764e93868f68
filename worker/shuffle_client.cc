// The shuffle fetch client: request, checked announcement, packets streamed into a SegmentWriter.
#include "worker/shuffle_client.h"

#include <memory>
#include <vector>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/file.h"
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

// Everything but the final rename: the segment written and validated at *dest + ".tmp", where
// *dest is what `place` chose ("" while nothing was written).
Status FetchInto(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition,
                 const SegmentPlacement& place, std::string* dest, FetchStats* stats) {
  {
    capnp::MallocMessageBuilder message;
    auto req = message.initRoot<proto::FetchRequest>();
    req.setJobId(job_id);
    req.setAttemptId(attempt_id);
    req.setPartition(partition);
    RETURN_IF_ERROR(conn.Send(CapnpToString(message)));
  }
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
    RETURN_IF_ERROR(writer->Append(m.body));
  }
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

}  // namespace

Status FetchSegment(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition,
                    const SegmentPlacement& place, FetchStats* stats) {
  std::string dest;
  Status s = FetchInto(conn, job_id, attempt_id, partition, place, &dest, stats);
  if (s.ok()) s = Rename(dest + ".tmp", dest);
  if (s.ok() && stats) stats->path = dest;
  if (!s.ok()) {
    if (!dest.empty()) (void)RemoveAll(dest + ".tmp");  // best effort; the fetch error is what matters
    return s.WithContext("fetching partition " + std::to_string(partition) + " of map attempt " + attempt_id +
                         " (job " + job_id + ") from " + conn.peer());
  }
  return Status::Ok();
}

Status FetchSegment(Connection& conn, const std::string& job_id, const std::string& attempt_id, int32_t partition,
                    const std::string& dest_path, FetchStats* stats) {
  return FetchSegment(conn, job_id, attempt_id, partition, [&](uint64_t) { return dest_path; }, stats);
}

Status FetchSegment(Transport& transport, const std::string& address, const std::string& job_id,
                    const std::string& attempt_id, int32_t partition, const std::string& dest_path,
                    FetchStats* stats) {
  auto conn = transport.Connect(address);
  if (!conn.ok()) {
    return conn.status().WithContext("fetching partition " + std::to_string(partition) + " of map attempt " +
                                     attempt_id + " (job " + job_id + ") from " + address);
  }
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
  if (!conn.ok()) {
    return conn.status().WithContext("fetching partition " + std::to_string(partition) + " of map attempt " +
                                     attempt_id + " (job " + job_id + ") from " + address);
  }
  Status s = FetchSegment(**conn, job_id, attempt_id, partition, place, stats);
  if (!s.ok()) {
    (*conn)->Close();  // after an error the conversation may be out of step
    return s;
  }
  if (kept_.size() >= max_kept_) {
    kept_.front().second->Close();
    kept_.erase(kept_.begin());
  }
  kept_.emplace_back(address, std::move(conn).value());
  return Status::Ok();
}

void ShuffleConnections::Clear() {
  for (auto& [address, conn] : kept_) conn->Close();
  kept_.clear();
}

}  // namespace sawmill::worker
