// Tests of the reduce-side join's buffered side (join/join_buffer.h): memory-only keys,
// spilling under a tiny budget with repeated replays in Add order, reuse across keys, and
// corrupt or unwritable spill files reported as Statuses naming the file.
#include "join/join_buffer.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tests/common/status_macros.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

using ::testing::HasSubstr;

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// Every row of one replay, copied.
Status Replay(JoinBuffer& buf, std::vector<std::string>* out) {
  out->clear();
  return buf.ForEach([&](std::string_view row) { out->emplace_back(row); });
}

// Compares without printing thousands of rows on failure.
void ExpectSameRows(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_TRUE(got[i] == want[i]) << "row " << i << " differs";
}

// Rows of varied length and content, some incompressible so the spill file is large on disk.
std::vector<std::string> MakeRows(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> rows;
  rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string r = std::to_string(i) + "\t";
    size_t extra = rng() % 24;
    for (size_t j = 0; j < extra; ++j) r.push_back(static_cast<char>(rng()));
    rows.push_back(std::move(r));
  }
  return rows;
}

// Overwrites `n` bytes of `path` at `offset` in place (no truncation, no rename).
void Overwrite(const std::string& path, uint64_t offset, size_t n) {
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  std::string junk(n, '\xAA');
  ASSERT_EQ(::pwrite(fd, junk.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  ::close(fd);
}

TEST(join_buffer, EmptyBuffer) {
  testing::TempDir dir;
  JoinBuffer buf({.spill_path = dir.Sub("spill")});
  EXPECT_EQ(buf.rows(), 0u);
  EXPECT_FALSE(buf.spilled());
  int calls = 0;
  for (int i = 0; i < 2; ++i) ASSERT_OK(buf.ForEach([&](std::string_view) { ++calls; }));
  EXPECT_EQ(calls, 0);
  buf.Clear();
  ASSERT_OK(buf.ForEach([&](std::string_view) { ++calls; }));
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(Exists(dir.Sub("spill")));
}

TEST(join_buffer, EmptyAndBinaryRowsInMemoryAndSpilled) {
  const std::vector<std::string> rows = {
      "", "a",        std::string("\0", 1),   std::string("x\0y\xFF\t\n", 6),
      "", "\xFF\xFF", "tab\tseparated\tcols", ""};
  for (size_t budget : {size_t{1} << 20, size_t{0}, size_t{40}}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    testing::TempDir dir;
    JoinBuffer buf({.spill_path = dir.Sub("spill"), .memory_bytes = budget});
    for (const std::string& r : rows) ASSERT_OK(buf.Add(r));
    EXPECT_EQ(buf.rows(), rows.size());
    EXPECT_EQ(buf.spilled(), budget < (1u << 20));
    EXPECT_EQ(buf.memory_rows() + buf.spilled_rows(), rows.size());
    std::vector<std::string> got;
    for (int i = 0; i < 2; ++i) {
      ASSERT_OK(Replay(buf, &got));
      ExpectSameRows(got, rows);
    }
  }
}

TEST(join_buffer, MemoryOnlyKeyWritesNoFile) {
  testing::TempDir dir;
  const std::string spill = dir.Sub("work/spill");
  JoinBuffer buf({.spill_path = spill, .memory_bytes = 1 << 20});
  std::vector<std::string> rows = MakeRows(1000, 1);
  for (const std::string& r : rows) ASSERT_OK(buf.Add(r));
  std::vector<std::string> got;
  ASSERT_OK(Replay(buf, &got));
  ExpectSameRows(got, rows);
  EXPECT_FALSE(buf.spilled());
  EXPECT_EQ(buf.spilled_rows(), 0u);
  EXPECT_EQ(buf.memory_rows(), rows.size());
  EXPECT_FALSE(Exists(spill));
  EXPECT_FALSE(Exists(dir.Sub("work")));
}

// The budget counts row bytes plus kRowOverhead per row, exactly.
TEST(join_buffer, BudgetIsExact) {
  testing::TempDir dir;
  const size_t row = 10;
  // Room for three rows and one more empty row.
  JoinBuffer buf({.spill_path = dir.Sub("spill"),
                  .memory_bytes = 3 * (row + JoinBuffer::kRowOverhead) + JoinBuffer::kRowOverhead});
  for (int i = 0; i < 3; ++i) ASSERT_OK(buf.Add(std::string(row, 'a' + i)));
  EXPECT_FALSE(buf.spilled());
  // The next row overflows; a later empty row would still fit but must follow it to the spill.
  ASSERT_OK(buf.Add("d"));
  ASSERT_OK(buf.Add(""));
  EXPECT_EQ(buf.memory_rows(), 3u);
  EXPECT_EQ(buf.spilled_rows(), 2u);
  std::vector<std::string> got;
  ASSERT_OK(Replay(buf, &got));
  ExpectSameRows(got, {"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "d", ""});
}

TEST(join_buffer, TinyBudgetSpills200kRowsAndReplaysThreeTimes) {
  testing::TempDir dir;
  const std::string spill = dir.Sub("spill");
  JoinBuffer buf({.spill_path = spill, .memory_bytes = 1 << 10, .block_bytes = 16 << 10});
  const std::vector<std::string> rows = MakeRows(200000, 2);
  for (const std::string& r : rows) ASSERT_OK(buf.Add(r));
  EXPECT_TRUE(buf.spilled());
  EXPECT_EQ(buf.rows(), rows.size());
  EXPECT_GT(buf.memory_rows(), 0u);
  EXPECT_LT(buf.memory_rows(), 100u);
  EXPECT_EQ(buf.memory_rows() + buf.spilled_rows(), rows.size());
  EXPECT_TRUE(Exists(spill));
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("replay " + std::to_string(i));
    ASSERT_OK(Replay(buf, &got));
    ExpectSameRows(got, rows);
  }
}

TEST(join_buffer, ClearForgetsRowsAndResetsSpill) {
  testing::TempDir dir;
  const std::string spill = dir.Sub("spill");
  JoinBuffer buf({.spill_path = spill, .memory_bytes = 1 << 10});
  std::vector<std::string> first = MakeRows(5000, 3);
  for (const std::string& r : first) ASSERT_OK(buf.Add("k1:" + r));
  std::vector<std::string> got;
  ASSERT_OK(Replay(buf, &got));
  ASSERT_EQ(got.size(), first.size());
  ASSERT_TRUE(buf.spilled());

  // Second key, also spilling: only its rows, in a fresh spill file.
  buf.Clear();
  EXPECT_EQ(buf.rows(), 0u);
  EXPECT_FALSE(buf.spilled());
  EXPECT_FALSE(Exists(spill));
  std::vector<std::string> second;
  for (const std::string& r : MakeRows(3000, 4)) second.push_back("k2:" + r);
  for (const std::string& r : second) ASSERT_OK(buf.Add(r));
  EXPECT_TRUE(buf.spilled());
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK(Replay(buf, &got));
    ExpectSameRows(got, second);
  }

  // Third key fits in memory: no file left from the second.
  buf.Clear();
  ASSERT_OK(buf.Add("k3:only"));
  ASSERT_OK(Replay(buf, &got));
  ExpectSameRows(got, {"k3:only"});
  EXPECT_FALSE(buf.spilled());
  EXPECT_FALSE(Exists(spill));

  // And a fourth that spills again after a memory-only key.
  buf.Clear();
  std::vector<std::string> fourth = MakeRows(2000, 5);
  for (const std::string& r : fourth) ASSERT_OK(buf.Add(r));
  ASSERT_OK(Replay(buf, &got));
  ExpectSameRows(got, fourth);
}

TEST(join_buffer, CorruptSpillBeforeFirstReplayNamesTheFile) {
  testing::TempDir dir;
  const std::string spill = dir.Sub("spill");
  JoinBuffer buf({.spill_path = spill, .memory_bytes = 1 << 10, .block_bytes = 16 << 10});
  for (const std::string& r : MakeRows(200000, 6)) ASSERT_OK(buf.Add(r));
  // Part of the spill is still buffered by the writer; corrupt what has reached the disk.
  const uint64_t on_disk = std::filesystem::file_size(spill);
  ASSERT_GT(on_disk, 256u << 10);
  Overwrite(spill, on_disk / 2, 64);
  uint64_t calls = 0;
  Status s = buf.ForEach([&](std::string_view) { ++calls; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(spill));
  EXPECT_LT(calls, buf.rows());
  // The error sticks until Clear; Clear recovers the buffer.
  EXPECT_FALSE(buf.ForEach([](std::string_view) {}).ok());
  buf.Clear();
  ASSERT_OK(buf.Add("next key"));
  std::vector<std::string> got;
  ASSERT_OK(Replay(buf, &got));
  ExpectSameRows(got, {"next key"});
}

TEST(join_buffer, CorruptSpillBetweenReplaysNamesTheFile) {
  testing::TempDir dir;
  const std::string spill = dir.Sub("spill");
  JoinBuffer buf({.spill_path = spill, .memory_bytes = 1 << 10, .block_bytes = 16 << 10});
  for (const std::string& r : MakeRows(50000, 7)) ASSERT_OK(buf.Add(r));
  std::vector<std::string> got;
  ASSERT_OK(Replay(buf, &got));
  Overwrite(spill, std::filesystem::file_size(spill) / 2, 16);
  Status s = Replay(buf, &got);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(spill));
}

TEST(join_buffer, TruncatedSpillNamesTheFile) {
  testing::TempDir dir;
  const std::string spill = dir.Sub("spill");
  JoinBuffer buf({.spill_path = spill, .memory_bytes = 1 << 10});
  for (const std::string& r : MakeRows(20000, 8)) ASSERT_OK(buf.Add(r));
  std::vector<std::string> got;
  ASSERT_OK(Replay(buf, &got));
  std::filesystem::resize_file(spill, std::filesystem::file_size(spill) / 3);
  Status s = Replay(buf, &got);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(spill));
}

TEST(join_buffer, UnwritableSpillPathFailsAddNamingTheFile) {
  testing::TempDir dir;
  dir.Write("file", "x");
  const std::string spill = dir.Sub("file/spill");  // a directory that is a file
  JoinBuffer buf({.spill_path = spill, .memory_bytes = 16});
  ASSERT_OK(buf.Add("a"));
  Status s = buf.Add("this row overflows");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("file"));
  // Later rows, even ones that would fit in memory, fail too: order could not be kept.
  EXPECT_FALSE(buf.Add("").ok());
  EXPECT_FALSE(buf.ForEach([](std::string_view) {}).ok());
  buf.Clear();
  ASSERT_OK(buf.Add("b"));
}

TEST(join_buffer, NoSpillPathFailsOnOverflow) {
  JoinBuffer buf({.spill_path = {}, .memory_bytes = 32});
  ASSERT_OK(buf.Add("fits"));
  Status s = buf.Add(std::string(100, 'x'));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("memory budget"));
}

TEST(join_buffer, DestructorRemovesSpillFile) {
  testing::TempDir dir;
  const std::string spill = dir.Sub("spill");
  {
    JoinBuffer buf({.spill_path = spill, .memory_bytes = 1 << 10});
    for (const std::string& r : MakeRows(10000, 9)) ASSERT_OK(buf.Add(r));
    ASSERT_OK(buf.ForEach([](std::string_view) {}));
    ASSERT_TRUE(Exists(spill));
  }
  EXPECT_FALSE(Exists(spill));
  {
    // Also while the writer is still open (no replay yet).
    JoinBuffer buf({.spill_path = spill, .memory_bytes = 1 << 10});
    for (const std::string& r : MakeRows(10000, 10)) ASSERT_OK(buf.Add(r));
    ASSERT_TRUE(Exists(spill));
  }
  EXPECT_FALSE(Exists(spill));
}

TEST(join_buffer, ArenaCapacityStaysWithinBudgetAndIsKept) {
  testing::TempDir dir;
  const size_t budget = 100000;
  JoinBuffer buf({.spill_path = dir.Sub("spill"), .memory_bytes = budget});
  // Nearly fill the budget: doubling must not overshoot it.
  const std::string row(1000 - JoinBuffer::kRowOverhead, 'r');
  for (int i = 0; i < 99; ++i) ASSERT_OK(buf.Add(row));
  EXPECT_FALSE(buf.spilled());
  // Plain doubling would reach 131072 + offsets; the slack allowed is offsets reserved ahead.
  EXPECT_LE(buf.memory_capacity(), budget + 256 * JoinBuffer::kRowOverhead);
  EXPECT_GE(buf.memory_capacity(), 99 * 1000u);
  const size_t capacity = buf.memory_capacity();
  std::vector<std::string> got;
  ASSERT_OK(Replay(buf, &got));
  EXPECT_EQ(got.size(), 99u);
  buf.Clear();
  ASSERT_OK(buf.Add("small"));
  EXPECT_EQ(buf.memory_capacity(), capacity);
  ASSERT_OK(Replay(buf, &got));
  ExpectSameRows(got, {"small"});
}

TEST(join_buffer, AddAfterForEachWithoutClearIsABug) {
  JoinBuffer buf({.spill_path = {}, .memory_bytes = 1 << 10});
  ASSERT_OK(buf.Add("a"));
  ASSERT_OK(buf.ForEach([](std::string_view) {}));
  EXPECT_DEATH((void)buf.Add("b"), "Add after ForEach");
}

}  // namespace
}  // namespace sawmill
