#include <gtest/gtest.h>

#include <cerrno>
#include <string>

using namespace std::string_literals;

#include "common/checksum.h"
#include "common/coding.h"
#include "common/compression.h"
#include "common/file.h"
#include "common/status.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

TEST(Varint, RoundTripsAndRejectsTruncation) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 32, ~0ull}) {
    std::string s;
    PutVarint64(&s, v);
    EXPECT_EQ(static_cast<int>(s.size()), VarintLength(v));
    uint64_t got = 0;
    EXPECT_EQ(DecodeVarint64(s.data(), s.data() + s.size(), &got), s.data() + s.size());
    EXPECT_EQ(got, v);
    if (s.size() > 1) {
      EXPECT_EQ(DecodeVarint64(s.data(), s.data() + s.size() - 1, &got), nullptr);
    }
  }
  std::string overlong(11, '\xff');
  uint64_t v;
  EXPECT_EQ(DecodeVarint64(overlong.data(), overlong.data() + overlong.size(), &v), nullptr);
}

TEST(KeyPrefix, OrdersLikeMemcmp) {
  std::vector<std::string> keys = {"", "a", "a\0"s, "ab", "abcdefgh", "abcdefghi", "b", "\xff"};
  for (const auto& a : keys) {
    for (const auto& b : keys) {
      if (KeyPrefix(a) < KeyPrefix(b)) {
        EXPECT_LT(a, b) << a << " " << b;
      }
    }
  }
}

TEST(Lz4, RoundTripAndCorruption) {
  std::string raw;
  for (int i = 0; i < 10000; ++i) raw += "hello " + std::to_string(i % 100);
  std::string comp(Lz4MaxCompressedSize(raw.size()), '\0');
  size_t n = Lz4Compress(raw.data(), raw.size(), comp.data(), comp.size());
  ASSERT_GT(n, 0u);
  ASSERT_LT(n, raw.size());
  std::string out(raw.size(), '\0');
  ASSERT_TRUE(Lz4Decompress(comp.data(), n, out.data(), out.size()).ok());
  EXPECT_EQ(out, raw);
  EXPECT_FALSE(Lz4Decompress(comp.data(), n, out.data(), out.size() - 1).ok());
  EXPECT_FALSE(Lz4Decompress(comp.data(), n / 2, out.data(), out.size()).ok());
}

TEST(Checksum, ConcatenationMatchesWhole) {
  std::string a = "hello ", b = "world";
  EXPECT_EQ(Checksum64(a.data(), a.size(), b.data(), b.size()), Checksum64(a + b));
  ContentHasher h1, h2;
  h1.Update(a);
  h1.Update(b);
  h2.Update(a + b);
  EXPECT_EQ(h1.Hex(), h2.Hex());
  EXPECT_EQ(h1.Hex().size(), 32u);
}

TEST(Files, RenameNoReplaceAndExchange) {
  testing::TempDir dir;
  std::string a = dir.Write("a", "A"), b = dir.Write("b", "B");
  EXPECT_EQ(RenameNoReplace(a, b).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(RenameExchange(a, b).ok());
  EXPECT_EQ(testing::ReadAll(a), "B");
  EXPECT_EQ(testing::ReadAll(b), "A");
  auto missing = RandomAccessFile::Open(dir.Sub("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
}

TEST(Files, WritableFileBuffersLargeAndSmallAppends) {
  testing::TempDir dir;
  auto f = WritableFile::Create(dir.Sub("x"), 16);
  ASSERT_TRUE(f.ok());
  std::string expect;
  for (int i = 0; i < 100; ++i) {
    std::string piece(static_cast<size_t>(i % 37), static_cast<char>('a' + i % 26));
    ASSERT_TRUE((*f)->Append(piece).ok());
    expect += piece;
  }
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(testing::ReadAll(dir.Sub("x")), expect);
}

// /dev/full fails every write with ENOSPC, as a full disk does.
TEST(Files, AFullDiskFailsAWriteNamingThePathAndNoSpace) {
  auto f = WritableFile::Create("/dev/full");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->Append("some bytes").ok());  // buffered
  Status s = (*f)->Close();
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(s.message(), "cannot write /dev/full: no space left on device");
  EXPECT_TRUE(IsNoSpace(s.WithContext("spilling")));
  EXPECT_FALSE(IsNoSpace(IOError("cannot write x: Input/output error")));
  EXPECT_EQ(ErrnoError("cannot write", "/q/f", EDQUOT).message(),
            "cannot write /q/f: no space left on device (disk quota exceeded)");
}

}  // namespace
}  // namespace sawmill

namespace sawmill {
namespace {

TEST(FileTest, ReadFileToStringReadsProcFilesThatReportSizeZero) {
  std::string cmdline;
  ASSERT_TRUE(ReadFileToString("/proc/self/cmdline", &cmdline).ok());
  EXPECT_NE(cmdline.find("common_test"), std::string::npos);
}

}  // namespace
}  // namespace sawmill
