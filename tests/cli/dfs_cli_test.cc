// `sawmill dfs` end to end over real TCP connections to the fake services: a cluster directory
// with cluster.json and a secret, commands run in-process with their stdout captured.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "cli/commands.h"
#include "common/auth.h"
#include "common/cluster_config.h"
#include "common/file.h"
#include "common/rpc_tcp.h"
#include "tests/dfs/client/fake_dfs.h"

namespace sawmill::dfs {
namespace {

using testing::FakeDatanode;
using testing::FakeNamenode;

struct Ran {
  int rc;
  std::string out, err;
};

class DfsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("dfs_cli_test_" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(WriteNewSecret(dir_ + "/secret").ok());
    auto secret = LoadSecret(dir_ + "/secret");
    ASSERT_TRUE(secret.ok());
    transport_ = std::make_unique<TcpTransport>(*secret);
    ClusterConfig config;
    config.dir = dir_;
    config.secret_file = "secret";
    config.replication = 2;
    config.block_size = 64;
    std::vector<DatanodeDescriptor> infos;
    for (int i = 0; i < 3; ++i) {
      // The handler looks the fake up when a connection arrives: it needs the bound address.
      auto server = TcpServer::Start({}, *secret, [this, i](Connection& c) { dns_[i]->handler()(c); });
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      DatanodeDescriptor d;
      d.id = "dn" + std::to_string(i);
      d.host = "h" + std::to_string(i);
      d.address = (*server)->address();
      d.machine = "another-machine";
      d.live = true;
      infos.push_back(d);
      dns_[i] = std::make_unique<FakeDatanode>(d, transport_.get());
      servers_.push_back(std::move(server).value());
      config.hosts.push_back({d.host, dir_ + "/" + d.host, d.id, d.address, 100 + i, "", 0, ""});
    }
    nn_ = std::make_unique<FakeNamenode>(infos);
    auto server = TcpServer::Start({}, *secret, nn_->handler());
    ASSERT_TRUE(server.ok());
    config.namenode_address = (*server)->address();
    config.namenode_http = "127.0.0.1:1";
    config.namenode_dir = dir_ + "/namenode";
    servers_.push_back(std::move(server).value());
    ASSERT_TRUE(WriteClusterConfig(config).ok());
  }

  void TearDown() override {
    for (auto& s : servers_) s->Stop();
    std::filesystem::remove_all(dir_);
  }

  Ran Run(std::vector<std::string> args) {
    std::vector<std::string> all = {"sawmill", "dfs", "--cluster", dir_};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    int rc = DfsCommand(static_cast<int>(argv.size()), argv.data());
    std::fflush(stdout);
    std::string out = ::testing::internal::GetCapturedStdout();
    std::string err = ::testing::internal::GetCapturedStderr();
    return Ran{rc, out, err};
  }

  std::string Local(const std::string& name) { return dir_ + "/" + name; }

  std::string dir_;
  std::unique_ptr<FakeDatanode> dns_[3];
  std::unique_ptr<FakeNamenode> nn_;
  std::unique_ptr<TcpTransport> transport_;
  std::vector<std::unique_ptr<TcpServer>> servers_;  // stopped first (TearDown)
};

std::string Bytes(size_t n) {
  std::mt19937 rng(7);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_F(DfsCliTest, PutGetCat) {
  const std::string data = Bytes(1000);
  ASSERT_TRUE(WriteStringToFile(Local("in"), data).ok());
  Ran put = Run({"put", Local("in"), "dfs:/data/in"});
  ASSERT_EQ(put.rc, 0) << put.err;
  Ran get = Run({"get", "/data/in", Local("out")});
  ASSERT_EQ(get.rc, 0) << get.err;
  std::string back;
  ASSERT_TRUE(ReadFileToString(Local("out"), &back).ok());
  EXPECT_EQ(back, data);
  Ran cat = Run({"cat", "/data/in", "dfs:/data/in"});
  ASSERT_EQ(cat.rc, 0) << cat.err;
  EXPECT_EQ(cat.out, data + data);
  {
    std::lock_guard<std::mutex> l(nn_->mu());
    EXPECT_EQ(nn_->files.at("/data/in").blocks.size(), (1000u + 63) / 64);
  }

  Ran again = Run({"put", Local("in"), "/data/in"});
  EXPECT_EQ(again.rc, 1);
  EXPECT_EQ(again.err.rfind("error: ", 0), 0u) << again.err;
  EXPECT_NE(again.err.find("/data/in"), std::string::npos) << again.err;

  Ran missing = Run({"get", "/nope", Local("nope")});
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.err.find("/nope"), std::string::npos) << missing.err;
  EXPECT_FALSE(PathExists(Local("nope")));
}

TEST_F(DfsCliTest, PutFromStdinWithBlockSize) {
  const std::string data = Bytes(300);
  ASSERT_TRUE(WriteStringToFile(Local("stdin"), data).ok());
  int saved = ::dup(0);
  int fd = ::open(Local("stdin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ::dup2(fd, 0);
  Ran put = Run({"put", "-", "/s", "--block_size", "100", "--replication", "3"});
  ::dup2(saved, 0);
  ::close(fd);
  ::close(saved);
  ASSERT_EQ(put.rc, 0) << put.err;
  {
    std::lock_guard<std::mutex> l(nn_->mu());
    const auto& f = nn_->files.at("/s");
    EXPECT_EQ(f.blocks.size(), 3u);
    EXPECT_EQ(f.replicas[0].size(), 3u);
  }
  Ran cat = Run({"cat", "/s"});
  EXPECT_EQ(cat.out, data);
}

TEST_F(DfsCliTest, NamespaceCommands) {
  ASSERT_TRUE(WriteStringToFile(Local("a"), "hello").ok());
  ASSERT_EQ(Run({"mkdir", "/d"}).rc, 0);
  ASSERT_EQ(Run({"put", Local("a"), "/d"}).rc, 0);  // into the directory, keeping the name
  Ran ls = Run({"ls", "/d"});
  ASSERT_EQ(ls.rc, 0) << ls.err;
  EXPECT_NE(ls.out.find("-   2            5 "), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find(" /d/a\n"), std::string::npos) << ls.out;
  Ran lsr = Run({"ls", "-R", "/"});
  ASSERT_EQ(lsr.rc, 0) << lsr.err;
  EXPECT_NE(lsr.out.find("d "), std::string::npos) << lsr.out;
  EXPECT_NE(lsr.out.find("/d/a"), std::string::npos) << lsr.out;
  Ran st = Run({"stat", "/d/a"});
  ASSERT_EQ(st.rc, 0) << st.err;
  EXPECT_NE(st.out.find("size: 5\n"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("replicas: dn0("), std::string::npos) << st.out;
  ASSERT_EQ(Run({"mv", "/d/a", "/d/b"}).rc, 0);
  EXPECT_EQ(Run({"cat", "/d/b"}).out, "hello");
  ASSERT_EQ(Run({"setrep", "3", "/d/b"}).rc, 0);
  ASSERT_EQ(Run({"rm", "/d/b"}).rc, 0);
  Ran gone = Run({"stat", "/d/b"});
  EXPECT_EQ(gone.rc, 1);
  EXPECT_NE(gone.err.find("/d/b"), std::string::npos);
}

// Numbers are whole, in range and nothing else; the error names the argument (issue 18, B4).
TEST_F(DfsCliTest, NumbersAreChecked) {
  ASSERT_TRUE(WriteStringToFile(Local("a"), "hello").ok());
  ASSERT_EQ(Run({"put", Local("a"), "/a"}).rc, 0);
  for (const char* bad : {" 3", "+3", "3x", "0", "513", "-1", "4294967299", ""}) {
    Ran r = Run({"setrep", bad, "/a"});
    EXPECT_EQ(r.rc, 2) << "'" << bad << "'";
    EXPECT_NE(r.err.find("setrep: R "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(std::string("'") + bad + "'"), std::string::npos) << r.err;
  }
  for (const char* bad : {"4294967299", "-1", "513"}) {
    Ran r = Run({"put", Local("a"), "/b", "--replication", bad});
    EXPECT_EQ(r.rc, 2) << "'" << bad << "'";
    EXPECT_NE(r.err.find("--replication"), std::string::npos) << r.err;
  }
  Ran block = Run({"put", Local("a"), "/b", "--block_size", "1 "});
  EXPECT_EQ(block.rc, 2);
  EXPECT_NE(block.err.find("--block_size"), std::string::npos) << block.err;
  EXPECT_EQ(Run({"stat", "/b"}).rc, 1);  // nothing was written
}

TEST_F(DfsCliTest, FsckAndDatanodes) {
  Ran ok = Run({"fsck"});
  EXPECT_EQ(ok.rc, 0) << ok.err;
  EXPECT_NE(ok.out.find("status: HEALTHY"), std::string::npos) << ok.out;
  {
    std::lock_guard<std::mutex> l(nn_->mu());
    nn_->missing.emplace_back(7, "/x/lost");
  }
  Ran bad = Run({"fsck"});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.out.find("missing block 7 /x/lost"), std::string::npos) << bad.out;
  EXPECT_EQ(Run({"fsck", "/y"}).rc, 0);  // nothing missing under /y
  Ran dns = Run({"datanodes"});
  ASSERT_EQ(dns.rc, 0) << dns.err;
  for (const char* id : {"dn0", "dn1", "dn2"}) EXPECT_NE(dns.out.find(id), std::string::npos) << dns.out;
}

TEST_F(DfsCliTest, UsageAndHelp) {
  EXPECT_EQ(Run({"--help"}).rc, 0);
  for (const char* cmd : {"put", "get", "cat", "ls", "rm", "mv", "mkdir", "stat", "setrep", "fsck", "datanodes"}) {
    Ran h = Run({cmd, "--help"});
    EXPECT_EQ(h.rc, 0) << cmd;
    EXPECT_NE(h.out.find("Usage: sawmill dfs"), std::string::npos) << cmd;
  }
  EXPECT_EQ(Run({"frobnicate"}).rc, 2);
  EXPECT_EQ(Run({"put", "only-one"}).rc, 2);
  EXPECT_EQ(Run({"ls", "/", "--bogus", "1"}).rc, 2);
  Ran no_cluster = Run({"ls", "/", "--cluster", dir_ + "/nowhere"});
  EXPECT_EQ(no_cluster.rc, 1);
  EXPECT_NE(no_cluster.err.find("cluster.json"), std::string::npos) << no_cluster.err;
}

}  // namespace
}  // namespace sawmill::dfs
