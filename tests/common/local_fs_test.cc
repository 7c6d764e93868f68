// common/local_fs.h: the process-wide store `dfs:` paths resolve to. A resolved path keeps the
// store it names alive: unregistering it (SetDfs(nullptr), as a job's ScopedDfs does when it
// ends) while another thread still holds a resolution must not free it under that thread.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "common/local_fs.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

// The local disk standing in for the store; tells when it is destroyed.
class WatchedFs final : public LocalFileSystem {
 public:
  explicit WatchedFs(std::shared_ptr<std::atomic<bool>> destroyed) : destroyed_(std::move(destroyed)) {}
  ~WatchedFs() override { *destroyed_ = true; }

 private:
  std::shared_ptr<std::atomic<bool>> destroyed_;
};

TEST(DfsRegistry, ResolvedStoreOutlivesSetDfsNullptrOnAnotherThread) {
  testing::TempDir dir;
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  SetDfs(std::make_shared<WatchedFs>(destroyed));
  Result<ResolvedPath> resolved = NotFound("not resolved yet");
  std::thread user([&] { resolved = ResolvePath(std::string(kDfsScheme) + dir.path()); });
  user.join();
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  std::thread unregister([] { SetDfs(nullptr); });
  unregister.join();
  EXPECT_FALSE(DfsRegistered());
  EXPECT_FALSE(*destroyed) << "SetDfs(nullptr) freed the store a resolved path still uses";
  // The holder's handle still works (a use-after-free under ASan when it does not own it).
  auto info = resolved->fs->Stat(resolved->path);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->is_dir);
  // The last holder lets it go.
  resolved = NotFound("released");
  EXPECT_TRUE(*destroyed);
  EXPECT_FALSE(ResolvePath("dfs:/x").ok());
}

TEST(DfsRegistry, FileOpenedOnTheStoreKeepsItAlive) {
  testing::TempDir dir;
  std::string name = dir.Write("f", "0123456789");
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  SetDfs(std::make_shared<WatchedFs>(destroyed));
  auto file = OpenReadable(std::string(kDfsScheme) + name);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  std::thread unregister([] { SetDfs(nullptr); });
  unregister.join();
  EXPECT_FALSE(*destroyed) << "SetDfs(nullptr) freed the store an open file reads through";
  char buf[4];
  ASSERT_TRUE((*file)->ReadAt(3, 4, buf).ok());
  EXPECT_EQ(std::string(buf, 4), "3456");
  file = NotFound("closed");
  EXPECT_TRUE(*destroyed);
}

TEST(DfsRegistry, LocalPathsResolveToTheLocalDisk) {
  auto r = ResolvePath("/tmp/x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/tmp/x");
  EXPECT_EQ(&*r->fs, LocalFs());
}

}  // namespace
}  // namespace sawmill
