// Namespace semantics: each operation's success and failure cases, lease rules, visibility.
#include "dfs/namenode/namespace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

namespace sawmill::dfs {
namespace {

// Expects `st` to fail with `code` and a message naming `path`.
#define EXPECT_FAILS(st, code_, path)                                            \
  do {                                                                           \
    ::sawmill::Status _s = (st);                                                 \
    EXPECT_EQ(_s.code(), code_) << _s.ToString();                                \
    EXPECT_NE(_s.message().find(path), std::string::npos) << _s.ToString();      \
  } while (0)

// A closed file at `path` with `blocks` blocks of length 10.
void MakeFile(Namespace& ns, const std::string& path, int blocks = 1) {
  ASSERT_TRUE(ns.Create(path, "c", 3, 100, 5).ok());
  std::vector<uint64_t> lengths;
  for (int i = 0; i < blocks; ++i) {
    ASSERT_TRUE(ns.AddBlock(path, "c", ns.next_block_id(), 1).ok());
    lengths.push_back(10);
  }
  ASSERT_TRUE(ns.Complete(path, "c", lengths, 6).ok());
}

TEST(Namespace, MkdirsCreatesParentsAndIsIdempotent) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/a/b/c", 1).ok());
  ASSERT_TRUE(ns.Mkdirs("/a/b", 2).ok());
  auto st = ns.Stat("/a/b");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->is_dir);
  EXPECT_EQ(st->mtime, 1);
  MakeFile(ns, "/a/f");
  EXPECT_FAILS(ns.Mkdirs("/a/f", 3), StatusCode::kAlreadyExists, "/a/f");
  EXPECT_FAILS(ns.Mkdirs("/a/f/g", 3), StatusCode::kInvalidArgument, "/a/f");
  EXPECT_FALSE(ns.Stat("/a/f/g").ok());
}

TEST(Namespace, CreateIsExclusiveAndNeedsADirectoryParent) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/d", 1).ok());
  ASSERT_TRUE(ns.Create("/d/f", "c1", 3, 128, 2).ok());
  EXPECT_FAILS(ns.Create("/d/f", "c2", 3, 128, 2), StatusCode::kAlreadyExists, "/d/f");
  EXPECT_FAILS(ns.Create("/d", "c2", 3, 128, 2), StatusCode::kAlreadyExists, "/d");
  EXPECT_FAILS(ns.Create("/x/f", "c2", 3, 128, 2), StatusCode::kNotFound, "/x/f");
  MakeFile(ns, "/g");
  EXPECT_FAILS(ns.Create("/g/f", "c2", 3, 128, 2), StatusCode::kInvalidArgument, "/g/f");
  EXPECT_FAILS(ns.Create("/d/r", "c2", 0, 128, 2), StatusCode::kInvalidArgument, "/d/r");
  EXPECT_FAILS(ns.Create("/d/r", "c2", 3, 0, 2), StatusCode::kInvalidArgument, "/d/r");
  EXPECT_FAILS(ns.Create("/d/r", "", 3, 10, 2), StatusCode::kInvalidArgument, "/d/r");
}

TEST(Namespace, UnderConstructionIsInvisibleToReaders) {
  Namespace ns;
  ASSERT_TRUE(ns.Create("/f", "c", 2, 100, 1).ok());
  EXPECT_FAILS(ns.Stat("/f").status(), StatusCode::kNotFound, "/f");
  EXPECT_FAILS(ns.GetBlocks("/f").status(), StatusCode::kNotFound, "/f");
  EXPECT_TRUE(ns.List("/")->empty());
  ASSERT_EQ(ns.FilesUnderConstruction().size(), 1u);
  EXPECT_EQ(ns.FilesUnderConstruction()[0].path, "/f");
  EXPECT_EQ(ns.FilesUnderConstruction()[0].lease_holder, "c");

  ASSERT_TRUE(ns.AddBlock("/f", "c", 1, 7).ok());
  ASSERT_TRUE(ns.AddBlock("/f", "c", 2, 7).ok());
  ASSERT_TRUE(ns.Complete("/f", "c", {100, 42}, 9).ok());
  auto st = ns.Stat("/f");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 142u);
  EXPECT_EQ(st->replication, 2u);
  EXPECT_EQ(st->mtime, 9);
  EXPECT_EQ(ns.GetBlocks("/f").value(), (std::vector<BlockInfo>{{1, 7, 100}, {2, 7, 42}}));
  EXPECT_TRUE(ns.FilesUnderConstruction().empty());
  ASSERT_EQ(ns.List("/")->size(), 1u);
}

TEST(Namespace, LeaseRules) {
  Namespace ns;
  ASSERT_TRUE(ns.Create("/f", "c", 2, 100, 1).ok());
  EXPECT_FAILS(ns.AddBlock("/f", "other", 1, 1), StatusCode::kInvalidArgument, "/f");
  EXPECT_FAILS(ns.AddBlock("/f", "c", 5, 1), StatusCode::kInvalidArgument, "/f");  // not the next id
  EXPECT_FAILS(ns.AddBlock("/nope", "c", 1, 1), StatusCode::kNotFound, "/nope");
  EXPECT_EQ(ns.next_block_id(), 1u);
  ASSERT_TRUE(ns.AddBlock("/f", "c", 1, 1).ok());
  EXPECT_EQ(ns.next_block_id(), 2u);
  EXPECT_FAILS(ns.Complete("/f", "other", {1}, 2), StatusCode::kInvalidArgument, "/f");
  EXPECT_FAILS(ns.Complete("/f", "c", {1, 2}, 2), StatusCode::kInvalidArgument, "/f");
  EXPECT_FAILS(ns.Complete("/f", "c", {101}, 2), StatusCode::kInvalidArgument, "/f");
  ASSERT_TRUE(ns.Complete("/f", "c", {1}, 2).ok());
  EXPECT_FAILS(ns.AddBlock("/f", "c", 2, 1), StatusCode::kInvalidArgument, "/f");   // closed
  EXPECT_FAILS(ns.Complete("/f", "c", {1}, 2), StatusCode::kInvalidArgument, "/f");
  EXPECT_FAILS(ns.Abandon("/f"), StatusCode::kInvalidArgument, "/f");
}

TEST(Namespace, AbandonRemovesAnOpenFile) {
  Namespace ns;
  ASSERT_TRUE(ns.Create("/f", "c", 2, 100, 1).ok());
  ASSERT_TRUE(ns.AddBlock("/f", "c", 1, 1).ok());
  ASSERT_TRUE(ns.Abandon("/f").ok());
  EXPECT_TRUE(ns.FilesUnderConstruction().empty());
  EXPECT_FAILS(ns.Abandon("/f"), StatusCode::kNotFound, "/f");
  ASSERT_TRUE(ns.Create("/f", "d", 2, 100, 1).ok());  // the name is free again
  EXPECT_EQ(ns.next_block_id(), 2u);                 // block ids are never reused
}

TEST(Namespace, AbandonBlockDropsOnlyTheLastBlock) {
  Namespace ns;
  ASSERT_TRUE(ns.Create("/f", "c", 2, 100, 1).ok());
  EXPECT_FAILS(ns.AbandonBlock("/f", "c", 1), StatusCode::kInvalidArgument, "/f");  // no blocks yet
  ASSERT_TRUE(ns.AddBlock("/f", "c", 1, 1).ok());
  ASSERT_TRUE(ns.AddBlock("/f", "c", 2, 1).ok());
  EXPECT_FAILS(ns.AbandonBlock("/f", "c", 1), StatusCode::kInvalidArgument, "/f");  // not the last
  EXPECT_FAILS(ns.AbandonBlock("/f", "other", 2), StatusCode::kInvalidArgument, "/f");
  EXPECT_FAILS(ns.AbandonBlock("/nope", "c", 2), StatusCode::kNotFound, "/nope");
  EXPECT_TRUE(ns.AbandonBlock("/f", "c", 2, Namespace::Mode::kCheck).ok());
  EXPECT_EQ(ns.BlocksUnder("/f").size(), 2u);
  ASSERT_TRUE(ns.AbandonBlock("/f", "c", 2).ok());
  ASSERT_EQ(ns.BlocksUnder("/f").size(), 1u);
  EXPECT_EQ(ns.BlocksUnder("/f")[0].id, 1u);
  ASSERT_TRUE(ns.AddBlock("/f", "c", 3, 1).ok());  // ids are not reused
  EXPECT_FAILS(ns.Complete("/f", "c", {10}, 2), StatusCode::kInvalidArgument, "/f");
  ASSERT_TRUE(ns.Complete("/f", "c", {100, 10}, 2).ok());
  EXPECT_FAILS(ns.AbandonBlock("/f", "c", 3), StatusCode::kInvalidArgument, "/f");  // closed
  auto st = ns.Stat("/f");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 110u);
  NamespaceCounts counts = ns.Counts();
  EXPECT_EQ(counts.dirs, 1u);
  EXPECT_EQ(counts.files, 1u);
  EXPECT_EQ(counts.open_files, 0u);
  EXPECT_EQ(counts.blocks, 2u);
}

TEST(Namespace, RenameMovesSubtrees) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/a/b", 1).ok());
  MakeFile(ns, "/a/b/f", 2);
  ASSERT_TRUE(ns.Mkdirs("/z", 1).ok());
  ASSERT_TRUE(ns.Rename("/a", "/z/a2", 7).ok());
  EXPECT_FALSE(ns.Stat("/a").ok());
  EXPECT_EQ(ns.GetBlocks("/z/a2/b/f")->size(), 2u);
  EXPECT_EQ(ns.Stat("/z")->mtime, 7);
  ASSERT_TRUE(ns.Rename("/z/a2/b/f", "/g", 8).ok());
  EXPECT_EQ(ns.Stat("/g")->size, 20u);
}

TEST(Namespace, RenameFailures) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/a/b", 1).ok());
  MakeFile(ns, "/f");
  EXPECT_FAILS(ns.Rename("/a", "/f", 2), StatusCode::kAlreadyExists, "/f");
  EXPECT_FAILS(ns.Rename("/f", "/a/b", 2), StatusCode::kAlreadyExists, "/a/b");
  EXPECT_FAILS(ns.Rename("/nope", "/x", 2), StatusCode::kNotFound, "/nope");
  EXPECT_FAILS(ns.Rename("/f", "/x/y", 2), StatusCode::kNotFound, "/x/y");
  EXPECT_FAILS(ns.Rename("/f", "/f/y", 2), StatusCode::kInvalidArgument, "/f/y");
  EXPECT_FAILS(ns.Rename("/a", "/a/b/c", 2), StatusCode::kInvalidArgument, "/a/b/c");
  EXPECT_FAILS(ns.Rename("/a", "/a", 2), StatusCode::kInvalidArgument, "/a");
  EXPECT_FAILS(ns.Rename("/", "/x", 2), StatusCode::kInvalidArgument, "/");
  EXPECT_TRUE(ns.Stat("/a/b").ok());
  EXPECT_TRUE(ns.Stat("/f").ok());
}

TEST(Namespace, Delete) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/a/b", 1).ok());
  MakeFile(ns, "/a/b/f");
  EXPECT_FAILS(ns.Delete("/a", false, 2), StatusCode::kInvalidArgument, "/a");
  EXPECT_FAILS(ns.Delete("/nope", true, 2), StatusCode::kNotFound, "/nope");
  EXPECT_FAILS(ns.Delete("/", true, 2), StatusCode::kInvalidArgument, "/");
  ASSERT_TRUE(ns.Delete("/a/b/f", false, 3).ok());
  ASSERT_TRUE(ns.Delete("/a/b", false, 3).ok());
  MakeFile(ns, "/a/g");
  ASSERT_TRUE(ns.Delete("/a", true, 4).ok());
  EXPECT_TRUE(ns.List("/")->empty());
  int blocks = 0;
  ns.ForEachBlock([&](const std::string&, const BlockInfo&) { ++blocks; });
  EXPECT_EQ(blocks, 0);
}

// Fsck's paths: found for the asked blocks only, through nested directories, as ForEachBlock
// names them; ids of no file are left out.
TEST(Namespace, PathsOfBlocks) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/a/b", 1).ok());
  ASSERT_TRUE(ns.Mkdirs("/ab", 1).ok());
  MakeFile(ns, "/f", 2);
  MakeFile(ns, "/a/g", 1);
  MakeFile(ns, "/a/b/h", 3);
  MakeFile(ns, "/ab/i", 1);
  MakeFile(ns, "/z", 1);
  std::map<uint64_t, std::string> all;
  ns.ForEachBlock([&](const std::string& path, const BlockInfo& b) { all[b.id] = path; });
  ASSERT_EQ(all.size(), 8u);
  EXPECT_TRUE(ns.PathsOfBlocks({}).empty());
  std::unordered_set<uint64_t> every;
  for (const auto& [id, path] : all) every.insert(id);
  using Paths = std::map<uint64_t, std::string>;
  auto paths = ns.PathsOfBlocks(every);
  EXPECT_EQ(Paths(paths.begin(), paths.end()), all);
  uint64_t h_last = 0, i_block = 0;
  for (const auto& [id, path] : all) {
    if (path == "/a/b/h") h_last = id;
    if (path == "/ab/i") i_block = id;
  }
  paths = ns.PathsOfBlocks({h_last, i_block, 999999});
  EXPECT_EQ(Paths(paths.begin(), paths.end()), (Paths{{h_last, "/a/b/h"}, {i_block, "/ab/i"}}));
}

TEST(Namespace, SetReplicationAndListing) {
  Namespace ns;
  MakeFile(ns, "/f");
  ASSERT_TRUE(ns.SetReplication("/f", 5).ok());
  EXPECT_EQ(ns.Stat("/f")->replication, 5u);
  EXPECT_FAILS(ns.SetReplication("/f", 0), StatusCode::kInvalidArgument, "/f");
  EXPECT_FAILS(ns.SetReplication("/", 2), StatusCode::kInvalidArgument, "/");
  EXPECT_FAILS(ns.List("/f").status(), StatusCode::kInvalidArgument, "/f");
  EXPECT_FAILS(ns.List("/x").status(), StatusCode::kNotFound, "/x");
  ASSERT_TRUE(ns.Mkdirs("/b", 1).ok());
  ASSERT_TRUE(ns.Mkdirs("/a", 1).ok());
  auto list = ns.List("/");
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].path, "/a");
  EXPECT_EQ((*list)[2].path, "/f");
}

TEST(Namespace, CheckModeChangesNothing) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/a", 1, Namespace::Mode::kCheck).ok());
  ASSERT_TRUE(ns.Create("/f", "c", 1, 1, 1, Namespace::Mode::kCheck).ok());
  EXPECT_EQ(ns.Dump(), Namespace().Dump());
}

TEST(Namespace, SnapshotRoundTrip) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/a/b", 1).ok());
  MakeFile(ns, "/a/f", 3);
  ASSERT_TRUE(ns.Create("/a/b/open", "c9", 2, 64, 4).ok());
  ASSERT_TRUE(ns.AddBlock("/a/b/open", "c9", ns.next_block_id(), 3).ok());
  auto copy = Namespace::FromSnapshot(ns.Snapshot(), ns.next_block_id());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->Dump(), ns.Dump());
  auto bad = ns.Snapshot();
  bad.erase(bad.begin() + 1);  // "/a": its children lose their parent
  EXPECT_EQ(Namespace::FromSnapshot(bad, ns.next_block_id()).status().code(), StatusCode::kCorruption);
}

template <typename T>
T Got(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : T();
}

TEST(Namespace, ManyBlocksGrowAndShrinkInOrder) {
  // A file keeps one block inline and more on the heap: every size on the way holds its blocks.
  Namespace ns;
  ASSERT_TRUE(ns.Create("/f", "c", 3, 100, 1).ok());
  std::vector<BlockInfo> want;
  for (int i = 0; i < 17; ++i) {
    ASSERT_TRUE(ns.AddBlock("/f", "c", ns.next_block_id(), 100 + i).ok());
    want.push_back({ns.next_block_id() - 1, static_cast<uint64_t>(100 + i), 0});
    ASSERT_EQ(Got(ns.LeasedBlocks("/f", "c")), want) << i;
  }
  while (want.size() > 3) {
    ASSERT_TRUE(ns.AbandonBlock("/f", "c", want.back().id).ok());
    want.pop_back();
    ASSERT_EQ(Got(ns.LeasedBlocks("/f", "c")), want) << want.size();
  }
  for (int i = 0; i < 6; ++i) {  // and up again past the sizes it shrank from
    ASSERT_TRUE(ns.AddBlock("/f", "c", ns.next_block_id(), 7).ok());
    want.push_back({ns.next_block_id() - 1, 7, 0});
    ASSERT_EQ(Got(ns.LeasedBlocks("/f", "c")), want);
  }
  while (!want.empty()) {
    ASSERT_TRUE(ns.AbandonBlock("/f", "c", want.back().id).ok());
    want.pop_back();
    ASSERT_EQ(Got(ns.LeasedBlocks("/f", "c")), want) << want.size();
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ns.AddBlock("/f", "c", ns.next_block_id(), 9).ok());
    want.push_back({ns.next_block_id() - 1, 9, 0});
  }
  ASSERT_TRUE(ns.Complete("/f", "c", {10, 20, 5}, 2).ok());
  for (size_t i = 0; i < want.size(); ++i) want[i].length = std::vector<uint64_t>{10, 20, 5}[i];
  EXPECT_EQ(Got(ns.GetBlocks("/f")), want);
  EXPECT_EQ(ns.Stat("/f")->size, 35u);
  EXPECT_EQ(ns.BlocksUnder("/"), want);
  auto copy = Namespace::FromSnapshot(ns.Snapshot(), ns.next_block_id());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->Dump(), ns.Dump());
  EXPECT_EQ(Got(copy->GetBlocks("/f")), want);
}

TEST(Namespace, ChildrenAreSortedByNameBytes) {
  // As std::string orders them: bytewise, unsigned ('\xc3' after 'z'), a prefix first.
  Namespace ns;
  std::vector<std::string> names = {"b", "a.b", "\xc3\xa9t\xc3\xa9", "a", "B", "ab", "a-b", "a0", "z", "aa"};
  for (size_t i = 0; i < names.size(); ++i) {
    if (i % 2 == 0) {
      ASSERT_TRUE(ns.Mkdirs("/d/" + names[i], 1).ok());
    } else {
      MakeFile(ns, "/d/" + names[i]);
    }
  }
  EXPECT_FAILS(ns.Create("/d/ab", "c", 1, 1, 1), StatusCode::kAlreadyExists, "/d/ab");
  auto listed = [&] {
    std::vector<std::string> out;
    for (const auto& st : Got(ns.List("/d"))) out.push_back(st.path.substr(3));
    return out;
  };
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(listed(), sorted);
  // Renames within the directory and out of it keep the order.
  ASSERT_TRUE(ns.Rename("/d/a", "/d/zz", 2).ok());
  ASSERT_TRUE(ns.Rename("/d/z", "/d/0", 2).ok());
  ASSERT_TRUE(ns.Rename("/d/ab", "/ab", 2).ok());
  ASSERT_TRUE(ns.Delete("/d/B", true, 3).ok());
  std::erase(sorted, "a");
  std::erase(sorted, "z");
  std::erase(sorted, "ab");
  std::erase(sorted, "B");
  sorted.push_back("zz");
  sorted.push_back("0");
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(listed(), sorted);
  EXPECT_FALSE(ns.Stat("/d/zz")->is_dir);
  EXPECT_TRUE(ns.Stat("/d/0")->is_dir);
  EXPECT_FALSE(ns.Stat("/ab")->is_dir);
  auto copy = Namespace::FromSnapshot(ns.Snapshot(), ns.next_block_id());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->Dump(), ns.Dump());
  // An image listing an inode twice is corrupt.
  auto twice = ns.Snapshot();
  twice.push_back(twice.back());
  auto bad = Namespace::FromSnapshot(twice, ns.next_block_id());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("twice"), std::string::npos) << bad.status().ToString();
}

TEST(Namespace, CountsAndOpenFiles) {
  Namespace ns;
  ASSERT_TRUE(ns.Mkdirs("/a/b", 1).ok());
  MakeFile(ns, "/a/f", 2);
  ASSERT_TRUE(ns.Create("/a/b/open", "c9", 2, 64, 4).ok());
  ASSERT_TRUE(ns.AddBlock("/a/b/open", "c9", ns.next_block_id(), 3).ok());
  NamespaceCounts c = ns.Counts();
  EXPECT_EQ(c.dirs, 3u);
  EXPECT_EQ(c.files, 2u);
  EXPECT_EQ(c.open_files, 1u);
  EXPECT_EQ(c.blocks, 3u);
  ASSERT_EQ(ns.FilesUnderConstruction().size(), 1u);
  EXPECT_EQ(ns.FilesUnderConstruction()[0].path, "/a/b/open");
  EXPECT_EQ(ns.FilesUnderConstruction()[0].lease_holder, "c9");
  auto snapshot = ns.Snapshot();
  ASSERT_EQ(snapshot.size(), 5u);
  EXPECT_EQ(snapshot[3].path, "/a/b/open");
  EXPECT_TRUE(snapshot[3].under_construction);
  EXPECT_EQ(snapshot[3].lease_holder, "c9");
  EXPECT_EQ(snapshot[4].path, "/a/f");
  EXPECT_EQ(snapshot[4].lease_holder, "");
  EXPECT_EQ(snapshot[1].replication, 0u);  // a directory's file fields are empty
  ASSERT_TRUE(ns.Complete("/a/b/open", "c9", {1}, 5).ok());
  EXPECT_TRUE(ns.FilesUnderConstruction().empty());
  EXPECT_EQ(ns.Counts().open_files, 0u);
}

}  // namespace
}  // namespace sawmill::dfs
