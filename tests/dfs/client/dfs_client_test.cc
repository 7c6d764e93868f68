// DfsClient against the in-process fakes of tests/dfs/client/fake_dfs.h: block boundaries,
// pipeline failures and retries, corrupt and unreachable replicas, short-circuit reads, leases.
#include "dfs/client/dfs_client.h"

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "common/file.h"
#include "dfs/datanode/block_file.h"
#include "dfs/machine.h"
#include "tests/common/wait_for.h"
#include "tests/dfs/client/fake_dfs.h"

namespace sawmill::dfs {
namespace {

using testing::FakeDatanode;
using testing::FakeNamenode;

constexpr uint64_t kBlock = 64;  // tiny blocks so that small files span several

std::string Bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

DatanodeDescriptor Dn(const std::string& id, const std::string& machine = "another-machine") {
  DatanodeDescriptor d;
  d.id = id;
  d.host = "host-" + id;
  d.address = id + ":1";
  d.machine = machine;
  d.live = true;
  return d;
}

DfsClient::Options With(void (*set)(DfsClient::Options&)) {
  DfsClient::Options o;
  set(o);
  return o;
}

using sawmill::testing::WaitFor;

class DfsClientTest : public ::testing::Test {
 protected:
  // Three datanodes; `local` ones claim this machine and keep block files for short-circuit.
  void Start(std::set<int> local = {}, DfsClient::Options options = {}) {
    tmp_ = std::filesystem::temp_directory_path() /
           ("dfs_client_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(tmp_);
    std::vector<DatanodeDescriptor> infos;
    for (int i = 0; i < 3; ++i) {
      bool is_local = local.count(i) > 0;
      infos.push_back(Dn("dn" + std::to_string(i), is_local ? LocalMachineId() : "another-machine"));
      std::string dir = is_local ? (tmp_ / infos.back().id).string() : "";
      if (!dir.empty()) std::filesystem::create_directories(dir);
      dns_.push_back(std::make_unique<FakeDatanode>(infos.back(), &net_, dir));
      net_.Listen(infos.back().address, dns_.back()->handler());
    }
    nn_ = std::make_unique<FakeNamenode>(infos);
    net_.Listen("nn:1", nn_->handler());
    if (options.packet_bytes == (1u << 20)) options.packet_bytes = 16;
    client_ = std::make_unique<DfsClient>(&net_, "nn:1", options);
  }

  void TearDown() override {
    client_.reset();
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_);
  }

  // Writes `data` in uneven pieces and closes.
  Status Write(const std::string& path, const std::string& data) {
    auto w = client_->Create(path);
    if (!w.ok()) return w.status();
    for (size_t pos = 0, step = 1; pos < data.size(); pos += step, step = step * 3 % 17 + 1) {
      step = std::min(step, data.size() - pos);
      RETURN_IF_ERROR((*w)->Append(std::string_view(data).substr(pos, step)));
    }
    EXPECT_EQ((*w)->size(), data.size());
    return (*w)->Close();
  }

  std::string ReadAll(const std::string& path) {
    auto r = client_->OpenRead(path);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    std::string out((*r)->size(), '\0');
    Status s = (*r)->ReadAt(0, out.size(), out.data());
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  FakeNamenode::File NnFile(const std::string& path) {
    std::lock_guard<std::mutex> l(nn_->mu());
    return nn_->files.at(path);
  }

  static inline int counter_ = 0;
  std::filesystem::path tmp_;
  std::vector<std::unique_ptr<FakeDatanode>> dns_;
  std::unique_ptr<FakeNamenode> nn_;
  InProcessNetwork net_;  // after the fakes: destroyed (joining their threads) before them
  std::unique_ptr<DfsClient> client_;
};

TEST_F(DfsClientTest, WritesAndReadsAcrossBlockBoundaries) {
  Start();
  for (size_t size : {size_t{0}, size_t{1}, kBlock - 1, kBlock, kBlock + 1, 3 * kBlock, 3 * kBlock + 5}) {
    SCOPED_TRACE(size);
    const std::string path = "/d/f" + std::to_string(size);
    const std::string data = Bytes(size, static_cast<uint32_t>(size));
    ASSERT_TRUE(Write(path, data).ok());
    FakeNamenode::File f = NnFile(path);
    EXPECT_TRUE(f.complete);
    EXPECT_EQ(f.blocks.size(), (size + kBlock - 1) / kBlock);
    // Both replicas of every block hold its bytes: the first datanode forwarded downstream.
    for (size_t i = 0; i < f.blocks.size(); ++i) {
      ASSERT_EQ(f.replicas[i].size(), 2u);
      for (int dn : {0, 1}) {
        EXPECT_EQ(dns_[dn]->BlockData(f.blocks[i].id), data.substr(i * kBlock, kBlock));
      }
    }
    EXPECT_EQ(ReadAll(path), data);
    auto r = client_->OpenRead("dfs:" + path);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ((*r)->size(), size);
    for (uint64_t off = 0; off <= size; off += 7) {
      for (size_t n : {size_t{0}, size_t{1}, size_t{13}, size_t{kBlock + 3}}) {
        if (off + n > size) continue;
        std::string got(n, '\0');
        ASSERT_TRUE((*r)->ReadAt(off, n, got.data()).ok()) << off << "+" << n;
        EXPECT_EQ(got, data.substr(off, n)) << off << "+" << n;
      }
    }
    char c;
    Status past = (*r)->ReadAt(size, 1, &c);
    EXPECT_EQ(past.code(), StatusCode::kCorruption);
    EXPECT_NE(past.message().find(path), std::string::npos) << past.message();
  }
}

TEST_F(DfsClientTest, BlockLocationsAndStat) {
  Start({}, With([](auto& o) { o.client_host = "host-dn1"; }));
  const std::string data = Bytes(2 * kBlock + 10, 5);
  ASSERT_TRUE(Write("/loc", data).ok());
  auto locs = client_->GetBlockLocations("/loc");
  ASSERT_TRUE(locs.ok()) << locs.status().ToString();
  ASSERT_EQ(locs->size(), 3u);
  EXPECT_EQ((*locs)[2].offset, 2 * kBlock);
  EXPECT_EQ((*locs)[2].length, 10u);
  EXPECT_EQ((*locs)[0].hosts, (std::vector<std::string>{"host-dn0", "host-dn1"}));
  auto st = client_->Stat("/loc");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, data.size());
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_EQ(nn_->add_block_hosts.front(), "host-dn1");
}

TEST_F(DfsClientTest, FailedDatanodeIsExcludedAndTheBlockRewritten) {
  Start();
  dns_[0]->fail_writes = true;  // first in every pipeline until excluded
  const std::string data = Bytes(2 * kBlock + 7, 9);
  Status s = Write("/retry", data);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadAll("/retry"), data);
  FakeNamenode::File f = NnFile("/retry");
  std::lock_guard<std::mutex> l(nn_->mu());
  ASSERT_EQ(nn_->abandoned.size(), 1u);  // once excluded, dn0 is never asked again
  ASSERT_GE(nn_->add_block_excludes.size(), 2u);
  EXPECT_TRUE(nn_->add_block_excludes[0].empty());
  EXPECT_EQ(nn_->add_block_excludes[1], std::vector<std::string>{"dn0"});
  for (size_t i = 0; i < f.blocks.size(); ++i) {
    EXPECT_EQ(f.replicas[i], (std::vector<std::string>{"dn1", "dn2"}));
    EXPECT_FALSE(dns_[0]->HasBlock(f.blocks[i].id));
  }
}

TEST_F(DfsClientTest, UnreachableFirstDatanodeIsExcluded) {
  Start();
  net_.Stop(dns_[0]->info().address);
  const std::string data = Bytes(kBlock + 1, 3);
  ASSERT_TRUE(Write("/dead", data).ok());
  EXPECT_EQ(ReadAll("/dead"), data);
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_EQ(nn_->abandoned.size(), 1u);
}

TEST_F(DfsClientTest, WriteFailsWhenEveryPipelineFails) {
  Start();
  for (auto& dn : dns_) dn->fail_writes = true;
  Status s = Write("/doomed", Bytes(10, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/doomed"), std::string::npos) << s.message();
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_EQ(nn_->files.count("/doomed"), 0u);  // removed, never completed
  EXPECT_EQ(nn_->deleted, std::vector<std::string>{"/doomed"});
}

TEST_F(DfsClientTest, WriterDestroyedWithoutCloseRemovesTheFile) {
  Start();
  {
    auto w = client_->Create("/unfinished");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Bytes(kBlock + 3, 2)).ok());
  }
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_EQ(nn_->files.count("/unfinished"), 0u);
  EXPECT_EQ(nn_->deleted, std::vector<std::string>{"/unfinished"});
}

TEST_F(DfsClientTest, CreateIsExclusive) {
  Start();
  ASSERT_TRUE(Write("/x", "abc").ok());
  auto again = client_->Create("/x");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(DfsClientTest, CorruptReplicaIsReportedAndAnotherOneRead) {
  Start();
  const std::string data = Bytes(kBlock + 20, 4);
  ASSERT_TRUE(Write("/c", data).ok());
  FakeNamenode::File f = NnFile("/c");
  {
    std::lock_guard<std::mutex> l(dns_[0]->corrupt_mu);
    dns_[0]->corrupt.insert(f.blocks[1].id);
  }
  auto r = client_->OpenRead("/c");
  ASSERT_TRUE(r.ok());
  std::string got(data.size(), '\0');
  ASSERT_TRUE((*r)->ReadAt(0, got.size(), got.data()).ok());
  EXPECT_EQ(got, data);
  // Read again: the corrupt replica is skipped, not reported twice.
  ASSERT_TRUE((*r)->ReadAt(kBlock, 20, got.data()).ok());
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_EQ(nn_->bad_replicas, (std::vector<std::pair<uint64_t, std::string>>{{f.blocks[1].id, "dn0"}}));
}

TEST_F(DfsClientTest, UnreachableReplicaFallsBackToTheNext) {
  Start();
  const std::string data = Bytes(kBlock, 6);
  ASSERT_TRUE(Write("/u", data).ok());
  auto r = client_->OpenRead("/u");
  ASSERT_TRUE(r.ok());
  net_.Stop(dns_[0]->info().address);
  std::string got(data.size(), '\0');
  ASSERT_TRUE((*r)->ReadAt(0, got.size(), got.data()).ok());
  EXPECT_EQ(got, data);
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_TRUE(nn_->bad_replicas.empty());  // unreachable is not corrupt
}

TEST_F(DfsClientTest, AllReplicasFailingNamesTheBlock) {
  Start();
  ASSERT_TRUE(Write("/bad", Bytes(10, 8)).ok());
  FakeNamenode::File f = NnFile("/bad");
  const uint64_t id = f.blocks[0].id;
  {
    std::lock_guard<std::mutex> l(dns_[0]->corrupt_mu);
    dns_[0]->corrupt.insert(id);
  }
  dns_[1]->refuse_reads = true;
  auto r = client_->OpenRead("/bad");
  ASSERT_TRUE(r.ok());
  std::string got(10, '\0');
  Status s = (*r)->ReadAt(0, 10, got.data());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  for (const std::string& part : {std::string("/bad"), "block " + std::to_string(id), std::string("dn0"),
                                  std::string("checksum mismatch"), std::string("dn1"), std::string("shutting down")}) {
    EXPECT_NE(s.message().find(part), std::string::npos) << part << " not in: " << s.message();
  }
}

TEST_F(DfsClientTest, ShortCircuitReadsTheLocalReplicaFile) {
  Start({1});  // dn1, second in the pipeline, is on this machine
  dns_[1]->chunk_bytes = 5;  // reads start and end inside chunks, or on their edges
  const std::string data = Bytes(3 * kBlock + 1, 11);
  ASSERT_TRUE(Write("/sc", data).ok());
  EXPECT_EQ(ReadAll("/sc"), data);
  EXPECT_EQ(dns_[1]->grants.load(), 4);
  auto r = client_->OpenRead("/sc");
  ASSERT_TRUE(r.ok());
  for (uint64_t off = 0; off <= data.size(); ++off) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{4}, size_t{5}, size_t{6}, size_t{11}, size_t{kBlock}}) {
      if (off + n > data.size()) continue;
      std::string got(n, '\0');
      ASSERT_TRUE((*r)->ReadAt(off, n, got.data()).ok()) << off << "+" << n;
      ASSERT_EQ(got, data.substr(off, n)) << off << "+" << n;
    }
  }
  EXPECT_EQ(dns_[0]->wire_reads.load() + dns_[1]->wire_reads.load(), 0);
}

TEST_F(DfsClientTest, CorruptLocalReplicaFileFallsBackToARemoteOne) {
  Start({0});
  const std::string data = Bytes(kBlock, 12);
  ASSERT_TRUE(Write("/scc", data).ok());
  const uint64_t id = NnFile("/scc").blocks[0].id;
  // Flip a data byte of dn0's block file: its chunk checksum no longer matches.
  {
    std::string bytes;
    ASSERT_TRUE(ReadFileToString(dns_[0]->BlockFilePath(id), &bytes).ok());
    bytes[kBlockFileHeaderBytes + 5] ^= 1;
    ASSERT_TRUE(WriteStringToFile(dns_[0]->BlockFilePath(id), bytes).ok());
  }
  EXPECT_EQ(ReadAll("/scc"), data);
  EXPECT_GT(dns_[1]->wire_reads.load(), 0);
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_EQ(nn_->bad_replicas, (std::vector<std::pair<uint64_t, std::string>>{{id, "dn0"}}));
}

TEST_F(DfsClientTest, ShortCircuitCanBeTurnedOff) {
  Start({0}, With([](auto& o) { o.short_circuit = false; }));
  const std::string data = Bytes(kBlock / 2, 13);
  ASSERT_TRUE(Write("/nosc", data).ok());
  EXPECT_EQ(ReadAll("/nosc"), data);
  EXPECT_EQ(dns_[0]->grants.load(), 0);
  EXPECT_GT(dns_[0]->wire_reads.load(), 0);
}

TEST_F(DfsClientTest, RefusedShortCircuitWriteFallsBackToThePipeline) {
  Start({0});  // replication 1 puts every block on dn0, on this machine: a short-circuit write
  const std::string data = Bytes(2 * kBlock + 3, 14);
  {
    auto w = client_->Create("/refused", 1, 0);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(data).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  // Asked once; refused, so this file's blocks all went through pipelines, to dn0 itself.
  EXPECT_EQ(dns_[0]->local_writes_refused.load(), 1);
  FakeNamenode::File f = NnFile("/refused");
  ASSERT_EQ(f.blocks.size(), 3u);
  for (size_t i = 0; i < f.blocks.size(); ++i) {
    EXPECT_EQ(f.replicas[i], std::vector<std::string>{"dn0"});
    EXPECT_EQ(dns_[0]->BlockData(f.blocks[i].id), data.substr(i * kBlock, kBlock));
  }
  std::lock_guard<std::mutex> l(nn_->mu());
  EXPECT_TRUE(nn_->abandoned.empty());
  for (const auto& ex : nn_->add_block_excludes) EXPECT_TRUE(ex.empty());
}

TEST_F(DfsClientTest, ShortCircuitWritesNeedALocalSingleDatanodeAndCanBeTurnedOff) {
  Start({0}, With([](auto& o) { o.short_circuit_writes = false; }));
  ASSERT_TRUE(Write("/off", Bytes(kBlock + 1, 15)).ok());
  {
    auto w = client_->Create("/off1", 1, 0);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Bytes(kBlock + 1, 16)).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  EXPECT_EQ(dns_[0]->local_writes_refused.load(), 0);
  client_ = std::make_unique<DfsClient>(&net_, "nn:1", DfsClient::Options{});
  ASSERT_TRUE(Write("/two", Bytes(kBlock + 1, 17)).ok());  // replication 2: a pipeline
  EXPECT_EQ(dns_[0]->local_writes_refused.load(), 0);
}

TEST_F(DfsClientTest, LeaseIsRenewedWhileWriting) {
  Start({}, With([](auto& o) { o.lease_renew_ms = 5; }));
  auto w = client_->Create("/lease");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(nn_->mu());
    return nn_->renewals >= 2;
  }));
  ASSERT_TRUE((*w)->Close().ok());
}

TEST_F(DfsClientTest, ReconnectsToARestartedNamenode) {
  Start();
  ASSERT_TRUE(Write("/r", "abc").ok());
  net_.Stop("nn:1");
  net_.Listen("nn:1", nn_->handler());
  auto st = client_->Stat("/r");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->size, 3u);
  net_.Stop("nn:1");
  auto gone = client_->Stat("/r");
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.status().message().find("nn:1"), std::string::npos) << gone.status().message();
}

TEST_F(DfsClientTest, NamenodeErrorsComeBackAsStatuses) {
  Start();
  auto st = client_->Stat("/missing");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kNotFound);
  auto bad = client_->Stat("relative");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sawmill::dfs
