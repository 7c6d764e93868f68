// common/memory_fs.h: the store's semantics in memory, checked case by case and against the
// local disk (LocalFileSystem under a temporary root) as an oracle over random operations.
#include "common/memory_fs.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/local_fs.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

Status Write(FileSystem& fs, const std::string& path, const std::string& data) {
  ASSIGN_OR_RETURN(auto f, fs.Create(path));
  RETURN_IF_ERROR(f->Append(data));
  return f->Close();
}

std::string Read(FileSystem& fs, const std::string& path) {
  auto f = fs.OpenRead(path);
  if (!f.ok()) return "<" + f.status().ToString() + ">";
  std::string data((*f)->size(), '\0');
  EXPECT_TRUE((*f)->ReadAt(0, data.size(), data.data()).ok());
  return data;
}

// Every path under `dir` (relative to `root`), depth first in name order, with file contents.
void Tree(FileSystem& fs, const std::string& root, const std::string& dir, std::string* out) {
  auto list = fs.List(dir);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  for (const auto& e : *list) {
    const std::string name = e.path.substr(e.path.rfind('/') + 1);
    const std::string path = dir == "/" ? "/" + name : dir + "/" + name;
    *out += path.substr(root.size()) + (e.is_dir ? "/\n" : " = " + Read(fs, path) + "\n");
    if (e.is_dir) Tree(fs, root, path, out);
  }
}

TEST(MemoryFileSystemTest, CreateIsExclusiveAndVisibleAtClose) {
  MemoryFileSystem fs;
  auto f = fs.Create("/a/b/part-0");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(fs.Create("/a/b/part-0").status().code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(fs.OpenRead("/a/b/part-0").ok());  // still being written
  ASSERT_TRUE((*f)->Append("xyz").ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Read(fs, "/a/b/part-0"), "xyz");
  EXPECT_TRUE(fs.Stat("/a").value().is_dir);
  EXPECT_EQ(fs.Stat("//a/b//part-0/").value().size, 3u);
  EXPECT_EQ(fs.Create("/a/b/part-0/x").status().code(), StatusCode::kInvalidArgument);  // a file's child
  EXPECT_EQ(fs.Stat("a/relative").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs.Stat("/a/../b").status().code(), StatusCode::kInvalidArgument);
}

TEST(MemoryFileSystemTest, RenameMovesWholeSubtreesAndNeverReplaces) {
  MemoryFileSystem fs;
  ASSERT_TRUE(Write(fs, "/s/_temporary/m-0/part-0", "0").ok());
  ASSERT_TRUE(Write(fs, "/s/_temporary/m-1/part-1", "1").ok());
  ASSERT_TRUE(Write(fs, "/s-x", "sibling").ok());  // sorts between "/s" and "/s/..."
  ASSERT_TRUE(fs.Rename("/s/_temporary/m-0/part-0", "/s/part-0").ok());
  EXPECT_EQ(fs.Rename("/s/_temporary/m-1/part-1", "/s/part-0").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(fs.Rename("/s/_temporary/m-1/part-1", "/none/part-1").code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.Rename("/s", "/s/_temporary/inside").code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(fs.Mkdirs("/out").ok());
  ASSERT_TRUE(fs.Rename("/s", "/out/final").ok());
  std::string tree;
  Tree(fs, "", "/", &tree);
  EXPECT_EQ(tree,
            "/out/\n/out/final/\n/out/final/_temporary/\n/out/final/_temporary/m-0/\n/out/final/_temporary/m-1/\n"
            "/out/final/_temporary/m-1/part-1 = 1\n/out/final/part-0 = 0\n/s-x = sibling\n");
  EXPECT_EQ(fs.Delete("/out/final", false).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(fs.Delete("/out/final", true).ok());
  EXPECT_EQ(fs.Stat("/out/final/part-0").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs.Delete("/out/final", true).code(), StatusCode::kNotFound);
  EXPECT_EQ(Read(fs, "/s-x"), "sibling");
  EXPECT_GT(fs.calls(), 10u);
}

// The same random creates, renames, deletes and mkdirs on both: each succeeds on one exactly
// when it succeeds on the other, and the trees agree after every step.
TEST(MemoryFileSystemTest, AgreesWithTheLocalDiskOverRandomOperations) {
  testing::TempDir dir;
  const std::string root = dir.path();
  LocalFileSystem local;
  MemoryFileSystem memory;
  ASSERT_TRUE(memory.Mkdirs(root).ok());
  std::mt19937 rng(42);
  const std::vector<std::string> names = {"a", "a-b", "a0", "b", "_t"};
  auto random_path = [&](int max_depth) {
    std::string p;
    const int depth = 1 + static_cast<int>(rng() % static_cast<unsigned>(max_depth));
    for (int i = 0; i < depth; ++i) p += "/" + names[rng() % names.size()];
    return p;
  };
  std::vector<int> succeeded(5, 0);  // per kind of operation: the test is not all refusals
  std::vector<std::string> made;  // paths created at some step
  for (int step = 0; step < 600; ++step) {
    const unsigned kind = rng() % 5;
    std::string p = random_path(3);
    if (kind == 2 && !made.empty()) p = made[rng() % made.size()];  // a rename's source: mostly there
    // A rename's target: p's sibling or a shallow path, whose parent is more often there.
    const std::string q = rng() % 2 ? p.substr(0, p.rfind('/')) + "/" + names[rng() % names.size()] : random_path(2);
    Status m, l;
    switch (kind) {
      case 0:
      case 1:
        m = Write(memory, root + p, std::to_string(step));
        // The local disk replaces a file; the store (and the coordinator's test store) never do.
        l = local.Stat(root + p).ok() ? AlreadyExists(p) : Write(local, root + p, std::to_string(step));
        break;
      case 2:
        m = memory.Rename(root + p, root + q);
        l = local.Rename(root + p, root + q);
        break;
      case 3: {
        const bool recursive = rng() % 2 == 0;
        m = memory.Delete(root + p, recursive);
        l = local.Delete(root + p, recursive);
        break;
      }
      default:
        m = memory.Mkdirs(root + p);
        l = local.Mkdirs(root + p);
    }
    succeeded[kind] += m.ok();
    if (m.ok() && kind != 3) made.push_back(kind == 2 ? q : p);
    ASSERT_EQ(m.ok(), l.ok()) << "step " << step << ": memory " << m.ToString() << ", local " << l.ToString();
    std::string mt, lt;
    Tree(memory, root, root, &mt);
    Tree(local, root, root, &lt);
    ASSERT_EQ(mt, lt) << "step " << step;
  }
  for (unsigned k = 0; k < succeeded.size(); ++k) EXPECT_GE(succeeded[k], 10) << "operation kind " << k << ": " << succeeded[k];
}

}  // namespace
}  // namespace sawmill
