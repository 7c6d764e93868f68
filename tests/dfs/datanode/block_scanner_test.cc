// ScanOnce reports exactly the corrupt replicas.
#include "dfs/datanode/block_scanner.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::ReadAll;
using sawmill::testing::TempDir;

void Put(BlockStore& store, uint64_t id, const std::string& data) {
  auto w = store.CreateBlock(id, 1);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(data).ok());
  ASSERT_TRUE((*w)->Finalize().ok());
}

TEST(BlockScannerTest, ReportsCorruptAndMalformedBlocks) {
  TempDir dir;
  {
    auto store = BlockStore::Open(dir.path(), {.chunk_size = 16}).value();
    for (uint64_t id = 1; id <= 4; ++id) Put(*store, id, std::string(100, 'a' + id));
  }
  // Block 2: data damage (found by scanning); block 4: header damage (found at Open).
  for (uint64_t id : {2, 4}) {
    const std::string name = "finalized/blk_" + std::to_string(id) + "_1";
    std::string bytes = ReadAll(dir.Sub(name));
    bytes[id == 2 ? kBlockFileHeaderBytes + 50 : 3] ^= 1;
    dir.Write(name, bytes);
  }
  auto store = BlockStore::Open(dir.path(), {.chunk_size = 16}).value();
  std::vector<uint64_t> reported;
  ScanResult r = ScanOnce(*store, [&](uint64_t id, const Status& s) {
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_NE(s.message().find("block " + std::to_string(id)), std::string::npos) << s.message();
    reported.push_back(id);
  });
  std::sort(reported.begin(), reported.end());
  EXPECT_EQ(reported, (std::vector<uint64_t>{2, 4}));
  EXPECT_EQ(r.verified, 2u);
  EXPECT_EQ(r.corrupt, 2u);
  EXPECT_EQ(r.errors, 0u);

  // After the namenode has the corrupt replicas deleted, a pass is clean.
  ASSERT_TRUE(store->Delete(2).ok());
  ASSERT_TRUE(store->Delete(4).ok());
  r = ScanOnce(*store, [&](uint64_t, const Status&) { ADD_FAILURE(); });
  EXPECT_EQ(r.verified, 2u);
  EXPECT_EQ(r.corrupt, 0u);
}

TEST(BlockScannerTest, EmptyStore) {
  TempDir dir;
  auto store = BlockStore::Open(dir.path()).value();
  ScanResult r = ScanOnce(*store, [&](uint64_t, const Status&) { ADD_FAILURE(); });
  EXPECT_EQ(r.verified + r.corrupt + r.errors, 0u);
}

}  // namespace
}  // namespace sawmill::dfs
