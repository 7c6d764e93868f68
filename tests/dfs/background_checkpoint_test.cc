// NamespaceStore's background checkpoint: mutations go on while a forked child writes the image,
// the result recovers to the same Dump, and a child killed mid-way leaves a recoverable store
// (the older checkpoint plus the journals on both sides of the roll).
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/file.h"
#include "dfs/namenode/namespace_store.h"
#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::TempDir;

std::unique_ptr<NamespaceStore> OpenStore(const std::string& dir) {
  auto s = NamespaceStore::Open(dir);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::vector<std::string> Names(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  auto names = ListDir(dir);
  EXPECT_TRUE(names.ok());
  for (const std::string& n : *names) {
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  }
  return out;
}

// A file with a block, closed: three journal records.
void AddFile(NamespaceStore& store, const std::string& path, int64_t now) {
  ASSERT_TRUE(store.Create(path, "c", 2, 1024, now).ok()) << path;
  ASSERT_TRUE(store.AddBlock(path, "c").ok()) << path;
  ASSERT_TRUE(store.Complete(path, "c", {100}, now).ok()) << path;
}

// A pipe whose read end the checkpoint child blocks on until the test writes a byte (or kills it).
struct Gate {
  Gate() { EXPECT_EQ(::pipe(fds), 0); }
  ~Gate() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  std::function<void()> Hook() const {
    int fd = fds[0];
    return [fd] {
      char c;
      while (::read(fd, &c, 1) < 0) {
      }
    };
  }
  void Open() const { ASSERT_EQ(::write(fds[1], "x", 1), 1); }
  int fds[2];
};

TEST(BackgroundCheckpoint, MutationsContinueAndTheImageRecovers) {
  TempDir dir("/dev/shm");
  std::string dump;
  uint64_t image_txid = 0, after = 0;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Mkdirs("/d", 1).ok());
    for (int i = 0; i < 500; ++i) AddFile(*store, "/d/f" + std::to_string(i), 2);
    image_txid = store->last_txid();
    const std::string image_dump = store->Dump();
    Gate gate;
    store->SetCheckpointChildHookForTest(gate.Hook());
    ASSERT_TRUE(store->StartCheckpoint().ok());
    ASSERT_TRUE(store->checkpoint_in_flight());
    EXPECT_EQ(store->StartCheckpoint().code(), StatusCode::kAlreadyExists);  // one at a time
    // The journal rolled before the fork.
    EXPECT_EQ(Names(dir.path(), "journal.").size(), 2u);
    // The child is held before it writes anything: these all land after the image's txid.
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(store->Rename("/d/f" + std::to_string(i), "/d/g" + std::to_string(i), 3).ok());
    }
    AddFile(*store, "/d/new", 4);
    ASSERT_TRUE(store->Delete("/d/f499", false, 5).ok());
    after = store->last_txid() - image_txid;
    auto still = store->PollCheckpoint(/*wait=*/false);
    ASSERT_TRUE(still.ok());
    EXPECT_FALSE(*still);
    gate.Open();
    auto done = store->PollCheckpoint(/*wait=*/true);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_TRUE(*done);
    EXPECT_FALSE(store->checkpoint_in_flight());
    EXPECT_TRUE(PathExists(dir.Sub(Names(dir.path(), "checkpoint.").at(0))));
    EXPECT_TRUE(Names(dir.path(), "checkpoint.").at(0).ends_with(std::to_string(image_txid)));
    dump = store->Dump();
    EXPECT_NE(dump, image_dump);
  }
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->Dump(), dump);
  EXPECT_EQ(store->recovery().checkpoint_txid, image_txid);
  EXPECT_TRUE(store->recovery().bad_checkpoints.empty()) << store->recovery().bad_checkpoints.at(0);
  EXPECT_EQ(store->recovery().replayed, after);
}

TEST(BackgroundCheckpoint, KilledChildLeavesARecoverableStore) {
  TempDir dir("/dev/shm");
  std::string dump;
  uint64_t older = 0;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Mkdirs("/d", 1).ok());
    for (int i = 0; i < 100; ++i) AddFile(*store, "/d/a" + std::to_string(i), 2);
    ASSERT_TRUE(store->Checkpoint().ok());
    older = store->last_txid();
    for (int i = 0; i < 100; ++i) AddFile(*store, "/d/b" + std::to_string(i), 3);
    Gate gate;  // never opened: the child waits until it is killed
    store->SetCheckpointChildHookForTest(gate.Hook());
    ASSERT_TRUE(store->StartCheckpoint().ok());
    const pid_t child = store->checkpoint_pid();
    ASSERT_GT(child, 0);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(store->Rename("/d/b" + std::to_string(i), "/d/c" + std::to_string(i), 4).ok());
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    auto done = store->PollCheckpoint(/*wait=*/true);
    ASSERT_FALSE(done.ok());
    EXPECT_NE(done.status().message().find("signal 9"), std::string::npos) << done.status().ToString();
    EXPECT_FALSE(store->checkpoint_in_flight());
    EXPECT_EQ(Names(dir.path(), "checkpoint.").size(), 1u);  // the older one; no temp file left
    for (int i = 0; i < 10; ++i) AddFile(*store, "/d/z" + std::to_string(i), 5);
    dump = store->Dump();
  }
  // A torn temp image from a killed writer is not taken for a checkpoint, and is removed.
  const std::string torn = dir.Sub("checkpoint.00000000000000099999.tmp");
  ASSERT_TRUE(WriteStringToFile(torn, "SWNNIMG1 half an image").ok());
  {
    auto store = OpenStore(dir.path());
    EXPECT_EQ(store->Dump(), dump);
    EXPECT_EQ(store->recovery().checkpoint_txid, older);
    EXPECT_TRUE(store->recovery().bad_checkpoints.empty());
    EXPECT_EQ(store->recovery().replayed, store->last_txid() - older);  // across the roll
    EXPECT_FALSE(PathExists(torn));
    // The next background checkpoint succeeds, and the store still recovers from it.
    ASSERT_TRUE(store->StartCheckpoint().ok());
    auto done = store->PollCheckpoint(/*wait=*/true);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_TRUE(*done);
  }
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->Dump(), dump);
  EXPECT_EQ(store->recovery().replayed, 0u);
}

TEST(BackgroundCheckpoint, SynchronousCheckpointWaitsForTheOneInFlight) {
  TempDir dir("/dev/shm");
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->Mkdirs("/d", 1).ok());
  ASSERT_TRUE(store->StartCheckpoint().ok());
  ASSERT_TRUE(store->Mkdirs("/e", 2).ok());
  ASSERT_TRUE(store->Checkpoint().ok());  // waits, installs, then writes the newer image
  EXPECT_FALSE(store->checkpoint_in_flight());
  EXPECT_EQ(Names(dir.path(), "checkpoint.").size(), 2u);
  const std::string dump = store->Dump();
  store.reset();
  store = OpenStore(dir.path());
  EXPECT_EQ(store->Dump(), dump);
  EXPECT_EQ(store->recovery().replayed, 0u);
}

}  // namespace
}  // namespace sawmill::dfs
