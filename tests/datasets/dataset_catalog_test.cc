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
#include "tests/scheduler/rooted_fs.h"

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

TEST(DatasetCatalogTest, ConcurrentPromotionsEachAppendTheirEntry) {
  testing::TempDir dir;
  for (int i = 0; i < 4; ++i) {
    auto v = NewVersionPath(dir.path(), "views");
    ASSERT_TRUE(v.ok());
    ASSERT_OK(FsMkdirs(*v));
    ASSERT_OK(FsWriteFile(JoinPath(*v, "_MANIFEST"), "m"));
  }
  std::vector<Status> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { got[i] = Promote(dir.path(), "views", 1 + i % 4); });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : got) EXPECT_OK(s);
  auto log = Promotions(dir.path(), "views");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log->size(), 8u);
}

// A store whose renames are applied but whose answers are lost (a namenode that died after
// journaling them): the rename is not sent again, and the caller hears kUnavailable.
class LostAnswerFs : public testing::RootedFs {
 public:
  using RootedFs::RootedFs;
  Status Rename(const std::string& s, const std::string& d) override {
    RETURN_IF_ERROR(RootedFs::Rename(s, d));
    ++lost;
    return Status(StatusCode::kUnavailable, "namenode 127.0.0.1:1: connection reset (the request was sent and may have been applied)");
  }
  int lost = 0;
};

TEST(DatasetCatalogTest, ARenameWhoseAnswerWasLostCountsAsDone) {
  testing::TempDir dir;
  auto store = std::make_shared<LostAnswerFs>(dir.path());
  SetDfs(store);
  auto v = NewVersionPath("dfs:/", "views");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, "dfs:/datasets/views/00000001");
  ASSERT_OK(FsMkdirs(*v));
  ASSERT_OK(FsWriteFile(JoinPath(*v, "_MANIFEST"), "m"));
  ASSERT_OK(Promote("dfs:/", "views", 1));
  auto current = Current("dfs:/", "views");
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, 1u);
  EXPECT_EQ(store->lost, 2);
  SetDfs(nullptr);
}

}  // namespace
}  // namespace sawmill::datasets
