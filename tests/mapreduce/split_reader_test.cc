// Text splits: every line is read exactly once whatever the split size, including lines that
// cross split boundaries, CRLF, empty lines, a last line without '\n', and lines longer than
// the read buffer.
#include <gtest/gtest.h>

#include <random>

#include "mapreduce/input_split.h"
#include "mapreduce/split_reader.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::vector<std::string> ReadAllSplits(const std::string& path, uint64_t split_bytes, size_t chunk) {
  auto splits = ComputeSplits({path}, InputFormat::kTextLines, split_bytes, 100);
  EXPECT_TRUE(splits.ok());
  std::vector<std::string> lines;
  for (const auto& s : *splits) {
    SplitReaderOptions o;
    o.chunk_bytes = chunk;
    auto r = OpenSplit(s, o);
    EXPECT_TRUE(r.ok());
    std::string_view k, v;
    while ((*r)->Next(&k, &v)) lines.emplace_back(v);
    EXPECT_TRUE((*r)->status().ok());
  }
  return lines;
}

TEST(TextSplits, EveryLineExactlyOnceForEverySplitSize) {
  testing::TempDir dir;
  const std::vector<std::string> texts = {
      "", "\n", "\n\n\n", "a", "a\n", "ab\ncd", "one\r\ntwo\r\n\r\nthree", "x\n\ny\n\n",
      "long line " + std::string(300, 'z') + "\nshort\n" + std::string(50, 'q'),
  };
  for (size_t t = 0; t < texts.size(); ++t) {
    std::string path = dir.Write("t" + std::to_string(t), texts[t]);
    std::vector<std::string> expect = SplitLines(texts[t]);
    for (uint64_t split = 1; split <= texts[t].size() + 2; ++split) {
      for (size_t chunk : {size_t{1}, size_t{3}, size_t{64}}) {
        EXPECT_EQ(ReadAllSplits(path, split, chunk), expect) << "text " << t << " split " << split << " chunk " << chunk;
      }
    }
  }
}

TEST(TextSplits, RandomTextWithBinaryBytes) {
  testing::TempDir dir;
  std::mt19937_64 rng(7);
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    int c = static_cast<int>(rng() % 20);
    text.push_back(c == 0 ? '\n' : c == 1 ? '\r' : c == 2 ? '\0' : static_cast<char>(rng() % 256));
  }
  std::string path = dir.Write("r", text);
  for (uint64_t split : {1, 7, 100, 1000, 5000}) {
    EXPECT_EQ(ReadAllSplits(path, split, 16), SplitLines(text)) << split;
  }
}

TEST(FixedWidthSplits, RecordsAndBadSize) {
  testing::TempDir dir;
  std::string data;
  for (int i = 0; i < 50; ++i) data += std::string(10, static_cast<char>('A' + i % 26)) + std::string(89, 'v') + "\n";
  std::string path = dir.Write("f", data);
  auto splits = ComputeSplits({path}, InputFormat::kFixedWidth, 350, 100);
  ASSERT_TRUE(splits.ok());
  int n = 0;
  for (const auto& s : *splits) {
    EXPECT_EQ(s.offset % 100, 0u);
    SplitReaderOptions o;
    o.format = InputFormat::kFixedWidth;
    auto r = OpenSplit(s, o);
    ASSERT_TRUE(r.ok());
    std::string_view k, v;
    while ((*r)->Next(&k, &v)) {
      EXPECT_EQ(k, std::string(10, static_cast<char>('A' + n % 26)));
      EXPECT_EQ(v.size(), 90u);
      ++n;
    }
  }
  EXPECT_EQ(n, 50);
  std::string bad = dir.Write("bad", data + "x");
  auto r = ComputeSplits({bad}, InputFormat::kFixedWidth, 350, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(bad), std::string::npos);
}

TEST(Splits, MissingInputIsNotFoundAndDirectoriesSkipHiddenFiles) {
  testing::TempDir dir;
  auto r = ComputeSplits({dir.Sub("missing")}, InputFormat::kTextLines, 10, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("missing"), std::string::npos);
  std::filesystem::create_directory(dir.Sub("in"));
  dir.Write("in/b", "2\n");
  dir.Write("in/a", "1\n");
  dir.Write("in/_MANIFEST", "x");
  dir.Write("in/.hidden", "x");
  auto s = ComputeSplits({dir.Sub("in")}, InputFormat::kTextLines, 10, 100);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].path, dir.Sub("in/a"));
  EXPECT_EQ((*s)[1].path, dir.Sub("in/b"));
}

}  // namespace
}  // namespace sawmill
