// Block file format: round trips, range reads, and that every damaged byte or truncation is caught.
#include "dfs/datanode/block_file.h"

#include <random>

#include <gtest/gtest.h>

#include "tests/common/temp_dir.h"

namespace sawmill::dfs {
namespace {

using sawmill::testing::ReadAll;
using sawmill::testing::TempDir;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Writes `data` in random piece sizes (including empty pieces).
void WriteBlock(const std::string& path, uint64_t id, const std::string& data, uint32_t chunk, uint32_t seed) {
  auto w = BlockFileWriter::Create(path, id, 7, chunk);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::mt19937 rng(seed);
  size_t pos = 0;
  while (pos < data.size()) {
    size_t n = std::min<size_t>(data.size() - pos, rng() % (3 * chunk));
    ASSERT_TRUE((*w)->Append(std::string_view(data).substr(pos, n)).ok());
    pos += n;
  }
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ((*w)->length(), data.size());
}

class BlockFileRoundTrip : public ::testing::TestWithParam<size_t> {};

TEST_P(BlockFileRoundTrip, ReadsBackEveryRange) {
  constexpr uint32_t kChunk = 1024;
  TempDir dir;
  const std::string data = RandomBytes(GetParam(), 1);
  const std::string path = dir.Sub("blk");
  WriteBlock(path, 42, data, kChunk, 2);
  EXPECT_EQ(ReadAll(path).size(), BlockFileSize(data.size(), kChunk));

  auto info = VerifyBlockFile(path, 42);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->length, data.size());
  EXPECT_EQ(info->generation, 7u);
  EXPECT_EQ(info->chunk_size, kChunk);

  auto all = ReadBlockFileRange(path, 42, 0, UINT64_MAX);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, data);

  // Ranges starting and ending around every chunk boundary, plus random ones.
  std::vector<uint64_t> points = {0, 1, data.size()};
  for (uint64_t b = 0; b <= data.size() + kChunk; b += kChunk) {
    for (int64_t d : {-1, 0, 1}) {
      if (static_cast<int64_t>(b) + d >= 0) points.push_back(b + d);
    }
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 20; ++i) points.push_back(rng() % (data.size() + 1));
  for (uint64_t off : points) {
    for (uint64_t end : points) {
      if (end < off) continue;
      auto r = ReadBlockFileRange(path, 42, off, end - off);
      if (off > data.size()) {
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << off;
        continue;
      }
      ASSERT_TRUE(r.ok()) << off << "+" << end - off << ": " << r.status().ToString();
      // Past the end: a short read of what exists.
      EXPECT_EQ(*r, data.substr(off, end - off)) << off << "+" << end - off;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, BlockFileRoundTrip,
                         ::testing::Values(0, 1, 1023, 1024, 1025, 5 * 1024 + 17, 8 * 1024));

TEST(BlockFileTest, DefaultChunkSizeLargeBlock) {
  TempDir dir;
  const std::string data = RandomBytes(3 * kDefaultChunkBytes + 5, 9);
  WriteBlock(dir.Sub("b"), 1, data, kDefaultChunkBytes, 10);
  auto r = ReadBlockFileRange(dir.Sub("b"), 1, kDefaultChunkBytes - 3, kDefaultChunkBytes + 10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, data.substr(kDefaultChunkBytes - 3, kDefaultChunkBytes + 10));
  EXPECT_TRUE(VerifyBlockFile(dir.Sub("b"), 1).ok());
}

TEST(BlockFileTest, RejectsBadChunkSize) {
  TempDir dir;
  EXPECT_EQ(BlockFileWriter::Create(dir.Sub("a"), 1, 1, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BlockFileWriter::Create(dir.Sub("b"), 1, 1, kMaxChunkBytes + 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BlockFileTest, WrongBlockIdIsCorruption) {
  TempDir dir;
  WriteBlock(dir.Sub("b"), 5, "hello", 4, 1);
  auto r = ReadBlockFileRange(dir.Sub("b"), 6, 0, 5);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("block 6"), std::string::npos) << r.status().message();
}

TEST(BlockFileTest, UnfinishedFileIsCorruption) {
  TempDir dir;
  auto w = BlockFileWriter::Create(dir.Sub("b"), 5, 1, 16);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(RandomBytes(100, 1)).ok());
  w->reset();  // closes without a table or footer, as a crash would
  EXPECT_EQ(VerifyBlockFile(dir.Sub("b"), 5).status().code(), StatusCode::kCorruption);
}

// Three 1 KiB chunks: every single-byte flip must make every read touching the damage, and
// Verify, fail with kCorruption naming the block; never return wrong bytes.
TEST(BlockFileCorruptionTest, EveryByteFlipIsDetected) {
  constexpr uint32_t kChunk = 1024;
  TempDir dir;
  const std::string data = RandomBytes(3 * kChunk - 100, 4);
  const std::string path = dir.Sub("blk");
  WriteBlock(path, 77, data, kChunk, 5);
  const std::string good = ReadAll(path);
  const size_t table_at = kBlockFileHeaderBytes + data.size();
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x5a;
    dir.Write("blk", bad);
    SCOPED_TRACE("flipped byte " + std::to_string(i));
    auto v = VerifyBlockFile(path, 77);
    ASSERT_EQ(v.status().code(), StatusCode::kCorruption);
    EXPECT_NE(v.status().message().find("block 77"), std::string::npos) << v.status().message();
    // Which chunk (if any) the byte belongs to; header/footer damage fails every read.
    int64_t chunk = -1;
    if (i >= kBlockFileHeaderBytes && i < table_at) chunk = (i - kBlockFileHeaderBytes) / kChunk;
    if (i >= table_at && i < table_at + 8 * 3) chunk = (i - table_at) / 8;
    for (uint64_t c = 0; c < 3; ++c) {
      for (auto [off, len] : {std::pair<uint64_t, uint64_t>{c * kChunk, 1}, {c * kChunk + 5, kChunk}}) {
        auto r = ReadBlockFileRange(path, 77, off, len);
        const bool touches = chunk < 0 || (static_cast<int64_t>(off / kChunk) <= chunk &&
                                           chunk <= static_cast<int64_t>((off + len - 1) / kChunk));
        if (touches) {
          ASSERT_EQ(r.status().code(), StatusCode::kCorruption) << off << "+" << len;
          EXPECT_NE(r.status().message().find("block 77"), std::string::npos);
          if (chunk >= 0) {
            EXPECT_NE(r.status().message().find("chunk at block offset " + std::to_string(chunk * kChunk)),
                      std::string::npos)
                << r.status().message();
          }
        } else {
          ASSERT_TRUE(r.ok()) << r.status().ToString();
          EXPECT_EQ(*r, data.substr(off, len));
        }
      }
    }
  }
}

TEST(BlockFileCorruptionTest, EveryTruncationAndExtensionIsDetected) {
  TempDir dir;
  const std::string data = RandomBytes(2 * 64 + 10, 6);
  const std::string path = dir.Sub("blk");
  WriteBlock(path, 3, data, 64, 7);
  const std::string good = ReadAll(path);
  for (size_t n = 0; n < good.size(); ++n) {
    dir.Write("blk", good.substr(0, n));
    auto r = ReadBlockFileRange(path, 3, 0, 1);
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption) << n;
    EXPECT_NE(r.status().message().find("block 3"), std::string::npos);
  }
  dir.Write("blk", good + "x");
  EXPECT_EQ(VerifyBlockFile(path, 3).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace sawmill::dfs
