// Datanode over an in-process network: the write pipeline and its failures, reads, short-circuit
// grants, and the namenode conversation (register, events, commands) against a fake namenode.
#include "dfs/datanode/datanode.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "common/capnp_util.h"
#include "dfs/datanode/block_file.h"
#include "dfs/machine.h"
#include "dfs/proto_convert.h"
#include "dfs/protocol.capnp.h"
#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::TempDir;

constexpr uint32_t kChunk = 1024;
constexpr uint32_t kPacket = 4096;  // a multiple of kChunk, like the defaults
constexpr auto kDeadline = std::chrono::seconds(5);

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// What the fake namenode saw.
struct NnEvent {
  std::string kind;  // register, heartbeat, blockReport, blockReceived, blockDeleted, reportCorrupt
  std::string datanode;
  BlockInfo block;                  // events
  std::vector<BlockInfo> blocks;    // register, blockReport
  std::string address;              // register
};

struct FakeCommand {
  bool copy = false;
  BlockInfo block;
  std::string target_id, target_address;
};

// Records datanode requests and answers heartbeats with queued commands, or once with
// kNotFound ("register again") when asked to.
class FakeNamenode {
 public:
  Handler handler() {
    return [this](Connection& conn) {
      while (true) {
        auto m = conn.Receive();
        if (!m.ok()) return;
        auto reader = CapnpReader::Parse(m->header);
        ASSERT_TRUE(reader.ok());
        capnp::MallocMessageBuilder out;
        auto response = out.initRoot<proto::NamenodeResponse>();
        Status s = CatchCapnp("request", [&] {
          Record(**reader, response);
          return Status::Ok();
        });
        ASSERT_TRUE(s.ok()) << s.ToString();
        if (!conn.Send(CapnpToString(out)).ok()) return;
      }
    };
  }

  void Record(CapnpReader& reader, proto::NamenodeResponse::Builder response) {
    auto r = reader.Root<proto::NamenodeRequest>();
    NnEvent e;
    std::lock_guard lock(mu_);
    switch (r.which()) {
      case proto::NamenodeRequest::REGISTER:
        e.kind = "register";
        e.datanode = r.getRegister().getDatanode().getId();
        e.address = r.getRegister().getDatanode().getAddress();
        for (auto b : r.getRegister().getBlocks()) e.blocks.push_back(ToBlockInfo(b));
        response.initRegistered();
        break;
      case proto::NamenodeRequest::HEARTBEAT: {
        e.kind = "heartbeat";
        e.datanode = r.getHeartbeat().getId();
        if (forget_next_heartbeat_) {
          forget_next_heartbeat_ = false;
          SetError(NotFound("unknown datanode " + e.datanode), response.initError());
          break;
        }
        auto& queue = commands_[e.datanode];
        auto list = response.initCommands(queue.size());
        for (size_t i = 0; i < queue.size(); ++i) {
          if (queue[i].copy) {
            auto copy = list[i].initCopy();
            SetBlock(queue[i].block, copy.initBlock());
            copy.initTarget().setId(queue[i].target_id);
            copy.getTarget().setAddress(queue[i].target_address);
          } else {
            SetBlock(queue[i].block, list[i].initDelete());
          }
        }
        queue.clear();
        break;
      }
      case proto::NamenodeRequest::BLOCK_REPORT:
        e.kind = "blockReport";
        e.datanode = r.getBlockReport().getId();
        for (auto b : r.getBlockReport().getBlocks()) e.blocks.push_back(ToBlockInfo(b));
        response.setNone();
        break;
      case proto::NamenodeRequest::BLOCK_RECEIVED:
      case proto::NamenodeRequest::BLOCK_DELETED:
      case proto::NamenodeRequest::REPORT_CORRUPT: {
        auto ev = r.which() == proto::NamenodeRequest::BLOCK_RECEIVED  ? r.getBlockReceived()
                  : r.which() == proto::NamenodeRequest::BLOCK_DELETED ? r.getBlockDeleted()
                                                                       : r.getReportCorrupt();
        e.kind = r.which() == proto::NamenodeRequest::BLOCK_RECEIVED  ? "blockReceived"
                 : r.which() == proto::NamenodeRequest::BLOCK_DELETED ? "blockDeleted"
                                                                      : "reportCorrupt";
        e.datanode = ev.getId();
        e.block = ToBlockInfo(ev.getBlock());
        response.setNone();
        break;
      }
      default:
        SetError(InvalidArgument("unexpected request"), response.initError());
        break;
    }
    events_.push_back(e);
    cv_.notify_all();
  }

  void Queue(const std::string& datanode, FakeCommand c) {
    std::lock_guard lock(mu_);
    commands_[datanode].push_back(std::move(c));
  }
  void ForgetNextHeartbeat() {
    std::lock_guard lock(mu_);
    forget_next_heartbeat_ = true;
  }
  int Count(const std::string& kind, const std::string& datanode) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& e : events_) n += e.kind == kind && e.datanode == datanode;
    return n;
  }
  // Waits until an event matching `pred` was recorded; returns it (or kind "" at the deadline).
  NnEvent WaitFor(const std::function<bool(const NnEvent&)>& pred) {
    std::unique_lock lock(mu_);
    NnEvent found;
    cv_.wait_for(lock, kDeadline, [&] {
      for (const auto& e : events_) {
        if (pred(e)) {
          found = e;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  bool WaitForCount(const std::string& kind, const std::string& datanode, int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] {
      int seen = 0;
      for (const auto& e : events_) seen += e.kind == kind && e.datanode == datanode;
      return seen >= n;
    });
  }
  NnEvent WaitFor(const std::string& kind, const std::string& datanode, uint64_t block_id = 0) {
    return WaitFor([&](const NnEvent& e) {
      return e.kind == kind && e.datanode == datanode && (block_id == 0 || e.block.id == block_id);
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<NnEvent> events_;
  std::map<std::string, std::deque<FakeCommand>> commands_;
  bool forget_next_heartbeat_ = false;
};

struct ReadOutcome {
  Status status;         // of the request (error response or a transport failure)
  BlockInfo start;       // readStart
  std::string data;
  Status packet_error;   // an error packet mid-stream
  int packets = 0;
};

struct AckOutcome {
  Status error;
  bool has_ack = false;
  std::vector<std::string> stored;
  std::string failed;
  uint64_t length = 0;
};

class DatanodeTest : public ::testing::Test {
 protected:
  static constexpr const char* kNamenode = "nn:1";

  void SetUp() override { net_->Listen(kNamenode, nn_.handler()); }

  void TearDown() override {
    for (auto& d : datanodes_) d->Stop();
    net_.reset();  // joins the service threads, which have returned
    datanodes_.clear();
    stores_.clear();
  }

  std::string Id(int i) const { return "dn" + std::to_string(i); }
  std::string Address(int i) const { return "10.0.0." + std::to_string(i) + ":50010"; }

  // Datanodes 1..n, each with its own store, listening at Address(i); not yet Start()ed.
  void AddDatanodes(int n, bool start = false) {
    for (int i = 1; i <= n; ++i) {
      auto store = BlockStore::Open(dir_.Sub(Id(i)), {.chunk_size = kChunk});
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      stores_.push_back(std::move(store).value());
      Datanode::Options o;
      o.dir = dir_.Sub(Id(i));
      o.id = Id(i);
      o.host = "host" + std::to_string(i);
      o.address = Address(i);
      o.namenode_address = kNamenode;
      o.heartbeat_ms = 10;
      o.block_report_ms = 0;
      o.scan_interval_ms = 0;
      o.packet_bytes = kPacket;
      datanodes_.push_back(std::make_unique<Datanode>(o, net_.get(), stores_.back().get()));
      net_->Listen(Address(i), datanodes_.back()->handler());
      if (start) datanodes_.back()->Start();
    }
  }
  BlockStore& store(int i) { return *stores_[i - 1]; }
  Datanode& datanode(int i) { return *datanodes_[i - 1]; }

  static std::string WriteBlockHeader(BlockInfo block, const std::vector<int>& downstream, DatanodeTest* t) {
    capnp::MallocMessageBuilder m;
    auto w = m.initRoot<proto::DatanodeRequest>().initWriteBlock();
    SetBlock(block, w.initBlock());
    w.setClient("test-client");
    auto list = w.initDownstream(downstream.size());
    for (size_t i = 0; i < downstream.size(); ++i) {
      list[i].setId(t->Id(downstream[i]));
      list[i].setAddress(t->Address(downstream[i]));
    }
    return CapnpToString(m);
  }
  static std::string PacketHeader(uint64_t seqno, bool last) {
    capnp::MallocMessageBuilder m;
    auto p = m.initRoot<proto::DatanodeRequest>().initPacket();
    p.setSeqno(seqno);
    p.setLast(last);
    return CapnpToString(m);
  }
  static AckOutcome ParseAck(const Message& m) {
    AckOutcome out;
    auto reader = CapnpReader::Parse(m.header);
    EXPECT_TRUE(reader.ok());
    Status s = CatchCapnp("ack", [&] {
      auto r = (*reader)->Root<proto::DatanodeResponse>();
      if (r.hasError()) out.error = ToStatus(r.getError());
      if (r.which() == proto::DatanodeResponse::ACK) {
        out.has_ack = true;
        for (auto id : r.getAck().getStored()) out.stored.push_back(id);
        out.failed = r.getAck().getFailed();
        out.length = r.getAck().getLength();
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // Writes `data` to pipeline[0] with the rest as downstream, in packets of `packet` bytes.
  // `before_packet(i)` runs before packet i is sent (to inject failures).
  AckOutcome Write(BlockInfo block, const std::vector<int>& pipeline, const std::string& data, size_t packet = 3000,
                   const std::function<void(size_t)>& before_packet = nullptr) {
    auto conn = net_->Connect(Address(pipeline[0]));
    EXPECT_TRUE(conn.ok());
    std::vector<int> downstream(pipeline.begin() + 1, pipeline.end());
    EXPECT_TRUE((*conn)->Send(WriteBlockHeader(block, downstream, this)).ok());
    size_t pos = 0;
    for (uint64_t seqno = 0;; ++seqno) {
      if (before_packet) before_packet(seqno);
      size_t n = std::min(packet, data.size() - pos);
      bool last = pos + n == data.size();
      // Sends fail once the datanode gave up; the answer explains why.
      if (!(*conn)->Send(PacketHeader(seqno, last), std::string_view(data).substr(pos, n)).ok()) break;
      pos += n;
      if (last) break;
    }
    auto m = (*conn)->Receive();
    if (!m.ok()) {
      AckOutcome out;
      out.error = m.status();
      return out;
    }
    return ParseAck(*m);
  }

  ReadOutcome Read(int dn, uint64_t id, uint64_t offset, uint64_t length) {
    ReadOutcome out;
    auto conn = net_->Connect(Address(dn));
    EXPECT_TRUE(conn.ok());
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<proto::DatanodeRequest>().initReadBlock();
    r.setBlockId(id);
    r.setOffset(offset);
    r.setLength(length);
    EXPECT_TRUE((*conn)->Send(CapnpToString(m)).ok());
    for (bool started = false;;) {
      auto msg = (*conn)->Receive();
      if (!msg.ok()) {
        out.status = msg.status();
        return out;
      }
      auto reader = CapnpReader::Parse(msg->header);
      EXPECT_TRUE(reader.ok());
      bool done = false;
      Status s = CatchCapnp("read response", [&] {
        auto resp = (*reader)->Root<proto::DatanodeResponse>();
        if (resp.hasError() && ToStatus(resp.getError()).code() != StatusCode::kOk) {
          out.status = ToStatus(resp.getError());
          done = true;
        } else if (!started) {
          EXPECT_EQ(resp.which(), proto::DatanodeResponse::READ_START);
          out.start = ToBlockInfo(resp.getReadStart());
          started = true;
        } else {
          EXPECT_EQ(resp.which(), proto::DatanodeResponse::PACKET);
          auto p = resp.getPacket();
          EXPECT_EQ(p.getSeqno(), static_cast<uint64_t>(out.packets));
          ++out.packets;
          if (p.hasError()) out.packet_error = ToStatus(p.getError());
          out.data += msg->body;
          done = p.getLast();
        }
        return Status::Ok();
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (done) return out;
    }
  }

  void Put(int dn, BlockInfo block, const std::string& data) {
    auto w = store(dn).CreateBlock(block.id, block.generation);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Append(data).ok());
    ASSERT_TRUE((*w)->Finalize().ok());
  }

  static std::string LocalWriteRequest(BlockInfo block, const std::string& machine = LocalMachineId()) {
    capnp::MallocMessageBuilder m;
    auto w = m.initRoot<proto::DatanodeRequest>().initLocalWrite();
    SetBlock(block, w.initBlock());
    w.setClient("test-client");
    w.setMachine(machine);
    return CapnpToString(m);
  }
  static std::string FinalizeLocalRequest(BlockInfo block) {
    capnp::MallocMessageBuilder m;
    SetBlock(block, m.initRoot<proto::DatanodeRequest>().initFinalizeLocal());
    return CapnpToString(m);
  }
  struct Grant {
    Status error;
    std::string path;
    uint32_t chunk_size = 0;
    bool sync = false;
  };
  static Grant ParseGrant(const Message& m) {
    Grant g;
    auto reader = CapnpReader::Parse(m.header);
    EXPECT_TRUE(reader.ok());
    Status s = CatchCapnp("grant", [&] {
      auto r = (*reader)->Root<proto::DatanodeResponse>();
      if (r.hasError()) g.error = ToStatus(r.getError());
      if (r.which() == proto::DatanodeResponse::GRANT) {
        g.path = r.getGrant().getPath();
        g.chunk_size = r.getGrant().getChunkSize();
        g.sync = r.getGrant().getSync();
        EXPECT_EQ(r.getGrant().getDataOffset(), kBlockFileHeaderBytes);
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return g;
  }
  // Asks datanode `dn` for a localWrite grant of `block` on `conn`.
  static Grant AskLocalWrite(Connection& conn, BlockInfo block, const std::string& machine = LocalMachineId()) {
    EXPECT_TRUE(conn.Send(LocalWriteRequest(block, machine)).ok());
    auto m = conn.Receive();
    if (!m.ok()) {
      Grant g;
      g.error = m.status();
      return g;
    }
    return ParseGrant(*m);
  }
  static void WriteBlockFile(const std::string& path, BlockInfo block, uint32_t chunk, const std::string& data) {
    auto w = BlockFileWriter::Create(path, block.id, block.generation, chunk);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Append(data).ok());
    ASSERT_TRUE((*w)->Finish(false).ok());
  }
  std::vector<std::string> TmpFiles(int dn) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(dir_.Sub(Id(dn))) / "tmp")) {
      names.push_back(e.path().string());
    }
    return names;
  }

  // Waits until `pred` holds (polling; for state the fake namenode does not see).
  static bool Eventually(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + kDeadline;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  TempDir dir_;
  FakeNamenode nn_;
  std::vector<std::unique_ptr<BlockStore>> stores_;
  std::vector<std::unique_ptr<Datanode>> datanodes_;
  std::unique_ptr<InProcessNetwork> net_ = std::make_unique<InProcessNetwork>();
};

TEST_F(DatanodeTest, ThreeDatanodePipeline) {
  AddDatanodes(3);
  const std::string data = RandomBytes(5 * kChunk + 123, 1);
  AckOutcome ack = Write({7, 3, 0}, {1, 2, 3}, data);
  EXPECT_TRUE(ack.error.ok()) << ack.error.ToString();
  EXPECT_EQ(ack.stored, (std::vector<std::string>{"dn1", "dn2", "dn3"}));
  EXPECT_EQ(ack.failed, "");
  EXPECT_EQ(ack.length, data.size());
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(store(i).List(), (std::vector<BlockInfo>{{7, 3, data.size()}})) << Id(i);
    auto r = store(i).Read(7, 0, UINT64_MAX);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, data);
    // Sent before the ack, so already there.
    EXPECT_EQ(nn_.Count("blockReceived", Id(i)), 1) << Id(i);
  }
  EXPECT_EQ(nn_.WaitFor("blockReceived", "dn3", 7).block, (BlockInfo{7, 3, data.size()}));
}

TEST_F(DatanodeTest, EmptyBlockAndSeveralRequestsOnOneConnection) {
  AddDatanodes(2);
  AckOutcome ack = Write({8, 1, 0}, {1, 2}, "");
  EXPECT_TRUE(ack.error.ok()) << ack.error.ToString();
  EXPECT_EQ(ack.stored, (std::vector<std::string>{"dn1", "dn2"}));
  EXPECT_EQ(ack.length, 0u);
  ReadOutcome r = Read(2, 8, 0, 100);
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.data, "");
  EXPECT_EQ(r.packets, 1);
}

TEST_F(DatanodeTest, ReadRanges) {
  AddDatanodes(1);
  const uint64_t n = 3 * kPacket + 2 * kChunk + 17;
  const std::string data = RandomBytes(n, 2);
  Put(1, {5, 9, 0}, data);
  struct Case {
    uint64_t offset, length;
  };
  for (Case c : std::vector<Case>{{0, UINT64_MAX},
                                  {0, n},
                                  {kChunk, kChunk},
                                  {kChunk - 1, 2},
                                  {kPacket - 1, kPacket + 2},
                                  {kPacket, 2 * kPacket},
                                  {n - 5, 100},
                                  {n, 10},
                                  {3, 0}}) {
    ReadOutcome r = Read(1, 5, c.offset, c.length);
    ASSERT_TRUE(r.status.ok()) << c.offset << "+" << c.length << ": " << r.status.ToString();
    EXPECT_TRUE(r.packet_error.ok());
    EXPECT_EQ(r.start, (BlockInfo{5, 9, n}));
    EXPECT_EQ(r.data, data.substr(c.offset, c.length)) << c.offset << "+" << c.length;
    EXPECT_GE(r.packets, 1);
  }
  // Whole block: packets end at multiples of packet_bytes.
  EXPECT_EQ(Read(1, 5, 0, n).packets, 4);
  EXPECT_EQ(Read(1, 5, kPacket - 1, 2).packets, 2);

  ReadOutcome past = Read(1, 5, n + 1, 1);
  EXPECT_EQ(past.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(past.status.message().find("dn1"), std::string::npos) << past.status.message();
  ReadOutcome missing = Read(1, 6, 0, 1);
  EXPECT_EQ(missing.status.code(), StatusCode::kNotFound);
}

TEST_F(DatanodeTest, DownstreamUnreachableAtStart) {
  AddDatanodes(3);
  net_->Stop(Address(3));
  const std::string data = RandomBytes(10000, 3);
  AckOutcome ack = Write({11, 1, 0}, {1, 2, 3}, data);
  EXPECT_TRUE(ack.error.ok()) << ack.error.ToString();
  EXPECT_EQ(ack.stored, (std::vector<std::string>{"dn1", "dn2"}));
  EXPECT_EQ(ack.failed, "dn3");
  EXPECT_EQ(ack.length, data.size());
  for (int i = 1; i <= 2; ++i) EXPECT_EQ(store(i).Read(11, 0, UINT64_MAX).value(), data);
  EXPECT_TRUE(store(3).List().empty());
}

TEST_F(DatanodeTest, DownstreamStoppedMidPipeline) {
  AddDatanodes(3);
  const std::string data = RandomBytes(20000, 4);
  AckOutcome ack = Write({12, 1, 0}, {1, 2, 3}, data, 3000, [&](size_t seqno) {
    if (seqno != 3) return;
    // dn3 has started its replica (so the pipeline was set up), then dies.
    EXPECT_TRUE(Eventually([&] { return std::filesystem::exists(dir_.Sub("dn3/tmp/blk_12_1")); }));
    net_->Stop(Address(3));
  });
  EXPECT_TRUE(ack.error.ok()) << ack.error.ToString();
  EXPECT_EQ(ack.stored, (std::vector<std::string>{"dn1", "dn2"}));
  EXPECT_EQ(ack.failed, "dn3");
  for (int i = 1; i <= 2; ++i) {
    auto r = store(i).Read(12, 0, UINT64_MAX);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, data);
  }
  // dn3's partial replica is aborted, never finalized.
  EXPECT_TRUE(store(3).List().empty());
  EXPECT_EQ(nn_.Count("blockReceived", "dn3"), 0);
}

TEST_F(DatanodeTest, MiddleDatanodeFailsItsOwnWrite) {
  AddDatanodes(3);
  Put(2, {13, 1, 0}, "already here");  // CreateBlock fails on dn2, like a full disk would
  const std::string data = RandomBytes(9000, 5);
  AckOutcome ack = Write({13, 2, 0}, {1, 2, 3}, data);
  EXPECT_TRUE(ack.error.ok()) << ack.error.ToString();
  EXPECT_EQ(ack.stored, (std::vector<std::string>{"dn1"}));
  EXPECT_EQ(ack.failed, "dn2");
  EXPECT_EQ(store(1).Read(13, 0, UINT64_MAX).value(), data);
}

TEST_F(DatanodeTest, FirstDatanodeFailsItsOwnWrite) {
  AddDatanodes(2);
  Put(1, {14, 1, 0}, "already here");
  AckOutcome ack = Write({14, 2, 0}, {1, 2}, RandomBytes(5000, 6));
  EXPECT_EQ(ack.error.code(), StatusCode::kAlreadyExists) << ack.error.ToString();
  EXPECT_NE(ack.error.message().find("datanode dn1"), std::string::npos) << ack.error.message();
  EXPECT_NE(ack.error.message().find("block 14"), std::string::npos) << ack.error.message();
  EXPECT_TRUE(ack.has_ack);
  EXPECT_EQ(ack.failed, "dn1");
  EXPECT_TRUE(ack.stored.empty());
  // dn2 got a writeBlock, then its upstream closed: its partial replica is aborted.
  EXPECT_TRUE(Eventually([&] { return store(2).List().empty(); }));
}

TEST_F(DatanodeTest, OutOfOrderPacketIsRefused) {
  AddDatanodes(1);
  auto conn = net_->Connect(Address(1));
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Send(WriteBlockHeader({15, 1, 0}, {}, this)).ok());
  ASSERT_TRUE((*conn)->Send(PacketHeader(1, true), "x").ok());
  auto m = (*conn)->Receive();
  ASSERT_TRUE(m.ok());
  AckOutcome ack = ParseAck(*m);
  EXPECT_EQ(ack.error.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ack.failed, "");
  EXPECT_TRUE(Eventually([&] { return store(1).List().empty(); }));
}

TEST_F(DatanodeTest, CorruptReplicaIsReportedOnReadAndScan) {
  AddDatanodes(1);
  const std::string data = RandomBytes(4 * kChunk, 7);
  Put(1, {21, 4, 0}, data);
  auto local = store(1).LocalPath(21);
  ASSERT_TRUE(local.ok());
  {
    // Flip a byte of the third chunk.
    std::fstream f(local->path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(local->data_offset + 2 * kChunk + 5);
    char c = static_cast<char>(data[2 * kChunk + 5] ^ 0x40);
    f.write(&c, 1);
  }
  // The first packet (chunks 0-3 are one packet) fails verification: an error packet.
  ReadOutcome r = Read(1, 21, 0, UINT64_MAX);
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.start, (BlockInfo{21, 4, data.size()}));
  EXPECT_EQ(r.packet_error.code(), StatusCode::kCorruption);
  EXPECT_EQ(r.data, "");
  NnEvent e = nn_.WaitFor("reportCorrupt", "dn1", 21);
  EXPECT_EQ(e.block, (BlockInfo{21, 4, data.size()}));
  // A read of good chunks only still works.
  ReadOutcome good = Read(1, 21, 0, kChunk);
  EXPECT_TRUE(good.packet_error.ok());
  EXPECT_EQ(good.data, data.substr(0, kChunk));

  ScanResult scan = datanode(1).ScanNow();
  EXPECT_EQ(scan.corrupt, 1u);
  EXPECT_EQ(nn_.Count("reportCorrupt", "dn1"), 2);
}

TEST_F(DatanodeTest, LocalBlockGrant) {
  AddDatanodes(1);
  const std::string data = RandomBytes(3 * kChunk + 10, 8);
  Put(1, {31, 2, 0}, data);
  auto conn = net_->Connect(Address(1));
  ASSERT_TRUE(conn.ok());
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::DatanodeRequest>().setLocalBlock(31);
  ASSERT_TRUE((*conn)->Send(CapnpToString(m)).ok());
  auto answer = (*conn)->Receive();
  ASSERT_TRUE(answer.ok());
  auto reader = CapnpReader::Parse(answer->header);
  ASSERT_TRUE(reader.ok());
  auto resp = (*reader)->Root<proto::DatanodeResponse>();
  ASSERT_EQ(resp.which(), proto::DatanodeResponse::GRANT);
  auto g = resp.getGrant();
  EXPECT_EQ(g.getGeneration(), 2u);
  EXPECT_EQ(g.getLength(), data.size());
  EXPECT_EQ(g.getChunkSize(), kChunk);
  EXPECT_EQ(g.getDataOffset(), kBlockFileHeaderBytes);
  auto bytes = ReadBlockFileRange(g.getPath(), 31, kChunk - 3, kChunk + 6);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, data.substr(kChunk - 3, kChunk + 6));

  // Same connection, unknown block: an error, and the conversation goes on.
  capnp::MallocMessageBuilder m2;
  m2.initRoot<proto::DatanodeRequest>().setLocalBlock(32);
  ASSERT_TRUE((*conn)->Send(CapnpToString(m2)).ok());
  auto missing = (*conn)->Receive();
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(ParseAck(*missing).error.code(), StatusCode::kNotFound);
}

TEST_F(DatanodeTest, ShortCircuitWriteIsStoredAndReportedLikeAPipelineBlock) {
  AddDatanodes(1, /*start=*/true);
  const std::string data = RandomBytes(3 * kChunk + 17, 21);
  const BlockInfo block{41, 3, 0};
  auto conn = net_->Connect(Address(1));
  ASSERT_TRUE(conn.ok());
  Grant g = AskLocalWrite(**conn, block);
  ASSERT_TRUE(g.error.ok()) << g.error.ToString();
  EXPECT_EQ(g.chunk_size, kChunk);
  EXPECT_TRUE(g.sync);  // the store's default
  EXPECT_EQ(std::filesystem::path(g.path).parent_path().filename(), "tmp");
  WriteBlockFile(g.path, block, g.chunk_size, data);
  ASSERT_TRUE((*conn)->Send(FinalizeLocalRequest({41, 3, data.size()})).ok());
  auto m = (*conn)->Receive();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  AckOutcome ack = ParseAck(*m);
  EXPECT_TRUE(ack.error.ok()) << ack.error.ToString();
  EXPECT_EQ(ack.stored, std::vector<std::string>{"dn1"});
  EXPECT_EQ(ack.length, data.size());
  EXPECT_EQ(datanode(1).local_writes(), 1u);
  // Reported as received, stored as a pipeline's replica: readable, listed, nothing left in tmp.
  NnEvent e = nn_.WaitFor("blockReceived", "dn1", 41);
  EXPECT_EQ(e.block.length, data.size());
  EXPECT_EQ(e.block.generation, 3u);
  EXPECT_EQ(Read(1, 41, 0, data.size()).data, data);
  EXPECT_TRUE(store(1).Verify(41).ok());
  EXPECT_TRUE(TmpFiles(1).empty());
  // An empty block too, on the same connection.
  Grant g2 = AskLocalWrite(**conn, {42, 1, 0});
  ASSERT_TRUE(g2.error.ok()) << g2.error.ToString();
  WriteBlockFile(g2.path, {42, 1, 0}, g2.chunk_size, "");
  ASSERT_TRUE((*conn)->Send(FinalizeLocalRequest({42, 1, 0})).ok());
  auto m2 = (*conn)->Receive();
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(ParseAck(*m2).stored, std::vector<std::string>{"dn1"});
  EXPECT_EQ(Read(1, 42, 0, 10).data, "");
}

TEST_F(DatanodeTest, ShortCircuitWriteRefusalsLeaveTheConversationOpen) {
  AddDatanodes(1);
  Put(1, {43, 1, 0}, "exists");
  auto conn = net_->Connect(Address(1));
  ASSERT_TRUE(conn.ok());
  // Another machine's writer could not write the file: refused.
  Grant other = AskLocalWrite(**conn, {44, 1, 0}, "another-machine");
  EXPECT_EQ(other.error.code(), StatusCode::kInvalidArgument) << other.error.ToString();
  EXPECT_TRUE(other.path.empty());
  // A block the store has already.
  EXPECT_EQ(AskLocalWrite(**conn, {43, 1, 0}).error.code(), StatusCode::kAlreadyExists);
  // The writer goes on with a pipeline write on the same connection.
  const std::string data = RandomBytes(2000, 22);
  ASSERT_TRUE((*conn)->Send(WriteBlockHeader({44, 1, 0}, {}, this)).ok());
  ASSERT_TRUE((*conn)->Send(PacketHeader(0, true), data).ok());
  auto m = (*conn)->Receive();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ParseAck(*m).stored, std::vector<std::string>{"dn1"});
  EXPECT_EQ(datanode(1).local_writes(), 0u);
  EXPECT_TRUE(TmpFiles(1).empty());
}

TEST_F(DatanodeTest, ShortCircuitWriteNotFinalizedLeavesNoFile) {
  AddDatanodes(1);
  const BlockInfo block{45, 1, 0};
  {
    auto conn = net_->Connect(Address(1));
    ASSERT_TRUE(conn.ok());
    Grant g = AskLocalWrite(**conn, block);
    ASSERT_TRUE(g.error.ok()) << g.error.ToString();
    WriteBlockFile(g.path, block, g.chunk_size, RandomBytes(5000, 23));
    ASSERT_EQ(TmpFiles(1).size(), 1u);
    (*conn)->Close();  // the writer goes away before finalizeLocal
  }
  EXPECT_TRUE(Eventually([&] { return TmpFiles(1).empty(); }));
  EXPECT_EQ(store(1).Read(45, 0, 1).status().code(), StatusCode::kNotFound);
  // The reservation is gone with it: the block can be written again.
  EXPECT_EQ(Write(block, {1}, "again").stored, std::vector<std::string>{"dn1"});
}

TEST_F(DatanodeTest, ShortCircuitWriteOfABadFileIsRefusedAndRemoved) {
  AddDatanodes(1);
  const std::string data = RandomBytes(3000, 24);
  struct Case {
    const char* name;
    std::function<void(const std::string& path, uint32_t chunk)> write;
    uint64_t length;
  };
  std::vector<Case> cases = {
      {"wrong length", [&](const std::string& p, uint32_t c) { WriteBlockFile(p, {46, 1, 0}, c, data); },
       data.size() - 1},
      {"unfinished", [&](const std::string& p, uint32_t c) {
         auto w = BlockFileWriter::Create(p, 46, 1, c);
         ASSERT_TRUE(w.ok());
         ASSERT_TRUE((*w)->Append(data).ok());
         w->reset();  // no table, no footer
       }, data.size()},
      {"another block", [&](const std::string& p, uint32_t c) { WriteBlockFile(p, {47, 1, 0}, c, data); },
       data.size()},
      {"another chunk size", [&](const std::string& p, uint32_t c) { WriteBlockFile(p, {46, 1, 0}, c / 2, data); },
       data.size()},
      {"never written", [](const std::string&, uint32_t) {}, data.size()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto conn = net_->Connect(Address(1));
    ASSERT_TRUE(conn.ok());
    Grant g = AskLocalWrite(**conn, {46, 1, 0});
    ASSERT_TRUE(g.error.ok()) << g.error.ToString();
    c.write(g.path, g.chunk_size);
    ASSERT_TRUE((*conn)->Send(FinalizeLocalRequest({46, 1, c.length})).ok());
    auto m = (*conn)->Receive();
    ASSERT_TRUE(m.ok());
    AckOutcome ack = ParseAck(*m);
    EXPECT_FALSE(ack.error.ok());
    EXPECT_NE(ack.error.message().find("block 46"), std::string::npos) << ack.error.ToString();
    EXPECT_TRUE(ack.stored.empty());
    EXPECT_TRUE(Eventually([&] { return TmpFiles(1).empty(); }));
    EXPECT_EQ(store(1).Read(46, 0, 1).status().code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(datanode(1).local_writes(), 0u);
}

TEST_F(DatanodeTest, FinalizeLocalWithoutAGrantIsRefused) {
  AddDatanodes(1);
  auto conn = net_->Connect(Address(1));
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Send(FinalizeLocalRequest({48, 1, 0})).ok());
  auto m = (*conn)->Receive();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ParseAck(*m).error.code(), StatusCode::kInvalidArgument);
}

TEST_F(DatanodeTest, RegisterCarriesBlocksAndHeartbeatsFlow) {
  AddDatanodes(1);
  Put(1, {41, 1, 0}, "abc");
  datanode(1).Start();
  NnEvent reg = nn_.WaitFor("register", "dn1");
  EXPECT_EQ(reg.address, Address(1));
  EXPECT_EQ(reg.blocks, (std::vector<BlockInfo>{{41, 1, 3}}));
  EXPECT_TRUE(nn_.WaitFor([](const NnEvent& e) { return e.kind == "heartbeat"; }).kind == "heartbeat");
}

TEST_F(DatanodeTest, DeleteCommand) {
  AddDatanodes(1);
  Put(1, {51, 3, 0}, "to be deleted");
  Put(1, {52, 5, 0}, "stale generation asked");
  nn_.Queue("dn1", FakeCommand{.copy = false, .block = {51, 3, 13}, .target_id = "", .target_address = ""});
  nn_.Queue("dn1", FakeCommand{.copy = false, .block = {52, 4, 0}, .target_id = "", .target_address = ""});
  datanode(1).Start();
  NnEvent e = nn_.WaitFor("blockDeleted", "dn1", 51);
  EXPECT_EQ(e.block.generation, 3u);
  EXPECT_EQ(store(1).List(), (std::vector<BlockInfo>{{52, 5, 22}}));
  EXPECT_EQ(nn_.Count("blockDeleted", "dn1"), 1);
}

TEST_F(DatanodeTest, CopyCommand) {
  AddDatanodes(2);
  const std::string data = RandomBytes(3 * kPacket + 5, 9);
  Put(1, {61, 7, 0}, data);
  nn_.Queue("dn1", {.copy = true, .block = {61, 7, data.size()}, .target_id = "dn2", .target_address = Address(2)});
  datanode(1).Start();
  NnEvent e = nn_.WaitFor("blockReceived", "dn2", 61);
  EXPECT_EQ(e.block, (BlockInfo{61, 7, data.size()}));
  auto r = store(2).Read(61, 0, UINT64_MAX);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, data);
  EXPECT_EQ(store(1).List(), store(2).List());
}

TEST_F(DatanodeTest, RegistersAgainWhenTheNamenodeForgetsIt) {
  AddDatanodes(1);
  Put(1, {71, 1, 0}, "x");
  datanode(1).Start();
  nn_.WaitFor("heartbeat", "dn1");
  nn_.ForgetNextHeartbeat();
  EXPECT_TRUE(nn_.WaitForCount("register", "dn1", 2));
  // The second registration carries the full block list again.
  EXPECT_EQ(nn_.WaitFor("register", "dn1").blocks, (std::vector<BlockInfo>{{71, 1, 1}}));
}

TEST_F(DatanodeTest, WaitsForAnUnreachableNamenode) {
  net_->Stop(kNamenode);
  AddDatanodes(1, /*start=*/true);
  // A write still works without the namenode; its blockReceived is lost, and a full report
  // follows once the namenode is back.
  const std::string data = RandomBytes(100, 10);
  EXPECT_TRUE(Write({81, 1, 0}, {1}, data).error.ok());
  net_->Listen(kNamenode, nn_.handler());
  NnEvent reg = nn_.WaitFor("register", "dn1");
  EXPECT_EQ(reg.blocks, (std::vector<BlockInfo>{{81, 1, 100}}));
}

TEST_F(DatanodeTest, StopClosesOpenConversations) {
  AddDatanodes(2);
  auto conn = net_->Connect(Address(1));
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Send(WriteBlockHeader({91, 1, 0}, {2}, this)).ok());
  ASSERT_TRUE((*conn)->Send(PacketHeader(0, false), "partial").ok());
  datanode(1).Stop();  // returns although the writer never finishes
  datanode(2).Stop();
  EXPECT_TRUE(store(1).List().empty());
  EXPECT_FALSE((*conn)->Receive().ok());
}

}  // namespace
}  // namespace sawmill::dfs
