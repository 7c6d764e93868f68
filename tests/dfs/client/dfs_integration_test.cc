// The client against the real namenode and datanode services on an in-process network: a
// multi-block write through real pipelines, short-circuit and wire reads, short-circuit writes
// and their fallbacks, a datanode that dies before a write, listing, fsck.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "dfs/client/dfs_client.h"
#include "dfs/datanode/block_store.h"
#include "dfs/datanode/datanode.h"
#include "dfs/machine.h"
#include "dfs/namenode/namenode_service.h"
#include "tests/common/wait_for.h"

namespace sawmill::dfs {
namespace {

constexpr uint64_t kBlock = 256 << 10;

std::string Bytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

using sawmill::testing::WaitFor;

class DfsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("dfs_integration_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    NamenodeService::Options nn_options;
    nn_options.replication = 2;
    nn_options.block_size = kBlock;
    nn_options.loop_interval_ms = 20;
    auto nn = NamenodeService::Open((dir_ / "nn").string(), nn_options);
    ASSERT_TRUE(nn.ok()) << nn.status().ToString();
    nn_ = std::move(nn).value();
    net_.Listen("nn:1", nn_->handler());
    nn_->Start();
    for (int i = 0; i < 3; ++i) {
      std::string d = (dir_ / ("dn" + std::to_string(i))).string();
      auto store = BlockStore::Open(d);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      stores_.push_back(std::move(store).value());
      Datanode::Options o;
      o.dir = d;
      o.id = "dn" + std::to_string(i);
      o.host = "h" + std::to_string(i);
      o.address = o.id + ":1";
      o.namenode_address = "nn:1";
      o.machine = i == 0 ? LocalMachineId() : "another-machine";  // only dn0 is short-circuit
      o.heartbeat_ms = 20;
      o.scan_interval_ms = 0;
      dns_.push_back(std::make_unique<Datanode>(o, &net_, stores_.back().get()));
      net_.Listen(o.address, dns_.back()->handler());
      dns_.back()->Start();
    }
    DfsClient::Options co;
    co.packet_bytes = 64 << 10;
    // No block size: the namenode's default (kBlock) comes back with create's answer.
    client_ = std::make_unique<DfsClient>(&net_, "nn:1", co);
    ASSERT_TRUE(WaitFor([&] {
      auto d = client_->Datanodes();
      if (!d.ok() || d->size() != 3) return false;
      for (const auto& x : *d) {
        if (!x.live) return false;
      }
      return true;
    })) << "datanodes did not register";
  }

  void TearDown() override {
    client_.reset();
    for (auto& d : dns_) d->Stop();
    if (nn_) nn_->Stop();
    for (auto& d : dns_) net_.Stop(d->options().address);
    net_.Stop("nn:1");
    dns_.clear();
    stores_.clear();
    std::filesystem::remove_all(dir_);
  }

  Status Write(const std::string& path, const std::string& data, size_t piece = 100'000) {
    auto w = client_->Create(path);
    if (!w.ok()) return w.status();
    for (size_t pos = 0; pos < data.size(); pos += piece) {
      RETURN_IF_ERROR((*w)->Append(std::string_view(data).substr(pos, piece)));
    }
    return (*w)->Close();
  }

  // Writes `data` to a local file and puts bytes [offset, end) of it with AppendFileRange, in
  // two continuing calls.
  Status PutRange(const std::string& path, const std::string& data, uint64_t offset) {
    const std::string local = (dir_ / "local").string();
    std::ofstream(local, std::ios::binary | std::ios::trunc) << data;
    int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IOError("cannot open " + local);
    auto w = client_->Create(path, 0, 0);
    Status s = w.status();
    const uint64_t mid = offset + (data.size() - offset) / 3;
    if (s.ok()) s = (*w)->AppendFileRange(fd, offset, mid - offset);
    if (s.ok()) s = (*w)->AppendFileRange(fd, mid, data.size() - mid);
    if (s.ok()) s = (*w)->Close();
    ::close(fd);
    return s;
  }

  // A client on dn0's host (and machine): its replication-1 blocks are written short-circuit.
  std::unique_ptr<DfsClient> LocalWriter() {
    DfsClient::Options co;
    co.packet_bytes = 64 << 10;
    co.block_size = kBlock;
    co.client_host = "h0";
    return std::make_unique<DfsClient>(&net_, "nn:1", co);
  }

  // Writes `data` with replication `replication` through `client`; `between(pos)` runs before
  // each Append at data offset pos.
  Status WriteWith(DfsClient& client, const std::string& path, const std::string& data, uint32_t replication,
                   const std::function<void(size_t)>& between = nullptr) {
    auto w = client.Create(path, replication, 0);
    if (!w.ok()) return w.status();
    for (size_t pos = 0; pos < data.size(); pos += 50'000) {
      if (between) between(pos);
      RETURN_IF_ERROR((*w)->Append(std::string_view(data).substr(pos, 50'000)));
    }
    return (*w)->Close();
  }

  std::vector<std::string> Files(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().string());
    return names;
  }
  std::vector<std::string> TmpFiles(int dn) { return Files(dir_ / ("dn" + std::to_string(dn)) / "tmp"); }

  // The datanode ids holding each block of `path`.
  std::vector<std::vector<std::string>> Holders(const std::string& path) {
    std::vector<std::vector<std::string>> out;
    auto located = client_->Locate(path);
    EXPECT_TRUE(located.ok()) << located.status().ToString();
    if (!located.ok()) return out;
    for (const auto& b : located->second) {
      out.emplace_back();
      for (const auto& d : b.datanodes) out.back().push_back(d.id);
    }
    return out;
  }

  bool FsckClean(uint64_t blocks) {
    return WaitFor([&] {
      auto f = client_->Fsck();
      return f.ok() && f->total_blocks == blocks && f->missing.empty() && f->under_replicated.empty() &&
             f->corrupt.empty();
    });
  }

  std::string Read(const std::string& path) {
    auto r = client_->OpenRead(path);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    std::string out((*r)->size(), '\0');
    Status s = (*r)->ReadAt(0, out.size(), out.data());
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<NamenodeService> nn_;
  std::vector<std::unique_ptr<BlockStore>> stores_;
  std::vector<std::unique_ptr<Datanode>> dns_;
  InProcessNetwork net_;
  std::unique_ptr<DfsClient> client_;
};

TEST_F(DfsIntegrationTest, WriteReadListFsck) {
  const std::string data = Bytes(3 * kBlock + 12345, 1);
  Status written = Write("/a/b/file", data);
  ASSERT_TRUE(written.ok()) << written.ToString();
  ASSERT_TRUE(Write("/a/empty", "").ok());
  EXPECT_EQ(Read("/a/b/file"), data);
  EXPECT_EQ(Read("/a/empty"), "");
  auto st = client_->StatFull("dfs:/a/b/file");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->size, data.size());
  EXPECT_EQ(st->replication, 2u);
  EXPECT_EQ(st->block_size, kBlock);
  auto locs = client_->GetBlockLocations("/a/b/file");
  ASSERT_TRUE(locs.ok());
  EXPECT_EQ(locs->size(), 4u);
  auto ls = client_->List("/a");
  ASSERT_TRUE(ls.ok());
  ASSERT_EQ(ls->size(), 2u);
  // Odd ranges across block and chunk boundaries.
  auto r = client_->OpenRead("/a/b/file");
  ASSERT_TRUE(r.ok());
  for (uint64_t off : {uint64_t{0}, uint64_t{1}, kBlock - 3, 2 * kBlock + 65535, uint64_t{data.size() - 10}}) {
    for (size_t n : {size_t{1}, size_t{10}, size_t{70000}, size_t{kBlock + 5}}) {
      if (off + n > data.size()) continue;
      std::string got(n, '\0');
      ASSERT_TRUE((*r)->ReadAt(off, n, got.data()).ok()) << off << "+" << n;
      ASSERT_EQ(got, data.substr(off, n)) << off << "+" << n;
    }
  }
  ASSERT_TRUE(WaitFor([&] {
    auto f = client_->Fsck();
    return f.ok() && f->total_blocks == 4 && f->missing.empty() && f->under_replicated.empty();
  }));
  ASSERT_TRUE(client_->Rename("/a/b/file", "/a/moved").ok());
  EXPECT_EQ(Read("/a/moved"), data);
  ASSERT_TRUE(client_->Delete("/a", true).ok());
  EXPECT_EQ(client_->Stat("/a").status().code(), StatusCode::kNotFound);
}

TEST_F(DfsIntegrationTest, WriteSurvivesADeadDatanode) {
  // dn1 stops answering before the namenode notices: pipelines through it fail and are retried.
  net_.Stop("dn1:1");
  const std::string data = Bytes(2 * kBlock + 7, 2);
  Status s = Write("/w", data);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Read("/w"), data);
}

TEST_F(DfsIntegrationTest, ReplicationOneOnThisMachineIsWrittenShortCircuit) {
  auto writer = LocalWriter();
  const std::string data = Bytes(2 * kBlock + 7, 7);
  ASSERT_TRUE(WriteWith(*writer, "/sc", data, 1).ok());
  ASSERT_TRUE(WriteWith(*writer, "/sc-exact", data.substr(0, kBlock), 1).ok());
  ASSERT_TRUE(WriteWith(*writer, "/sc-empty", "", 1).ok());
  EXPECT_EQ(dns_[0]->local_writes(), 4u);
  // Another client reads them back: the namenode knows every block, on dn0.
  EXPECT_EQ(Read("/sc"), data);
  EXPECT_EQ(Read("/sc-exact"), data.substr(0, kBlock));
  EXPECT_EQ(Read("/sc-empty"), "");
  using Ids = std::vector<std::vector<std::string>>;
  EXPECT_EQ(Holders("/sc"), (Ids{{"dn0"}, {"dn0"}, {"dn0"}}));
  EXPECT_TRUE(FsckClean(4));
  EXPECT_TRUE(TmpFiles(0).empty());
  // A writer dropped mid-block leaves neither the file nor its granted block file.
  {
    auto w = writer->Create("/dropped", 1, 0);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(data.substr(0, kBlock + 10)).ok());
    EXPECT_EQ(TmpFiles(0).size(), 1u);
  }
  EXPECT_EQ(client_->Stat("/dropped").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(WaitFor([&] { return TmpFiles(0).empty(); }));
  // Replication 2 keeps the pipeline.
  ASSERT_TRUE(WriteWith(*writer, "/two", data, 2).ok());
  EXPECT_EQ(dns_[0]->local_writes(), 5u);  // 4 and the dropped file's first block
  EXPECT_EQ(Read("/two"), data);
}

TEST_F(DfsIntegrationTest, ShortCircuitBlockRefusedAtFinalizeIsRewrittenThroughAPipeline) {
  auto writer = LocalWriter();
  const std::string data = Bytes(kBlock + kBlock / 2, 8);
  // The granted file loses its name mid-block: the datanode cannot finalize it, the writer
  // resends the block's bytes from its still open file to a pipeline, to dn0 again.
  Status s = WriteWith(*writer, "/lost", data, 1, [&](size_t pos) {
    if (pos != 100'000) return;
    auto tmp = TmpFiles(0);
    ASSERT_EQ(tmp.size(), 1u);
    std::filesystem::remove(tmp[0]);
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(dns_[0]->local_writes(), 0u);
  EXPECT_EQ(Read("/lost"), data);
  using Ids = std::vector<std::vector<std::string>>;
  EXPECT_EQ(Holders("/lost"), (Ids{{"dn0"}, {"dn0"}}));  // nothing excluded
  EXPECT_TRUE(FsckClean(2));
  EXPECT_TRUE(TmpFiles(0).empty());
}

TEST_F(DfsIntegrationTest, ShortCircuitWriteSurvivesItsDatanodeStopping) {
  auto writer = LocalWriter();
  const std::string data = Bytes(2 * kBlock + 5, 9);
  Status s = WriteWith(*writer, "/stopped", data, 1, [&](size_t pos) {
    if (pos == 100'000) dns_[0]->Stop();  // between the grant and the finalize
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(dns_[0]->local_writes(), 0u);
  EXPECT_EQ(Read("/stopped"), data);
  for (const auto& holders : Holders("/stopped")) {
    EXPECT_EQ(std::count(holders.begin(), holders.end(), "dn0"), 0) << holders[0];
  }
  EXPECT_TRUE(TmpFiles(0).empty());
}

TEST_F(DfsIntegrationTest, AppendFileRangeWritesBlocksFromTheLocalFile) {
  const std::string data = Bytes(3 * kBlock + 1000, 4);
  Status s = PutRange("/r", data, 1000);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Read("/r"), data.substr(1000));
  ASSERT_TRUE(PutRange("/exact", data.substr(0, 2 * kBlock), 0).ok());  // ends on a block boundary
  EXPECT_EQ(Read("/exact"), data.substr(0, 2 * kBlock));
  auto st = client_->StatFull("/exact");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, 2 * kBlock);
}

TEST_F(DfsIntegrationTest, AppendFileRangeRewritesAFailedBlockFromTheFile) {
  net_.Stop("dn1:1");
  const std::string data = Bytes(2 * kBlock + 7, 5);
  Status s = PutRange("/rw", data, 0);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Read("/rw"), data);
}

TEST_F(DfsIntegrationTest, AppendFileRangeRefusesMixingAndAShortFile) {
  const std::string local = (dir_ / "short").string();
  std::ofstream(local, std::ios::binary) << Bytes(1000, 6);
  int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  {
    auto w = client_->Create("/mix", 0, 0);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("x").ok());
    EXPECT_EQ((*w)->AppendFileRange(fd, 0, 10).code(), StatusCode::kInvalidArgument);
  }
  {
    auto w = client_->Create("/mix2", 0, 0);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->AppendFileRange(fd, 0, 10).ok());
    EXPECT_EQ((*w)->AppendFileRange(fd, 20, 10).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*w)->Append("x").code(), StatusCode::kInvalidArgument);
  }
  {
    // The file has 1000 bytes, not 5000: the write fails without blaming (excluding) datanodes.
    auto w = client_->Create("/short", 0, 0);
    ASSERT_TRUE(w.ok());
    Status s = (*w)->AppendFileRange(fd, 0, 5000);
    if (s.ok()) s = (*w)->Close();
    EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
    EXPECT_NE(s.message().find("ended at offset"), std::string::npos) << s.ToString();
  }
  ::close(fd);
  EXPECT_EQ(client_->Stat("/short").status().code(), StatusCode::kNotFound);
}

TEST_F(DfsIntegrationTest, AbandonedWriterLeavesNothing) {
  {
    auto w = client_->Create("/gone");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Bytes(kBlock + 1, 3)).ok());
  }
  EXPECT_EQ(client_->Stat("/gone").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(Write("/gone", "again").ok());  // the name is free again
  EXPECT_EQ(Read("/gone"), "again");
}

}  // namespace
}  // namespace sawmill::dfs
