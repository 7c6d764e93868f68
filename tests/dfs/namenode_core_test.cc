// NamenodeCore: a write, datanode loss, delete and restart, with the block manager kept in step
// with the namespace throughout.
#include "dfs/namenode/namenode_core.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::TempDir;
using Kind = BlockCommand::Kind;
using Ids = std::vector<std::string>;

constexpr uint64_t kCapacity = 1ull << 30;

NamenodeCore::Options Opts() {
  NamenodeCore::Options o;
  o.block_manager.heartbeat_timeout_ms = 10'000;
  return o;
}

std::unique_ptr<NamenodeCore> OpenCore(const TempDir& dir) {
  auto core = NamenodeCore::Open(dir.path(), Opts());
  EXPECT_TRUE(core.ok()) << core.status().ToString();
  return std::move(core).value();
}

// Commands of one kind as (block id, datanode, target), sorted.
std::vector<std::tuple<uint64_t, std::string, std::string>> Of(Kind kind, const std::vector<BlockCommand>& cmds) {
  std::vector<std::tuple<uint64_t, std::string, std::string>> out;
  for (const BlockCommand& c : cmds) {
    if (c.kind == kind) out.emplace_back(c.block.id, c.datanode, c.target);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(NamenodeCore, WriteLoseDatanodeDeleteRestart) {
  TempDir dir;
  auto core = OpenCore(dir);
  for (const char* n : {"1", "2", "3"}) {
    ASSERT_TRUE(core->RegisterDatanode(std::string("dn") + n, std::string("h") + n, kCapacity, 0, 0).ok());
  }
  ASSERT_TRUE(core->Mkdirs("/d", 1).ok());
  ASSERT_TRUE(core->Create("/d/f", "c", 2, 1024, 1).ok());

  // Writer on h1: its datanode first, then the freest other (ties by id).
  auto b1 = core->AddBlock("/d/f", "c", "h1", 2);
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  EXPECT_EQ(b1->datanodes, (Ids{"dn1", "dn2"}));
  EXPECT_EQ(b1->block.length, 0u);
  auto b2 = core->AddBlock("/d/f", "c", "h1", 2);
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(core->GetBlockLocations("/d/f").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(core->Fsck().open_blocks, 2u);
  ASSERT_TRUE(core->Complete("/d/f", "c", {1024, 500}, 3).ok());

  BlockInfo f1{b1->block.id, b1->block.generation, 1024};
  BlockInfo f2{b2->block.id, b2->block.generation, 500};
  EXPECT_EQ(core->Fsck().missing.size(), 2u);
  ASSERT_TRUE(core->BlockReport("dn1", {f1, f2}).ok());
  ASSERT_TRUE(core->BlockReport("dn2", {f1, f2}).ok());
  auto locs = core->GetBlockLocations("/d/f");
  ASSERT_TRUE(locs.ok());
  ASSERT_EQ(locs->size(), 2u);
  EXPECT_EQ((*locs)[0].block, f1);
  EXPECT_EQ((*locs)[0].datanodes, (Ids{"dn1", "dn2"}));
  EXPECT_EQ((*locs)[1].datanodes, (Ids{"dn1", "dn2"}));
  FsckReport fsck = core->Fsck();
  EXPECT_TRUE(fsck.healthy());
  EXPECT_EQ(fsck.total_blocks, 2u);
  EXPECT_TRUE(core->ComputeWork(1000).empty());

  // dn2 goes silent: both blocks are under-replicated and copied from dn1 to dn3.
  ASSERT_TRUE(core->Heartbeat("dn1", kCapacity, 0, 9000).ok());
  ASSERT_TRUE(core->Heartbeat("dn3", kCapacity, 0, 9000).ok());
  EXPECT_EQ(core->ExpireDatanodes(12'000), (Ids{"dn2"}));
  fsck = core->Fsck();
  ASSERT_EQ(fsck.under_replicated.size(), 2u);
  EXPECT_EQ(fsck.under_replicated[0].path, "/d/f");
  auto work = core->ComputeWork(12'000);
  EXPECT_EQ(Of(Kind::kCopy, work), (decltype(Of(Kind::kCopy, work)){{f1.id, "dn1", "dn3"}, {f2.id, "dn1", "dn3"}}));
  EXPECT_TRUE(Of(Kind::kDelete, work).empty());
  ASSERT_TRUE(core->ReplicaAdded("dn3", f1).ok());
  ASSERT_TRUE(core->ReplicaAdded("dn3", f2).ok());
  EXPECT_TRUE(core->Fsck().healthy());

  // A second file that survives; a third left open across the restart.
  ASSERT_TRUE(core->Create("/d/g", "c", 2, 1024, 13).ok());
  auto g = core->AddBlock("/d/g", "c", "h3", 13);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->datanodes, (Ids{"dn3", "dn1"}));  // dn2 is dead
  ASSERT_TRUE(core->Complete("/d/g", "c", {100}, 13).ok());
  BlockInfo g1{g->block.id, g->block.generation, 100};
  ASSERT_TRUE(core->ReplicaAdded("dn3", g1).ok());
  ASSERT_TRUE(core->ReplicaAdded("dn1", g1).ok());
  ASSERT_TRUE(core->Create("/d/h", "c", 2, 1024, 13).ok());
  ASSERT_TRUE(core->AddBlock("/d/h", "c", "h1", 13).ok());

  // Deleting /d/f makes its replicas orphans.
  ASSERT_TRUE(core->Delete("/d/f", false, 14).ok());
  EXPECT_EQ(core->GetBlockLocations("/d/f").status().code(), StatusCode::kNotFound);
  work = core->ComputeWork(13'000);
  EXPECT_TRUE(Of(Kind::kCopy, work).empty());
  EXPECT_EQ(Of(Kind::kDelete, work), (decltype(Of(Kind::kDelete, work)){
                                         {f1.id, "dn1", ""}, {f1.id, "dn3", ""}, {f2.id, "dn1", ""}, {f2.id, "dn3", ""}}));

  // Restart: the expected blocks come back from the namespace before any report.
  core.reset();
  core = OpenCore(dir);
  ASSERT_TRUE(core->RegisterDatanode("dn1", "h1", kCapacity, 0, 20'000).ok());
  ASSERT_TRUE(core->RegisterDatanode("dn3", "h3", kCapacity, 0, 20'000).ok());
  ASSERT_TRUE(core->BlockReport("dn1", {g1, f1}).ok());  // f1: a delete that never happened
  ASSERT_TRUE(core->BlockReport("dn3", {g1}).ok());
  work = core->ComputeWork(20'001);
  EXPECT_TRUE(Of(Kind::kCopy, work).empty());
  EXPECT_EQ(Of(Kind::kDelete, work), (decltype(Of(Kind::kDelete, work)){{f1.id, "dn1", ""}}));
  locs = core->GetBlockLocations("/d/g");
  ASSERT_TRUE(locs.ok());
  ASSERT_EQ(locs->size(), 1u);
  EXPECT_EQ((*locs)[0].datanodes, (Ids{"dn1", "dn3"}));
  fsck = core->Fsck();
  EXPECT_TRUE(fsck.healthy());
  EXPECT_EQ(fsck.total_blocks, 1u);
  EXPECT_EQ(fsck.open_blocks, 1u);
  // The open file's parameters survived too: it can still grow and be placed.
  EXPECT_EQ(core->GetBlockLocations("/d/h").status().code(), StatusCode::kNotFound);
  auto h2 = core->AddBlock("/d/h", "c", "h1", 20'002);
  ASSERT_TRUE(h2.ok()) << h2.status().ToString();
  EXPECT_EQ(h2->datanodes, (Ids{"dn1", "dn3"}));
}

TEST(NamenodeCore, AddBlockWithoutDatanodesAllocatesNothing) {
  TempDir dir;
  auto core = OpenCore(dir);
  ASSERT_TRUE(core->Create("/f", "c", 1, 1024, 1).ok());
  uint64_t next = core->store().ns().next_block_id();
  auto b = core->AddBlock("/f", "c", "h1", 1);
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(b.status().message().find("/f"), std::string::npos);
  EXPECT_EQ(core->store().ns().next_block_id(), next);
  EXPECT_EQ(core->AddBlock("/nope", "c", "h1", 1).status().code(), StatusCode::kNotFound);
}

// A full datanode (free space under a block plus the reserve) gets no new block until a heartbeat
// says it has room again; blocks placed since its last heartbeat count against its free space.
TEST(NamenodeCore, AFullDatanodeIsLeftOutOfPlacementUntilItHasRoom) {
  TempDir dir;
  NamenodeCore::Options o = Opts();
  o.datanode_reserve_bytes = 4096;
  auto opened = NamenodeCore::Open(dir.path(), o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto core = std::move(opened).value();
  // dn1: room for one more block and the reserve, not two; dn2: full; dn3: plenty.
  ASSERT_TRUE(core->RegisterDatanode("dn1", "h1", 10'000, 10'000 - (1024 + 4096) - 1000, 0).ok());
  ASSERT_TRUE(core->RegisterDatanode("dn2", "h2", 10'000, 9'000, 0).ok());
  ASSERT_TRUE(core->RegisterDatanode("dn3", "h3", kCapacity, 0, 0).ok());
  ASSERT_TRUE(core->Create("/f", "c", 1, 1024, 1).ok());
  auto on = [&](const std::string& writer_host, int64_t now) {
    auto b = core->AddBlock("/f", "c", writer_host, now);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? b->datanodes : Ids{};
  };
  EXPECT_EQ(on("h2", 1), (Ids{"dn3"})) << "the writer's own datanode is full";
  EXPECT_EQ(on("h1", 1), (Ids{"dn1"}));
  EXPECT_EQ(on("h1", 1), (Ids{"dn3"})) << "the block placed on dn1 since its heartbeat leaves it no room";
  // The heartbeat after that block landed: still under the reserve.
  ASSERT_TRUE(core->Heartbeat("dn1", 10'000, 10'000 - 4096 - 1000, 2).ok());
  EXPECT_EQ(on("h1", 2), (Ids{"dn3"}));
  // Room again (blocks deleted): back in placement, dn2 too.
  ASSERT_TRUE(core->Heartbeat("dn1", 10'000, 0, 3).ok());
  ASSERT_TRUE(core->Heartbeat("dn2", 10'000, 0, 3).ok());
  EXPECT_EQ(on("h1", 3), (Ids{"dn1"}));
  EXPECT_EQ(on("h2", 3), (Ids{"dn2"}));
  // Nowhere to go: refused, nothing allocated.
  ASSERT_TRUE(core->Create("/g", "c", 1, 1 << 20, 4).ok());
  ASSERT_TRUE(core->Heartbeat("dn3", kCapacity, kCapacity - (1 << 20), 4).ok());
  auto none = core->AddBlock("/g", "c", "h3", 4);
  EXPECT_EQ(none.status().code(), StatusCode::kUnavailable) << none.status().ToString();
  EXPECT_NE(none.status().message().find("room"), std::string::npos);
}

TEST(NamenodeCore, AbandonBlockForgetsItAndRetriesElsewhere) {
  TempDir dir;
  auto core = OpenCore(dir);
  for (const char* n : {"1", "2", "3"}) {
    ASSERT_TRUE(core->RegisterDatanode(std::string("dn") + n, std::string("h") + n, kCapacity, 0, 0).ok());
  }
  ASSERT_TRUE(core->Create("/f", "c", 2, 1024, 1).ok());
  auto b = core->AddBlock("/f", "c", "h1", 1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->datanodes, (Ids{"dn1", "dn2"}));
  // dn1 stored its replica (reported before Complete: good, any length), dn2 failed.
  BlockInfo partial{b->block.id, b->block.generation, 300};
  ASSERT_TRUE(core->ReplicaAdded("dn1", partial).ok());
  EXPECT_TRUE(core->ComputeWork(2).empty()) << "an open block's replica is neither corrupt nor copied";

  Status st = core->AbandonBlock("/f", "other", b->block.id);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("/f"), std::string::npos);
  ASSERT_TRUE(core->AbandonBlock("/f", "c", b->block.id).ok());
  // The abandoned block's replica is an orphan now.
  auto work = core->ComputeWork(3);
  EXPECT_EQ(Of(Kind::kDelete, work), (decltype(Of(Kind::kDelete, work)){{b->block.id, "dn1", ""}}));

  // The retry leaves out the datanode that failed.
  auto retry = core->AddBlock("/f", "c", "h1", 4, {"dn2"});
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_NE(retry->block.id, b->block.id);
  EXPECT_EQ(retry->datanodes, (Ids{"dn1", "dn3"}));
  EXPECT_EQ(core->AddBlock("/f", "c", "h1", 4, {"dn1", "dn2", "dn3"}).status().code(), StatusCode::kUnavailable);
  ASSERT_EQ(core->OpenFiles().size(), 1u);
  EXPECT_EQ(core->OpenFiles()[0].path, "/f");
  EXPECT_EQ(core->OpenFiles()[0].lease_holder, "c");

  // Complete fixes the length: a replica of another length is corrupt from then on.
  BlockInfo full{retry->block.id, retry->block.generation, 1000};
  ASSERT_TRUE(core->ReplicaAdded("dn1", full).ok());
  ASSERT_TRUE(core->ReplicaAdded("dn3", {retry->block.id, retry->block.generation, 999}).ok());
  ASSERT_TRUE(core->Complete("/f", "c", {1000}, 5).ok());
  FsckReport fsck = core->Fsck();
  ASSERT_EQ(fsck.corrupt.size(), 1u);
  EXPECT_EQ(fsck.corrupt[0].datanode, "dn3");
  EXPECT_TRUE(core->OpenFiles().empty());

  // After a restart the file has only the retried block.
  core.reset();
  core = OpenCore(dir);
  auto locs = core->GetBlockLocations("/f");
  ASSERT_TRUE(locs.ok());
  ASSERT_EQ(locs->size(), 1u);
  EXPECT_EQ((*locs)[0].block, full);
}

TEST(NamenodeCore, SetReplicationReachesTheBlockManager) {
  TempDir dir;
  auto core = OpenCore(dir);
  ASSERT_TRUE(core->RegisterDatanode("dn1", "h1", kCapacity, 0, 0).ok());
  ASSERT_TRUE(core->RegisterDatanode("dn2", "h2", kCapacity, 0, 0).ok());
  ASSERT_TRUE(core->Create("/f", "c", 1, 1024, 1).ok());
  auto b = core->AddBlock("/f", "c", "h1", 1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->datanodes, (Ids{"dn1"}));
  ASSERT_TRUE(core->Complete("/f", "c", {10}, 2).ok());
  BlockInfo f{b->block.id, b->block.generation, 10};
  ASSERT_TRUE(core->BlockReport("dn1", {f}).ok());
  EXPECT_TRUE(core->Fsck().healthy());
  ASSERT_TRUE(core->SetReplication("/f", 2).ok());
  EXPECT_EQ(core->Fsck().under_replicated.size(), 1u);
  auto work = core->ComputeWork(1);
  EXPECT_EQ(Of(Kind::kCopy, work), (decltype(Of(Kind::kCopy, work)){{f.id, "dn1", "dn2"}}));
}

// A namenode that journaled a writer's request and died before answering: the writer sends it
// again to the restarted namenode, which answers it as the first time and changes nothing.
TEST(NamenodeCore, RepeatsOfAWritersRequestsAfterARestartChangeNothing) {
  TempDir dir;
  auto register_all = [](NamenodeCore* core) {
    for (const char* n : {"1", "2", "3"}) {
      ASSERT_TRUE(core->RegisterDatanode(std::string("dn") + n, std::string("h") + n, kCapacity, 0, 0).ok());
    }
  };
  uint64_t first_id = 0;
  {
    auto core = OpenCore(dir);
    register_all(core.get());
    ASSERT_TRUE(core->Create("/f", "c", 2, 1024, 1).ok());
  }
  {
    auto core = OpenCore(dir);  // a restart: replayed from the journal
    register_all(core.get());
    EXPECT_TRUE(core->Create("/f", "c", 2, 1024, 2).ok()) << "the writer's own file, no block yet";
    EXPECT_EQ(core->Create("/f", "other", 2, 1024, 2).code(), StatusCode::kAlreadyExists);
    auto b = core->AddBlock("/f", "c", "h1", 2, {}, 0);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    first_id = b->block.id;
  }
  auto core = OpenCore(dir);
  register_all(core.get());
  auto again = core->AddBlock("/f", "c", "h1", 3, {}, 0);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->block.id, first_id) << "the repeat answers the block the first one allocated";
  EXPECT_EQ(again->datanodes.size(), 2u);
  EXPECT_EQ(core->Create("/f", "c", 2, 1024, 3).code(), StatusCode::kAlreadyExists) << "the file has a block now";
  auto wrong = core->AddBlock("/f", "c", "h1", 3, {}, 3);
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  // A second block, abandoned twice (the repeat finds it gone), then allocated again.
  auto second = core->AddBlock("/f", "c", "h1", 4, {}, 1);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->block.id, first_id);
  ASSERT_TRUE(core->AbandonBlock("/f", "c", second->block.id).ok());
  EXPECT_TRUE(core->AbandonBlock("/f", "c", second->block.id).ok());
  EXPECT_EQ(core->AbandonBlock("/f", "c", second->block.id + 100).code(), StatusCode::kInvalidArgument)
      << "a block never allocated is no repeat";
  // Complete, and its repeat; a complete with other lengths is no repeat.
  ASSERT_TRUE(core->Complete("/f", "c", {700}, 5).ok());
  EXPECT_TRUE(core->Complete("/f", "c", {700}, 6).ok());
  EXPECT_FALSE(core->Complete("/f", "c", {600}, 6).ok());
  auto located = core->GetBlockLocations("/f");
  ASSERT_TRUE(located.ok()) << located.status().ToString();
  ASSERT_EQ(located->size(), 1u);
  EXPECT_EQ((*located)[0].block.id, first_id);
  EXPECT_EQ((*located)[0].block.length, 700u);
}

}  // namespace
}  // namespace sawmill::dfs
