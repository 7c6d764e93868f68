// BlockManager and placement: liveness, replica states, and each replication-monitor rule.
#include "dfs/namenode/block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "dfs/namenode/placement.h"

namespace sawmill::dfs {
namespace {

using Kind = BlockCommand::Kind;
using Ids = std::vector<std::string>;
using Blocks = std::vector<uint64_t>;

BlockCommand Copy(BlockInfo b, std::string from, std::string to) {
  return {Kind::kCopy, b, std::move(from), std::move(to)};
}
BlockCommand Delete(BlockInfo b, std::string dn) { return {Kind::kDelete, b, std::move(dn), ""}; }

// Every field spelled out (designated initializers would warn about the omitted ones).
PlacementRequest Req(size_t count, std::string writer_host = "",
                     std::set<std::string> exclude_datanodes = {},
                     std::set<std::string> exclude_hosts = {}, bool allow_shared_hosts = false) {
  PlacementRequest r;
  r.count = count;
  r.writer_host = std::move(writer_host);
  r.exclude_datanodes = std::move(exclude_datanodes);
  r.exclude_hosts = std::move(exclude_hosts);
  r.allow_shared_hosts = allow_shared_hosts;
  return r;
}

// ---- placement ----

TEST(Placement, WriterLocalFirstThenMostFreeSpace) {
  std::vector<PlacementCandidate> live = {{"a", "h1", 100}, {"b", "h2", 500}, {"c", "h3", 300}};
  EXPECT_EQ(ChooseTargets(live, Req(3, "h1")), (Ids{"a", "b", "c"}));
  EXPECT_EQ(ChooseTargets(live, Req(3)), (Ids{"b", "c", "a"}));
  // A writer host without a datanode changes nothing.
  EXPECT_EQ(ChooseTargets(live, Req(2, "h9")), (Ids{"b", "c"}));
}

TEST(Placement, WriterHostWithSeveralDatanodesUsesTheFreestOne) {
  std::vector<PlacementCandidate> live = {{"a1", "h1", 100}, {"a2", "h1", 200}, {"b", "h2", 50}};
  EXPECT_EQ(ChooseTargets(live, Req(2, "h1")), (Ids{"a2", "b"}));
}

TEST(Placement, DistinctHostsUnlessSharedHostsAllowed) {
  std::vector<PlacementCandidate> live = {{"a1", "h1", 500}, {"a2", "h1", 400}, {"b", "h2", 100}};
  EXPECT_EQ(ChooseTargets(live, Req(3)), (Ids{"a1", "b"}));
  EXPECT_EQ(ChooseTargets(live, Req(3, "", {}, {}, true)), (Ids{"a1", "b", "a2"}));
}

TEST(Placement, ExcludesHostsAndDatanodes) {
  std::vector<PlacementCandidate> live = {
      {"a", "h1", 900}, {"b", "h2", 800}, {"c", "h3", 700}, {"d", "h4", 600}};
  EXPECT_EQ(ChooseTargets(live, Req(2, "", {}, {"h1"})), (Ids{"b", "c"}));
  EXPECT_EQ(ChooseTargets(live, Req(2, "", {"a", "b"})), (Ids{"c", "d"}));
  // The writer's host already holds the block: no local replica.
  EXPECT_EQ(ChooseTargets(live, Req(1, "h4", {}, {"h4"})), (Ids{"a"}));
  // Excluded datanodes stay excluded even when sharing hosts is allowed.
  EXPECT_EQ(ChooseTargets(live, Req(4, "", {"c"}, {"h1"}, true)), (Ids{"b", "d", "a"}));
}

TEST(Placement, TiesBrokenById) {
  std::vector<PlacementCandidate> live = {{"z", "h1", 5}, {"m", "h2", 5}, {"a", "h3", 5}};
  EXPECT_EQ(ChooseTargets(live, Req(3)), (Ids{"a", "m", "z"}));
}

TEST(Placement, NotEnoughDatanodesReturnsWhatFits) {
  std::vector<PlacementCandidate> live = {{"a", "h1", 5}, {"b", "h2", 5}};
  EXPECT_EQ(ChooseTargets(live, Req(5)), (Ids{"a", "b"}));
  EXPECT_TRUE(ChooseTargets(live, Req(0, "h1")).empty());
  EXPECT_TRUE(ChooseTargets({}, Req(3)).empty());
}

// ---- block manager ----

BlockManager::Options Opts(int64_t timeout_ms, size_t max_transfers, int64_t pending_ms) {
  BlockManager::Options o;
  o.heartbeat_timeout_ms = timeout_ms;
  o.max_transfers_per_datanode = max_transfers;
  o.pending_copy_timeout_ms = pending_ms;
  return o;
}

// `n` datanodes d1..dn on hosts h1..hn, capacity 1000, all used 0, registered at t=0.
BlockManager Cluster(int n, BlockManager::Options options = {}) {
  BlockManager bm(options);
  for (int i = 1; i <= n; ++i) {
    EXPECT_TRUE(
        bm.RegisterDatanode("d" + std::to_string(i), "h" + std::to_string(i), 1000, 0, 0).ok());
  }
  return bm;
}

// Plays the datanodes' side: each copy lands, each delete happens.
void Apply(BlockManager& bm, const std::vector<BlockCommand>& commands) {
  for (const auto& c : commands) {
    if (c.kind == Kind::kCopy) {
      ASSERT_TRUE(bm.ReplicaAdded(c.target, c.block).ok());
    } else {
      ASSERT_TRUE(bm.ReplicaRemoved(c.datanode, c.block.id).ok());
    }
  }
}

const BlockInfo kB1{1, 7, 100};
const BlockInfo kB2{2, 7, 100};

TEST(BlockManager, HeartbeatTimeoutMakesDatanodeDeadAndItsBlocksUnderReplicated) {
  BlockManager bm = Cluster(3);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 3).ok());
  for (const char* dn : {"d1", "d2", "d3"}) ASSERT_TRUE(bm.ReplicaAdded(dn, kB1).ok());
  ASSERT_TRUE(bm.Heartbeat("d1", 1000, 0, 8000).ok());
  ASSERT_TRUE(bm.Heartbeat("d2", 1000, 0, 8000).ok());
  EXPECT_TRUE(bm.DeadDatanodes(10'000).empty());  // silent exactly the timeout: still live
  EXPECT_EQ(bm.DeadDatanodes(10'001), (Ids{"d3"}));
  EXPECT_TRUE(bm.UnderReplicated().empty());

  EXPECT_TRUE(bm.ComputeWork(10'001).empty());  // nowhere to copy to
  EXPECT_FALSE(bm.IsLive("d3"));
  EXPECT_EQ(bm.Locations(1), (Ids{"d1", "d2"}));
  EXPECT_EQ(bm.UnderReplicated(), (Blocks{1}));

  Status st = bm.Heartbeat("d3", 1000, 0, 10'002);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("d3"), std::string::npos);
  EXPECT_FALSE(bm.ReplicaAdded("d3", kB1).ok());

  // Back after registering and reporting.
  ASSERT_TRUE(bm.RegisterDatanode("d3", "h3", 1000, 0, 10'003).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d3", {kB1}).ok());
  EXPECT_EQ(bm.Locations(1), (Ids{"d1", "d2", "d3"}));
  EXPECT_TRUE(bm.UnderReplicated().empty());
}

TEST(BlockManager, MarkDeadDropsReplicasAndConfigurableTimeout) {
  BlockManager bm = Cluster(2, Opts(100, 2, 60'000));
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 2).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB1).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d2", kB1).ok());
  EXPECT_EQ(bm.DeadDatanodes(101), (Ids{"d1", "d2"}));
  ASSERT_TRUE(bm.MarkDead("d2").ok());
  EXPECT_EQ(bm.Locations(1), (Ids{"d1"}));
  EXPECT_EQ(bm.MarkDead("d9").code(), StatusCode::kNotFound);
}

TEST(BlockManager, ComputeWorkCopiesRestoreTheFactor) {
  BlockManager bm = Cluster(5);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 3).ok());
  ASSERT_TRUE(bm.AddExpectedBlock(kB2, 3).ok());
  ASSERT_TRUE(bm.AddExpectedBlock({3, 1, 10}, 2).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB1).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB2).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d2", kB2).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d5", {3, 1, 10}).ok());
  EXPECT_EQ(bm.UnderReplicated(), (Blocks{1, 3, 2}));  // fewest good replicas first

  for (int round = 0; round < 5 && !bm.UnderReplicated().empty(); ++round) {
    auto work = bm.ComputeWork(1 + round);
    ASSERT_FALSE(work.empty());
    for (const auto& c : work) EXPECT_EQ(c.kind, Kind::kCopy);
    Apply(bm, work);
  }
  EXPECT_TRUE(bm.UnderReplicated().empty());
  EXPECT_EQ(bm.Locations(1).size(), 3u);
  EXPECT_EQ(bm.Locations(2).size(), 3u);
  EXPECT_EQ(bm.Locations(3).size(), 2u);
  EXPECT_TRUE(bm.ComputeWork(10).empty());
}

TEST(BlockManager, CopiesAreBoundedPerDatanodeAndFewestReplicasGoFirst) {
  BlockManager bm = Cluster(4, Opts(10'000, 1, 60'000));
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 3).ok());
  ASSERT_TRUE(bm.AddExpectedBlock(kB2, 3).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB1).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d2", kB1).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d3", kB2).ok());
  // Block 2 (one replica) first: d3 can feed one copy; block 1 then gets d2 -> d4.
  EXPECT_EQ(bm.ComputeWork(1),
            (std::vector<BlockCommand>{Copy(kB2, "d3", "d1"), Copy(kB1, "d2", "d4")}));
}

TEST(BlockManager, PendingCopiesAreNotOrderedTwiceUntilTheyExpire) {
  // Three datanodes, so that a second round forgetting the pending copy would pick d3.
  BlockManager bm = Cluster(3, Opts(1'000'000, 2, 100));
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 2).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB1).ok());
  EXPECT_EQ(bm.ComputeWork(0), (std::vector<BlockCommand>{Copy(kB1, "d1", "d2")}));
  EXPECT_TRUE(bm.ComputeWork(50).empty());
  EXPECT_EQ(bm.ComputeWork(100), (std::vector<BlockCommand>{Copy(kB1, "d1", "d2")}));
}

TEST(BlockManager, OverReplicationTrimsTheFullestDatanodes) {
  BlockManager bm = Cluster(4);
  ASSERT_TRUE(bm.Heartbeat("d1", 1000, 900, 1).ok());  // free 100
  ASSERT_TRUE(bm.Heartbeat("d2", 1000, 950, 1).ok());  // free 50
  ASSERT_TRUE(bm.Heartbeat("d3", 1000, 950, 1).ok());  // free 50
  ASSERT_TRUE(bm.Heartbeat("d4", 1000, 100, 1).ok());  // free 900
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 2).ok());
  for (const char* dn : {"d1", "d2", "d3", "d4"}) ASSERT_TRUE(bm.ReplicaAdded(dn, kB1).ok());
  EXPECT_EQ(bm.OverReplicated(), (Blocks{1}));
  EXPECT_EQ(bm.ComputeWork(2), (std::vector<BlockCommand>{Delete(kB1, "d2"), Delete(kB1, "d3")}));
  // Forgotten when ordered: the next round does not trim again before the datanodes confirm.
  EXPECT_EQ(bm.Locations(1), (Ids{"d1", "d4"}));
  EXPECT_TRUE(bm.OverReplicated().empty());
  EXPECT_TRUE(bm.ComputeWork(3).empty());

  ASSERT_TRUE(bm.SetReplication(1, 1).ok());
  EXPECT_EQ(bm.ComputeWork(4), (std::vector<BlockCommand>{Delete(kB1, "d1")}));
  EXPECT_EQ(bm.Locations(1), (Ids{"d4"}));
}

TEST(BlockManager, CorruptReplicaIsReplacedThenDeleted) {
  BlockManager bm = Cluster(4);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 3).ok());
  for (const char* dn : {"d1", "d2", "d3"}) ASSERT_TRUE(bm.ReplicaAdded(dn, kB1).ok());
  ASSERT_TRUE(bm.ReportCorrupt("d2", 1).ok());
  EXPECT_EQ(bm.CorruptReplicas(), (std::vector<ReplicaRef>{{1, "d2"}}));
  EXPECT_EQ(bm.Locations(1), (Ids{"d1", "d3"}));
  EXPECT_EQ(bm.UnderReplicated(), (Blocks{1}));

  auto work = bm.ComputeWork(1);
  EXPECT_EQ(work, (std::vector<BlockCommand>{Copy(kB1, "d1", "d4")}));  // no delete yet
  Apply(bm, work);
  EXPECT_EQ(bm.ComputeWork(2), (std::vector<BlockCommand>{Delete(kB1, "d2")}));
  EXPECT_TRUE(bm.CorruptReplicas().empty());
  EXPECT_EQ(bm.Locations(1), (Ids{"d1", "d3", "d4"}));
}

TEST(BlockManager, WrongGenerationOrLengthIsCorrupt) {
  BlockManager bm = Cluster(3);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 1).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d1", {kB1}).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d2", {{1, 6, 100}}).ok());  // stale generation
  ASSERT_TRUE(bm.ProcessBlockReport("d3", {{1, 7, 99}}).ok());   // wrong length
  EXPECT_EQ(bm.Locations(1), (Ids{"d1"}));
  EXPECT_EQ(bm.CorruptReplicas(), (std::vector<ReplicaRef>{{1, "d2"}, {1, "d3"}}));
  // The delete names the replica as reported, so the datanode removes the stale file.
  EXPECT_EQ(bm.ComputeWork(1),
            (std::vector<BlockCommand>{Delete({1, 6, 100}, "d2"), Delete({1, 7, 99}, "d3")}));
  // A new expectation (pipeline recovery bumped the generation) re-judges the replicas.
  ASSERT_TRUE(bm.ReplicaAdded("d2", {1, 8, 100}).ok());
  EXPECT_EQ(bm.Locations(1), (Ids{"d1"}));
  ASSERT_TRUE(bm.AddExpectedBlock({1, 8, 100}, 1).ok());
  EXPECT_EQ(bm.Locations(1), (Ids{"d2"}));
}

TEST(BlockManager, CorruptReplicaGoesWhenNoCopyCanBePlaced) {
  // Three datanodes, factor 3, d3 corrupt: no target exists until d3 is freed.
  BlockManager bm = Cluster(3);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 3).ok());
  for (const char* dn : {"d1", "d2", "d3"}) ASSERT_TRUE(bm.ReplicaAdded(dn, kB1).ok());
  ASSERT_TRUE(bm.ReportCorrupt("d3", 1).ok());
  auto work = bm.ComputeWork(1);
  EXPECT_EQ(work, (std::vector<BlockCommand>{Delete(kB1, "d3")}));
  Apply(bm, work);
  work = bm.ComputeWork(2);
  EXPECT_EQ(work, (std::vector<BlockCommand>{Copy(kB1, "d1", "d3")}));
  Apply(bm, work);
  EXPECT_EQ(bm.Locations(1), (Ids{"d1", "d2", "d3"}));
}

TEST(BlockManager, NeverDeletesTheLastCopiesEvenCorrupt) {
  BlockManager bm = Cluster(3);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 2).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB1).ok());
  ASSERT_TRUE(bm.ReportCorrupt("d1", 1).ok());
  ASSERT_TRUE(bm.AddExpectedBlock(kB2, 3).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", {2, 6, 100}).ok());  // both stale
  ASSERT_TRUE(bm.ReplicaAdded("d2", {2, 6, 100}).ok());
  EXPECT_EQ(bm.Missing(), (Blocks{1, 2}));
  EXPECT_TRUE(bm.UnderReplicated().empty());
  EXPECT_TRUE(bm.ComputeWork(1).empty());
  EXPECT_EQ(bm.CorruptReplicas().size(), 3u);
}

TEST(BlockManager, OrphanReplicasAreDeleted) {
  BlockManager bm = Cluster(2);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 1).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d1", {kB1, {99, 1, 5}}).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d2", {{99, 1, 5}}).ok());
  EXPECT_TRUE(bm.CorruptReplicas().empty());  // orphans are not corrupt replicas
  EXPECT_EQ(bm.ComputeWork(1),
            (std::vector<BlockCommand>{Delete({99, 1, 5}, "d1"), Delete({99, 1, 5}, "d2")}));
  // A deleted file's block goes too, last copy included: nothing refers to it any more.
  ASSERT_TRUE(bm.RemoveExpectedBlock(1).ok());
  EXPECT_EQ(bm.ComputeWork(2), (std::vector<BlockCommand>{Delete(kB1, "d1")}));
  EXPECT_TRUE(bm.Locations(1).empty());
  EXPECT_TRUE(bm.Missing().empty());
}

TEST(BlockManager, MissingBlocksAreReported) {
  BlockManager bm = Cluster(2);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 2).ok());
  ASSERT_TRUE(bm.AddExpectedBlock(kB2, 2).ok());
  EXPECT_EQ(bm.Missing(), (Blocks{1, 2}));
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB1).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d2", kB2).ok());
  EXPECT_TRUE(bm.Missing().empty());
  ASSERT_TRUE(bm.MarkDead("d2").ok());
  EXPECT_EQ(bm.Missing(), (Blocks{2}));
  EXPECT_EQ(bm.UnderReplicated(), (Blocks{1}));
}

TEST(BlockManager, FullBlockReportReplacesThePreviousSet) {
  BlockManager bm = Cluster(1);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 1).ok());
  ASSERT_TRUE(bm.AddExpectedBlock(kB2, 1).ok());
  ASSERT_TRUE(bm.AddExpectedBlock({3, 7, 100}, 1).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d1", {kB1, kB2}).ok());
  ASSERT_TRUE(bm.ReportCorrupt("d1", 2).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d1", {kB2, {3, 7, 100}}).ok());
  EXPECT_TRUE(bm.Locations(1).empty());
  EXPECT_TRUE(bm.Locations(2).empty());  // still corrupt: the same replica was reported again
  EXPECT_EQ(bm.Locations(3), (Ids{"d1"}));
  EXPECT_EQ(bm.Missing(), (Blocks{1, 2}));
  ASSERT_TRUE(bm.ProcessBlockReport("d1", {}).ok());
  EXPECT_EQ(bm.Missing(), (Blocks{1, 2, 3}));

  Status st = bm.ProcessBlockReport("d1", {kB1, kB1});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("d1"), std::string::npos);
}

TEST(BlockManager, OpenBlockReplicasOfAnyLengthAreGoodUntilComplete) {
  BlockManager bm = Cluster(3);
  const BlockInfo open{5, 9, 0};
  ASSERT_TRUE(bm.AddExpectedBlock(open, 3, /*under_construction=*/true).ok());
  // Finalized by the pipeline and reported before the writer's Complete: good, kept.
  ASSERT_TRUE(bm.ReplicaAdded("d1", {5, 9, 100}).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d2", {{5, 9, 60}}).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d3", {5, 8, 100}).ok());  // a stale generation is still corrupt
  EXPECT_EQ(bm.Locations(5), (Ids{"d1", "d2"}));
  EXPECT_EQ(bm.CorruptReplicas(), (std::vector<ReplicaRef>{{5, "d3"}}));
  // Under-replicated, but an open block is neither copied nor trimmed; nothing good is deleted.
  EXPECT_EQ(bm.UnderReplicated(), (Blocks{5}));
  EXPECT_TRUE(bm.ComputeWork(1).empty());
  ASSERT_TRUE(bm.SetReplication(5, 1).ok());
  // Over-replicated now: only the stale replica goes, the good ones stay until Complete.
  EXPECT_EQ(bm.ComputeWork(2), (std::vector<BlockCommand>{Delete({5, 8, 100}, "d3")}));
  ASSERT_TRUE(bm.ReplicaRemoved("d3", 5).ok());
  EXPECT_TRUE(bm.ComputeWork(3).empty());
  ASSERT_TRUE(bm.SetReplication(5, 2).ok());

  // Complete: the writer says 100 bytes, so d2's 60-byte replica is corrupt now; it is replaced,
  // then deleted.
  const BlockInfo done{5, 9, 100};
  ASSERT_TRUE(bm.AddExpectedBlock(done, 2).ok());
  EXPECT_EQ(bm.Locations(5), (Ids{"d1"}));
  EXPECT_EQ(bm.CorruptReplicas(), (std::vector<ReplicaRef>{{5, "d2"}}));
  auto work = bm.ComputeWork(4);
  EXPECT_EQ(work, (std::vector<BlockCommand>{Copy(done, "d1", "d3")}));
  Apply(bm, work);
  EXPECT_EQ(bm.ComputeWork(5), (std::vector<BlockCommand>{Delete({5, 9, 60}, "d2")}));
}

TEST(BlockManager, DatanodesSnapshot) {
  BlockManager bm = Cluster(2);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 2).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB1).ok());
  ASSERT_TRUE(bm.Heartbeat("d1", 1000, 10, 50).ok());
  ASSERT_TRUE(bm.MarkDead("d2").ok());
  std::vector<DatanodeState> dns = bm.Datanodes();
  ASSERT_EQ(dns.size(), 2u);
  EXPECT_EQ(dns[0].id, "d1");
  EXPECT_EQ(dns[0].host, "h1");
  EXPECT_EQ(dns[0].used, 10u);
  EXPECT_EQ(dns[0].last_heartbeat_ms, 50);
  EXPECT_TRUE(dns[0].live);
  EXPECT_EQ(dns[0].replicas, 1u);
  EXPECT_FALSE(dns[1].live);
  EXPECT_EQ(dns[1].replicas, 0u);
}

TEST(BlockManager, LocationsAreSortedByIdWhateverTheRegistrationOrder) {
  BlockManager bm;
  for (const char* dn : {"d3", "d1", "d2"})
    ASSERT_TRUE(bm.RegisterDatanode(dn, std::string("h") + dn, 1000, 0, 0).ok());
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 3).ok());
  ASSERT_TRUE(bm.AddExpectedBlock(kB2, 3).ok());
  for (const char* dn : {"d2", "d3", "d1"}) ASSERT_TRUE(bm.ReplicaAdded(dn, kB1).ok());
  for (const char* dn : {"d3", "d1", "d2"})
    ASSERT_TRUE(bm.ReplicaAdded(dn, {2, 6, 100}).ok());  // all stale
  EXPECT_EQ(bm.Locations(1), (Ids{"d1", "d2", "d3"}));
  EXPECT_EQ(bm.CorruptReplicas(), (std::vector<ReplicaRef>{{2, "d1"}, {2, "d2"}, {2, "d3"}}));
  // Orphans are deleted by block id, then datanode id.
  ASSERT_TRUE(bm.ProcessBlockReport("d3", {{20, 1, 1}, kB1, {10, 1, 1}}).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d1", {20, 1, 1}).ok());
  EXPECT_EQ(bm.ComputeWork(1),
            (std::vector<BlockCommand>{Delete({10, 1, 1}, "d3"), Delete({20, 1, 1}, "d1"),
                                       Delete({20, 1, 1}, "d3")}));
}

TEST(BlockManager, ManyReplicasOfOneBlock) {
  // More replicas than a block keeps inline: added, counted, trimmed and removed alike.
  BlockManager bm = Cluster(12);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 12).ok());
  Ids all;
  for (int i = 1; i <= 12; ++i) {
    all.push_back("d" + std::to_string(i));
    ASSERT_TRUE(bm.ReplicaAdded(all.back(), kB1).ok());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(bm.Locations(1), all);
  ASSERT_TRUE(bm.ReportCorrupt("d7", 1).ok());
  ASSERT_TRUE(bm.ReplicaAdded("d9", {1, 6, 100}).ok());  // a stale one
  EXPECT_EQ(bm.CorruptReplicas(), (std::vector<ReplicaRef>{{1, "d7"}, {1, "d9"}}));
  EXPECT_EQ(bm.Locations(1).size(), 10u);
  for (int i = 1; i <= 12; ++i) {
    if (i == 7 || i == 9) continue;
    ASSERT_TRUE(bm.ReplicaRemoved("d" + std::to_string(i), 1).ok());
  }
  EXPECT_EQ(bm.CorruptReplicas(), (std::vector<ReplicaRef>{{1, "d7"}, {1, "d9"}}));
  EXPECT_EQ(bm.Missing(), (Blocks{1}));
  for (const auto& dn : bm.Datanodes())
    EXPECT_EQ(dn.replicas, dn.id == "d7" || dn.id == "d9" ? 1u : 0u) << dn.id;
  ASSERT_TRUE(bm.ReplicaAdded("d1", kB1).ok());
  EXPECT_EQ(bm.Locations(1), (Ids{"d1"}));
}

TEST(BlockManager, FullReportsKeepCountsAndDropOnlyWhatIsGone) {
  BlockManager bm = Cluster(2);
  for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(bm.AddExpectedBlock({id, 7, 100}, 2).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d1", {{1, 7, 100}, {2, 7, 100}, {3, 7, 100}}).ok());
  ASSERT_TRUE(bm.ProcessBlockReport("d2", {{1, 7, 100}, {4, 7, 100}}).ok());
  // The same report again, and one that lost block 2 and gained block 5.
  ASSERT_TRUE(bm.ProcessBlockReport("d1", {{3, 7, 100}, {1, 7, 100}, {2, 7, 100}}).ok());
  EXPECT_EQ(bm.Datanodes()[0].replicas, 3u);
  ASSERT_TRUE(bm.ProcessBlockReport("d1", {{1, 7, 100}, {3, 7, 100}, {5, 7, 100}}).ok());
  EXPECT_EQ(bm.Datanodes()[0].replicas, 3u);
  EXPECT_EQ(bm.Datanodes()[1].replicas, 2u);
  EXPECT_EQ(bm.Missing(), (Blocks{2}));
  EXPECT_EQ(bm.UnderReplicated(), (Blocks{3, 4, 5}));
  EXPECT_EQ(bm.Locations(1), (Ids{"d1", "d2"}));
  // The first repeat in the report's order is named.
  Status st = bm.ProcessBlockReport("d1", {{9, 1, 1}, {4, 1, 1}, {4, 1, 1}, {9, 1, 1}});
  EXPECT_NE(st.message().find("block 4 twice"), std::string::npos) << st.ToString();
  EXPECT_EQ(bm.Datanodes()[0].replicas, 3u);  // a rejected report changes nothing
  ASSERT_TRUE(bm.MarkDead("d1").ok());
  EXPECT_EQ(bm.Datanodes()[0].replicas, 0u);
  EXPECT_EQ(bm.Locations(1), (Ids{"d2"}));
  EXPECT_EQ(bm.Missing(), (Blocks{2, 3, 5}));
}

TEST(BlockManager, ANewExpectationRejudgesReplicasThatMatchedTheOldOne) {
  BlockManager bm = Cluster(3);
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 3).ok());
  for (const char* dn : {"d1", "d2", "d3"}) ASSERT_TRUE(bm.ReplicaAdded(dn, kB1).ok());
  ASSERT_TRUE(bm.ReportCorrupt("d3", 1).ok());
  // Pipeline recovery bumped the generation; d2 was rewritten, d1 and d3 hold the old one.
  ASSERT_TRUE(bm.ReplicaAdded("d2", {1, 8, 100}).ok());
  ASSERT_TRUE(bm.AddExpectedBlock({1, 8, 100}, 3).ok());
  EXPECT_EQ(bm.Locations(1), (Ids{"d2"}));
  EXPECT_EQ(bm.CorruptReplicas(), (std::vector<ReplicaRef>{{1, "d1"}, {1, "d3"}}));
  // Back to the old expectation (as a replay might): d1 is good again, d3 stays corrupt.
  ASSERT_TRUE(bm.AddExpectedBlock(kB1, 3).ok());
  EXPECT_EQ(bm.Locations(1), (Ids{"d1"}));
  // The deletes name the replicas as they were reported.
  ASSERT_TRUE(bm.SetReplication(1, 1).ok());
  EXPECT_EQ(bm.ComputeWork(1),
            (std::vector<BlockCommand>{Delete({1, 8, 100}, "d2"), Delete(kB1, "d3")}));
  // Deleting the file leaves d1's replica an orphan, deleted as reported.
  ASSERT_TRUE(bm.RemoveExpectedBlock(1).ok());
  EXPECT_EQ(bm.RemoveExpectedBlock(1).code(), StatusCode::kNotFound);
  EXPECT_EQ(bm.SetReplication(1, 2).code(), StatusCode::kNotFound);
  EXPECT_TRUE(bm.Missing().empty());
  EXPECT_EQ(bm.ComputeWork(2), (std::vector<BlockCommand>{Delete(kB1, "d1")}));
  EXPECT_TRUE(bm.ComputeWork(3).empty());
  for (const auto& dn : bm.Datanodes()) EXPECT_EQ(dn.replicas, 0u) << dn.id;
}

TEST(BlockManager, ErrorsNameTheirSubject) {
  BlockManager bm = Cluster(1);
  auto expect_names = [](const Status& st, StatusCode code, const std::string& what) {
    EXPECT_EQ(st.code(), code) << st.ToString();
    EXPECT_NE(st.message().find(what), std::string::npos) << st.ToString();
  };
  expect_names(bm.Heartbeat("d7", 1, 0, 1), StatusCode::kNotFound, "d7");
  expect_names(bm.ProcessBlockReport("d7", {}), StatusCode::kNotFound, "d7");
  expect_names(bm.ReportCorrupt("d1", 42), StatusCode::kNotFound, "42");
  expect_names(bm.AddExpectedBlock({42, 1, 1}, 0), StatusCode::kInvalidArgument, "42");
  expect_names(bm.SetReplication(42, 2), StatusCode::kNotFound, "42");
  expect_names(bm.RemoveExpectedBlock(42), StatusCode::kNotFound, "42");
  expect_names(bm.RegisterDatanode("", "h1", 1, 0, 0), StatusCode::kInvalidArgument, "h1");
}

}  // namespace
}  // namespace sawmill::dfs
