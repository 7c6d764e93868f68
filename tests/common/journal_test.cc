// Journal files: round trip, recovery of the valid prefix after truncation or corruption.
#include "common/journal.h"

#include <glog/logging.h>
#include <gtest/gtest.h>

#include "common/file.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

using sawmill::testing::ReadAll;
using sawmill::testing::TempDir;

std::vector<std::string> Payloads() { return {"first", "", std::string(1000, 'x'), "last record"}; }

// Writes Payloads() in two group commits; returns the file size after each record.
std::vector<uint64_t> WriteSample(const std::string& path) {
  auto w = JournalWriter::Open(path);
  CHECK(w.ok());
  std::vector<uint64_t> ends;
  uint64_t end = 0;
  auto payloads = Payloads();
  for (size_t i = 0; i < payloads.size(); ++i) {
    (*w)->Append(payloads[i]);
    end += kJournalHeaderBytes + payloads[i].size();
    ends.push_back(end);
    if (i == 1 || i + 1 == payloads.size()) CHECK((*w)->Sync().ok());
  }
  CHECK_EQ((*w)->size(), end);
  return ends;
}

Result<JournalReadResult> ReadAllRecords(const std::string& path, std::vector<std::string>* out, bool truncate) {
  out->clear();
  return ReadJournal(path, [&](std::string_view p) { out->emplace_back(p); return Status::Ok(); }, truncate);
}

TEST(Journal, RoundTripAndAppendAfterReopen) {
  TempDir dir;
  std::string path = dir.Sub("journal");
  WriteSample(path);
  {
    auto w = JournalWriter::Open(path);
    ASSERT_TRUE(w.ok());
    (*w)->Append("more");
    ASSERT_TRUE((*w)->Sync().ok());
  }
  std::vector<std::string> got;
  auto r = ReadAllRecords(path, &got, false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto want = Payloads();
  want.push_back("more");
  EXPECT_EQ(got, want);
  EXPECT_EQ(r->records, want.size());
  EXPECT_EQ(r->dropped_bytes, 0u);
  EXPECT_EQ(r->drop_reason, "");
}

// The namenode's group commit: batches taken while appends go on, written one after another,
// across preallocation steps; a reader sees every record in order.
TEST(Journal, BatchesTakenWhileAppendsGoOnLandInOrder) {
  TempDir dir;
  std::string path = dir.Sub("journal");
  auto w = JournalWriter::Open(path);
  ASSERT_TRUE(w.ok());
  const std::string big(kJournalPreallocBytes + 100, 'b');
  ASSERT_TRUE((*w)->AppendReserved("a").ok());
  ASSERT_TRUE((*w)->AppendReserved("").ok());
  JournalWriter::Batch first = (*w)->TakePending();
  ASSERT_TRUE((*w)->AppendReserved(big).ok());  // before the first batch is written
  JournalWriter::Batch second = (*w)->TakePending();
  EXPECT_EQ(second.offset, first.offset + first.bytes.size());
  ASSERT_TRUE((*w)->WriteDurably(first).ok());
  ASSERT_TRUE((*w)->AppendReserved("c").ok());
  ASSERT_TRUE((*w)->WriteDurably(second).ok());
  ASSERT_TRUE((*w)->WriteDurably((*w)->TakePending()).ok());
  EXPECT_EQ((*w)->size(), 4 * kJournalHeaderBytes + 2 + big.size());
  w->reset();
  std::vector<std::string> got;
  auto r = ReadAllRecords(path, &got, false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "", big, "c"}));
  EXPECT_EQ(r->dropped_bytes, 0u);
}

TEST(Journal, TruncatedAtEveryLengthKeepsTheFullyWrittenRecords) {
  TempDir dir;
  std::string full_path = dir.Sub("full");
  std::vector<uint64_t> ends = WriteSample(full_path);
  std::string full = ReadAll(full_path).substr(0, ends.back());  // the records, not the zeros after
  auto payloads = Payloads();
  for (size_t len = 0; len <= full.size(); ++len) {
    std::string path = dir.Write("cut", full.substr(0, len));
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= len) ++complete;
    uint64_t valid = complete == 0 ? 0 : ends[complete - 1];
    std::vector<std::string> got;
    auto r = ReadAllRecords(path, &got, /*truncate=*/true);
    ASSERT_TRUE(r.ok()) << len;
    EXPECT_EQ(got, std::vector<std::string>(payloads.begin(), payloads.begin() + complete)) << len;
    EXPECT_EQ(r->valid_bytes, valid) << len;
    EXPECT_EQ(r->dropped_bytes, len - valid) << len;
    EXPECT_EQ(r->drop_reason.empty(), len == valid) << len;
    if (len != valid) {
      EXPECT_NE(r->drop_reason.find(path), std::string::npos) << r->drop_reason;
    }
    EXPECT_EQ(FileSize(path).value(), valid) << len;  // truncated to the valid prefix
  }
}

TEST(Journal, FlippedByteInLastRecordDropsOnlyIt) {
  TempDir dir;
  std::string full_path = dir.Sub("full");
  std::vector<uint64_t> ends = WriteSample(full_path);
  std::string full = ReadAll(full_path).substr(0, ends.back());  // the records, not the zeros after
  auto payloads = Payloads();
  for (size_t pos = ends[ends.size() - 2]; pos < full.size(); ++pos) {
    std::string bad = full;
    bad[pos] ^= 0x20;
    std::string path = dir.Write("bad", bad);
    std::vector<std::string> got;
    auto r = ReadAllRecords(path, &got, false);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(got, std::vector<std::string>(payloads.begin(), payloads.end() - 1)) << pos;
    EXPECT_EQ(r->dropped_bytes, full.size() - ends[ends.size() - 2]) << pos;
    EXPECT_EQ(FileSize(path).value(), full.size()) << pos;  // not asked to truncate
  }
}

TEST(Journal, CorruptMiddleRecordEndsTheValidPrefix) {
  TempDir dir;
  std::string full_path = dir.Sub("full");
  std::vector<uint64_t> ends = WriteSample(full_path);
  std::string bad = ReadAll(full_path);
  bad[ends[0] + kJournalHeaderBytes - 1] ^= 1;  // checksum of record 2
  std::string path = dir.Write("bad", bad);
  std::vector<std::string> got;
  auto r = ReadAllRecords(path, &got, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got, std::vector<std::string>{"first"});
  EXPECT_EQ(r->valid_bytes, ends[0]);
  EXPECT_NE(r->drop_reason.find("checksum"), std::string::npos) << r->drop_reason;
}

TEST(Journal, PreallocatedZerosEndTheJournalCleanly) {
  TempDir dir;
  std::string path = dir.Sub("j");
  std::vector<uint64_t> ends = WriteSample(path);
  std::string file = ReadAll(path);
  EXPECT_EQ(file.size(), kJournalPreallocBytes);  // one preallocation step
  EXPECT_EQ(file.find_first_not_of('\0', ends.back()), std::string::npos);
  std::vector<std::string> got;
  auto r = ReadAllRecords(path, &got, /*truncate=*/true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got, Payloads());
  EXPECT_EQ(r->valid_bytes, ends.back());
  EXPECT_EQ(r->dropped_bytes, 0u);
  EXPECT_EQ(FileSize(path).value(), kJournalPreallocBytes);  // zeros are not a torn tail
  // Records that outgrow the preallocation extend it; reopening continues after the last record.
  {
    auto w = JournalWriter::Open(path);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ((*w)->size(), ends.back());
    (*w)->Append(std::string(kJournalPreallocBytes, 'y'));
    ASSERT_TRUE((*w)->Sync().ok());
  }
  r = ReadAllRecords(path, &got, false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(got.size(), Payloads().size() + 1);
  EXPECT_EQ(got.back().size(), kJournalPreallocBytes);
  EXPECT_EQ(FileSize(path).value() % kJournalPreallocBytes, 0u);
  // Bytes after the end marker are a corrupt tail, not zeros to skip.
  std::string bad = ReadAll(path);
  bad[bad.size() - 1] = 'z';
  r = ReadAllRecords(dir.Write("bad", bad), &got, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got.size(), Payloads().size() + 1);
  EXPECT_EQ(r->dropped_bytes, bad.size() - r->valid_bytes);
  EXPECT_NE(r->drop_reason.find("after the end"), std::string::npos) << r->drop_reason;
}

TEST(Journal, CallbackErrorIsReturned) {
  TempDir dir;
  std::string path = dir.Sub("j");
  WriteSample(path);
  auto r = ReadJournal(path, [](std::string_view) { return Corruption("bad record"); }, true);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ReadJournal(dir.Sub("missing"), [](std::string_view) { return Status::Ok(); }, false).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace sawmill
