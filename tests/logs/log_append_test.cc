// Raw log files appended through the ingestion ledger (logs/log_append.h): each line once,
// whether a file is appended again, grows, is rotated and compressed, or two appenders race.
#include "logs/log_append.h"

#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/local_fs.h"
#include "logs/ingest_ledger.h"
#include "records/record_file.h"

namespace sawmill::logs {
namespace {

namespace fs = std::filesystem;

class LogAppendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("log_append_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    root_ = (dir_ / "store").string();
    options_.format = LineFormat::kCombined;
    options_.now_ms = 1'800'000'000'000;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& text, bool append = false) {
    std::ofstream(Path(name), append ? std::ios::app : std::ios::trunc) << text;
  }
  void Gzip(const std::string& from, const std::string& to) {
    std::string text;
    ASSERT_TRUE(FsReadFile(Path(from), &text).ok());
    gzFile gz = gzopen(Path(to).c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
    gzclose(gz);
  }
  static std::string Line(int i) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "10.0.0.%d - user%d [06/Dec/2026:14:%02d:%02d +0000] \"GET /p%d HTTP/1.1\" 200 %d\n",
                  i % 250, i % 7, (i / 60) % 60, i % 60, i % 13, i);
    return buf;
  }
  static std::string Lines(int from, int to) {
    std::string s;
    for (int i = from; i < to; ++i) s += Line(i);
    return s;
  }
  Result<AppendResult> Append(std::vector<std::string> names) {
    for (auto& n : names) n = Path(n);
    return logs::Append(root_, "web", 0, names, options_);
  }
  // Every archived record's (offset, payload + "\n"), checking offsets run from 0 on.
  std::string Archived() {
    auto segs = ListSegments(root_, "web", 0);
    EXPECT_TRUE(segs.ok()) << segs.status().message();
    std::string out;
    uint64_t expect = 0;
    for (const auto& s : *segs) {
      auto reader = RecordFileReader::Open(s.path);
      EXPECT_TRUE(reader.ok());
      RecordIterator it = (*reader)->NewIterator();
      while (it.Next()) {
        uint64_t off;
        int64_t ts;
        std::string_view payload;
        EXPECT_TRUE(DecodeLogRecord(it.key(), it.value(), &off, &ts, &payload));
        EXPECT_EQ(off, expect++);
        out.append(payload).push_back('\n');
      }
    }
    return out;
  }

  fs::path dir_;
  std::string root_;
  AppendOptions options_;
};

TEST_F(LogAppendTest, TheSameFileTwiceAppendsNothingTheSecondTime) {
  Write("access.log", Lines(0, 50));
  auto r = Append({"access.log"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->archive.appended, 50u);
  EXPECT_EQ(r->first_offset, 0u);
  r = Append({"access.log", "access.log"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->archive.appended, 0u);
  EXPECT_EQ(r->sources[0].continues, Path("access.log"));
  EXPECT_EQ(Archived(), Lines(0, 50));
}

TEST_F(LogAppendTest, AGrownFileAppendsOnlyItsNewCompleteLines) {
  Write("access.log", Lines(0, 10));
  ASSERT_TRUE(Append({"access.log"}).ok());
  const std::string next = Line(10);
  Write("access.log", Lines(10, 20) + next.substr(0, 17), true);  // a line being written
  auto r = Append({"access.log"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->archive.appended, 10u);
  EXPECT_EQ(r->first_offset, 10u);
  EXPECT_TRUE(r->sources[0].partial_line);
  Write("access.log", next.substr(17) + Lines(21, 25), true);
  r = Append({"access.log"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->archive.appended, 5u);
  EXPECT_EQ(r->first_offset, 20u);
  EXPECT_EQ(Archived(), Lines(0, 10) + Lines(10, 20) + next + Lines(21, 25));
}

TEST_F(LogAppendTest, RotatedAndCompressedCopiesAreRecognised) {
  Write("access.log", Lines(0, 100));
  ASSERT_TRUE(Append({"access.log"}).ok());
  // The server writes more, then logrotate renames the file and the server starts a new one.
  Write("access.log", Lines(100, 120), true);
  fs::rename(Path("access.log"), Path("access.log.1"));
  Write("access.log", Lines(1000, 1030));
  auto r = Append({"access.log.1", "access.log"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->archive.appended, 50u);
  EXPECT_EQ(r->sources[0].appended, 20u);
  EXPECT_EQ(r->sources[0].continues, Path("access.log"));
  EXPECT_TRUE(r->sources[1].continues.empty());
  // Next rotation: .1 is compressed to .2.gz, the live file becomes .1 and grows first.
  Gzip("access.log.1", "access.log.2.gz");
  fs::remove(Path("access.log.1"));
  Write("access.log", Lines(1030, 1040), true);
  fs::rename(Path("access.log"), Path("access.log.1"));
  Write("access.log", Lines(2000, 2005));
  r = Append({"access.log.2.gz", "access.log.1", "access.log"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->sources[0].appended, 0u);
  EXPECT_EQ(r->sources[0].continues, Path("access.log.1"));
  EXPECT_EQ(r->sources[1].appended, 10u);
  EXPECT_EQ(r->sources[2].appended, 5u);
  EXPECT_EQ(r->first_offset, 150u);
  EXPECT_EQ(Archived(), Lines(0, 100) + Lines(100, 120) + Lines(1000, 1030) + Lines(1030, 1040) + Lines(2000, 2005));
  // Everything again, compressed or not: nothing.
  Gzip("access.log.1", "access.log.1.gz");
  r = Append({"access.log.2.gz", "access.log.1.gz", "access.log.1", "access.log"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->archive.appended, 0u);
}

TEST_F(LogAppendTest, ASecondAppenderFailsWhileTheFirstHoldsThePartition) {
  Write("a.log", Lines(0, 5));
  {
    auto lock = LockPartition(root_, "web", 0);
    ASSERT_TRUE(lock.ok());
    auto r = Append({"a.log"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find("pid=" + std::to_string(::getpid())), std::string::npos)
        << r.status().message();
    EXPECT_EQ(Archived(), "");
  }
  auto r = Append({"a.log"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Archived(), Lines(0, 5));
}

TEST_F(LogAppendTest, ALockLeftByADeadProcessOnThisHostIsBroken) {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string dir = PartitionDir(root_, "web", 0);
  ASSERT_TRUE(FsMkdirs(dir).ok());
  ASSERT_TRUE(FsWriteFile(dir + "/.append.lock", "host=" + std::string(host) + " pid=" + std::to_string(child) +
                                                     " since=1\n").ok());
  Write("a.log", Lines(0, 3));
  auto r = Append({"a.log"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->archive.appended, 3u);
  // One held from another host is not.
  ASSERT_TRUE(FsWriteFile(dir + "/.append.lock", "host=elsewhere pid=1 since=1\n").ok());
  r = Append({"a.log"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("host=elsewhere"), std::string::npos);
}

TEST_F(LogAppendTest, EachSegmentsLedgerCoversExactlyItsLines) {
  options_.archive.segment_bytes = 1000;
  Write("access.log", Lines(0, 100));
  auto r = Append({"access.log"});
  ASSERT_TRUE(r.ok());
  ASSERT_GE(r->archive.segments.size(), 3u);
  // An append that died after committing all but its last segment: the partition keeps a
  // prefix and its ledger; appending again adds exactly the rest.
  auto segs = ListSegments(root_, "web", 0);
  ASSERT_TRUE(segs.ok());
  const uint64_t first = segs->back().first_offset;
  for (const char* ext : {".seg", ".tidx", ".ledger"}) {
    fs::remove(segs->back().path.substr(0, segs->back().path.size() - 4) + ext);
  }
  r = Append({"access.log"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_offset, first);
  EXPECT_EQ(r->archive.appended, 100 - first);
  EXPECT_EQ(Archived(), Lines(0, 100));
}

TEST_F(LogAppendTest, ABadLineFailsNamingFileAndLineOrIsSkippedAndCounted) {
  Write("access.log", Lines(0, 3) + "garbage\n" + Lines(3, 5));
  auto r = Append({"access.log"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(Path("access.log") + ":4: "), std::string::npos) << r.status().message();
  EXPECT_EQ(Archived(), "");
  options_.skip_bad = true;
  r = Append({"access.log"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->archive.appended, 5u);
  EXPECT_EQ(r->bad, 1u);
  ASSERT_EQ(r->bad_examples.size(), 1u);
  EXPECT_NE(r->bad_examples[0].find(":4: "), std::string::npos);
  // A bad line after growth is named by its line in the whole file.
  Write("access.log", "more garbage\n", true);
  options_.skip_bad = false;
  r = Append({"access.log"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(":7: "), std::string::npos) << r.status().message();
}

TEST_F(LogAppendTest, JsonLinesTakeTheirTimeFromTheNamedMember) {
  options_.format = LineFormat::kJsonl;
  options_.time_field = "ts";
  Write("app.jsonl", R"({"ts":"2026-12-06T14:03:00.250Z","msg":"a"})" "\n" R"({"msg":"b","ts":1700000000000})" "\n");
  auto r = Append({"app.jsonl"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto segs = ListSegments(root_, "web", 0);
  ASSERT_TRUE(segs.ok());
  EXPECT_EQ((*segs)[0].min_time_ms, 1700000000000);
  EXPECT_EQ((*segs)[0].max_time_ms, 1796565780250);
  Write("app.jsonl", R"({"msg":"c"})" "\n", true);
  r = Append({"app.jsonl"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(":3: no \"ts\" member"), std::string::npos) << r.status().message();
}

TEST(IngestLedgerTest, RoundTripsAndRejectsGarbage) {
  Ledger l;
  l.sources.push_back({"/var/log/a", 1, 2, 300, 10, 0x1234, 10, 1, 5});
  auto back = DecodeLedger(EncodeLedger(l), "x");
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->sources.size(), 1u);
  EXPECT_EQ(back->sources[0].path, "/var/log/a");
  EXPECT_EQ(back->sources[0].head_hash, 0x1234u);
  EXPECT_FALSE(DecodeLedger("not a ledger", "x").ok());
  EXPECT_FALSE(DecodeLedger(std::string(16, '\xff'), "x").ok());
}

}  // namespace
}  // namespace sawmill::logs
