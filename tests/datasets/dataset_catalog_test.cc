// The dataset catalog's version choice: reserved, so two runs never write the same version even
// when one's output directory appears only at its end (a dataflow program's).
#include "datasets/dataset_catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/local_fs.h"
#include "tests/common/status_macros.h"
#include "tests/common/temp_dir.h"

namespace sawmill::datasets {
namespace {

std::string VersionOf(const std::string& path) { return Basename(path); }

TEST(DatasetCatalogTest, ARunThatHasNotWrittenYetKeepsItsVersion) {
  testing::TempDir dir;
  auto first = NewVersionPath(dir.path(), "views");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(VersionOf(*first), "00000001");
  EXPECT_FALSE(std::filesystem::exists(*first));  // nothing written yet
  auto second = NewVersionPath(dir.path(), "views");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(VersionOf(*second), "00000002");
}

TEST(DatasetCatalogTest, VersionsWrittenWithoutAReservationAreSkipped) {
  testing::TempDir dir;
  ASSERT_OK(FsMkdirs(JoinPath(DatasetDir(dir.path(), "views"), "00000004")));  // an older build's output
  auto next = NewVersionPath(dir.path(), "views");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(VersionOf(*next), "00000005");
}

TEST(DatasetCatalogTest, ConcurrentRunsGetDistinctVersions) {
  testing::TempDir dir;
  constexpr int kRuns = 16;
  std::vector<std::string> got(kRuns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRuns; ++i) {
    threads.emplace_back([&, i] {
      auto v = NewVersionPath(dir.path(), "views");
      got[i] = v.ok() ? VersionOf(*v) : v.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(*distinct.begin(), "00000001");
  EXPECT_EQ(*distinct.rbegin(), "00000016");
  // No temporary entry is left beside the reservations.
  for (const auto& e : std::filesystem::directory_iterator(JoinPath(DatasetDir(dir.path(), "views"), "_reserved"))) {
    EXPECT_EQ(e.path().filename().string().rfind(".tmp-", 0), std::string::npos) << e.path();
  }
}

TEST(DatasetCatalogTest, GcDropsOldReservationsButNeverReusesANumber) {
  testing::TempDir dir;
  for (int i = 0; i < 3; ++i) {
    auto v = NewVersionPath(dir.path(), "views");
    ASSERT_TRUE(v.ok());
    ASSERT_OK(FsMkdirs(*v));
    ASSERT_OK(FsWriteFile(JoinPath(*v, "_MANIFEST"), "m"));
  }
  auto deleted = Gc(dir.path(), "views", 1);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->size(), 2u);
  const std::string reserved = JoinPath(DatasetDir(dir.path(), "views"), "_reserved");
  EXPECT_FALSE(std::filesystem::exists(JoinPath(reserved, "00000001")));
  EXPECT_TRUE(std::filesystem::exists(JoinPath(reserved, "00000003")));
  ASSERT_OK(FsRemoveAll(JoinPath(DatasetDir(dir.path(), "views"), "00000003")));  // even with every version gone
  auto next = NewVersionPath(dir.path(), "views");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(VersionOf(*next), "00000004");
}

}  // namespace
}  // namespace sawmill::datasets
