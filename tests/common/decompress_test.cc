// Compressed inputs read decompressed (common/decompress.h): each format round-trips, members
// and frames concatenated are read one after the other, and a truncated or damaged file is an
// error naming the file and an offset, never bytes read as text.
#include "common/decompress.h"

#include <bzlib.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <random>

#include "common/file.h"
#include "common/local_fs.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

std::string Text(size_t n, uint32_t seed) {
  static const char* kWords[] = {"GET", "/index.html", "200", "user42", "Mozilla", "-", "\n", "POST", "404"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += std::string(kWords[rng() % 9]) + (rng() % 5 ? " " : "\n");
  s.resize(n);
  return s;
}

std::string Gzip(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string Bzip2(const std::string& in) {
  unsigned n = static_cast<unsigned>(in.size() + in.size() / 100 + 600);
  std::string out(n, '\0');
  EXPECT_EQ(BZ2_bzBuffToBuffCompress(out.data(), &n, const_cast<char*>(in.data()), static_cast<unsigned>(in.size()),
                                     9, 0, 0),
            BZ_OK);
  out.resize(n);
  return out;
}

struct Format {
  const char* suffix;
  Compression c;
  std::string (*compress)(const std::string&);
};
const Format kFormats[] = {{".gz", Compression::kGzip, Gzip},
                           {".zst", Compression::kZstd, Zstd},
                           {".bz2", Compression::kBzip2, Bzip2}};

Result<std::string> ReadBack(const std::string& path, Compression c) {
  ASSIGN_OR_RETURN(auto file, OpenReadable(path));
  return DecompressAll(std::move(file), c);
}

TEST(DecompressTest, EachFormatRoundTripsAndConcatenatedMembersFollowEachOther) {
  testing::TempDir dir;
  const std::string a = Text(700 << 10, 1), b = Text(3000, 2);
  for (const Format& f : kFormats) {
    SCOPED_TRACE(f.suffix);
    const std::string path = dir.Write(std::string("one") + f.suffix, f.compress(a));
    auto got = ReadBack(path, f.c);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, a);
    const std::string two = dir.Write(std::string("two") + f.suffix, f.compress(a) + f.compress(b));
    got = ReadBack(two, f.c);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, a + b);
    const std::string empty = dir.Write(std::string("empty") + f.suffix, f.compress(""));
    got = ReadBack(empty, f.c);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, "");
  }
}

TEST(DecompressTest, ATruncatedFileIsAnErrorNamingItAtEveryCut) {
  testing::TempDir dir;
  const std::string text = Text(40000, 3);
  for (const Format& f : kFormats) {
    SCOPED_TRACE(f.suffix);
    const std::string whole = f.compress(text);
    for (size_t cut = 1; cut < whole.size(); cut += std::max<size_t>(1, whole.size() / 97)) {
      const std::string path = dir.Write(std::string("cut") + f.suffix, whole.substr(0, cut));
      auto got = ReadBack(path, f.c);
      ASSERT_FALSE(got.ok()) << "cut at " << cut << " of " << whole.size() << " read as " << got->size() << " bytes";
      EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
      EXPECT_NE(got.status().message().find(path), std::string::npos) << got.status().message();
      EXPECT_NE(got.status().message().find("byte"), std::string::npos) << got.status().message();
    }
  }
}

TEST(DecompressTest, BytesThatAreNotTheFormatAreAnError) {
  testing::TempDir dir;
  for (const Format& f : kFormats) {
    SCOPED_TRACE(f.suffix);
    const std::string path = dir.Write(std::string("text") + f.suffix, "plain text, not compressed\n");
    auto got = ReadBack(path, f.c);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kCorruption) << got.status().ToString();
    // Damage in the middle of a valid file.
    std::string bad = f.compress(Text(50000, 4));
    for (size_t i = bad.size() / 3; i < bad.size() / 3 + 16; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    got = ReadBack(dir.Write(std::string("bad") + f.suffix, bad), f.c);
    EXPECT_FALSE(got.ok() && *got == Text(50000, 4));
    if (!got.ok()) EXPECT_EQ(got.status().code(), StatusCode::kCorruption) << got.status().ToString();
  }
}

TEST(DecompressTest, FormatsAreKnownByNameOrByTheirFirstBytes) {
  EXPECT_EQ(DetectCompression("a/access.log.2.gz", ""), Compression::kGzip);
  EXPECT_EQ(DetectCompression("x.zst", ""), Compression::kZstd);
  EXPECT_EQ(DetectCompression("x.bz2", ""), Compression::kBzip2);
  EXPECT_EQ(DetectCompression("access.log.1", Gzip("x").substr(0, 4)), Compression::kGzip);
  EXPECT_EQ(DetectCompression("part-00000", Zstd("x").substr(0, 4)), Compression::kZstd);
  EXPECT_EQ(DetectCompression("data", Bzip2("x").substr(0, 4)), Compression::kBzip2);
  EXPECT_EQ(DetectCompression("access.log", "GET "), Compression::kNone);
  EXPECT_EQ(DetectCompression("short", "\x1f"), Compression::kNone);
}

}  // namespace
}  // namespace sawmill
