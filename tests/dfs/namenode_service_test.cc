// NamenodeService over an in-process network: client and datanode conversations, commands in
// heartbeat answers, lease expiry on an injected clock, safe mode after a restart, bad input.
#include "dfs/namenode/namenode_service.h"

#include <atomic>
#include <chrono>
#include <functional>

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "dfs/proto_convert.h"
#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::TempDir;
using Req = proto::NamenodeRequest;
using Resp = proto::NamenodeResponse;
using Ids = std::vector<std::string>;

constexpr uint64_t kCapacity = 1ull << 30;
constexpr char kAddress[] = "namenode:1";

// A response kept alive with the bytes it reads from.
struct Reply {
  std::unique_ptr<CapnpReader> reader;
  Status status;  // the transport's or the response's error
  Resp::Reader get() { return reader->Root<Resp>(); }
};

Reply Call(Connection& conn, const std::function<void(Req::Builder)>& fill) {
  capnp::MallocMessageBuilder msg;
  fill(msg.initRoot<Req>());
  Reply reply;
  reply.status = conn.Send(CapnpToString(msg));
  if (!reply.status.ok()) return reply;
  auto got = conn.Receive();
  if (!got.ok()) {
    reply.status = got.status();
    return reply;
  }
  auto parsed = CapnpReader::Parse(got->header);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  if (!parsed.ok()) {
    reply.status = parsed.status();
    return reply;
  }
  reply.reader = std::move(parsed).value();
  reply.status = ToStatus(reply.get().getError());
  return reply;
}

#define EXPECT_OK(reply)                                            \
  do {                                                              \
    Status _s = (reply).status;                                     \
    EXPECT_TRUE(_s.ok()) << _s.ToString();                          \
  } while (0)

class NamenodeServiceTest : public ::testing::Test {
 protected:
  NamenodeServiceTest() {
    options_.replication = 2;
    options_.block_size = 1024;
    options_.lease_timeout_ms = 60'000;
    options_.replication_interval_ms = 0;  // every Tick runs a round
    options_.block_manager.heartbeat_timeout_ms = 10'000;
    options_.clock = [this] { return now_.load(); };
  }

  void OpenService() {
    auto s = NamenodeService::Open(dir_.path(), options_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    service_ = std::move(s).value();
    net_ = std::make_unique<InProcessNetwork>();
    net_->Listen(kAddress, service_->handler());
    client_ = Connect();
    datanode_ = Connect();
  }

  // Conversations end before the service goes away.
  void CloseService() {
    client_.reset();
    datanode_.reset();
    net_.reset();
    service_.reset();
  }
  ~NamenodeServiceTest() override { CloseService(); }

  std::unique_ptr<Connection> Connect() {
    auto c = net_->Connect(kAddress);
    EXPECT_TRUE(c.ok());
    return std::move(c).value();
  }

  Reply Register(const std::string& id, std::vector<BlockInfo> blocks = {}) {
    return Call(*datanode_, [&](Req::Builder r) {
      auto reg = r.initRegister();
      auto info = reg.initDatanode();
      info.setId(id);
      info.setHost("h" + id.substr(2));
      info.setAddress(id + ":1");
      info.setMachine("m");
      info.setCapacityBytes(kCapacity);
      auto list = reg.initBlocks(blocks.size());
      for (size_t i = 0; i < blocks.size(); ++i) SetBlock(blocks[i], list[i]);
    });
  }
  Reply Heartbeat(const std::string& id) {
    return Call(*datanode_, [&](Req::Builder r) {
      auto h = r.initHeartbeat();
      h.setId(id);
      h.setCapacityBytes(kCapacity);
    });
  }
  Reply Received(const std::string& id, const BlockInfo& b) {
    return Call(*datanode_, [&](Req::Builder r) {
      auto e = r.initBlockReceived();
      e.setId(id);
      SetBlock(b, e.initBlock());
    });
  }
  Reply Create(const std::string& path, const std::string& client) {
    return Call(*client_, [&](Req::Builder r) {
      auto c = r.initCreate();
      c.setPath(path);
      c.setClient(client);
    });
  }
  // The block and its pipeline, or an error.
  Reply AddBlock(const std::string& path, const std::string& client, Ids exclude = {}) {
    return Call(*client_, [&](Req::Builder r) {
      auto a = r.initAddBlock();
      a.setPath(path);
      a.setClient(client);
      a.setWriterHost("h1");
      auto ex = a.initExcludeDatanodes(exclude.size());
      for (size_t i = 0; i < exclude.size(); ++i) ex.set(i, exclude[i]);
    });
  }
  Reply Complete(const std::string& path, const std::string& client, std::vector<uint64_t> lengths) {
    return Call(*client_, [&](Req::Builder r) {
      auto c = r.initComplete();
      c.setPath(path);
      c.setClient(client);
      auto l = c.initBlockLengths(lengths.size());
      for (size_t i = 0; i < lengths.size(); ++i) l.set(i, lengths[i]);
    });
  }
  Reply Stat(const std::string& path) {
    return Call(*client_, [&](Req::Builder r) { r.setStat(path); });
  }

  // A closed file at `path` with one block of `length` bytes stored on `datanodes`.
  BlockInfo WriteFile(const std::string& path, uint64_t length, const Ids& datanodes) {
    EXPECT_OK(Create(path, "writer"));
    Reply added = AddBlock(path, "writer");
    EXPECT_OK(added);
    if (!added.status.ok()) return {};
    BlockInfo b = ToBlockInfo(added.get().getLocatedBlock().getBlock());
    b.length = length;
    for (const std::string& dn : datanodes) EXPECT_OK(Received(dn, b));
    EXPECT_OK(Complete(path, "writer", {length}));
    return b;
  }

  // Heartbeat commands of `id` as "copy <block> <target id>@<target address>" / "delete <block>".
  Ids Commands(const std::string& id) {
    Reply r = Heartbeat(id);
    EXPECT_OK(r);
    Ids out;
    if (!r.status.ok()) return out;
    for (auto c : r.get().getCommands()) {
      if (c.isCopy()) {
        out.push_back("copy " + std::to_string(c.getCopy().getBlock().getId()) + " " +
                      std::string(c.getCopy().getTarget().getId().cStr()) + "@" +
                      std::string(c.getCopy().getTarget().getAddress().cStr()));
      } else {
        out.push_back("delete " + std::to_string(c.getDelete().getId()));
      }
    }
    return out;
  }

  TempDir dir_;
  std::atomic<int64_t> now_{1'000'000};
  NamenodeService::Options options_;
  std::unique_ptr<NamenodeService> service_;
  std::unique_ptr<InProcessNetwork> net_;
  std::unique_ptr<Connection> client_, datanode_;
};

std::string S(capnp::Text::Reader t) { return std::string(t.cStr()); }

TEST_F(NamenodeServiceTest, ClientConversation) {
  OpenService();
  for (const char* dn : {"dn1", "dn2", "dn3"}) {
    Reply r = Register(dn);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.get().getRegistered().getHeartbeatIntervalMs(), 1000u);
    EXPECT_EQ(r.get().getRegistered().getBlockReportIntervalMs(), 60'000u);
  }
  EXPECT_OK(Call(*client_, [](Req::Builder r) { r.setMkdirs("/d"); }));
  EXPECT_OK(Create("/d/f", "c"));
  Reply dup = Create("/d/f", "c2");
  EXPECT_EQ(dup.status.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(dup.status.message().find("/d/f"), std::string::npos);

  Reply added = AddBlock("/d/f", "c");
  ASSERT_TRUE(added.status.ok()) << added.status.ToString();
  auto located = added.get().getLocatedBlock();
  BlockInfo b = ToBlockInfo(located.getBlock());
  ASSERT_EQ(located.getDatanodes().size(), 2u);  // the default replication
  EXPECT_EQ(S(located.getDatanodes()[0].getId()), "dn1");  // the writer's host first
  EXPECT_EQ(S(located.getDatanodes()[0].getAddress()), "dn1:1");
  EXPECT_EQ(S(located.getDatanodes()[0].getHost()), "h1");
  EXPECT_EQ(S(located.getDatanodes()[0].getMachine()), "m");
  EXPECT_TRUE(located.getDatanodes()[0].getLive());
  EXPECT_EQ(Stat("/d/f").status.code(), StatusCode::kNotFound);  // invisible while open
  b.length = 700;
  EXPECT_OK(Received("dn1", b));
  EXPECT_OK(Received("dn2", b));
  Reply wrong = Complete("/d/f", "intruder", {700});
  EXPECT_EQ(wrong.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status.message().find("/d/f"), std::string::npos);
  EXPECT_OK(Complete("/d/f", "c", {700}));

  Reply st = Stat("/d/f");
  ASSERT_TRUE(st.status.ok());
  EXPECT_EQ(st.get().getFileStatus().getSize(), 700u);
  EXPECT_EQ(st.get().getFileStatus().getReplication(), 2u);
  EXPECT_EQ(st.get().getFileStatus().getBlockSize(), 1024u);
  EXPECT_GT(st.get().getFileStatus().getMtime(), 1'500'000'000'000);  // wall clock, not the fake
  Reply list = Call(*client_, [](Req::Builder r) { r.setList("/d"); });
  ASSERT_TRUE(list.status.ok());
  ASSERT_EQ(list.get().getListing().size(), 1u);
  EXPECT_EQ(S(list.get().getListing()[0].getPath()), "/d/f");

  EXPECT_OK(Call(*client_, [](Req::Builder r) {
    auto m = r.initRename();
    m.setSrc("/d/f");
    m.setDst("/d/g");
  }));
  Reply gone = Stat("/d/f");
  EXPECT_EQ(gone.status.code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status.message().find("/d/f"), std::string::npos);
  Reply locs = Call(*client_, [](Req::Builder r) { r.setGetBlockLocations("/d/g"); });
  ASSERT_TRUE(locs.status.ok()) << locs.status.ToString();
  EXPECT_EQ(locs.get().getLocations().getFile().getSize(), 700u);
  ASSERT_EQ(locs.get().getLocations().getBlocks().size(), 1u);
  auto lb = locs.get().getLocations().getBlocks()[0];
  EXPECT_EQ(ToBlockInfo(lb.getBlock()), b);
  ASSERT_EQ(lb.getDatanodes().size(), 2u);
  EXPECT_EQ(S(lb.getDatanodes()[1].getAddress()), "dn2:1");

  Reply dns = Call(*client_, [](Req::Builder r) { r.setDatanodes(); });
  ASSERT_TRUE(dns.status.ok());
  ASSERT_EQ(dns.get().getDatanodes().size(), 3u);
  EXPECT_EQ(dns.get().getDatanodes()[0].getBlocks(), 1u);
  Reply fsck = Call(*client_, [](Req::Builder r) { r.setFsck(); });
  ASSERT_TRUE(fsck.status.ok());
  EXPECT_EQ(fsck.get().getFsck().getTotalBlocks(), 1u);
  EXPECT_EQ(fsck.get().getFsck().getLiveDatanodes(), 3u);
  EXPECT_EQ(fsck.get().getFsck().getMissing().size(), 0u);

  NamenodeStatus status = service_->GetStatus();
  EXPECT_EQ(status.files, 1u);
  EXPECT_EQ(status.dirs, 2u);
  EXPECT_EQ(status.blocks, 1u);
  EXPECT_EQ(status.live_datanodes, 3u);
  ASSERT_EQ(status.datanodes.size(), 3u);
  EXPECT_EQ(status.datanodes[0].address, "dn1:1");

  // Deleting orphans the replicas: the next round orders their deletion.
  EXPECT_OK(Call(*client_, [](Req::Builder r) {
    auto d = r.initDelete();
    d.setPath("/d");
    d.setRecursive(true);
  }));
  service_->Tick();
  EXPECT_FALSE(service_->safe_mode());
  EXPECT_EQ(Commands("dn1"), (Ids{"delete " + std::to_string(b.id)}));
  EXPECT_EQ(Commands("dn2"), (Ids{"delete " + std::to_string(b.id)}));
  EXPECT_TRUE(Commands("dn1").empty()) << "handed out once";
  EXPECT_TRUE(Commands("dn3").empty());
}

TEST_F(NamenodeServiceTest, UnderReplicationIsCopiedAndDeadDatanodesMustRegisterAgain) {
  OpenService();
  for (const char* dn : {"dn1", "dn2", "dn3"}) EXPECT_OK(Register(dn));
  BlockInfo b = WriteFile("/f", 100, {"dn1", "dn2"});
  service_->Tick();
  EXPECT_TRUE(Commands("dn1").empty());

  now_ += 10'001;  // dn2 falls silent
  EXPECT_OK(Heartbeat("dn1"));
  EXPECT_OK(Heartbeat("dn3"));
  service_->Tick();
  EXPECT_EQ(Commands("dn1"), (Ids{"copy " + std::to_string(b.id) + " dn3@dn3:1"}));
  Reply late = Heartbeat("dn2");
  EXPECT_EQ(late.status.code(), StatusCode::kNotFound);
  EXPECT_NE(late.status.message().find("register again"), std::string::npos);
  EXPECT_EQ(Received("dn2", b).status.code(), StatusCode::kNotFound);
  EXPECT_EQ(Heartbeat("dn9").status.code(), StatusCode::kNotFound);

  // The copy lands; dn2 comes back with its replica: one too many, trimmed.
  EXPECT_OK(Received("dn3", b));
  EXPECT_OK(Register("dn2", {b}));
  EXPECT_OK(Heartbeat("dn2"));
  service_->Tick();
  size_t deletes = 0;
  for (const char* dn : {"dn1", "dn2", "dn3"}) deletes += Commands(dn).size();
  EXPECT_EQ(deletes, 1u);
}

TEST_F(NamenodeServiceTest, ExpiredLeaseAbandonsTheOpenFile) {
  OpenService();
  for (const char* dn : {"dn1", "dn2"}) EXPECT_OK(Register(dn));
  EXPECT_OK(Create("/quiet", "gone"));
  Reply added = AddBlock("/quiet", "gone");
  ASSERT_TRUE(added.status.ok());
  BlockInfo b = ToBlockInfo(added.get().getLocatedBlock().getBlock());
  EXPECT_OK(Received("dn1", b));
  EXPECT_OK(Create("/busy", "alive"));

  for (int i = 0; i < 4; ++i) {
    now_ += 20'000;
    EXPECT_OK(Heartbeat("dn1"));
    EXPECT_OK(Heartbeat("dn2"));
    EXPECT_OK(Call(*client_, [](Req::Builder r) { r.setRenewLease("alive"); }));
    service_->Tick();
  }
  // "gone" was silent 80 s > 60 s: its file is abandoned, its replica deleted.
  EXPECT_EQ(service_->GetStatus().open_files, 1u);
  EXPECT_EQ(Commands("dn1"), (Ids{"delete " + std::to_string(b.id)}));
  EXPECT_EQ(AddBlock("/quiet", "gone").status.code(), StatusCode::kNotFound);
  EXPECT_OK(Create("/quiet", "other"));  // the name is free again
  EXPECT_OK(Complete("/busy", "alive", {}));
  EXPECT_EQ(Call(*client_, [](Req::Builder r) { r.setRenewLease(""); }).status.code(),
            StatusCode::kInvalidArgument);
}

TEST_F(NamenodeServiceTest, AbandonBlockThenRetryWithoutTheFailedDatanode) {
  OpenService();
  for (const char* dn : {"dn1", "dn2", "dn3"}) EXPECT_OK(Register(dn));
  EXPECT_OK(Create("/f", "c"));
  Reply first = AddBlock("/f", "c");
  ASSERT_TRUE(first.status.ok());
  BlockInfo b = ToBlockInfo(first.get().getLocatedBlock().getBlock());
  EXPECT_EQ(S(first.get().getLocatedBlock().getDatanodes()[1].getId()), "dn2");
  // dn1 stored it, dn2 failed: the writer abandons the block and asks again without dn2.
  b.length = 5;
  EXPECT_OK(Received("dn1", b));
  Reply bad = Call(*client_, [&](Req::Builder r) {
    auto a = r.initAbandonBlock();
    a.setPath("/f");
    a.setClient("c");
    a.setBlockId(b.id + 7);
  });
  EXPECT_EQ(bad.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status.message().find("/f"), std::string::npos);
  EXPECT_OK(Call(*client_, [&](Req::Builder r) {
    auto a = r.initAbandonBlock();
    a.setPath("/f");
    a.setClient("c");
    a.setBlockId(b.id);
  }));
  Reply retry = AddBlock("/f", "c", {"dn2"});
  ASSERT_TRUE(retry.status.ok()) << retry.status.ToString();
  auto dns = retry.get().getLocatedBlock().getDatanodes();
  ASSERT_EQ(dns.size(), 2u);
  EXPECT_EQ(S(dns[0].getId()), "dn1");
  EXPECT_EQ(S(dns[1].getId()), "dn3");
  EXPECT_NE(retry.get().getLocatedBlock().getBlock().getId(), b.id);
  Reply none = AddBlock("/f", "c", {"dn1", "dn2", "dn3"});
  EXPECT_EQ(none.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(none.status.message().find("/f"), std::string::npos);
  service_->Tick();
  EXPECT_EQ(Commands("dn1"), (Ids{"delete " + std::to_string(b.id)}));
}

TEST_F(NamenodeServiceTest, BadReplicaIsReplacedThenDeleted) {
  OpenService();
  for (const char* dn : {"dn1", "dn2", "dn3"}) EXPECT_OK(Register(dn));
  BlockInfo b = WriteFile("/f", 100, {"dn1", "dn2"});
  EXPECT_OK(Call(*client_, [&](Req::Builder r) {
    auto bad = r.initReportBadReplica();
    bad.setBlockId(b.id);
    bad.setDatanode("dn1");
  }));
  service_->Tick();
  EXPECT_EQ(Commands("dn2"), (Ids{"copy " + std::to_string(b.id) + " dn3@dn3:1"}));
  EXPECT_TRUE(Commands("dn1").empty()) << "the bad replica stays until the copy lands";
  EXPECT_OK(Received("dn3", b));
  service_->Tick();
  EXPECT_EQ(Commands("dn1"), (Ids{"delete " + std::to_string(b.id)}));
  // A datanode's own report of a replica the namenode no longer counts is fine.
  EXPECT_OK(Call(*datanode_, [&](Req::Builder r) {
    auto e = r.initReportCorrupt();
    e.setId("dn1");
    SetBlock(b, e.initBlock());
  }));
}

TEST_F(NamenodeServiceTest, SafeModeKeepsOrphansUntilBlocksAreReported) {
  OpenService();
  EXPECT_OK(Register("dn1"));
  EXPECT_OK(Register("dn2"));
  BlockInfo b = WriteFile("/f", 10, {"dn1", "dn2"});
  CloseService();

  OpenService();
  EXPECT_TRUE(service_->safe_mode());
  const BlockInfo stray{b.id + 100, 1, 10};
  EXPECT_OK(Register("dn1", {stray}));
  service_->Tick();
  EXPECT_TRUE(service_->safe_mode());
  EXPECT_TRUE(Commands("dn1").empty()) << "no deletes before the expected blocks are reported";
  EXPECT_OK(Register("dn2", {b}));
  service_->Tick();
  EXPECT_FALSE(service_->safe_mode());
  EXPECT_EQ(Commands("dn1"), (Ids{"delete " + std::to_string(stray.id)}));
  // Only the stray replica goes: /f keeps the reported one and gets a copy to dn1.
  EXPECT_EQ(Commands("dn2"), (Ids{"copy " + std::to_string(b.id) + " dn1@dn1:1"}));
}

TEST_F(NamenodeServiceTest, SafeModeEndsAfterTheGracePeriod) {
  OpenService();
  EXPECT_OK(Register("dn1"));
  EXPECT_OK(Register("dn2"));
  WriteFile("/f", 10, {"dn1", "dn2"});
  CloseService();
  OpenService();
  EXPECT_OK(Register("dn3"));
  for (int i = 0; i < 3; ++i) {
    now_ += 6'000;
    EXPECT_OK(Heartbeat("dn3"));
    service_->Tick();
    EXPECT_TRUE(service_->safe_mode());
  }
  now_ += 2'001;  // 20 s = 2 × the heartbeat timeout
  EXPECT_OK(Heartbeat("dn3"));
  service_->Tick();
  EXPECT_FALSE(service_->safe_mode());
  EXPECT_EQ(service_->GetStatus().missing, 1u);
}

TEST_F(NamenodeServiceTest, MalformedRequests) {
  OpenService();
  // Decodable, but no request we know (every data bit set: an unknown union member).
  {
    capnp::MallocMessageBuilder msg;
    auto b = msg.initRoot<proto::Block>();
    b.setId(~0ull);
    b.setGeneration(~0ull);
    b.setLength(~0ull);
    ASSERT_TRUE(client_->Send(CapnpToString(msg)).ok());
    auto got = client_->Receive();
    ASSERT_TRUE(got.ok());
    auto parsed = CapnpReader::Parse(got->header);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(ToStatus((*parsed)->Root<Resp>().getError()).code(), StatusCode::kInvalidArgument);
  }
  // The connection is still good.
  EXPECT_OK(Call(*client_, [](Req::Builder r) { r.setMkdirs("/ok"); }));

  // Not a Cap'n Proto message at all: an error, then the connection is closed.
  ASSERT_TRUE(client_->Send("garbage").ok());
  auto got = client_->Receive();
  ASSERT_TRUE(got.ok());
  auto parsed = CapnpReader::Parse(got->header);
  ASSERT_TRUE(parsed.ok());
  Status st = ToStatus((*parsed)->Root<Resp>().getError());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(client_->Receive().ok());

  // A pointer that leads nowhere: an error, the connection kept.
  auto conn = Connect();
  std::string words(16, '\0');
  words[4] = 1;                      // one segment of one word...
  words[8] = static_cast<char>(0xfc);  // ...holding a struct pointer far out of bounds
  words[9] = static_cast<char>(0xff);
  words[10] = static_cast<char>(0xff);
  words[11] = 0x7f;
  words[12] = 1;
  ASSERT_TRUE(conn->Send(words).ok());
  got = conn->Receive();
  ASSERT_TRUE(got.ok());
  parsed = CapnpReader::Parse(got->header);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(ToStatus((*parsed)->Root<Resp>().getError()).code(), StatusCode::kInvalidArgument);

  // The service is fine.
  Reply st2 = Call(*conn, [](Req::Builder r) { r.setStat("/ok"); });
  ASSERT_TRUE(st2.status.ok()) << st2.status.ToString();
  EXPECT_TRUE(st2.get().getFileStatus().getIsDir());
}

// The loop checkpoints in the background (a forked child from the loop's thread) and Stop reaps it
// and writes the last records synchronously: a restart replays nothing and finds every directory.
TEST_F(NamenodeServiceTest, LoopCheckpointsInTheBackgroundAndStopLeavesNothingToReplay) {
  options_.checkpoint_every = 1;
  options_.loop_interval_ms = 5;
  OpenService();
  service_->Start();
  auto checkpoints = [&] {
    int n = 0;
    auto names = ListDir(dir_.path());
    for (const std::string& name : names.value()) n += name.rfind("checkpoint.", 0) == 0 && name.size() == 31;
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; checkpoints() < 2 && std::chrono::steady_clock::now() < deadline; ++i) {
    EXPECT_OK(Call(*client_, [&](Req::Builder r) { r.setMkdirs("/loop" + std::to_string(i)); }));
  }
  ASSERT_GE(checkpoints(), 2) << "no background checkpoints within 20 s";
  EXPECT_OK(Call(*client_, [](Req::Builder r) { r.setMkdirs("/last"); }));
  CloseService();  // Stop
  auto store = NamespaceStore::Open(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->recovery().replayed, 0u);
  EXPECT_TRUE((*store)->ns().Stat("/last").ok());
  EXPECT_TRUE((*store)->ns().Stat("/loop0").ok());
}

}  // namespace
}  // namespace sawmill::dfs
