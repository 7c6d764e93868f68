// Short-circuit writes served by the datanode: localWrite grants, finalizeLocal checks, and what
// a refused, abandoned or bad write leaves behind (nothing).
#include <filesystem>
#include <functional>

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "dfs/machine.h"
#include "tests/dfs/datanode/datanode_fixture.h"

namespace sawmill::dfs {
namespace {

using namespace datanode_testing;  // NOLINT: the fixture and its helpers

class DatanodeLocalWriteTest : public DatanodeTest {
 protected:
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
};

TEST_F(DatanodeLocalWriteTest, ShortCircuitWriteIsStoredAndReportedLikeAPipelineBlock) {
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

TEST_F(DatanodeLocalWriteTest, ShortCircuitWriteRefusalsLeaveTheConversationOpen) {
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

TEST_F(DatanodeLocalWriteTest, ShortCircuitWriteNotFinalizedLeavesNoFile) {
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

TEST_F(DatanodeLocalWriteTest, ShortCircuitWriteOfABadFileIsRefusedAndRemoved) {
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

TEST_F(DatanodeLocalWriteTest, FinalizeLocalWithoutAGrantIsRefused) {
  AddDatanodes(1);
  auto conn = net_->Connect(Address(1));
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE((*conn)->Send(FinalizeLocalRequest({48, 1, 0})).ok());
  auto m = (*conn)->Receive();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ParseAck(*m).error.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sawmill::dfs
