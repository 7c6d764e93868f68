// Fuzz target: bytes arriving on a daemon's port. Frames are decoded (in pieces whose size the
// input's first byte chooses) and every header is read, the way the daemons read it
// (CapnpReader + CatchCapnp), as each root type a daemon or client reads: the dfs protocol's
// requests and responses and the namenode's journal records and image. Garbage must end in an
// error, never a crash or an unbounded allocation.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "common/capnp_util.h"
#include "common/frame.h"
#include "common/rpc.h"
#include "dfs/namenode/namespace.capnp.h"
#include "dfs/proto_convert.h"
#include "dfs/protocol.capnp.h"

namespace {

namespace proto = sawmill::dfs::proto;
using sawmill::Status;

// Reads touch the fields a service would use; the results only need to be consumed.
volatile uint64_t g_sink;

void Use(uint64_t v) { g_sink = g_sink + v; }
void Use(capnp::Text::Reader t) { Use(t.size() ? static_cast<unsigned char>(t[0]) + t.size() : 0); }

void Walk(proto::Error::Reader e) { Use(static_cast<uint64_t>(sawmill::dfs::ToStatus(e).code())); }

void Walk(proto::Block::Reader b) {
  Use(b.getId());
  Use(b.getGeneration());
  Use(b.getLength());
}

void Walk(proto::DatanodeInfo::Reader d) {
  Use(d.getId());
  Use(d.getHost());
  Use(d.getAddress());
  Use(d.getMachine());
  Use(d.getCapacityBytes() + d.getUsedBytes() + d.getBlocks());
}

void Walk(proto::LocatedBlock::Reader lb) {
  Walk(lb.getBlock());
  for (auto d : lb.getDatanodes()) Walk(d);
}

void Walk(proto::FileStatus::Reader f) {
  Use(f.getPath());
  Use(f.getSize() + f.getBlockSize() + f.getReplication() + f.getIsDir());
}

void Walk(proto::Packet::Reader p) {
  Use(p.getSeqno() + p.getLast());
  if (p.hasError()) Walk(p.getError());
}

void Walk(proto::FsckEntry::Reader e) {
  Use(e.getBlockId());
  Use(e.getPath());
  Use(e.getDatanode());
}

void WalkNamenodeRequest(proto::NamenodeRequest::Reader r) {
  using W = proto::NamenodeRequest::Which;
  switch (r.which()) {
    case W::MKDIRS: Use(r.getMkdirs()); break;
    case W::CREATE: Use(r.getCreate().getPath()); Use(r.getCreate().getClient()); Use(r.getCreate().getBlockSize()); break;
    case W::ADD_BLOCK:
      Use(r.getAddBlock().getPath());
      for (auto id : r.getAddBlock().getExcludeDatanodes()) Use(id);
      break;
    case W::ABANDON_BLOCK: Use(r.getAbandonBlock().getBlockId()); break;
    case W::COMPLETE:
      Use(r.getComplete().getPath());
      for (uint64_t len : r.getComplete().getBlockLengths()) Use(len);
      break;
    case W::RENEW_LEASE: Use(r.getRenewLease()); break;
    case W::RENAME: Use(r.getRename().getSrc()); Use(r.getRename().getDst()); break;
    case W::DELETE: Use(r.getDelete().getPath()); Use(r.getDelete().getRecursive()); break;
    case W::STAT: Use(r.getStat()); break;
    case W::LIST: Use(r.getList()); break;
    case W::GET_BLOCK_LOCATIONS: Use(r.getGetBlockLocations()); break;
    case W::REPORT_BAD_REPLICA: Use(r.getReportBadReplica().getDatanode()); break;
    case W::SET_REPLICATION: Use(r.getSetReplication().getReplication()); break;
    case W::REGISTER:
      Walk(r.getRegister().getDatanode());
      for (auto b : r.getRegister().getBlocks()) Walk(b);
      break;
    case W::HEARTBEAT: Use(r.getHeartbeat().getId()); Use(r.getHeartbeat().getUsedBytes()); break;
    case W::BLOCK_REPORT:
      Use(r.getBlockReport().getId());
      for (auto b : r.getBlockReport().getBlocks()) Walk(b);
      break;
    case W::BLOCK_RECEIVED: Walk(r.getBlockReceived().getBlock()); break;
    case W::BLOCK_DELETED: Walk(r.getBlockDeleted().getBlock()); break;
    case W::REPORT_CORRUPT: Use(r.getReportCorrupt().getId()); Walk(r.getReportCorrupt().getBlock()); break;
    default: break;  // fsck, datanodes, or a tag from a newer schema
  }
}

void WalkNamenodeResponse(proto::NamenodeResponse::Reader r) {
  using W = proto::NamenodeResponse::Which;
  Walk(r.getError());
  switch (r.which()) {
    case W::LOCATED_BLOCK: Walk(r.getLocatedBlock()); break;
    case W::LOCATIONS:
      Walk(r.getLocations().getFile());
      for (auto lb : r.getLocations().getBlocks()) Walk(lb);
      break;
    case W::FILE_STATUS: Walk(r.getFileStatus()); break;
    case W::LISTING:
      for (auto f : r.getListing()) Walk(f);
      break;
    case W::FSCK:
      Use(r.getFsck().getTotalBlocks());
      for (auto e : r.getFsck().getUnderReplicated()) Walk(e);
      for (auto e : r.getFsck().getMissing()) Walk(e);
      for (auto e : r.getFsck().getCorrupt()) Walk(e);
      break;
    case W::DATANODES:
      for (auto d : r.getDatanodes()) Walk(d);
      break;
    case W::COMMANDS:
      for (auto c : r.getCommands()) {
        if (c.isCopy()) {
          Walk(c.getCopy().getBlock());
          Walk(c.getCopy().getTarget());
        } else if (c.isDelete()) {
          Walk(c.getDelete());
        }
      }
      break;
    case W::REGISTERED: Use(r.getRegistered().getHeartbeatIntervalMs()); break;
    default: break;
  }
}

void WalkDatanodeRequest(proto::DatanodeRequest::Reader r) {
  using W = proto::DatanodeRequest::Which;
  switch (r.which()) {
    case W::WRITE_BLOCK:
      Walk(r.getWriteBlock().getBlock());
      for (auto d : r.getWriteBlock().getDownstream()) Walk(d);
      Use(r.getWriteBlock().getClient());
      break;
    case W::PACKET: Walk(r.getPacket()); break;
    case W::READ_BLOCK: Use(r.getReadBlock().getBlockId() + r.getReadBlock().getOffset() + r.getReadBlock().getLength()); break;
    case W::LOCAL_BLOCK: Use(r.getLocalBlock()); break;
    case W::LOCAL_WRITE:
      Walk(r.getLocalWrite().getBlock());
      Use(r.getLocalWrite().getClient());
      Use(r.getLocalWrite().getMachine());
      break;
    case W::FINALIZE_LOCAL: Walk(r.getFinalizeLocal()); break;
    default: break;
  }
}

void WalkDatanodeResponse(proto::DatanodeResponse::Reader r) {
  using W = proto::DatanodeResponse::Which;
  Walk(r.getError());
  switch (r.which()) {
    case W::ACK:
      for (auto id : r.getAck().getStored()) Use(id);
      Use(r.getAck().getFailed());
      break;
    case W::READ_START: Walk(r.getReadStart()); break;
    case W::PACKET: Walk(r.getPacket()); break;
    case W::GRANT: Use(r.getGrant().getPath()); Use(r.getGrant().getDataOffset() + r.getGrant().getSync()); break;
    default: break;
  }
}

void DecodeHeader(const std::string& header) {
  auto reader = sawmill::CapnpReader::Parse(header);
  if (!reader.ok()) return;  // the daemons reject it the same way
  auto& r = **reader;
  // Each read separately, so one schema throwing does not hide the others.
  (void)sawmill::CatchCapnp("request", [&] { WalkNamenodeRequest(r.Root<proto::NamenodeRequest>()); return Status::Ok(); });
  (void)sawmill::CatchCapnp("response", [&] { WalkNamenodeResponse(r.Root<proto::NamenodeResponse>()); return Status::Ok(); });
  (void)sawmill::CatchCapnp("request", [&] { WalkDatanodeRequest(r.Root<proto::DatanodeRequest>()); return Status::Ok(); });
  (void)sawmill::CatchCapnp("response", [&] { WalkDatanodeResponse(r.Root<proto::DatanodeResponse>()); return Status::Ok(); });
  (void)sawmill::CatchCapnp("journal record", [&] {
    auto rec = r.Root<sawmill::dfs::schema::JournalRecord>();
    Use(rec.getTxid());
    if (rec.isRename()) Use(rec.getRename().getSrc());
    if (rec.isComplete()) Use(rec.getComplete().getBlockLengths().size());
    return Status::Ok();
  });
  (void)sawmill::CatchCapnp("image", [&] {
    for (auto inode : r.Root<sawmill::dfs::schema::Image>().getInodes()) Use(inode.getPath());
    return Status::Ok();
  });
}

std::string Header(capnp::MessageBuilder& msg) { return sawmill::CapnpToString(msg); }

void AddFrame(const std::string& header, const std::string& body, std::string* out) {
  sawmill::EncodeFrame(header, body.size(), out);
  out->append(body);
}

void FillInfo(proto::DatanodeInfo::Builder d, const char* id) {
  d.setId(id);
  d.setHost("host-a");
  d.setAddress("127.0.0.1:4000");
  d.setMachine("boot-1");
  d.setCapacityBytes(1 << 30);
  d.setLive(true);
}

// One framed valid message of each kind a daemon or client reads.
std::vector<std::string> ValidFrames() {
  std::vector<std::string> frames;
  auto add = [&](capnp::MessageBuilder& m, const std::string& body = "") {
    std::string f;
    AddFrame(Header(m), body, &f);
    frames.push_back(f);
  };
  {
    capnp::MallocMessageBuilder m;
    auto c = m.initRoot<proto::NamenodeRequest>().initCreate();
    c.setPath("/a/b");
    c.setClient("m-1-x");
    c.setReplication(3);
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto a = m.initRoot<proto::NamenodeRequest>().initAddBlock();
    a.setPath("/a/b");
    auto ex = a.initExcludeDatanodes(2);
    ex.set(0, "dn-1");
    ex.set(1, "dn-2");
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto reg = m.initRoot<proto::NamenodeRequest>().initRegister();
    FillInfo(reg.initDatanode(), "dn-1");
    auto blocks = reg.initBlocks(2);
    blocks[0].setId(1);
    blocks[1].setId(2);
    blocks[1].setGeneration(3);
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<proto::NamenodeResponse>();
    auto loc = r.initLocations();
    loc.initFile().setPath("/a/b");
    auto lb = loc.initBlocks(1)[0];
    lb.initBlock().setId(9);
    FillInfo(lb.initDatanodes(1)[0], "dn-2");
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<proto::NamenodeResponse>();
    auto cmds = r.initCommands(2);
    auto copy = cmds[0].initCopy();
    copy.initBlock().setId(4);
    FillInfo(copy.initTarget(), "dn-3");
    cmds[1].initDelete().setId(5);
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<proto::NamenodeResponse>();
    sawmill::dfs::SetError(sawmill::NotFound("/a/missing not found"), r.initError());
    r.setNone();
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto w = m.initRoot<proto::DatanodeRequest>().initWriteBlock();
    w.initBlock().setId(7);
    FillInfo(w.initDownstream(1)[0], "dn-4");
    w.setClient("m-1-x");
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto p = m.initRoot<proto::DatanodeRequest>().initPacket();
    p.setSeqno(0);
    p.setLast(true);
    add(m, "block bytes");
  }
  {
    capnp::MallocMessageBuilder m;
    auto rb = m.initRoot<proto::DatanodeRequest>().initReadBlock();
    rb.setBlockId(7);
    rb.setLength(100);
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto lw = m.initRoot<proto::DatanodeRequest>().initLocalWrite();
    lw.initBlock().setId(8);
    lw.setClient("m-1-x");
    lw.setMachine("0b1f-boot-id");
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto f = m.initRoot<proto::DatanodeRequest>().initFinalizeLocal();
    f.setId(8);
    f.setLength(65537);
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto ack = m.initRoot<proto::DatanodeResponse>().initAck();
    auto stored = ack.initStored(2);
    stored.set(0, "dn-1");
    stored.set(1, "dn-2");
    ack.setFailed("dn-3");
    ack.setLength(11);
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto p = m.initRoot<proto::DatanodeResponse>().initPacket();
    p.setLast(true);
    sawmill::dfs::SetError(sawmill::Corruption("block 7: bad chunk"), p.initError());
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto g = m.initRoot<proto::DatanodeResponse>().initGrant();
    g.setPath("/data/blocks/7");
    g.setChunkSize(65536);
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto g = m.initRoot<proto::DatanodeResponse>().initGrant();
    g.setPath("/data/blocks/tmp/blk_8_1");
    g.setChunkSize(65536);
    g.setDataOffset(40);
    g.setSync(true);
    add(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto rec = m.initRoot<sawmill::dfs::schema::JournalRecord>();
    rec.setTxid(7);
    auto rn = rec.initRename();
    rn.setSrc("/a/b");
    rn.setDst("/c");
    add(m, "hello");
  }
  return frames;
}

}  // namespace

// Input: byte 0 picks the piece size (1..64) the rest arrives in.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t piece = 1 + data[0] % 64;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  sawmill::FrameDecoder d;
  std::string header;
  for (size_t fed = 0; fed < in.size(); fed += piece) {
    d.Feed(in.substr(fed, piece));
    while (true) {
      if (d.body_remaining() > 0) {
        if (d.TakeBody(1 << 20).empty()) break;
        continue;
      }
      auto f = d.Next(&header);
      if (!f.ok()) return 0;  // connection closed
      if (!f->has_value()) break;
      if ((*f)->body_len > sawmill::kMaxMessageBody) return 0;  // refused like the transport does
      DecodeHeader(header);
    }
  }
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  std::string all;
  for (const std::string& f : ValidFrames()) {
    seeds.push_back(std::string(1, '\x3f') + f);  // whole 64-byte pieces
    all += f;
  }
  sawmill::EncodeFrame("", 0, &all);
  seeds.push_back(std::string(1, '\0') + all);  // byte by byte
  seeds.push_back(std::string(1, '\x10') + all);
  return seeds;
}
