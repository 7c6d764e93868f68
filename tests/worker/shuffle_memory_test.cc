// Tests of the in-memory segment budget (worker/shuffle_memory.h): reservations never exceed it,
// releases give it back, and a budget without a directory (or a zero budget) takes nothing.
#include "worker/shuffle_memory.h"

#include <gtest/gtest.h>

namespace sawmill::worker {
namespace {

TEST(shuffle_memory, ReservationsStayWithinTheBudget) {
  ShuffleMemory m("/dev/shm/x", 100);
  EXPECT_TRUE(m.enabled());
  EXPECT_TRUE(m.Reserve(60));
  EXPECT_FALSE(m.Reserve(41));  // 60 + 41 > 100: the segment goes to disk
  EXPECT_TRUE(m.Reserve(40));
  EXPECT_EQ(m.used(), 100u);
  EXPECT_FALSE(m.Reserve(1));
  m.Release(60);
  EXPECT_EQ(m.used(), 40u);
  EXPECT_TRUE(m.Reserve(60));
  m.Release(1000);  // more than held: clamps, never wraps
  EXPECT_EQ(m.used(), 0u);
  EXPECT_FALSE(m.Reserve(101));
}

TEST(shuffle_memory, OffWithoutADirectoryOrBudget) {
  ShuffleMemory no_dir("", 100), no_budget("/dev/shm/x", 0);
  EXPECT_FALSE(no_dir.enabled());
  EXPECT_FALSE(no_dir.Reserve(1));
  EXPECT_FALSE(no_budget.enabled());
  EXPECT_FALSE(no_budget.Reserve(0));
}

TEST(shuffle_memory, DefaultDirectoryIsStablePerWorkerDirectory) {
  const std::string a = DefaultShuffleMemoryDir("/tmp/cluster/host1/worker");
  if (a.empty()) GTEST_SKIP() << "no /dev/shm here";
  EXPECT_EQ(a.rfind("/dev/shm/sawmill-shuffle-", 0), 0u) << a;
  EXPECT_EQ(a, DefaultShuffleMemoryDir("/tmp/cluster/host1/worker"));
  EXPECT_EQ(a, DefaultShuffleMemoryDir("/tmp/cluster/host1/./worker"));
  EXPECT_NE(a, DefaultShuffleMemoryDir("/tmp/cluster/host2/worker"));
}

}  // namespace
}  // namespace sawmill::worker
