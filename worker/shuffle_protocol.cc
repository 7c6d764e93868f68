// Encoding and checked decoding of worker/shuffle.capnp messages.
#include "worker/shuffle_protocol.h"

#include <capnp/message.h>

#include "common/capnp_util.h"

namespace sawmill::worker {

void SetError(const Status& status, proto::Error::Builder out) {
  SetErrorFromStatus(status, out);
}

Status ToStatus(proto::Error::Reader error) {
  return StatusFromError(error);
}

void SetSegment(const PartitionExtent& extent, const std::string& path, proto::Segment::Builder out) {
  auto list = out.initBlocks(static_cast<unsigned>(extent.blocks.size()));
  for (size_t i = 0; i < extent.blocks.size(); ++i) {
    const BlockHandle& h = extent.blocks[i];
    auto e = list[static_cast<unsigned>(i)];
    e.setOffset(h.offset);
    e.setStoredSize(h.stored_size);
    e.setRecordCount(h.record_count);
    e.setPartition(h.partition);
    e.setFirstKey(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(h.first_key.data()), h.first_key.size()));
  }
  out.setSorted(extent.sorted);
  out.setRecords(extent.records);
  out.setTotalBytes(extent.length);
  out.setPath(path);
}

Status ParseFetchResponse(std::string_view header, FetchReply* out) {
  *out = FetchReply();
  ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(header));
  return CatchCapnp("shuffle response", [&]() -> Status {
    auto r = reader->Root<proto::FetchResponse>();
    if (r.hasError()) RETURN_IF_ERROR(ToStatus(r.getError()));
    switch (r.which()) {
      case proto::FetchResponse::SEGMENT: {
        auto s = r.getSegment();
        auto list = s.getBlocks();
        out->kind = FetchReply::Kind::kSegment;
        out->blocks.reserve(list.size());
        for (auto e : list) {
          BlockHandle h;
          h.offset = e.getOffset();
          h.stored_size = e.getStoredSize();
          h.record_count = e.getRecordCount();
          h.partition = e.getPartition();
          auto key = e.getFirstKey();
          h.first_key.assign(reinterpret_cast<const char*>(key.begin()), key.size());
          out->blocks.push_back(std::move(h));
        }
        out->sorted = s.getSorted();
        out->records = s.getRecords();
        out->total_bytes = s.getTotalBytes();
        out->path = s.getPath();
        return Status::Ok();
      }
      case proto::FetchResponse::PACKET:
        out->kind = FetchReply::Kind::kPacket;
        out->seqno = r.getPacket().getSeqno();
        out->last = r.getPacket().getLast();
        return Status::Ok();
      default:
        out->kind = FetchReply::Kind::kNone;  // none, or a tag from a newer schema
        return Status::Ok();
    }
  });
}

Status CheckSegment(const FetchReply& reply, int32_t partition) {
  if (reply.kind != FetchReply::Kind::kSegment) return Corruption("expected a segment announcement");
  const uint64_t base = reply.blocks.empty() ? 0 : reply.blocks.front().offset;
  uint64_t expect = base, records = 0;
  for (size_t i = 0; i < reply.blocks.size(); ++i) {
    const BlockHandle& h = reply.blocks[i];
    if (h.partition != partition) {
      return Corruption("segment block " + std::to_string(i) + " belongs to partition " + std::to_string(h.partition));
    }
    if (h.record_count == 0) return Corruption("segment block " + std::to_string(i) + " has no records");
    if (h.offset != expect) {
      return Corruption("segment block " + std::to_string(i) + " at offset " + std::to_string(h.offset) +
                        ", expected " + std::to_string(expect) + " (blocks not contiguous)");
    }
    // No overflow: at most ~2^29 entries (header size limit) of at most 2^32 + 24 bytes each.
    expect += kBlockHeaderSize + h.stored_size;
    records += h.record_count;
  }
  if (expect - base != reply.total_bytes) {
    return Corruption("segment blocks hold " + std::to_string(expect - base) + " bytes, announced " +
                      std::to_string(reply.total_bytes));
  }
  if (records != reply.records) {
    return Corruption("segment blocks hold " + std::to_string(records) + " records, announced " +
                      std::to_string(reply.records));
  }
  return Status::Ok();
}

}  // namespace sawmill::worker
