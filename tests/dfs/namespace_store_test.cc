// NamespaceStore: a restart reproduces the namespace exactly, from the journal alone, after a
// checkpoint, after a torn journal tail, and after a torn checkpoint.
#include "common/journal.h"
#include "dfs/namenode/namespace_store.h"

#include <sys/resource.h>

#include <csignal>
#include <mutex>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include <algorithm>

#include "common/fault_point.h"
#include "common/file.h"
#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::TempDir;

// Random operations over a small set of names, so that most succeed and many fail.
class RandomOps {
 public:
  explicit RandomOps(uint64_t seed) : rng_(seed) {}

  void Step(NamespaceStore& store) {
    static const char* kNames[] = {"a", "b", "c"};
    auto path = [&] {
      std::string p;
      int depth = 1 + rng_() % 3;
      for (int i = 0; i < depth; ++i) p += std::string("/") + kNames[rng_() % 3];
      return p;
    };
    std::string client = "client" + std::to_string(rng_() % 2);
    int64_t now = ++clock_;
    Status st;
    switch (rng_() % 9) {
      case 0: st = store.Mkdirs(path(), now); break;
      case 1: case 2: st = store.Create(path(), client, 1 + rng_() % 3, 1024, now); break;
      case 3: st = store.AddBlock(path(), client).status(); break;
      case 4: {
        std::string p = path();
        auto open = store.ns().FilesUnderConstruction();
        std::vector<uint64_t> lengths;
        for (const auto& f : open) {
          if (f.path != p) continue;
          store.ns().ForEachBlock([&](const std::string& bp, const BlockInfo&) {
            if (bp == p) lengths.push_back(rng_() % 1025);
          });
        }
        st = store.Complete(p, client, lengths, now);
        break;
      }
      case 5: st = store.Abandon(path()); break;
      case 6: st = store.Rename(path(), path(), now); break;
      case 7: st = store.Delete(path(), rng_() % 2, now); break;
      case 8: st = store.SetReplication(path(), 1 + rng_() % 4); break;
    }
    (st.ok() ? ok_ : failed_)++;
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }

 private:
  std::mt19937_64 rng_;
  int64_t clock_ = 1000;
  int ok_ = 0, failed_ = 0;
};

std::vector<std::string> Names(const std::string& dir) {
  auto names = ListDir(dir);
  EXPECT_TRUE(names.ok());
  return names.ok() ? std::move(names).value() : std::vector<std::string>{};
}

std::unique_ptr<NamespaceStore> OpenStore(const std::string& dir) {
  auto s = NamespaceStore::Open(dir);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Group commit as the namenode service drives it: mutations under one lock, each caller then
// waiting for durability without it. Callers share syncs (each sync held 5 ms here), and every
// mutation a caller saw durable is there after a restart.
TEST(NamespaceStore, GroupCommitSharesSyncsAndKeepsWhatItAnswered) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  store->set_group_commit(true);
  const uint64_t syncs_before = store->syncs();
  ASSERT_TRUE(fault::Arm("namenode.journal.sync=sleep(5)").ok());
  constexpr int kThreads = 8, kEach = 40;
  std::mutex mu;  // the service's lock
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach && errors[t].empty(); ++i) {
        uint64_t txid;
        {
          std::lock_guard<std::mutex> lock(mu);
          Status st = store->Mkdirs("/t" + std::to_string(t) + "/d" + std::to_string(i), 1);
          if (!st.ok()) errors[t] = st.ToString();
          txid = store->last_txid();
        }
        if (Status st = store->WaitDurable(txid); !st.ok()) errors[t] = st.ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  fault::Disarm();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  const uint64_t syncs = store->syncs() - syncs_before;
  EXPECT_GE(syncs, 1u);
  EXPECT_LE(syncs, kThreads * kEach / 2) << "callers did not share syncs";
  const std::string before = store->Dump();
  store.reset();  // no checkpoint: the restart replays the journal
  store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Dump(), before);
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(store->ns().Stat("/t" + std::to_string(t) + "/d" + std::to_string(kEach - 1)).ok());
}

// With group commit a failed sync comes after its mutations were applied: every later request
// fails, asking for a restart, and the restart has the namespace of the last durable sync.
TEST(NamespaceStore, GroupCommitSyncFailureFailsEverythingUntilARestart) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  store->set_group_commit(true);
  ASSERT_TRUE(store->Mkdirs("/a", 1).ok());
  ASSERT_TRUE(store->WaitDurable(store->last_txid()).ok());
  const uint64_t durable = store->last_txid();
  ASSERT_TRUE(fault::Arm("namenode.journal.sync=once:fail(fsync: I/O error (simulated))").ok());
  ASSERT_TRUE(store->Mkdirs("/b", 2).ok());  // applied, not yet durable
  EXPECT_TRUE(store->ns().Stat("/b").ok());
  Status s = store->WaitDurable(store->last_txid());
  EXPECT_EQ(s.message(), "namenode journal unwritable: fault point namenode.journal.sync at " +
                             std::to_string(durable + 1) + ": fsync: I/O error (simulated); mutations after transaction " +
                             std::to_string(durable) + " were applied but may not be durable: restart the namenode");
  fault::Disarm();
  EXPECT_EQ(store->Mkdirs("/c", 3).message(), s.message());
  EXPECT_EQ(store->WaitDurable(store->last_txid()).message(), s.message());
  store.reset();
  store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->ns().Stat("/a").ok());
  EXPECT_FALSE(store->ns().Stat("/b").ok());
  EXPECT_TRUE(store->Mkdirs("/c", 4).ok());
}

TEST(NamespaceStore, RestartReproducesTheNamespace) {
  TempDir dir;
  RandomOps ops(42);
  std::string dump;
  {
    auto store = OpenStore(dir.path());
    for (int i = 0; i < 500; ++i) ops.Step(*store);
    dump = store->Dump();
  }
  EXPECT_GT(ops.ok(), 80);
  EXPECT_GT(ops.failed(), 50);
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->Dump(), dump);
  EXPECT_EQ(store->recovery().replayed, static_cast<uint64_t>(ops.ok()));
  EXPECT_EQ(store->recovery().dropped_bytes, 0u);
  // And it continues: more operations, another restart.
  for (int i = 0; i < 100; ++i) ops.Step(*store);
  dump = store->Dump();
  store.reset();
  EXPECT_EQ(OpenStore(dir.path())->Dump(), dump);
}

TEST(NamespaceStore, RestartAfterCheckpoints) {
  TempDir dir;
  RandomOps ops(7);
  std::string dump;
  {
    auto store = OpenStore(dir.path());
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < 150; ++i) ops.Step(*store);
      ASSERT_TRUE(store->Checkpoint().ok());
    }
    ASSERT_TRUE(store->Checkpoint().ok());  // nothing new: same image, same journal
    for (int i = 0; i < 100; ++i) ops.Step(*store);
    dump = store->Dump();
  }
  // Two images kept, and only the journals after the older one.
  int checkpoints = 0, journals = 0;
  for (const std::string& name : Names(dir.path())) {
    checkpoints += name.rfind("checkpoint.", 0) == 0;
    journals += name.rfind("journal.", 0) == 0;
  }
  EXPECT_EQ(checkpoints, 2);
  EXPECT_EQ(journals, 2);
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->Dump(), dump);
  EXPECT_GT(store->recovery().checkpoint_txid, 0u);
}

TEST(NamespaceStore, TornCheckpointFallsBackToThePreviousOne) {
  TempDir dir;
  RandomOps ops(11);
  std::string dump;
  {
    auto store = OpenStore(dir.path());
    for (int i = 0; i < 200; ++i) ops.Step(*store);
    ASSERT_TRUE(store->Checkpoint().ok());
    for (int i = 0; i < 200; ++i) ops.Step(*store);
    ASSERT_TRUE(store->Checkpoint().ok());
    for (int i = 0; i < 50; ++i) ops.Step(*store);
    dump = store->Dump();
  }
  std::vector<std::string> images;
  for (const std::string& name : Names(dir.path())) {
    if (name.rfind("checkpoint.", 0) == 0) images.push_back(name);
  }
  ASSERT_EQ(images.size(), 2u);
  std::string path = dir.Sub(images.back());  // sorted: the newest
  std::string data;
  ASSERT_TRUE(ReadFileToString(path, &data).ok());
  ASSERT_TRUE(WriteStringToFile(path, data.substr(0, data.size() / 2)).ok());
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->Dump(), dump);
  ASSERT_EQ(store->recovery().bad_checkpoints.size(), 1u);
  EXPECT_NE(store->recovery().bad_checkpoints[0].find(path), std::string::npos);
}

TEST(NamespaceStore, TornJournalTailLosesOnlyTheLastRecord) {
  TempDir dir;
  RandomOps ops(3);
  std::string before_last;
  {
    auto store = OpenStore(dir.path());
    for (int i = 0; i < 300; ++i) ops.Step(*store);
    before_last = store->Dump();
    uint64_t txid = store->last_txid();
    for (int i = 0; store->last_txid() == txid; ++i) {
      ASSERT_LT(i, 1000);
      ops.Step(*store);
    }
  }
  std::string journal;
  for (const std::string& name : Names(dir.path())) {
    if (name.rfind("journal.", 0) == 0) journal = dir.Sub(name);
  }
  // The end of the records (the file goes on with preallocated zeros).
  uint64_t size = ReadJournal(journal, [](std::string_view) { return Status::Ok(); }, false)->valid_bytes;
  ASSERT_EQ(::truncate(journal.c_str(), size - 3), 0);
  {
    auto store = OpenStore(dir.path());
    EXPECT_EQ(store->Dump(), before_last);
    EXPECT_GT(store->recovery().dropped_bytes, 0u);
    ASSERT_EQ(store->recovery().drop_reasons.size(), 1u);
    EXPECT_NE(store->recovery().drop_reasons[0].find(journal), std::string::npos);
    // Appends continue after the valid prefix.
    ASSERT_TRUE(store->Mkdirs("/after", 1).ok());
    before_last = store->Dump();
  }
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->Dump(), before_last);
  EXPECT_EQ(store->recovery().dropped_bytes, 0u);
}

TEST(NamespaceStore, MutationErrorsNameThePathAndAreNotJournaled) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Status st = store->Create("/nope/f", "c", 3, 1024, 1);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("/nope/f"), std::string::npos);
  EXPECT_EQ(store->Mkdirs("relative", 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->last_txid(), 0u);
  ASSERT_TRUE(store->Mkdirs("//d/", 1).ok());
  ASSERT_TRUE(store->Create("/d/f", "c", 3, 1024, 2).ok());
  auto b = store->AddBlock("/d/f", "c");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->id, 1u);
  EXPECT_EQ(store->last_txid(), 3u);
  EXPECT_EQ(store->AddBlock("/d/f", "intruder").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->last_txid(), 3u);
}

// Files this process writes may not grow past `bytes` while it lives (the write fails with EFBIG,
// as it would with ENOSPC on a full disk), SIGXFSZ ignored.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit l = saved_;
    l.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &l), 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  struct rlimit saved_;
  sighandler_t old_handler_;
};

TEST(NamespaceStore, AnUnwritableJournalMakesItReadOnlyAndLeavesTheJournalWhole) {
  TempDir dir;
  std::string before;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Mkdirs("/a", 1).ok());
    ASSERT_TRUE(store->Create("/a/f", "c", 1, 1024, 2).ok());
    ASSERT_TRUE(store->Checkpoint().ok());  // a new, empty journal: the next record preallocates
    before = store->Dump();
    EXPECT_TRUE(store->read_only().ok());
    Status st;
    {
      FileSizeLimit limit(64 << 10);
      st = store->Mkdirs("/b", 3);
    }
    EXPECT_EQ(st.code(), StatusCode::kIOError);
    EXPECT_EQ(st.message().rfind("namenode journal unwritable: cannot write journal " + dir.path(), 0), 0u)
        << st.message();
    EXPECT_NE(st.message().find("the namespace is read-only until the namenode is restarted"), std::string::npos);
    // With room again, still read-only (the journal's tail is unknown) but readable.
    EXPECT_EQ(store->Create("/a/g", "c", 1, 1024, 4).message(), st.message());
    EXPECT_EQ(store->Checkpoint().message(), st.message());
    EXPECT_EQ(store->read_only().message(), st.message());
    EXPECT_TRUE(store->ns().Stat("/a").ok());
    EXPECT_EQ(store->ns().Stat("/b").status().code(), StatusCode::kNotFound);
    EXPECT_EQ(store->Dump(), before);
  }
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->Dump(), before);
  EXPECT_EQ(store->recovery().dropped_bytes, 0u) << "the journal must not be torn";
  EXPECT_TRUE(store->read_only().ok());
  ASSERT_TRUE(store->Mkdirs("/b", 5).ok());
}

TEST(NamespaceStore, DeleteAndAbandonReportTheBlocksTheyFree) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->Mkdirs("/d/sub", 1).ok());
  std::vector<uint64_t> ids;
  for (const char* f : {"/d/a", "/d/sub/b"}) {
    ASSERT_TRUE(store->Create(f, "c", 3, 1024, 2).ok());
    for (int i = 0; i < 2; ++i) {
      auto b = store->AddBlock(f, "c");
      ASSERT_TRUE(b.ok());
      ids.push_back(b->id);
    }
    ASSERT_TRUE(store->Complete(f, "c", {1024, 7}, 3).ok());
  }
  ASSERT_TRUE(store->Create("/open", "w", 1, 1024, 4).ok());
  auto open_block = store->AddBlock("/open", "w");
  ASSERT_TRUE(open_block.ok());

  std::vector<BlockInfo> freed = {BlockInfo{}};
  EXPECT_FALSE(store->Delete("/d", false, 5, &freed).ok());
  EXPECT_EQ(freed.size(), 1u) << "a failed delete frees nothing";
  ASSERT_TRUE(store->Delete("/d", true, 5, &freed).ok());
  std::vector<uint64_t> got;
  for (const auto& b : freed) got.push_back(b.id);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, ids);
  ASSERT_TRUE(store->Abandon("/open", &freed).ok());
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_EQ(freed[0].id, open_block->id);
}

TEST(NamespaceStore, AbandonBlockIsJournaledAndReplayed) {
  TempDir dir;
  std::string dump;
  BlockInfo first, second;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Create("/f", "w", 2, 1024, 1).ok());
    first = store->AddBlock("/f", "w").value();
    second = store->AddBlock("/f", "w").value();
    uint64_t txid = store->last_txid();
    BlockInfo freed;
    Status st = store->AbandonBlock("/f", "w", first.id, &freed);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("/f"), std::string::npos);
    EXPECT_EQ(store->last_txid(), txid) << "a refused abandon is not journaled";
    ASSERT_TRUE(store->AbandonBlock("/f", "w", second.id, &freed).ok());
    EXPECT_EQ(freed, second);
    EXPECT_EQ(store->last_txid(), txid + 1);
    dump = store->Dump();
  }
  {
    auto store = OpenStore(dir.path());
    EXPECT_EQ(store->Dump(), dump);
    ASSERT_EQ(store->ns().BlocksUnder("/f").size(), 1u);
    // A checkpoint after the abandon holds the shortened file.
    ASSERT_TRUE(store->Checkpoint().ok());
    auto third = store->AddBlock("/f", "w");
    ASSERT_TRUE(third.ok());
    EXPECT_GT(third->id, second.id);
    ASSERT_TRUE(store->Complete("/f", "w", {1024, 3}, 2).ok());
    dump = store->Dump();
  }
  EXPECT_EQ(OpenStore(dir.path())->Dump(), dump);
}

}  // namespace
}  // namespace sawmill::dfs
