// cluster.json: what `sawmill cluster up` writes is what `sawmill dfs` reads back, a broken
// file is refused with an error naming the file and the field, and a hand-written deployment
// config (no pids, no datanode ids) loads from any path.
#include "common/cluster_config.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "common/file.h"

namespace sawmill {
namespace {

class ClusterConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("cluster_config_test_" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ClusterConfigTest, RoundTrip) {
  ClusterConfig c;
  c.dir = dir_;
  c.secret_file = "secret";
  c.namenode_address = "127.0.0.1:4000";
  c.namenode_http = "127.0.0.1:4001";
  c.namenode_dir = dir_ + "/namenode";
  c.namenode_pid = 1234;
  c.replication = 3;
  c.block_size = 64ull << 20;
  c.hosts.push_back({"h1", dir_ + "/h1", "dn-0000aaaa", "127.0.0.1:5001", 2001, "", 0, ""});
  c.hosts.push_back({"h2", dir_ + "/h2", "dn-0000bbbb", "127.0.0.1:5002", 2002, "", 0, ""});
  ASSERT_TRUE(WriteClusterConfig(c).ok());
  auto back = LoadClusterConfig(dir_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->dir, dir_);
  EXPECT_EQ(back->secret_file, "secret");
  EXPECT_EQ(back->SecretPath(), dir_ + "/secret");
  EXPECT_EQ(back->namenode_address, c.namenode_address);
  EXPECT_EQ(back->namenode_http, c.namenode_http);
  EXPECT_EQ(back->namenode_dir, c.namenode_dir);
  EXPECT_EQ(back->namenode_pid, 1234);
  EXPECT_EQ(back->replication, 3u);
  EXPECT_EQ(back->block_size, 64ull << 20);
  ASSERT_EQ(back->hosts.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back->hosts[i].name, c.hosts[i].name);
    EXPECT_EQ(back->hosts[i].dir, c.hosts[i].dir);
    EXPECT_EQ(back->hosts[i].datanode_id, c.hosts[i].datanode_id);
    EXPECT_EQ(back->hosts[i].datanode_address, c.hosts[i].datanode_address);
    EXPECT_EQ(back->hosts[i].datanode_pid, c.hosts[i].datanode_pid);
  }
  c.secret_file = "/abs/secret";
  EXPECT_EQ(c.SecretPath(), "/abs/secret");
}

TEST_F(ClusterConfigTest, ErrorsNameTheFileAndField) {
  const std::string file = dir_ + "/cluster.json";
  auto missing = LoadClusterConfig(dir_);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(file), std::string::npos);

  ASSERT_TRUE(WriteStringToFile(file, "{not json").ok());
  EXPECT_NE(LoadClusterConfig(dir_).status().message().find(file), std::string::npos);

  ASSERT_TRUE(WriteStringToFile(file, R"({"secret_file":"s","replication":3,"block_size":1,
    "processes":[{"role":"namenode","host":"127.0.0.1","address":"a","http":"h","dir":"d","pid":1},
                 {"role":"datanode","host":"h1","id":"dn-1","dir":"d1","pid":2}]})").ok());
  auto bad = LoadClusterConfig(dir_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(file), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("processes[1].address"), std::string::npos) << bad.status().message();

  ASSERT_TRUE(WriteStringToFile(file, R"({"secret_file":"s","replication":"3","block_size":1,"processes":[]})").ok());
  EXPECT_NE(LoadClusterConfig(dir_).status().message().find("\"replication\""), std::string::npos);
}

// A deployment's config (docs/deploy.md): no pids or ids, any file name, relative paths.
TEST_F(ClusterConfigTest, DeploymentConfigFromAnyPath) {
  const std::string file = dir_ + "/prod.json";
  ASSERT_TRUE(
      WriteStringToFile(file, R"({"secret_file":"secret","replication":2,"block_size":1048576,
    "processes":[
      {"role":"worker","host":"w1","address":"10.0.0.11:7400","dir":"/var/lib/sawmill/w"},
      {"role":"namenode","host":"m","address":"10.0.0.1:7100","http":"10.0.0.1:7101","dir":"nn"},
      {"role":"coordinator","host":"m","address":"10.0.0.1:7200","http":"10.0.0.1:7201","dir":"/c"},
      {"role":"datanode","host":"w1","address":"10.0.0.11:7300","dir":"/var/lib/sawmill"},
      {"role":"datanode","host":"w2","address":"10.0.0.12:7300","dir":"/data"}]})")
          .ok());
  auto c = LoadClusterConfigFile(file);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->dir, dir_);
  EXPECT_EQ(c->SecretPath(), dir_ + "/secret");
  EXPECT_EQ(c->Resolve(c->namenode_dir), dir_ + "/nn");
  EXPECT_EQ(c->Resolve("/c"), "/c");
  EXPECT_EQ(c->Resolve(""), "");
  EXPECT_EQ(c->namenode_pid, 0);
  EXPECT_EQ(c->coordinator_address, "10.0.0.1:7200");
  EXPECT_EQ(c->coordinator_http, "10.0.0.1:7201");
  ASSERT_EQ(c->hosts.size(), 2u);  // the worker listed first joins its host's datanode
  const ClusterConfig::Host* w1 = c->FindHost("w1");
  ASSERT_NE(w1, nullptr);
  EXPECT_EQ(w1->dir, "/var/lib/sawmill");
  EXPECT_EQ(w1->datanode_address, "10.0.0.11:7300");
  EXPECT_EQ(w1->datanode_id, "");
  EXPECT_EQ(w1->datanode_pid, 0);
  EXPECT_EQ(w1->worker_address, "10.0.0.11:7400");
  EXPECT_EQ(w1->worker_dir, "/var/lib/sawmill/w");
  const ClusterConfig::Host* w2 = c->FindHost("w2");
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(w2->worker_address, "");
  EXPECT_EQ(c->FindHost("w3"), nullptr);

  // Written back (as `cluster up` would), the worker keeps its own directory.
  c->dir = dir_;
  ASSERT_TRUE(WriteClusterConfig(*c).ok());
  auto back = LoadClusterConfig(dir_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_NE(back->FindHost("w1"), nullptr);
  EXPECT_EQ(back->FindHost("w1")->worker_dir, "/var/lib/sawmill/w");
}

TEST_F(ClusterConfigTest, DuplicateAndMistypedOptionalFieldsAreRefused) {
  const std::string file = dir_ + "/c.json";
  const std::string head = R"({"secret_file":"s","replication":1,"block_size":1,"processes":[
      {"role":"namenode","host":"m","address":"a:1","http":"a:2","dir":"d"},)";
  ASSERT_TRUE(WriteStringToFile(file, head + R"(
      {"role":"datanode","host":"h1","address":"b:1","dir":"d1"},
      {"role":"datanode","host":"h1","address":"b:2","dir":"d2"}]})")
                  .ok());
  auto dup = LoadClusterConfigFile(file);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("second datanode on host \"h1\""), std::string::npos)
      << dup.status().message();

  ASSERT_TRUE(WriteStringToFile(file, head + R"(
      {"role":"worker","host":"h1","address":"b:1","dir":"w1"},
      {"role":"worker","host":"h1","address":"b:2","dir":"w2"}]})")
                  .ok());
  EXPECT_NE(LoadClusterConfigFile(file).status().message().find("second worker"),
            std::string::npos);

  ASSERT_TRUE(WriteStringToFile(file, head + R"(
      {"role":"datanode","host":"h1","address":"b:1","dir":"d1","pid":"7"}]})")
                  .ok());
  auto mistyped = LoadClusterConfigFile(file);
  ASSERT_FALSE(mistyped.ok());
  EXPECT_NE(mistyped.status().message().find("processes[1].pid"), std::string::npos)
      << mistyped.status().message();
}

}  // namespace
}  // namespace sawmill
