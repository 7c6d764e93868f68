// Tests of the record file format (records/record_file.h, docs/formats/record-file.md):
// round trips, codecs, partitions, sorted files and Seek, and the acceptance test of the
// checksums: every single-byte flip and every truncation of a small file is detected.
#include "records/record_file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/file.h"
#include "tests/common/status_macros.h"

namespace sawmill {
namespace {

using Record = std::pair<std::string, std::string>;
using ::testing::HasSubstr;

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Text that LZ4 compresses well.
std::string Compressible(std::mt19937_64& rng, size_t n) {
  static const char* kWords[] = {"alpha ", "beta ", "gamma ", "delta ", "sawmill ", "record "};
  std::string s;
  while (s.size() < n) s += kWords[rng() % 6];
  s.resize(n);
  return s;
}

// Every record of blocks [first, end) in order; returns the iterator's final status.
Status ReadRange(const RecordFileReader& reader, size_t first, size_t end, std::vector<Record>* out) {
  out->clear();
  RecordIterator it = reader.NewIterator(first, end);
  while (it.Next()) out->emplace_back(std::string(it.key()), std::string(it.value()));
  return it.status();
}

Status ReadAll(const RecordFileReader& reader, std::vector<Record>* out) {
  return ReadRange(reader, 0, reader.blocks().size(), out);
}

// Compares without printing megabytes of binary data on failure.
void ExpectSameRecords(const std::vector<Record>& got, const std::vector<Record>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(got[i].first == want[i].first) << "key of record " << i << " differs";
    ASSERT_TRUE(got[i].second == want[i].second) << "value of record " << i << " differs (sizes "
                                                 << got[i].second.size() << ", " << want[i].second.size() << ")";
  }
}

class RecordFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = JoinPath(::testing::TempDir(), "record_file_test.XXXXXX");
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << tmpl;
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      EXPECT_OK(RemoveAll(dir_));
    }
  }

  std::string Path(const std::string& name) const { return JoinPath(dir_, name); }

  // Writes `records` (all in the options' partition) and finishes the file.
  std::unique_ptr<RecordFileWriter> Write(const std::string& path, const RecordFileOptions& options,
                                          const std::vector<Record>& records) {
    auto w = RecordFileWriter::Create(path, options);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (!w.ok()) return nullptr;
    for (const Record& r : records) {
      Status s = (*w)->Add(r.first, r.second);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok()) return nullptr;
    }
    Status s = (*w)->Finish();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(*w);
  }

  std::unique_ptr<RecordFileReader> Open(const std::string& path) {
    auto r = RecordFileReader::Open(path);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }

  // Writes `records` as a sorted file of blocks of about `block_bytes` and opens it.
  std::unique_ptr<RecordFileReader> WriteSorted(const std::string& name, size_t block_bytes,
                                                const std::vector<Record>& records) {
    RecordFileOptions options;
    options.sorted = true;
    options.block_bytes = block_bytes;
    return Write(Path(name), options, records) ? Open(Path(name)) : nullptr;
  }

  std::string dir_;
};

// ---------------------------------------------------------------------------------------------
// Round trips

// Test suite names start with record_file so that `ctest -R record_file` selects them (ctest
// names discovered tests Suite.Test).
using record_file = RecordFileTest;

class RoundTripTest : public RecordFileTest, public ::testing::WithParamInterface<bool> {};
using record_file_round_trip = RoundTripTest;

TEST_P(record_file_round_trip, ManyRecordsManyBlocksAndHugeValues) {
  const bool compress = GetParam();
  std::mt19937_64 rng(20240611);
  std::vector<Record> records;
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  records.emplace_back("", "");
  records.emplace_back(all_bytes, all_bytes + all_bytes);
  records.emplace_back(std::string(1, '\0'), std::string(3, '\0'));
  records.emplace_back("", "value with an empty key");
  records.emplace_back("key with an empty value", "");
  for (int i = 0; i < 3000; ++i) {
    std::string key = rng() % 5 == 0 ? "" : RandomBytes(rng, 1 + rng() % 40);
    std::string value;
    switch (rng() % 4) {
      case 0: break;  // empty
      case 1: value = RandomBytes(rng, rng() % 600); break;
      default: value = Compressible(rng, rng() % 600); break;
    }
    records.emplace_back(std::move(key), std::move(value));
    if (i == 1000) records.emplace_back("huge random", RandomBytes(rng, (16u << 20) + 3));
    if (i == 2000) records.emplace_back("huge text", Compressible(rng, (16u << 20) + 129));
  }
  records.emplace_back(all_bytes, "");  // last record: the final, partly filled block

  uint64_t data_bytes = 0;
  for (const Record& r : records) data_bytes += r.first.size() + r.second.size();

  RecordFileOptions options;
  options.block_bytes = 4096;
  options.compress = compress;
  options.partition = 7;
  const std::string path = Path("roundtrip.rf");
  auto w = Write(path, options, records);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->records(), records.size());
  EXPECT_EQ(w->data_bytes(), data_bytes);

  auto r = Open(path);
  ASSERT_TRUE(r);
  const RecordFileInfo& info = r->info();
  EXPECT_EQ(info.version, kRecordFileVersion);
  EXPECT_FALSE(info.sorted);
  EXPECT_EQ(info.partition, 7);
  EXPECT_EQ(info.record_count, records.size());
  EXPECT_EQ(info.data_bytes, data_bytes);
  auto size = FileSize(path);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(info.file_size, *size);
  EXPECT_EQ(w->file_size(), *size);
  EXPECT_EQ(r->path(), path);

  std::vector<Record> got;
  ASSERT_OK(ReadAll(*r, &got));
  ExpectSameRecords(got, records);

  // The block index: contiguous blocks, each within the size limit unless it holds one record,
  // first keys and counts matching the contents, and the huge values alone in their blocks.
  const auto& blocks = r->blocks();
  EXPECT_GT(blocks.size(), 150u);
  uint64_t offset = 0;
  size_t index = 0, huge_blocks = 0;
  std::string io, raw;
  for (size_t b = 0; b < blocks.size(); ++b) {
    SCOPED_TRACE("block " + std::to_string(b));
    EXPECT_EQ(blocks[b].offset, offset);
    offset += kBlockHeaderSize + blocks[b].stored_size;
    EXPECT_EQ(blocks[b].partition, 7);
    ASSERT_GT(blocks[b].record_count, 0u);
    ASSERT_LE(index + blocks[b].record_count, records.size());
    EXPECT_TRUE(blocks[b].first_key == records[index].first);
    std::vector<Record> in_block;
    ASSERT_OK(ReadRange(*r, b, b + 1, &in_block));
    ASSERT_EQ(in_block.size(), blocks[b].record_count);
    EXPECT_TRUE(in_block.front() == records[index]);
    ASSERT_OK(r->ReadBlock(b, &io, &raw));
    if (blocks[b].record_count > 1) { EXPECT_LE(raw.size(), options.block_bytes); }
    if (in_block.front().second.size() >= (16u << 20)) {
      ++huge_blocks;
      EXPECT_EQ(blocks[b].record_count, 1u);
    }
    index += blocks[b].record_count;
  }
  EXPECT_EQ(index, records.size());
  EXPECT_EQ(huge_blocks, 2u);
  EXPECT_GT(offset, 16u << 20);  // the huge random value cannot shrink
}

INSTANTIATE_TEST_SUITE_P(Compression, record_file_round_trip, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Lz4" : "Raw"; });

TEST_F(record_file, IncompressibleBlocksAreStoredRawAndCompressibleAsLz4) {
  std::mt19937_64 rng(7);
  std::vector<Record> records;
  for (int i = 0; i < 40; ++i) {
    // 5000-byte values with 4096-byte blocks: one record per block, alternating random/text.
    records.emplace_back("k" + std::to_string(i), i % 2 == 0 ? RandomBytes(rng, 5000) : Compressible(rng, 5000));
  }
  for (bool compress : {true, false}) {
    SCOPED_TRACE(compress ? "compress" : "no compression");
    RecordFileOptions options;
    options.block_bytes = 4096;
    options.compress = compress;
    const std::string path = Path(compress ? "lz4.rf" : "raw.rf");
    ASSERT_TRUE(Write(path, options, records));
    auto r = Open(path);
    ASSERT_TRUE(r);
    std::string bytes;
    ASSERT_OK(ReadFileToString(path, &bytes));
    ASSERT_EQ(r->blocks().size(), records.size());
    for (size_t b = 0; b < records.size(); ++b) {
      SCOPED_TRACE("block " + std::to_string(b));
      const IndexEntry h = r->blocks()[b];
      const char* hdr = bytes.data() + h.offset;
      const size_t prefix = VarintLength(records[b].first.size()) + VarintLength(5000) + records[b].first.size();
      const uint32_t raw_size = static_cast<uint32_t>(prefix + 5000);
      EXPECT_EQ(DecodeFixed32(hdr), h.stored_size);
      EXPECT_EQ(DecodeFixed32(hdr + 4), raw_size);
      EXPECT_EQ(DecodeFixed32(hdr + 8), 1u);
      EXPECT_EQ(hdr[13] | hdr[14] | hdr[15], 0);
      EXPECT_EQ(DecodeFixed64(hdr + 16), Checksum64(hdr, 16, hdr + kBlockHeaderSize, h.stored_size));
      const bool expect_lz4 = compress && b % 2 == 1;
      EXPECT_EQ(static_cast<int>(hdr[12]), expect_lz4 ? 1 : 0);
      if (expect_lz4) {
        EXPECT_LT(h.stored_size, raw_size / 2);
      } else {
        EXPECT_EQ(h.stored_size, raw_size);
        EXPECT_TRUE(std::string_view(hdr + kBlockHeaderSize + prefix, 5000) == records[b].second);  // stored as is
      }
    }
    std::vector<Record> got;
    ASSERT_OK(ReadAll(*r, &got));
    ExpectSameRecords(got, records);
  }
}

TEST_F(record_file, EmptyFile) {
  for (bool sorted : {false, true}) {
    RecordFileOptions options;
    options.sorted = sorted;
    options.partition = sorted ? 3 : kNoPartition;
    const std::string path = Path(sorted ? "empty_sorted.rf" : "empty.rf");
    auto w = Write(path, options, {});
    ASSERT_TRUE(w);
    EXPECT_EQ(w->file_size(), kFooterSize);  // no blocks, an empty index, the footer
    auto r = Open(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->info().record_count, 0u);
    EXPECT_EQ(r->info().data_bytes, 0u);
    EXPECT_EQ(r->info().sorted, sorted);
    EXPECT_EQ(r->info().partition, options.partition);
    EXPECT_EQ(r->info().file_size, kFooterSize);
    EXPECT_TRUE(r->blocks().empty());
    RecordIterator it = r->NewIterator();
    EXPECT_FALSE(it.Next());
    EXPECT_OK(it.status());
    EXPECT_FALSE(it.Next());
    EXPECT_EQ(r->PartitionBlocks(3), std::make_pair(size_t{0}, size_t{0}));
    if (sorted) {
      RecordIterator s = r->NewIterator();
      EXPECT_OK(s.Seek("anything"));
      EXPECT_FALSE(s.Next());
      EXPECT_OK(s.status());
    }
  }
}

TEST_F(record_file, FinishIsRequiredAndIdempotent) {
  const std::string path = Path("unfinished.rf");
  {
    auto w = RecordFileWriter::Create(path, {});
    ASSERT_TRUE(w.ok());
    ASSERT_OK((*w)->Add("k", "v"));
  }  // destroyed without Finish
  auto r = RecordFileReader::Open(path);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(path));

  auto w = RecordFileWriter::Create(path, {});
  ASSERT_TRUE(w.ok());
  ASSERT_OK((*w)->Add("k", "v"));
  ASSERT_OK((*w)->Finish());
  uint64_t size = (*w)->file_size();
  ASSERT_OK((*w)->Finish());
  EXPECT_EQ((*w)->file_size(), size);
  auto r2 = Open(path);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->info().record_count, 1u);
}

// ---------------------------------------------------------------------------------------------
// Partitions

TEST_F(record_file, MultiPartitionFile) {
  std::mt19937_64 rng(99);
  const std::string path = Path("partitions.rf");
  RecordFileOptions options;
  options.block_bytes = 256;
  auto w = RecordFileWriter::Create(path, options);
  ASSERT_TRUE(w.ok());
  std::map<int32_t, std::vector<Record>> want;
  auto add = [&](int32_t p, int n) {
    for (int i = 0; i < n; ++i) {
      Record r{"p" + std::to_string(p) + "-" + std::to_string(i), Compressible(rng, rng() % 100)};
      ASSERT_OK((*w)->Add(r.first, r.second));
      want[p].push_back(std::move(r));
    }
  };
  add(kNoPartition, 5);  // before any StartPartition: the options' partition
  ASSERT_OK((*w)->StartPartition(0));
  add(0, 40);
  ASSERT_OK((*w)->StartPartition(0));  // same partition again: no-op
  add(0, 3);
  ASSERT_OK((*w)->StartPartition(2));  // 1 skipped
  add(2, 1);
  ASSERT_OK((*w)->StartPartition(3));  // 3 started but left empty
  ASSERT_OK((*w)->StartPartition(5));
  add(5, 60);
  Status lower = (*w)->StartPartition(4);
  EXPECT_FALSE(lower.ok());
  EXPECT_EQ(lower.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(lower.message(), HasSubstr(path));
  add(5, 2);  // still partition 5 after the failed call
  ASSERT_OK((*w)->StartPartition(1000));
  add(1000, 7);
  ASSERT_OK((*w)->Finish());

  auto r = Open(path);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->info().partition, kNoPartition);
  EXPECT_EQ(r->info().record_count, 5u + 43 + 1 + 62 + 7);
  const auto& blocks = r->blocks();
  for (size_t b = 1; b < blocks.size(); ++b) { EXPECT_LE(blocks[b - 1].partition, blocks[b].partition); }
  std::vector<Record> all, got;
  for (int32_t p : {kNoPartition, 0, 1, 2, 3, 4, 5, 6, 999, 1000, 1001}) {
    SCOPED_TRACE("partition " + std::to_string(p));
    auto [first, end] = r->PartitionBlocks(p);
    ASSERT_LE(first, end);
    ASSERT_LE(end, blocks.size());
    for (size_t b = first; b < end; ++b) { EXPECT_EQ(blocks[b].partition, p); }
    if (first > 0) { EXPECT_LT(blocks[first - 1].partition, p); }
    if (end < blocks.size()) { EXPECT_GT(blocks[end].partition, p); }
    ASSERT_OK(ReadRange(*r, first, end, &got));
    ExpectSameRecords(got, want[p]);  // empty for 1, 3, 4, 6, 999, 1001
    if (want[p].empty()) { EXPECT_EQ(first, end); }
    all.insert(all.end(), want[p].begin(), want[p].end());
  }
  EXPECT_GT(r->PartitionBlocks(0).second - r->PartitionBlocks(0).first, 3u);  // spans blocks
  ASSERT_OK(ReadAll(*r, &got));
  ExpectSameRecords(got, all);
}

// ---------------------------------------------------------------------------------------------
// Sorted files and Seek

TEST_F(record_file, SortedFileRejectsOutOfOrderKeys) {
  const std::string path = Path("sorted.rf");
  RecordFileOptions options;
  options.sorted = true;
  auto w = RecordFileWriter::Create(path, options);
  ASSERT_TRUE(w.ok());
  ASSERT_OK((*w)->Add("b", "1"));
  Status s = (*w)->Add("a", "2");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_OK((*w)->Add("b", "3"));  // equal keys are fine
  EXPECT_FALSE((*w)->Add(std::string_view("a\0", 2), "x").ok());
  EXPECT_OK((*w)->Add("c", "4"));
  ASSERT_OK((*w)->StartPartition(1));  // order restarts in each partition
  EXPECT_OK((*w)->Add("a", "5"));
  EXPECT_FALSE((*w)->Add("", "6").ok());
  // 8-byte keys, compared as big-endian integers: the high byte decides, then the low ones.
  ASSERT_OK((*w)->StartPartition(2));
  EXPECT_OK((*w)->Add(std::string_view("\x01\0\0\0\0\0\0\xff", 8), "7"));
  EXPECT_FALSE((*w)->Add(std::string_view("\0\xff\xff\xff\xff\xff\xff\xff", 8), "8").ok());
  EXPECT_FALSE((*w)->Add(std::string_view("\x01\0\0\0\0\0\0\xfe", 8), "9").ok());
  EXPECT_OK((*w)->Add(std::string_view("\x01\0\0\0\0\0\0\xff", 8), "10"));
  EXPECT_OK((*w)->Add(std::string_view("\x01\0\0\0\0\0\x01\0", 8), "11"));
  ASSERT_OK((*w)->Finish());

  auto r = Open(path);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->info().sorted);
  std::vector<Record> got;
  ASSERT_OK(ReadAll(*r, &got));
  ExpectSameRecords(got, {{"b", "1"}, {"b", "3"}, {"c", "4"}, {"a", "5"},
                          {std::string("\x01\0\0\0\0\0\0\xff", 8), "7"},
                          {std::string("\x01\0\0\0\0\0\0\xff", 8), "10"},
                          {std::string("\x01\0\0\0\0\0\x01\0", 8), "11"}});

  // Unsorted files take any order.
  std::vector<Record> unordered = {{"z", "1"}, {"a", "2"}, {"m", "3"}};
  ASSERT_TRUE(Write(Path("unsorted.rf"), {}, unordered));
  auto u = Open(Path("unsorted.rf"));
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->info().sorted);
  ASSERT_OK(ReadAll(*u, &got));
  ExpectSameRecords(got, unordered);
}

std::string SeekKey(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "key%05d", i);
  return buf;
}

// Index of the first record with key >= target.
size_t LowerBound(const std::vector<Record>& records, std::string_view target) {
  return std::lower_bound(records.begin(), records.end(), target,
                          [](const Record& r, std::string_view t) { return r.first < t; }) -
         records.begin();
}

// Sorted records with keys key00001, key00003, ... each repeated 1 to 12 times, so that runs of
// duplicates span block boundaries.
std::vector<Record> SortedRecords(std::mt19937_64& rng, int distinct) {
  std::vector<Record> records;
  for (int i = 0; i < distinct; ++i) {
    int dups = 1 + static_cast<int>(rng() % 12);
    if (i % 10 == 0) dups = 30;
    for (int d = 0; d < dups; ++d) records.emplace_back(SeekKey(2 * i + 1), "v" + std::to_string(records.size()));
  }
  return records;
}

std::vector<std::string> SeekTargets(const std::vector<Record>& records, int distinct) {
  std::vector<std::string> targets = {"", "a", "key", "key0", SeekKey(0), SeekKey(2 * distinct + 1),
                                      "key99999", "z", "\xff\xff"};
  for (int i = 0; i <= 2 * distinct; ++i) targets.push_back(SeekKey(i));  // existing and in-between keys
  for (int i = 1; i < 2 * distinct; i += 2) targets.push_back(SeekKey(i) + std::string(1, '\0'));
  return targets;
}

// Seeks `it` to `target` and checks that the rest of the iteration is records[want...].
void ExpectSeek(RecordIterator&& it, std::string_view target, const std::vector<Record>& records, size_t want) {
  SCOPED_TRACE("target \"" + std::string(target) + "\"");
  ASSERT_OK(it.Seek(target));
  std::vector<Record> got;
  while (it.Next()) got.emplace_back(std::string(it.key()), std::string(it.value()));
  ASSERT_OK(it.status());
  ASSERT_EQ(got.size(), records.size() - want);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], records[want + i]) << "record " << i;
}

TEST_F(record_file, SeekOnSortedFileWithDuplicatesAcrossBlocks) {
  std::mt19937_64 rng(5);
  const int kDistinct = 150;
  std::vector<Record> records = SortedRecords(rng, kDistinct);
  auto r = WriteSorted("seek.rf", 64, records);  // a handful of records per block
  ASSERT_TRUE(r);
  const auto& blocks = r->blocks();
  ASSERT_GT(blocks.size(), 100u);
  // Duplicates do span blocks: some block starts with the same key as the previous one ends.
  int spanning = 0;
  for (size_t b = 1; b < blocks.size(); ++b) spanning += blocks[b].first_key == blocks[b - 1].first_key;
  EXPECT_GT(spanning, 10);

  for (const std::string& target : SeekTargets(records, kDistinct)) {
    ExpectSeek(r->NewIterator(), target, records, LowerBound(records, target));
  }
  // Seeking each block's first key and the key just below it.
  for (size_t b = 0; b < blocks.size(); ++b) {
    const std::string first(blocks[b].first_key);
    ExpectSeek(r->NewIterator(), first, records, LowerBound(records, first));
    std::string below = first;
    below.back() = static_cast<char>(below.back() - 1);
    ExpectSeek(r->NewIterator(), below, records, LowerBound(records, below));
  }
}

TEST_F(record_file, SeekForwardAfterReadingPartOfABlock) {
  std::mt19937_64 rng(6);
  const int kDistinct = 60;
  std::vector<Record> records = SortedRecords(rng, kDistinct);
  auto r = WriteSorted("seek_forward.rf", 200, records);  // ~10 records a block: seeks in the loaded one
  ASSERT_TRUE(r);
  ASSERT_GT(r->blocks().size(), 20u);
  for (size_t consumed = 0; consumed <= records.size(); consumed += 3) {
    for (size_t ahead : {0, 1, 2, 5, 17, 40}) {
      // Target: the key of a record at or after the position (or past the end).
      std::string target = consumed + ahead < records.size() ? records[consumed + ahead].first : "zzz";
      SCOPED_TRACE("after " + std::to_string(consumed) + " records");
      RecordIterator it = r->NewIterator();
      for (size_t i = 0; i < consumed; ++i) ASSERT_TRUE(it.Next());
      // The first record not yet read whose key is >= target.
      ExpectSeek(std::move(it), target, records, std::max(consumed, LowerBound(records, target)));
    }
  }
}

// One iterator repositioned to targets in random order (backwards, forwards, within the loaded
// block), reading a few records after each.
TEST_F(record_file, RepositionMovesBackAndForth) {
  std::mt19937_64 rng(8);
  const int kDistinct = 80;
  std::vector<Record> records = SortedRecords(rng, kDistinct);
  auto r = WriteSorted("reposition.rf", 150, records);
  ASSERT_TRUE(r);
  std::vector<std::string> targets = SeekTargets(records, kDistinct);
  std::shuffle(targets.begin(), targets.end(), rng);
  RecordIterator it = r->NewIterator();
  for (const std::string& target : targets) {
    SCOPED_TRACE("target \"" + target + "\"");
    ASSERT_OK(it.Reposition(target));
    const size_t want = LowerBound(records, target);
    const size_t n = rng() % 8;
    for (size_t i = want; i < std::min(records.size(), want + n); ++i) {
      ASSERT_TRUE(it.Next());
      ASSERT_EQ(Record(std::string(it.key()), std::string(it.value())), records[i]);
    }
    if (want + n >= records.size()) {
      ASSERT_FALSE(it.Next());
      ASSERT_OK(it.status());
      ASSERT_OK(it.Reposition(""));  // the end is not sticky
    }
  }
}

TEST_F(record_file, SeekWithinEachPartitionOfASortedMultiPartitionFile) {
  std::mt19937_64 rng(11);
  const std::string path = Path("sorted_partitions.rf");
  RecordFileOptions options;
  options.sorted = true;
  options.block_bytes = 80;
  auto w = RecordFileWriter::Create(path, options);
  ASSERT_TRUE(w.ok());
  std::map<int32_t, std::vector<Record>> want;
  for (int32_t p : {0, 1, 4}) {
    ASSERT_OK((*w)->StartPartition(p));
    want[p] = SortedRecords(rng, 20 + 10 * p);  // every partition restarts at key00001
    for (const Record& rec : want[p]) ASSERT_OK((*w)->Add(rec.first, rec.second));
  }
  ASSERT_OK((*w)->Finish());
  auto r = Open(path);
  ASSERT_TRUE(r);
  for (auto& [p, records] : want) {
    SCOPED_TRACE("partition " + std::to_string(p));
    auto [first, end] = r->PartitionBlocks(p);
    ASSERT_LT(first, end);
    for (const std::string& target : SeekTargets(records, 20 + 10 * p)) {
      ExpectSeek(r->NewIterator(first, end), target, records, LowerBound(records, target));
    }
  }
}

TEST_F(record_file, SeekOnUnsortedFileFails) {
  const std::string path = Path("unsorted_seek.rf");
  ASSERT_TRUE(Write(path, {}, {{"b", "1"}, {"a", "2"}}));
  auto r = Open(path);
  ASSERT_TRUE(r);
  RecordIterator it = r->NewIterator();
  Status s = it.Seek("a");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(path));
}

// ---------------------------------------------------------------------------------------------
// Corruption: the acceptance test "flipping any single byte of a small record file is detected".

// Replaces the contents of `path` (cheaper than WriteStringToFile's buffer, temp file and rename,
// which matters for thousands of variants under ASan).
bool Overwrite(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  return ::close(fd) == 0 && ok;
}

class CorruptionTest : public RecordFileTest {
 protected:
  void SetUp() override {
    RecordFileTest::SetUp();
    if (HasFatalFailure()) return;
    // Several blocks of both codecs in three partitions of a sorted file, a few dozen records.
    std::mt19937_64 rng(3);
    path_ = Path("small.rf");
    RecordFileOptions options;
    options.sorted = true;
    options.block_bytes = 128;
    auto w = RecordFileWriter::Create(path_, options);
    ASSERT_TRUE(w.ok());
    for (int32_t p : {0, 2, 3}) {
      ASSERT_OK((*w)->StartPartition(p));
      for (int i = 0; i < 14; ++i) {
        Record r{SeekKey(i), p == 2 ? RandomBytes(rng, 20 + rng() % 40) : Compressible(rng, 20 + rng() % 60)};
        ASSERT_OK((*w)->Add(r.first, r.second));
        records_.push_back(std::move(r));
      }
    }
    ASSERT_OK((*w)->Finish());
    ASSERT_OK(ReadFileToString(path_, &original_));
    auto r = Open(path_);
    ASSERT_TRUE(r);
    for (size_t b = 0; b < r->blocks().size(); ++b) {
      const IndexEntry e = r->blocks()[b];
      blocks_.push_back({e.offset, e.stored_size, e.record_count, e.partition, std::string(e.first_key)});
    }
    ASSERT_GE(blocks_.size(), 8u);
    std::string io, raw;
    int codecs[2] = {0, 0};
    for (size_t b = 0; b < blocks_.size(); ++b) {
      ASSERT_OK(r->ReadBlock(b, &io, &raw));
      ++codecs[io[12] == 1];
    }
    ASSERT_GT(codecs[0], 0);  // raw blocks
    ASSERT_GT(codecs[1], 0);  // LZ4 blocks
    std::vector<Record> got;
    ASSERT_OK(ReadAll(*r, &got));
    ASSERT_EQ(got, records_);
  }

  // Opens `bytes` as the file and reads everything; returns the first error (ok if none) and
  // checks that every record handed out before it is the original one.
  Status OpenAndReadAll(const std::string& bytes, const std::string& what, bool* opened = nullptr) {
    if (opened) *opened = false;
    if (!Overwrite(path_, bytes)) return Internal("cannot write the test file " + path_);
    auto r = RecordFileReader::Open(path_);
    if (!r.ok()) return r.status();
    if (opened) *opened = true;
    RecordIterator it = (*r)->NewIterator();
    size_t i = 0;
    while (it.Next()) {
      if (i >= records_.size() || it.key() != records_[i].first || it.value() != records_[i].second) {
        ADD_FAILURE() << what << ": record " << i << " differs from the original";
        return Internal("wrong data");
      }
      ++i;
    }
    if (it.status().ok() && i != records_.size()) {
      ADD_FAILURE() << what << ": " << i << " records instead of " << records_.size();
      return Internal("wrong record count");
    }
    return it.status();
  }

  // The block holding file offset `o`, or -1 (index or footer).
  int BlockAt(size_t o) const {
    for (size_t b = 0; b < blocks_.size(); ++b) {
      if (o >= blocks_[b].offset && o < blocks_[b].offset + kBlockHeaderSize + blocks_[b].stored_size) return static_cast<int>(b);
    }
    return -1;
  }

  std::string path_;
  std::string original_;
  std::vector<Record> records_;
  std::vector<BlockHandle> blocks_;
};

using record_file_corruption = CorruptionTest;

TEST_F(record_file_corruption, EverySingleByteFlipIsDetected) {
  int failures = 0;
  size_t open_failed = 0, read_failed = 0;
  for (unsigned char mask : {0x01, 0x80, 0xff}) {
    for (size_t o = 0; o < original_.size() && failures < 10; ++o) {
      std::string bytes = original_;
      bytes[o] = static_cast<char>(bytes[o] ^ mask);
      const std::string what = "byte " + std::to_string(o) + " ^ " + std::to_string(mask);
      bool opened = false;
      Status s = OpenAndReadAll(bytes, what, &opened);
      if (s.ok()) {
        ADD_FAILURE() << what << ": not detected";
        ++failures;
        continue;
      }
      if (s.code() == StatusCode::kInternal) {  // wrong data, already reported
        ++failures;
        continue;
      }
      (opened ? read_failed : open_failed)++;
      EXPECT_EQ(s.code(), StatusCode::kCorruption) << what << ": " << s.ToString();
      EXPECT_THAT(s.message(), HasSubstr(path_)) << what;
      EXPECT_THAT(s.message(), HasSubstr("offset")) << what;
      const int block = BlockAt(o);
      if (block >= 0) {
        // Blocks are only checked when read, and the error names the block.
        EXPECT_TRUE(opened) << what << ": " << s.ToString();
        EXPECT_THAT(s.message(), HasSubstr("block at offset " + std::to_string(blocks_[block].offset) + ":")) << what;
      } else {
        EXPECT_FALSE(opened) << what << ": index/footer corruption found only by reading";
      }
      if (::testing::Test::HasFailure()) ++failures;
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(open_failed + read_failed, 3 * original_.size());
  RecordProperty("file_bytes", static_cast<int>(original_.size()));
  RecordProperty("blocks", static_cast<int>(blocks_.size()));
  RecordProperty("found_by_open", static_cast<int>(open_failed));
  RecordProperty("found_by_read", static_cast<int>(read_failed));
  EXPECT_GT(read_failed, 0u);
  EXPECT_GT(open_failed, 0u);
}

TEST_F(record_file_corruption, EveryTruncationIsDetected) {
  for (size_t n = 0; n < original_.size(); ++n) {
    const std::string what = "first " + std::to_string(n) + " bytes";
    Status s = OpenAndReadAll(original_.substr(0, n), what);
    ASSERT_FALSE(s.ok()) << what << ": not detected";
    ASSERT_EQ(s.code(), StatusCode::kCorruption) << what << ": " << s.ToString();
    ASSERT_THAT(s.message(), HasSubstr(path_)) << what;
  }
}

TEST_F(record_file_corruption, AppendedAndRemovedBytesAreDetected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"one byte appended", original_ + "x"},
      {"a footer appended", original_ + original_.substr(original_.size() - kFooterSize)},
      {"the file twice", original_ + original_},
      {"one byte prepended", "x" + original_},
      {"first block removed", original_.substr(blocks_[1].offset)},
      {"a block removed", original_.substr(0, blocks_[2].offset) + original_.substr(blocks_[3].offset)},
      {"a block duplicated", original_.substr(0, blocks_[3].offset) + original_.substr(blocks_[2].offset)},
      {"two blocks swapped", original_.substr(0, blocks_[1].offset) +
                                 original_.substr(blocks_[2].offset, blocks_[3].offset - blocks_[2].offset) +
                                 original_.substr(blocks_[1].offset, blocks_[2].offset - blocks_[1].offset) +
                                 original_.substr(blocks_[3].offset)},
      {"zeroed footer", original_.substr(0, original_.size() - kFooterSize) + std::string(kFooterSize, '\0')},
  };
  for (const auto& [what, bytes] : cases) {
    Status s = OpenAndReadAll(bytes, what);
    EXPECT_FALSE(s.ok()) << what << ": not detected";
    EXPECT_THAT(s.message(), HasSubstr(path_)) << what;
  }
}

// Files whose checksums are valid but whose fields are not (a buggy or hostile writer: XXH3 is no
// MAC) must fail cleanly too, without allocating what the fields claim.
TEST_F(record_file_corruption, CraftedFieldsWithValidChecksumsFailCleanly) {
  const size_t footer = original_.size() - kFooterSize;
  auto refooter = [&](std::string bytes) {
    EncodeFixed64(bytes.data() + footer + 56, Checksum64(bytes.data() + footer, 56));
    return bytes;
  };
  auto reblock = [&](std::string bytes, const BlockHandle& h) {
    char* hdr = bytes.data() + h.offset;
    EncodeFixed64(hdr + 16, Checksum64(hdr, 16, hdr + kBlockHeaderSize, h.stored_size));
    return bytes;
  };
  std::string bytes = original_;
  EncodeFixed32(bytes.data() + footer + 12, 0xffffffffu);  // block count: ~200 GiB of handles
  Status s = OpenAndReadAll(refooter(bytes), "huge block count");
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(path_));

  bytes = original_;
  EncodeFixed32(bytes.data() + footer + 12, static_cast<uint32_t>(blocks_.size() - 1));
  s = OpenAndReadAll(refooter(bytes), "block count one short");
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();

  bytes = original_;
  EncodeFixed64(bytes.data() + footer + 16, records_.size() + 1);  // record count
  s = OpenAndReadAll(refooter(bytes), "record count");
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();

  // An LZ4 block claiming a 1 GiB raw size (more than 255x its stored size).
  std::string io, raw;
  ASSERT_OK(WriteStringToFile(path_, original_));
  auto r = Open(path_);
  ASSERT_TRUE(r);
  size_t lz4 = blocks_.size();
  for (size_t b = 0; b < blocks_.size() && lz4 == blocks_.size(); ++b) {
    ASSERT_OK(r->ReadBlock(b, &io, &raw));
    if (io[12] == 1) lz4 = b;
  }
  ASSERT_LT(lz4, blocks_.size());
  r.reset();
  bytes = original_;
  EncodeFixed32(bytes.data() + blocks_[lz4].offset + 4, 1u << 30);
  s = OpenAndReadAll(reblock(bytes, blocks_[lz4]), "lz4 raw size");
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("block at offset " + std::to_string(blocks_[lz4].offset)));

  // A raw block's record count one too high, header and checksum agreeing but not the index.
  bytes = original_;
  EncodeFixed32(bytes.data() + blocks_[0].offset + 8, blocks_[0].record_count + 1);
  s = OpenAndReadAll(reblock(bytes, blocks_[0]), "block record count");
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
}

// ---------------------------------------------------------------------------------------------
// Content hash

TEST_F(record_file, ContentHashIsTheHashOfTheFileBytes) {
  std::mt19937_64 rng(8);
  std::vector<Record> records;
  for (int i = 0; i < 500; ++i) records.emplace_back(RandomBytes(rng, rng() % 20), Compressible(rng, rng() % 300));
  RecordFileOptions options;
  options.block_bytes = 1024;
  auto a = Write(Path("a.rf"), options, records);
  auto b = Write(Path("b.rf"), options, records);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->ContentHash().size(), 32u);
  EXPECT_EQ(a->ContentHash(), b->ContentHash());

  std::string bytes;
  ASSERT_OK(ReadFileToString(Path("a.rf"), &bytes));
  ContentHasher hasher;
  hasher.Update(bytes);
  EXPECT_EQ(a->ContentHash(), hasher.Hex());

  std::vector<Record> changed = records;
  changed[250].second.back() ^= 1;  // one bit of one value
  auto c = Write(Path("c.rf"), options, changed);
  ASSERT_TRUE(c);
  EXPECT_NE(a->ContentHash(), c->ContentHash());
  changed = records;
  changed[499].first += "x";  // one key one byte longer
  auto d = Write(Path("d.rf"), options, changed);
  ASSERT_TRUE(d);
  EXPECT_NE(a->ContentHash(), d->ContentHash());
  RecordFileOptions other = options;
  other.partition = 1;  // only the footer differs
  auto e = Write(Path("e.rf"), other, records);
  ASSERT_TRUE(e);
  EXPECT_NE(a->ContentHash(), e->ContentHash());
}

// ---------------------------------------------------------------------------------------------
// Partition extents and shuffle segments

// A map output: partitions 0..5 with several blocks each, except 2 and 5 (empty).
class SegmentTest : public RecordFileTest {
 protected:
  void WriteMapOutput(bool sorted) {
    std::mt19937_64 rng(31);
    RecordFileOptions options;
    options.block_bytes = 300;
    options.sorted = sorted;
    auto w = RecordFileWriter::Create(Path("map.out"), options);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    for (int32_t p : {0, 1, 3, 4}) {
      ASSERT_OK((*w)->StartPartition(p));
      for (int i = 0; i < 40; ++i) {
        char key[16];
        std::snprintf(key, sizeof key, "k%05d", i);
        Record r{key, Compressible(rng, rng() % 60)};
        ASSERT_OK((*w)->Add(r.first, r.second));
        want_[p].push_back(std::move(r));
      }
    }
    ASSERT_OK((*w)->Finish());
    reader_ = Open(Path("map.out"));
    ASSERT_TRUE(reader_);
  }

  std::string FileBytes(const std::string& path) {
    std::string bytes;
    EXPECT_OK(ReadFileToString(path, &bytes));
    return bytes;
  }

  // Writes partition p's extent as a segment, feeding the bytes in pieces of `piece`.
  Status WriteSegment(const PartitionExtent& e, const std::string& path, size_t piece) {
    const std::string source = FileBytes(Path("map.out"));
    ASSIGN_OR_RETURN(auto w, SegmentWriter::Create(path, e.partition, e.blocks, e.sorted));
    for (uint64_t pos = 0; pos < e.length; pos += piece) {
      RETURN_IF_ERROR(w->Append(std::string_view(source).substr(e.offset + pos, std::min<uint64_t>(piece, e.length - pos))));
    }
    return w->Finish();
  }

  std::map<int32_t, std::vector<Record>> want_;
  std::unique_ptr<RecordFileReader> reader_;
};
using record_file_segment = SegmentTest;

TEST_F(record_file_segment, ExtentsOfFirstMiddleLastAndEmptyPartitions) {
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(/*sorted=*/false));
  const auto& blocks = reader_->blocks();
  const uint64_t data_end = blocks.back().offset + kBlockHeaderSize + blocks.back().stored_size;
  uint64_t covered = 0;
  for (int32_t p : {0, 1, 3, 4}) {
    SCOPED_TRACE("partition " + std::to_string(p));
    PartitionExtent e = reader_->Extent(p);
    auto [first, end] = reader_->PartitionBlocks(p);
    ASSERT_GT(end - first, 2u);  // several blocks
    EXPECT_EQ(e.partition, p);
    EXPECT_FALSE(e.sorted);
    EXPECT_EQ(e.offset, blocks[first].offset);
    ASSERT_EQ(e.blocks.size(), end - first);
    for (size_t i = 0; i < e.blocks.size(); ++i) {
      EXPECT_EQ(e.blocks[i].offset, blocks[first + i].offset);
      EXPECT_EQ(e.blocks[i].first_key, blocks[first + i].first_key);
    }
    const uint64_t next = end < blocks.size() ? blocks[end].offset : data_end;
    EXPECT_EQ(e.offset + e.length, next);  // contiguous up to the next partition
    EXPECT_EQ(e.records, want_[p].size());
    covered += e.length;
  }
  EXPECT_EQ(reader_->Extent(0).offset, 0u);           // first
  EXPECT_EQ(covered, data_end);                       // together they are all the blocks
  for (int32_t p : {-1, 2, 5, 1000}) {                // before, between, after the partitions
    PartitionExtent e = reader_->Extent(p);
    EXPECT_EQ(e.partition, p);
    EXPECT_TRUE(e.blocks.empty());
    EXPECT_EQ(e.length, 0u);
    EXPECT_EQ(e.records, 0u);
  }
}

TEST_F(record_file_segment, SegmentRoundTripKeepsBlocksPartitionAndSortedFlag) {
  for (bool sorted : {false, true}) {
    SCOPED_TRACE(sorted ? "sorted" : "unsorted");
    want_.clear();
    ASSERT_NO_FATAL_FAILURE(WriteMapOutput(sorted));
    const std::string source = FileBytes(Path("map.out"));
    for (int32_t p : {0, 1, 2, 3, 4, 5}) {
      SCOPED_TRACE("partition " + std::to_string(p));
      PartitionExtent e = reader_->Extent(p);
      const std::string seg = Path("segment-" + std::to_string(p));
      ASSERT_OK(WriteSegment(e, seg, /*piece=*/97));
      auto r = Open(seg);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->info().partition, p);
      EXPECT_EQ(r->info().sorted, sorted);
      EXPECT_EQ(r->info().record_count, want_[p].size());
      auto [first, end] = r->PartitionBlocks(p);
      EXPECT_EQ(first, 0u);
      ASSERT_EQ(end, e.blocks.size());
      // Byte-identical blocks, index entries rebased to 0.
      const std::string bytes = FileBytes(seg);
      EXPECT_TRUE(bytes.substr(0, e.length) == source.substr(e.offset, e.length));
      for (size_t i = 0; i < e.blocks.size(); ++i) {
        EXPECT_EQ(r->blocks()[i].offset, e.blocks[i].offset - e.offset);
        EXPECT_EQ(r->blocks()[i].stored_size, e.blocks[i].stored_size);
        EXPECT_EQ(r->blocks()[i].first_key, e.blocks[i].first_key);
      }
      std::vector<Record> got;
      ASSERT_OK(ReadRange(*r, first, end, &got));
      ExpectSameRecords(got, want_[p]);
      if (sorted && !want_[p].empty()) {
        RecordIterator it = r->NewIterator(first, end);
        ASSERT_OK(it.Seek("k00020"));
        ASSERT_TRUE(it.Next());
        EXPECT_EQ(it.key(), "k00020");
      }
    }
  }
}

TEST_F(record_file_segment, WrongByteCountsAndInconsistentHandlesAreRejected) {
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(false));
  PartitionExtent e = reader_->Extent(1);
  const std::string source = FileBytes(Path("map.out"));
  const std::string seg = Path("bad-segment");
  {  // one byte short
    auto w = SegmentWriter::Create(seg, 1, e.blocks, false);
    ASSERT_TRUE(w.ok());
    ASSERT_OK((*w)->Append(std::string_view(source).substr(e.offset, e.length - 1)));
    Status s = (*w)->Finish();
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(seg));
  }
  {  // one byte too many
    auto w = SegmentWriter::Create(seg, 1, e.blocks, false);
    ASSERT_TRUE(w.ok());
    ASSERT_OK((*w)->Append(std::string_view(source).substr(e.offset, e.length)));
    EXPECT_EQ((*w)->Append("x").code(), StatusCode::kCorruption);
  }
  auto bad = e.blocks;
  bad[1].offset += 1;  // a gap
  EXPECT_EQ(SegmentWriter::Create(seg, 1, bad, false).status().code(), StatusCode::kCorruption);
  bad = e.blocks;
  bad.back().partition = 2;
  EXPECT_EQ(SegmentWriter::Create(seg, 1, bad, false).status().code(), StatusCode::kCorruption);
  bad = e.blocks;
  bad[0].record_count = 0;
  EXPECT_EQ(SegmentWriter::Create(seg, 1, bad, false).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace sawmill
