// BlockStore: write/finalize/read, reopen, unfinished and malformed files, delete, corruption.
#include "dfs/datanode/block_store.h"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "common/file.h"
#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::ReadAll;
using sawmill::testing::TempDir;

constexpr uint32_t kChunk = 1024;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::unique_ptr<BlockStore> OpenStore(const std::string& dir) {
  auto s = BlockStore::Open(dir, {.chunk_size = kChunk});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

void Put(BlockStore& store, uint64_t id, uint64_t gen, const std::string& data) {
  auto w = store.CreateBlock(id, gen);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::mt19937 rng(static_cast<uint32_t>(id));
  for (size_t pos = 0; pos < data.size();) {
    size_t n = std::min<size_t>(data.size() - pos, 1 + rng() % (2 * kChunk));
    ASSERT_TRUE((*w)->Append(std::string_view(data).substr(pos, n)).ok());
    pos += n;
  }
  auto info = (*w)->Finalize();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(*info, (BlockInfo{id, gen, data.size()}));
}

TEST(BlockStoreTest, RoundTripSizesAndReopen) {
  TempDir dir;
  const std::vector<size_t> sizes = {0, 1, kChunk - 1, kChunk, kChunk + 1, 7 * kChunk + 3};
  std::vector<BlockInfo> expected;
  {
    auto store = OpenStore(dir.path());
    for (size_t i = 0; i < sizes.size(); ++i) {
      Put(*store, 100 + i, 1000 + i, RandomBytes(sizes[i], i));
      expected.push_back({100 + i, 1000 + i, sizes[i]});
    }
    EXPECT_EQ(store->List(), expected);
    for (size_t i = 0; i < sizes.size(); ++i) {
      auto r = store->Read(100 + i, 0, UINT64_MAX);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(*r, RandomBytes(sizes[i], i));
      EXPECT_TRUE(store->Verify(100 + i).ok());
    }
  }
  auto store = OpenStore(dir.path());
  EXPECT_TRUE(store->open_report().removed.empty());
  EXPECT_TRUE(store->open_report().malformed.empty());
  EXPECT_EQ(store->List(), expected);
  const std::string big = RandomBytes(sizes.back(), sizes.size() - 1);
  const uint64_t id = 100 + sizes.size() - 1;
  for (auto [off, len] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 0}, {kChunk - 1, 2}, {kChunk, kChunk}, {3, 5 * kChunk}, {big.size() - 1, 10}, {big.size(), 1}}) {
    auto r = store->Read(id, off, len);
    ASSERT_TRUE(r.ok()) << off << ": " << r.status().ToString();
    EXPECT_EQ(*r, big.substr(off, len));
  }
  auto past = store->Read(id, big.size() + 1, 1);
  EXPECT_EQ(past.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Read(999, 0, 1).status().code(), StatusCode::kNotFound);
}

TEST(BlockStoreTest, AbortedAndCrashedWritesAreNotListed) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    auto a = store->CreateBlock(1, 1);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE((*a)->Append("partial").ok());
    (*a)->Abort();
    auto b = store->CreateBlock(2, 1);
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->Append(RandomBytes(3000, 1)).ok());
    b->reset();  // destroyed without Finalize: aborts
    EXPECT_TRUE(store->List().empty());
    EXPECT_TRUE(ListDir(dir.Sub("tmp"))->empty());
  }
  // A crash mid-write leaves a file in tmp/: simulate one, including a complete-looking file.
  {
    auto w = BlockFileWriter::Create(dir.Sub("tmp/blk_3_1"), 3, 1, kChunk);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("abc").ok());
    ASSERT_TRUE((*w)->Finish().ok());
    dir.Write("tmp/blk_4_1", "torn");
  }
  auto store = OpenStore(dir.path());
  EXPECT_TRUE(store->List().empty());
  EXPECT_EQ(store->open_report().removed.size(), 2u);
  EXPECT_TRUE(ListDir(dir.Sub("tmp"))->empty());
  EXPECT_EQ(store->Read(3, 0, 1).status().code(), StatusCode::kNotFound);
  // The ids are free again.
  Put(*store, 3, 2, "again");
}

TEST(BlockStoreTest, DuplicateCreateFails) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Put(*store, 5, 1, "x");
  EXPECT_EQ(store->CreateBlock(5, 1).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store->CreateBlock(5, 2).status().code(), StatusCode::kAlreadyExists);
  auto w = store->CreateBlock(6, 1);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(store->CreateBlock(6, 1).status().code(), StatusCode::kAlreadyExists);
  (*w)->Abort();
  EXPECT_TRUE(store->CreateBlock(6, 1).ok());  // aborted: free again (and aborted by destructor)
}

TEST(BlockStoreTest, Delete) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Put(*store, 1, 1, "one");
  Put(*store, 2, 1, "two");
  ASSERT_TRUE(store->Delete(1).ok());
  EXPECT_EQ(store->Delete(1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Read(1, 0, 3).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->List(), (std::vector<BlockInfo>{{2, 1, 3}}));
  EXPECT_FALSE(PathExists(dir.Sub("finalized/blk_1_1")));
  Put(*store, 1, 2, "uno");  // can be recreated
  store.reset();
  EXPECT_EQ(OpenStore(dir.path())->List(), (std::vector<BlockInfo>{{1, 2, 3}, {2, 1, 3}}));
}

TEST(BlockStoreTest, LocalPathAllowsReadingWithoutTheStore) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const std::string data = RandomBytes(2 * kChunk + 9, 3);
  Put(*store, 8, 4, data);
  auto local = store->LocalPath(8);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->length, data.size());
  EXPECT_EQ(local->generation, 4u);
  EXPECT_EQ(local->chunk_size, kChunk);
  EXPECT_EQ(ReadAll(local->path).substr(local->data_offset, data.size()), data);
  auto r = ReadBlockFileRange(local->path, local->id, kChunk - 1, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, data.substr(kChunk - 1, 3));
  EXPECT_EQ(store->LocalPath(9).status().code(), StatusCode::kNotFound);
}

TEST(BlockStoreTest, Usage) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Put(*store, 1, 1, RandomBytes(5000, 1));
  auto u = store->Usage();
  ASSERT_TRUE(u.ok());
  EXPECT_GT(u->capacity_bytes, 0u);
  EXPECT_LE(u->available_bytes, u->capacity_bytes);
  EXPECT_EQ(u->block_bytes, BlockFileSize(5000, kChunk));
}

TEST(BlockStoreTest, NewerGenerationSupersedesOlder) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    Put(*store, 1, 1, "old");
  }
  {
    // Recovery finalized generation 2 elsewhere, then crashed before deleting generation 1.
    TempDir other;
    auto store = OpenStore(other.path());
    Put(*store, 1, 2, "newer");
    ASSERT_TRUE(Rename(other.Sub("finalized/blk_1_2"), dir.Sub("finalized/blk_1_2")).ok());
    ASSERT_TRUE(store->Delete(1).code() == StatusCode::kNotFound);
  }
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->List(), (std::vector<BlockInfo>{{1, 2, 5}}));
  EXPECT_EQ(store->open_report().removed, std::vector<std::string>{dir.Sub("finalized/blk_1_1")});
  EXPECT_EQ(store->Read(1, 0, 5).value(), "newer");
}

// Three 1 KiB chunks; each byte flipped in turn while the store is open, then again at reopen.
TEST(BlockStoreCorruptionTest, EveryByteFlipIsReported) {
  TempDir dir;
  const std::string data = RandomBytes(3 * kChunk, 11);
  {
    auto store = OpenStore(dir.path());
    Put(*store, 42, 3, data);
  }
  const std::string path = dir.Sub("finalized/blk_42_3");
  const std::string good = ReadAll(path);
  auto store = OpenStore(dir.path());
  for (size_t i = 0; i < good.size(); ++i) {
    SCOPED_TRACE("flipped byte " + std::to_string(i));
    std::string bad = good;
    bad[i] ^= 0x01;
    dir.Write("finalized/blk_42_3", bad);
    Status v = store->Verify(42);
    ASSERT_EQ(v.code(), StatusCode::kCorruption);
    EXPECT_NE(v.message().find("block 42"), std::string::npos) << v.message();
    const bool in_data = i >= kBlockFileHeaderBytes && i < kBlockFileHeaderBytes + data.size();
    const bool in_table = i >= kBlockFileHeaderBytes + data.size() && i < kBlockFileHeaderBytes + data.size() + 24;
    const int64_t chunk = in_data ? (i - kBlockFileHeaderBytes) / kChunk
                          : in_table ? (i - kBlockFileHeaderBytes - data.size()) / 8 : -1;
    for (int64_t c = 0; c < 3; ++c) {
      auto r = store->Read(42, c * kChunk + 1, kChunk - 2);
      if (chunk < 0 || chunk == c) {
        ASSERT_EQ(r.status().code(), StatusCode::kCorruption);
        EXPECT_NE(r.status().message().find("block 42"), std::string::npos);
        if (chunk >= 0) {
          EXPECT_NE(r.status().message().find("block offset " + std::to_string(c * kChunk)), std::string::npos);
        }
      } else {
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_EQ(*r, data.substr(c * kChunk + 1, kChunk - 2));
      }
    }
    // A restart finds header/footer damage at Open; chunk damage still at Read.
    auto reopened = OpenStore(dir.path());
    if (chunk < 0) {
      ASSERT_EQ(reopened->open_report().malformed.size(), 1u);
      EXPECT_NE(reopened->open_report().malformed[0].message().find("block 42"), std::string::npos);
      EXPECT_TRUE(reopened->List().empty());
      EXPECT_EQ(reopened->MalformedIds(), std::vector<uint64_t>{42});
      EXPECT_EQ(reopened->Read(42, 0, 1).status().code(), StatusCode::kCorruption);
      EXPECT_EQ(reopened->CreateBlock(42, 4).status().code(), StatusCode::kAlreadyExists);
    } else {
      EXPECT_TRUE(reopened->open_report().malformed.empty());
      EXPECT_EQ(reopened->Read(42, chunk * kChunk, 1).status().code(), StatusCode::kCorruption);
    }
  }
  dir.Write("finalized/blk_42_3", good);
  EXPECT_TRUE(store->Verify(42).ok());
}

TEST(BlockStoreCorruptionTest, TruncatedFilesAreReported) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    Put(*store, 1, 1, RandomBytes(2 * kChunk + 5, 1));
    Put(*store, 2, 1, RandomBytes(10, 2));
  }
  const std::string good = ReadAll(dir.Sub("finalized/blk_1_1"));
  for (size_t n : {size_t{0}, size_t{10}, kBlockFileHeaderBytes, good.size() / 2, good.size() - 1}) {
    SCOPED_TRACE(n);
    dir.Write("finalized/blk_1_1", good.substr(0, n));
    auto store = OpenStore(dir.path());
    ASSERT_EQ(store->open_report().malformed.size(), 1u);
    EXPECT_NE(store->open_report().malformed[0].message().find("block 1"), std::string::npos);
    EXPECT_EQ(store->List(), (std::vector<BlockInfo>{{2, 1, 10}}));
    EXPECT_EQ(store->Verify(1).code(), StatusCode::kCorruption);
  }
  // Deleting the malformed replica frees the id.
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->Delete(1).ok());
  EXPECT_FALSE(PathExists(dir.Sub("finalized/blk_1_1")));
  EXPECT_TRUE(store->MalformedIds().empty());
}

TEST(BlockStoreCorruptionTest, TruncationWhileOpenIsReportedAtRead) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Put(*store, 1, 1, RandomBytes(2 * kChunk, 1));
  const std::string good = ReadAll(dir.Sub("finalized/blk_1_1"));
  dir.Write("finalized/blk_1_1", good.substr(0, good.size() - 30));
  EXPECT_EQ(store->Read(1, 0, 1).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(store->Verify(1).code(), StatusCode::kCorruption);
}

TEST(BlockStoreTest, BadFileNamesAreReported) {
  TempDir dir;
  { OpenStore(dir.path()); }
  dir.Write("finalized/blk_x_1", "junk");
  dir.Write("finalized/notablock", "junk");
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->open_report().malformed.size(), 2u);
  EXPECT_TRUE(store->List().empty());
  EXPECT_TRUE(store->MalformedIds().empty());
}

TEST(BlockStoreTest, ReservedBlockWrittenByAnotherIsStoredOnceChecked) {
  TempDir dir;
  const std::string data = RandomBytes(3 * kChunk + 5, 31);
  {
    auto store = OpenStore(dir.path());
    auto w = store->ReserveBlock(7, 2);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(store->ReserveBlock(7, 2).status().code(), StatusCode::kAlreadyExists);
    EXPECT_EQ(store->CreateBlock(7, 2).status().code(), StatusCode::kAlreadyExists);
    // Someone else (a short-circuit writer) writes the file at the reserved path.
    auto file = BlockFileWriter::Create((*w)->tmp_path(), 7, 2, kChunk);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append(data).ok());
    ASSERT_TRUE((*file)->Finish(false).ok());
    auto info = (*w)->FinalizeWritten(data.size());
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(*info, (BlockInfo{7, 2, data.size()}));
    auto read = store->Read(7, 0, UINT64_MAX);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, data);
    EXPECT_TRUE(store->Verify(7).ok());
    auto usage = store->Usage();
    ASSERT_TRUE(usage.ok());
    EXPECT_EQ(usage->block_bytes, BlockFileSize(data.size(), kChunk));

    // A reserved block whose file is wrong is refused, removed, and can be written again.
    auto bad = store->ReserveBlock(8, 1);
    ASSERT_TRUE(bad.ok());
    auto wrong = BlockFileWriter::Create((*bad)->tmp_path(), 8, 2, kChunk);  // another generation
    ASSERT_TRUE(wrong.ok());
    ASSERT_TRUE((*wrong)->Finish(false).ok());
    auto refused = (*bad)->FinalizeWritten(0);
    EXPECT_EQ(refused.status().code(), StatusCode::kCorruption) << refused.status().ToString();
    EXPECT_NE(refused.status().message().find("block 8"), std::string::npos) << refused.status().ToString();
    EXPECT_FALSE(std::filesystem::exists((*bad)->tmp_path()));
    auto again = store->ReserveBlock(8, 1);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    const std::string tmp = (*again)->tmp_path();
    ASSERT_TRUE(WriteStringToFile(tmp, "partial").ok());
    again->reset();  // never finalized: aborted, its file removed
    EXPECT_FALSE(std::filesystem::exists(tmp));
  }
  auto reopened = OpenStore(dir.path());
  EXPECT_EQ(reopened->List(), (std::vector<BlockInfo>{{7, 2, data.size()}}));
}

}  // namespace
}  // namespace sawmill::dfs
