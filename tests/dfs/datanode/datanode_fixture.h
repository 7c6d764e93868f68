// The datanode tests' fixture: datanodes with their own stores on an in-process network, a fake
// namenode recording what they tell it, and helpers that speak the data protocol to them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "common/capnp_util.h"
#include "dfs/datanode/block_file.h"
#include "dfs/datanode/datanode.h"
#include "dfs/proto_convert.h"
#include "dfs/protocol.capnp.h"
#include "tests/common/temp_dir.h"

namespace sawmill::dfs::datanode_testing {

using sawmill::testing::TempDir;

inline constexpr uint32_t kChunk = 1024;
inline constexpr uint32_t kPacket = 4096;  // a multiple of kChunk, like the defaults
inline constexpr auto kDeadline = std::chrono::seconds(5);

inline std::string RandomBytes(size_t n, uint32_t seed) {
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

}  // namespace sawmill::dfs::datanode_testing
