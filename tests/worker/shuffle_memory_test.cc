// Tests of the in-memory segment budget (worker/shuffle_memory.h): reservations never exceed it,
// releases give it back, nothing is taken while it is off, and opening one clears the folders
// that dead workers left beside it, never a live worker's.
#include "worker/shuffle_memory.h"

#include <gtest/gtest.h>
#include <sys/statvfs.h>

#include <limits>

#include "common/file.h"
#include "tests/common/status_macros.h"
#include "tests/common/temp_dir.h"

namespace sawmill::worker {
namespace {

using sawmill::testing::TempDir;

TEST(shuffle_memory, ReservationsStayWithinTheBudget) {
  TempDir tmp;
  ShuffleMemory m(tmp.Sub(std::string(ShuffleMemory::kPrefix) + "a"), 100);
  EXPECT_FALSE(m.Reserve(1));  // not open yet
  ASSERT_OK(m.Open());
  EXPECT_TRUE(m.enabled());
  EXPECT_TRUE(PathExists(m.dir()));
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
  m.Close();
  EXPECT_FALSE(m.enabled());
  EXPECT_FALSE(PathExists(m.dir()));
  EXPECT_FALSE(m.Reserve(1));
}

TEST(shuffle_memory, ASegmentTheFileSystemHasNoRoomForGoesToDisk) {
  // A budget far beyond the memory file system (a container's small /dev/shm): what would not
  // fit there is refused, whatever the budget says.
  TempDir tmp;
  ShuffleMemory m(tmp.Sub(std::string(ShuffleMemory::kPrefix) + "fs"), std::numeric_limits<uint64_t>::max() / 2);
  ASSERT_OK(m.Open());
  struct statvfs fs;
  ASSERT_EQ(::statvfs(m.dir().c_str(), &fs), 0);
  const uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  EXPECT_FALSE(m.Reserve(free + (1ull << 30)));
  EXPECT_EQ(m.used(), 0u);
  EXPECT_TRUE(m.Reserve(4096));
}

TEST(shuffle_memory, OffWithoutADirectoryOrBudget) {
  TempDir tmp;
  ShuffleMemory no_dir("", 100), no_budget(tmp.Sub("m"), 0);
  ASSERT_OK(no_dir.Open());
  ASSERT_OK(no_budget.Open());
  EXPECT_FALSE(no_dir.enabled());
  EXPECT_FALSE(no_dir.Reserve(1));
  EXPECT_FALSE(no_budget.enabled());
  EXPECT_FALSE(no_budget.Reserve(0));
  EXPECT_FALSE(PathExists(tmp.Sub("m")));
}

TEST(shuffle_memory, OpeningClearsOnlyFoldersOfDeadWorkers) {
  TempDir tmp;
  const std::string prefix = tmp.Sub(ShuffleMemory::kPrefix);
  ShuffleMemory live(prefix + "live", 100);
  ASSERT_OK(live.Open());
  // A dead worker's folder: its lock file is there, and nobody holds it.
  ASSERT_OK(MakeDirs(prefix + "dead"));
  ASSERT_OK(WriteStringToFile(prefix + "dead/lock", ""));
  ASSERT_OK(WriteStringToFile(prefix + "dead/map-00001", "segment"));
  // A folder whose worker has not taken its lock yet, and a folder of something else.
  ASSERT_OK(MakeDirs(prefix + "starting"));
  ASSERT_OK(MakeDirs(tmp.Sub("other")));
  ASSERT_OK(WriteStringToFile(tmp.Sub("other/lock"), ""));
  // A predecessor's segments in the folder being opened are void.
  ASSERT_OK(MakeDirs(prefix + "new/job-1-r-00000_0"));
  ShuffleMemory fresh(prefix + "new", 100);
  ASSERT_OK(fresh.Open());
  EXPECT_FALSE(PathExists(prefix + "dead"));
  EXPECT_FALSE(PathExists(prefix + "new/job-1-r-00000_0"));
  EXPECT_TRUE(PathExists(prefix + "live/lock"));
  EXPECT_TRUE(PathExists(prefix + "starting"));
  EXPECT_TRUE(PathExists(tmp.Sub("other/lock")));
  // Once `live` closes, its folder is gone with it.
  live.Close();
  EXPECT_FALSE(PathExists(prefix + "live"));
}

TEST(shuffle_memory, DefaultDirectoryIsStablePerWorkerDirectory) {
  const std::string a = DefaultShuffleMemoryDir("/tmp/cluster/host1/worker");
  if (a.empty()) GTEST_SKIP() << "no /dev/shm here";
  EXPECT_EQ(a.rfind(std::string("/dev/shm/") + ShuffleMemory::kPrefix, 0), 0u) << a;
  EXPECT_EQ(a, DefaultShuffleMemoryDir("/tmp/cluster/host1/worker"));
  EXPECT_EQ(a, DefaultShuffleMemoryDir("/tmp/cluster/host1/./worker"));
  EXPECT_NE(a, DefaultShuffleMemoryDir("/tmp/cluster/host2/worker"));
}

}  // namespace
}  // namespace sawmill::worker
