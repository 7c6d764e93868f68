// Tests of the shuffle (worker/shuffle_server.h, worker/shuffle_client.h) over the in-process
// network: segments fetched from a multi-partition map.out read back as the source partitions,
// and every failure (unknown attempt, bad partition, corrupt or lying server, a server that
// hangs up mid-transfer) is an error that leaves no segment behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/rpc.h"
#include "records/record_file.h"
#include "tests/common/status_macros.h"
#include "tests/common/temp_dir.h"
#include "worker/shuffle.capnp.h"
#include "worker/shuffle_client.h"
#include "worker/shuffle_protocol.h"
#include "worker/shuffle_server.h"

namespace sawmill::worker {
namespace {

using Record = std::pair<std::string, std::string>;
using ::testing::HasSubstr;

constexpr char kAddress[] = "worker-a:7100";
constexpr char kJob[] = "job-7";
constexpr char kAttempt[] = "m-000003-a1";

// Forwards to the server's end of a connection, counting packets (SendFile calls); after
// `cut_after` sends it closes the connection instead, like a worker that dies mid-transfer.
class Interposer : public Connection {
 public:
  Interposer(Connection& inner, int cut_after, std::atomic<int>* files)
      : inner_(inner), cut_after_(cut_after), files_(files) {}
  Status Send(std::string_view header, std::string_view body) override {
    RETURN_IF_ERROR(Count());
    return inner_.Send(header, body);
  }
  Status SendFile(std::string_view header, int fd, uint64_t offset, uint64_t length) override {
    RETURN_IF_ERROR(Count());
    ++*files_;
    return inner_.SendFile(header, fd, offset, length);
  }
  Result<Message> Receive() override { return inner_.Receive(); }
  void Close() override { inner_.Close(); }
  const std::string& peer() const override { return inner_.peer(); }

 private:
  Status Count() {
    if (cut_after_ >= 0 && sends_++ >= cut_after_) {
      inner_.Close();
      return Status(StatusCode::kUnavailable, "cut by the test");
    }
    return Status::Ok();
  }
  Connection& inner_;
  int cut_after_;
  int sends_ = 0;
  std::atomic<int>* files_;
};

// A client's transport that logs, per connection, whether it sent ('s') or received ('r'), in order.
class LoggingTransport : public Transport {
 public:
  explicit LoggingTransport(Transport* inner) : inner_(inner) {}
  Result<std::unique_ptr<Connection>> Connect(const std::string& address) override {
    ASSIGN_OR_RETURN(auto conn, inner_->Connect(address));
    logs_.emplace_back();
    return std::unique_ptr<Connection>(new Logged(std::move(conn), &logs_.back()));
  }
  const std::deque<std::string>& logs() const { return logs_; }

 private:
  class Logged : public Connection {
   public:
    Logged(std::unique_ptr<Connection> inner, std::string* log) : inner_(std::move(inner)), log_(log) {}
    Status Send(std::string_view header, std::string_view body) override {
      *log_ += 's';
      return inner_->Send(header, body);
    }
    Status SendFile(std::string_view header, int fd, uint64_t offset, uint64_t length) override {
      *log_ += 's';
      return inner_->SendFile(header, fd, offset, length);
    }
    Result<Message> Receive() override {
      *log_ += 'r';
      return inner_->Receive();
    }
    void Close() override { inner_->Close(); }
    const std::string& peer() const override { return inner_->peer(); }

   private:
    std::unique_ptr<Connection> inner_;
    std::string* log_;
  };
  Transport* inner_;
  std::deque<std::string> logs_;  // stable addresses
};

class ShuffleTest : public ::testing::Test {
 protected:
  // Partitions 0..5, several small blocks each; partition 2 has no records.
  void WriteMapOutput(const std::string& path, int records_per_partition, size_t value_bytes, size_t block_bytes) {
    std::mt19937_64 rng(17);
    RecordFileOptions options;
    options.block_bytes = block_bytes;
    options.sorted = true;
    auto w = RecordFileWriter::Create(path, options);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    want_.clear();
    for (int32_t p = 0; p < kPartitions; ++p) {
      ASSERT_OK((*w)->StartPartition(p));
      if (p == 2) continue;
      for (int i = 0; i < records_per_partition; ++i) {
        char key[32];
        std::snprintf(key, sizeof key, "p%d-%07d", p, i);
        std::string value(rng() % (value_bytes + 1), '\0');
        for (char& c : value) c = static_cast<char>(i % 3 == 0 ? 'a' + rng() % 4 : rng());  // some compress
        ASSERT_OK((*w)->Add(key, value));
        want_[p].emplace_back(key, std::move(value));
      }
    }
    ASSERT_OK((*w)->Finish());
  }

  // `cut_after` >= 0: each conversation (only the first, with `cut_first_only`) hangs up after
  // that many sends.
  void Serve(const std::string& map_out, ShuffleServerOptions options = {}, int cut_after = -1,
             bool cut_first_only = false) {
    map_out_ = map_out;
    server_ = std::make_unique<ShuffleServer>(
        [this](const std::string& job, const std::string& attempt) -> Result<std::string> {
          if (job == kJob && attempt == kAttempt) return map_out_;
          return NotFound("no attempt " + attempt + " of job " + job);
        },
        options);
    net_.Listen(kAddress, [this, cut_after, cut_first_only](Connection& conn) {
      const int n = ++conversations_;
      Interposer i(conn, cut_first_only && n > 1 ? -1 : cut_after, &packets_);
      server_->Serve(i);
    });
  }

  Status Fetch(int32_t p, const std::string& dest, FetchStats* stats = nullptr, const std::string& attempt = kAttempt) {
    return FetchSegment(net_, kAddress, kJob, attempt, p, dest, stats);
  }

  // Every record of partition p of the record file at `path`.
  static Status ReadPartition(const std::string& path, int32_t p, std::vector<Record>* out) {
    out->clear();
    ASSIGN_OR_RETURN(auto r, RecordFileReader::Open(path));
    auto [first, end] = r->PartitionBlocks(p);
    RecordIterator it = r->NewIterator(first, end);
    while (it.Next()) out->emplace_back(std::string(it.key()), std::string(it.value()));
    return it.status();
  }

  static void ExpectSameRecords(const std::vector<Record>& got, const std::vector<Record>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(got[i] == want[i]) << "record " << i << " differs";
    }
  }

  void ExpectNoSegment(const std::string& dest) {
    EXPECT_FALSE(PathExists(dest)) << dest;
    EXPECT_FALSE(PathExists(dest + ".tmp")) << dest << ".tmp";
  }

  static constexpr int32_t kPartitions = 6;
  testing::TempDir dir_;
  std::map<int32_t, std::vector<Record>> want_;
  std::string map_out_;
  std::atomic<int> packets_{0};
  std::atomic<int> conversations_{0};
  std::unique_ptr<ShuffleServer> server_;
  InProcessNetwork net_;  // last: destroyed (joining the conversations) first
};
// Suite names start with shuffle so that `ctest -R shuffle` selects them.
using shuffle = ShuffleTest;

TEST_F(shuffle, EveryPartitionFetchedReadsBackAsTheSourcePartition) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 200, 40, 512));
  ShuffleServerOptions options;
  options.packet_bytes = 1000;  // several packets, boundaries inside blocks
  Serve(map_out, options);
  auto source = RecordFileReader::Open(map_out);
  ASSERT_TRUE(source.ok());
  std::string source_bytes;
  ASSERT_OK(ReadFileToString(map_out, &source_bytes));

  for (int32_t p = 0; p < kPartitions; ++p) {
    SCOPED_TRACE("partition " + std::to_string(p));
    const std::string dest = dir_.Sub("segments/" + std::to_string(p));
    ASSERT_OK(MakeDirs(dir_.Sub("segments")));
    FetchStats stats;
    ASSERT_OK(Fetch(p, dest, &stats));
    EXPECT_FALSE(PathExists(dest + ".tmp"));
    PartitionExtent e = (*source)->Extent(p);
    if (p != 2) {
      EXPECT_GT(e.blocks.size(), 3u);
    }
    EXPECT_EQ(stats.bytes, e.length);
    EXPECT_EQ(stats.records, want_[p].size());
    std::vector<Record> got;
    ASSERT_OK(ReadPartition(dest, p, &got));
    ExpectSameRecords(got, want_[p]);
    // Same blocks, byte for byte.
    std::string seg;
    ASSERT_OK(ReadFileToString(dest, &seg));
    EXPECT_TRUE(seg.substr(0, e.length) == source_bytes.substr(e.offset, e.length));
    auto r = RecordFileReader::Open(dest);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->blocks().size(), e.blocks.size());
    EXPECT_TRUE((*r)->info().sorted);
    EXPECT_EQ((*r)->info().partition, p);
  }
}

TEST_F(shuffle, OneConversationServesManyFetches) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 50, 20, 256));
  Serve(map_out);
  auto conn = net_.Connect(kAddress);
  ASSERT_TRUE(conn.ok());
  for (int32_t p : {4, 0, 2, 4}) {
    const std::string dest = dir_.Sub("seg-" + std::to_string(p));
    ASSERT_OK(FetchSegment(**conn, kJob, kAttempt, p, dest, nullptr));
    std::vector<Record> got;
    ASSERT_OK(ReadPartition(dest, p, &got));
    ExpectSameRecords(got, want_[p]);
  }
  // A server-side error keeps the conversation in step.
  Status s = FetchSegment(**conn, kJob, "m-unknown", 1, dir_.Sub("x"), nullptr);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  ASSERT_OK(FetchSegment(**conn, kJob, kAttempt, 1, dir_.Sub("seg-1"), nullptr));
}

TEST_F(shuffle, KeptConnectionsServeManyFetchesAndAreReplacedWhenClosed) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 50, 20, 256));
  // Each conversation serves two fetches (an announcement and a packet each), then hangs up.
  Serve(map_out, {}, /*cut_after=*/4);
  ShuffleConnections connections(&net_);
  for (int32_t p : {0, 1, 3, 4, 5}) {
    const std::string dest = dir_.Sub("seg-" + std::to_string(p));
    ASSERT_OK(connections.Fetch(kAddress, kJob, kAttempt, p, dest, nullptr));
    std::vector<Record> got;
    ASSERT_OK(ReadPartition(dest, p, &got));
    ExpectSameRecords(got, want_[p]);
  }
  // Two fetches over each of the first two connections; the third and fifth fetch found their
  // kept connection closed and took a new one.
  EXPECT_EQ(conversations_.load(), 3);
  EXPECT_EQ(connections.kept(), 1u);
  // An error that a new connection confirms is the fetch's: nothing is left behind or kept.
  const std::string dest = dir_.Sub("seg-x");
  Status s = connections.Fetch(kAddress, kJob, "m-unknown", 1, dest, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  ExpectNoSegment(dest);
  EXPECT_EQ(connections.kept(), 0u);
  s = connections.Fetch("worker-b:7100", kJob, kAttempt, 1, dest, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("worker-b:7100"));
}

TEST_F(shuffle, KeptConnectionsAreBounded) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 10, 20, 256));
  Serve(map_out);
  // A second address served by the same server.
  net_.Listen("worker-b:7100", [this](Connection& conn) {
    ++conversations_;
    server_->Serve(conn);
  });
  ShuffleConnections connections(&net_, /*max_kept=*/1);
  for (const char* address : {kAddress, "worker-b:7100", kAddress}) {
    ASSERT_OK(connections.Fetch(address, kJob, kAttempt, 0, dir_.Sub("seg"), nullptr));
    EXPECT_EQ(connections.kept(), 1u);
  }
  EXPECT_EQ(conversations_.load(), 3);  // each address's connection went when the other came
  connections.Clear();
  EXPECT_EQ(connections.kept(), 0u);
}

TEST_F(shuffle, PlacementIsChosenFromTheAnnouncedSizeAndAgainOnARetry) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 60, 20, 256));
  auto source = RecordFileReader::Open(map_out);
  ASSERT_TRUE(source.ok());
  ShuffleServerOptions options;
  options.packet_bytes = 200;
  auto packets = [&](int32_t p) { return static_cast<int>(((*source)->Extent(p).length + 199) / 200); };
  ASSERT_GE(packets(1), 2);
  ASSERT_LT(packets(1), packets(0) + 2);
  // The first conversation serves partition 0, then announces partition 1 and hangs up after its
  // first packet; the retry's new conversation serves partition 1 whole.
  Serve(map_out, options, /*cut_after=*/1 + packets(0) + 2);
  ShuffleConnections connections(&net_);
  std::vector<std::pair<std::string, uint64_t>> chosen;  // (path, announced file bytes)
  auto place = [&](uint64_t bytes) {
    chosen.emplace_back(dir_.Sub("choice-" + std::to_string(chosen.size())), bytes);
    return chosen.back().first;
  };
  for (int32_t p : {0, 1}) {
    FetchStats stats;
    ASSERT_OK(connections.Fetch(kAddress, kJob, kAttempt, p, place, &stats));
    EXPECT_EQ(stats.path, chosen.back().first);
    std::vector<Record> got;
    ASSERT_OK(ReadPartition(stats.path, p, &got));
    ExpectSameRecords(got, want_[p]);
    // The announced size bounds the file from above, closely: a budget counts what it holds.
    auto file_size = FileSize(stats.path);
    ASSERT_TRUE(file_size.ok());
    const uint64_t size = *file_size;
    EXPECT_GE(chosen.back().second, size);
    EXPECT_LE(chosen.back().second, size + size / 2);
  }
  ASSERT_EQ(chosen.size(), 3u);  // partition 1 was placed twice
  ExpectNoSegment(chosen[1].first);
  EXPECT_EQ(conversations_.load(), 2);
}

// SegmentRequests for partitions `parts` of kAttempt (or `attempt` where given), to dir/NAME-p.
static std::vector<SegmentRequest> Requests(testing::TempDir& dir, const std::string& name,
                                            const std::vector<int32_t>& parts,
                                            const std::map<int32_t, std::string>& attempt = {}) {
  std::vector<SegmentRequest> reqs(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    reqs[i].job_id = kJob;
    reqs[i].attempt_id = attempt.count(parts[i]) ? attempt.at(parts[i]) : kAttempt;
    reqs[i].partition = parts[i];
    reqs[i].place = [path = dir.Sub(name + "-" + std::to_string(parts[i]))](uint64_t) { return path; };
  }
  return reqs;
}

TEST_F(shuffle, ABatchSendsEveryRequestBeforeReadingAnAnswer) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 50, 20, 256));
  Serve(map_out);
  LoggingTransport logging(&net_);
  ShuffleConnections connections(&logging);
  std::vector<SegmentRequest> reqs = Requests(dir_, "seg", {0, 1, 3, 4, 5});
  connections.FetchAll(kAddress, &reqs);
  for (const SegmentRequest& r : reqs) {
    SCOPED_TRACE("partition " + std::to_string(r.partition));
    ASSERT_OK(r.status);
    EXPECT_EQ(r.stats.path, dir_.Sub("seg-" + std::to_string(r.partition)));
    std::vector<Record> got;
    ASSERT_OK(ReadPartition(r.stats.path, r.partition, &got));
    ExpectSameRecords(got, want_[r.partition]);
  }
  // One connection, kept; five requests before the first answer (one round trip, not five).
  ASSERT_EQ(logging.logs().size(), 1u);
  EXPECT_EQ(logging.logs()[0].substr(0, 6), "sssssr") << logging.logs()[0];
  EXPECT_EQ(logging.logs()[0].find('s', 5), std::string::npos) << logging.logs()[0];
  EXPECT_EQ(connections.kept(), 1u);
  EXPECT_EQ(conversations_.load(), 1);
}

TEST_F(shuffle, ABatchKeepsGoingPastAnErrorTheServerAnswered) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 50, 20, 256));
  Serve(map_out);
  ShuffleConnections connections(&net_);
  std::vector<SegmentRequest> reqs = Requests(dir_, "seg", {0, 1, 3, 4}, {{1, "m-unknown"}});
  connections.FetchAll(kAddress, &reqs);
  EXPECT_EQ(reqs[1].status.code(), StatusCode::kNotFound) << reqs[1].status.ToString();
  EXPECT_THAT(reqs[1].status.message(), HasSubstr("m-unknown"));
  ExpectNoSegment(dir_.Sub("seg-1"));
  for (size_t i : {0u, 2u, 3u}) {
    ASSERT_OK(reqs[i].status);
    std::vector<Record> got;
    ASSERT_OK(ReadPartition(reqs[i].stats.path, reqs[i].partition, &got));
    ExpectSameRecords(got, want_[reqs[i].partition]);
  }
}

TEST_F(shuffle, ABatchOverAKeptConnectionThatDiesIsFinishedOverANewOne) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 50, 20, 256));
  // The first conversation sends six messages (three fetches of one packet), then hangs up. Only
  // the first: the client may find it closed while it still sends the batch's requests (the
  // server answered 1 and 3 and hung up first), and then asks a new conversation for all four.
  Serve(map_out, {}, /*cut_after=*/6, /*cut_first_only=*/true);
  ShuffleConnections connections(&net_);
  ASSERT_OK(connections.Fetch(kAddress, kJob, kAttempt, 0, dir_.Sub("first"), nullptr));
  // The kept conversation answers partitions 1 and 3 and hangs up at 4: a new one serves the rest.
  std::vector<SegmentRequest> reqs = Requests(dir_, "seg", {1, 3, 4, 5});
  connections.FetchAll(kAddress, &reqs);
  for (const SegmentRequest& r : reqs) {
    SCOPED_TRACE("partition " + std::to_string(r.partition));
    ASSERT_OK(r.status);
    std::vector<Record> got;
    ASSERT_OK(ReadPartition(r.stats.path, r.partition, &got));
    ExpectSameRecords(got, want_[r.partition]);
  }
  EXPECT_EQ(conversations_.load(), 2);
  EXPECT_EQ(connections.kept(), 1u);
  // A worker that is gone fails every request of the batch, naming it.
  std::vector<SegmentRequest> gone = Requests(dir_, "gone", {0, 1});
  connections.FetchAll("worker-b:7100", &gone);
  for (const SegmentRequest& r : gone) {
    EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status.ToString();
    EXPECT_THAT(r.status.message(), HasSubstr("worker-b:7100"));
  }
}

TEST_F(shuffle, UnknownAttemptIsNotFoundNamingIt) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 10, 10, 256));
  Serve(map_out);
  const std::string dest = dir_.Sub("seg");
  Status s = Fetch(1, dest, nullptr, "m-000009-a2");
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("m-000009-a2"));
  EXPECT_THAT(s.message(), HasSubstr("partition 1"));
  ExpectNoSegment(dest);
}

TEST_F(shuffle, NegativePartitionIsRejectedAndOneBeyondTheMapsIsEmpty) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 10, 10, 256));
  Serve(map_out);
  const std::string dest = dir_.Sub("seg");
  Status s = Fetch(-1, dest);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(kAttempt));
  ExpectNoSegment(dest);
  // map.out does not record the partition count: a partition past it has no blocks.
  FetchStats stats;
  ASSERT_OK(Fetch(kPartitions + 10, dest, &stats));
  EXPECT_EQ(stats.records, 0u);
  std::vector<Record> got;
  ASSERT_OK(ReadPartition(dest, kPartitions + 10, &got));
  EXPECT_TRUE(got.empty());
}

TEST_F(shuffle, CorruptBlockFailsTheFetchNamingTheAttemptTheBlockAndTheFile) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 100, 30, 256));
  std::string bytes;
  ASSERT_OK(ReadFileToString(map_out, &bytes));
  auto source = RecordFileReader::Open(map_out);
  ASSERT_TRUE(source.ok());
  const PartitionExtent e = (*source)->Extent(3);
  const BlockHandle& mid = e.blocks[e.blocks.size() / 2];
  source->reset();

  // One byte in the middle of a block of partition 3, damaged on the server's disk: the index is
  // intact, so the server sends it; the client checks each block as it arrives.
  std::string bad = bytes;
  bad[mid.offset + kBlockHeaderSize + mid.stored_size / 2] ^= 0x20;
  ASSERT_OK(WriteStringToFile(map_out, bad));
  ShuffleServerOptions small_packets;
  small_packets.packet_bytes = 100;  // the block spans packets
  Serve(map_out, small_packets);
  const std::string dest = dir_.Sub("seg");
  Status fetched = Fetch(3, dest);
  EXPECT_EQ(fetched.code(), StatusCode::kCorruption) << fetched.ToString();
  EXPECT_THAT(fetched.message(), HasSubstr("map attempt " + std::string(kAttempt)));
  EXPECT_THAT(fetched.message(), HasSubstr(kAddress));
  EXPECT_THAT(fetched.message(),
              HasSubstr(map_out + ": block at offset " + std::to_string(mid.offset) + ": checksum mismatch"));
  ExpectNoSegment(dest);
  // A damaged block header likewise (its checksum covers it).
  bad = bytes;
  bad[e.blocks.front().offset + 4] ^= 1;
  ASSERT_OK(WriteStringToFile(map_out, bad));
  fetched = Fetch(3, dest);
  EXPECT_EQ(fetched.code(), StatusCode::kCorruption) << fetched.ToString();
  EXPECT_THAT(fetched.message(), HasSubstr("block at offset " + std::to_string(e.blocks.front().offset)));
  ExpectNoSegment(dest);
  // Other partitions' blocks are unharmed.
  ASSERT_OK(Fetch(1, dir_.Sub("seg1")));

  // Truncated on the server's disk: its footer moved, so the server answers an error naming the
  // file; the client adds the attempt.
  ASSERT_OK(WriteStringToFile(map_out, bytes.substr(0, bytes.size() - 40)));
  fetched = Fetch(3, dest);
  EXPECT_EQ(fetched.code(), StatusCode::kCorruption) << fetched.ToString();
  EXPECT_THAT(fetched.message(), HasSubstr(map_out));
  EXPECT_THAT(fetched.message(), HasSubstr(kAttempt));
  ExpectNoSegment(dest);

  // A damaged index: the server answers an error naming the file; nothing is written.
  bad = bytes;
  bad[bad.size() - kFooterSize - 3] ^= 1;
  ASSERT_OK(WriteStringToFile(map_out, bad));
  Status s = Fetch(1, dir_.Sub("seg2"));
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(map_out));
  EXPECT_THAT(s.message(), HasSubstr(kAddress));
  ExpectNoSegment(dir_.Sub("seg2"));
}

TEST_F(shuffle, ServerClosingMidTransferLeavesNoSegment) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 300, 50, 512));
  ShuffleServerOptions options;
  options.packet_bytes = 700;
  // The announcement and two packets go out, then the connection is closed.
  Serve(map_out, options, /*cut_after=*/3);
  const std::string dest = dir_.Sub("seg");
  Status s = Fetch(1, dest);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(kAddress));
  EXPECT_THAT(s.message(), HasSubstr(kAttempt));
  EXPECT_EQ(packets_.load(), 2);
  ExpectNoSegment(dest);
}

// A server that announces one thing and sends another.
TEST_F(shuffle, InconsistentAnnouncementsAreRejected) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 60, 30, 256));
  auto source = RecordFileReader::Open(map_out);
  ASSERT_TRUE(source.ok());
  std::string bytes;
  ASSERT_OK(ReadFileToString(map_out, &bytes));
  const PartitionExtent real = (*source)->Extent(1);

  struct Lie {
    const char* name;
    std::function<void(PartitionExtent&)> change;
    uint64_t send_bytes;  // how many block bytes to actually send
  };
  const std::vector<Lie> lies = {
      {"other partition", [](PartitionExtent&) {}, real.length},  // asked for 3, gets 1
      {"gap", [](PartitionExtent& e) { e.blocks[1].offset += 8; }, real.length},
      {"total too big", [](PartitionExtent& e) { e.length += 10; }, real.length + 10},
      {"records", [](PartitionExtent& e) { e.records += 1; }, real.length},
      {"fewer bytes", [](PartitionExtent&) {}, real.length - 1},
  };
  for (size_t i = 0; i < lies.size(); ++i) {
    SCOPED_TRACE(lies[i].name);
    const std::string address = "liar-" + std::to_string(i);
    // By value: the conversation thread may outlive this loop iteration.
    net_.Listen(address, [lie = lies[i], real, bytes](Connection& conn) {
      if (!conn.Receive().ok()) return;
      PartitionExtent e = real;
      lie.change(e);
      capnp::MallocMessageBuilder m;
      SetSegment(e, "map.out", m.initRoot<proto::FetchResponse>().initSegment());
      if (!conn.Send(CapnpToString(m)).ok()) return;
      const uint64_t n = lie.send_bytes;
      capnp::MallocMessageBuilder pm;
      auto p = pm.initRoot<proto::FetchResponse>().initPacket();
      p.setLast(true);
      (void)conn.Send(CapnpToString(pm), std::string_view(bytes).substr(e.offset, n));
      conn.Receive().ok();  // until the client hangs up
    });
    const int32_t asked = i == 0 ? 3 : 1;
    const std::string dest = dir_.Sub("lie-" + std::to_string(i));
    Status s = FetchSegment(net_, address, kJob, kAttempt, asked, dest, nullptr);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(address));
    ExpectNoSegment(dest);
  }
}

TEST_F(shuffle, MalformedRequestIsAnsweredWithAnError) {
  const std::string map_out = dir_.Sub("map.out");
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 10, 10, 256));
  Serve(map_out);
  auto conn = net_.Connect(kAddress);
  ASSERT_TRUE(conn.ok());
  ASSERT_OK((*conn)->Send("not a capnp message!"));
  auto reply = (*conn)->Receive();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  FetchReply r;
  Status s = ParseFetchResponse(reply->header, &r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_FALSE((*conn)->Receive().ok());  // the server ended the conversation
}

TEST_F(shuffle, LargeSegmentTravelsInSeveralPackets) {
  const std::string map_out = dir_.Sub("map.out");
  // About 7 MiB per partition of mostly incompressible values, in 64 KiB blocks.
  ASSERT_NO_FATAL_FAILURE(WriteMapOutput(map_out, 1200, 12000, 64 << 10));
  Serve(map_out);
  const std::string dest = dir_.Sub("seg");
  FetchStats stats;
  ASSERT_OK(Fetch(4, dest, &stats));
  EXPECT_GT(stats.bytes, kMaxShufflePacket + (1 << 20));
  EXPECT_EQ(static_cast<uint64_t>(packets_.load()), (stats.bytes + kMaxShufflePacket - 1) / kMaxShufflePacket);
  std::vector<Record> got;
  ASSERT_OK(ReadPartition(dest, 4, &got));
  ExpectSameRecords(got, want_[4]);
}

}  // namespace
}  // namespace sawmill::worker
