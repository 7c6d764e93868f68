// Datanode over an in-process network: the write pipeline and its failures, reads, short-circuit
// grants, and the namenode conversation (register, events, commands) against a fake namenode.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include "tests/dfs/datanode/datanode_fixture.h"

namespace sawmill::dfs {
namespace {

using namespace datanode_testing;  // NOLINT: the fixture and its helpers

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
