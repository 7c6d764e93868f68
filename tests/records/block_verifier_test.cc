// Tests of the streaming block checks (records/block_verifier.h): every byte flipped in a
// partition's blocks is caught whatever the pieces the bytes arrive in, truncation and extra
// bytes are errors, and VerifyPartitionBlocks names the file and the block.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/file.h"
#include "records/block_verifier.h"
#include "records/record_file.h"
#include "tests/common/status_macros.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

using ::testing::HasSubstr;

class BlockVerifierTest : public ::testing::Test {
 protected:
  // Partitions 0..2 of small blocks, partition 1 with no records.
  void SetUp() override {
    path_ = dir_.Sub("map.out");
    RecordFileOptions options;
    options.block_bytes = 200;
    auto w = RecordFileWriter::Create(path_, options);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (int32_t p : {0, 2}) {
      ASSERT_OK((*w)->StartPartition(p));
      for (int i = 0; i < 60; ++i) {
        ASSERT_OK((*w)->Add("key" + std::to_string(p * 1000 + i), std::string(i % 9 * 4, 'a' + i % 5)));
      }
    }
    ASSERT_OK((*w)->Finish());
    ASSERT_OK(ReadFileToString(path_, &bytes_));
    auto r = RecordFileReader::Open(path_);
    ASSERT_TRUE(r.ok());
    extent_ = (*r)->Extent(2);
    ASSERT_GT(extent_.blocks.size(), 3u);
  }

  // Partition 2's bytes of `file` given to a verifier `piece` bytes at a time.
  Status Stream(const std::string& file, size_t piece) {
    BlockStreamVerifier v("map.out", extent_.blocks);
    std::string_view all = std::string_view(file).substr(extent_.offset, extent_.length);
    for (size_t pos = 0; pos < all.size(); pos += piece) RETURN_IF_ERROR(v.Update(all.substr(pos, piece)));
    return v.Finish();
  }

  testing::TempDir dir_;
  std::string path_, bytes_;
  PartitionExtent extent_;
};

TEST_F(BlockVerifierTest, IntactBlocksPassInPiecesOfAnySize) {
  for (size_t piece : {1, 7, 24, 25, 199, 4096, 1 << 20}) {
    SCOPED_TRACE(piece);
    EXPECT_OK(Stream(bytes_, piece));
  }
  for (int32_t p : {0, 1, 2, 9}) {
    SCOPED_TRACE(p);
    EXPECT_OK(VerifyPartitionBlocks(path_, p));
  }
}

TEST_F(BlockVerifierTest, EveryFlippedByteIsCaughtNamingItsBlock) {
  for (const BlockHandle& h : extent_.blocks) {
    for (uint64_t at = h.offset; at < h.offset + kBlockHeaderSize + h.stored_size; ++at) {
      std::string bad = bytes_;
      bad[at] ^= 0x10;
      for (size_t piece : {5, 64 << 10}) {
        Status s = Stream(bad, piece);
        ASSERT_EQ(s.code(), StatusCode::kCorruption) << "byte " << at << ": " << s.ToString();
        ASSERT_THAT(s.message(), HasSubstr("map.out: block at offset " + std::to_string(h.offset) + ": "));
      }
    }
  }
}

TEST_F(BlockVerifierTest, TruncatedOrLongerBytesAreCorruption) {
  BlockStreamVerifier v("seg", extent_.blocks);
  ASSERT_OK(v.Update(std::string_view(bytes_).substr(extent_.offset, extent_.length - 1)));
  Status s = v.Finish();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_THAT(s.message(), HasSubstr("truncated"));
  EXPECT_THAT(s.message(), HasSubstr("block at offset " + std::to_string(extent_.blocks.back().offset)));
  BlockStreamVerifier w("seg", extent_.blocks);
  s = w.Update(std::string_view(bytes_).substr(extent_.offset, extent_.length + 1));
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
}

TEST_F(BlockVerifierTest, PartitionOfAFileOnDiskNamesTheFileAndBlock) {
  const BlockHandle& mid = extent_.blocks[extent_.blocks.size() / 2];
  std::string bad = bytes_;
  bad[mid.offset + kBlockHeaderSize + mid.stored_size / 2] ^= 1;
  ASSERT_OK(WriteStringToFile(path_, bad));
  Status s = VerifyPartitionBlocks(path_, 2);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(path_ + ": block at offset " + std::to_string(mid.offset) + ": checksum mismatch"));
  EXPECT_OK(VerifyPartitionBlocks(path_, 0));  // other partitions are unharmed

  // Truncated on disk: the footer moved, so opening it fails, naming the file.
  ASSERT_OK(WriteStringToFile(path_, bytes_.substr(0, bytes_.size() - 100)));
  s = VerifyPartitionBlocks(path_, 2);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(path_));
  // Gone: an error naming it.
  ASSERT_OK(RemoveAll(path_));
  s = VerifyPartitionBlocks(path_, 2);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(path_));
}

}  // namespace
}  // namespace sawmill
