// cluster.json: what `sawmill cluster up` writes is what `sawmill dfs` reads back, and a broken
// file is refused with an error naming the file and the field.
#include "cli/cluster_config.h"

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
  c.hosts.push_back({"h1", dir_ + "/h1", "dn-0000aaaa", "127.0.0.1:5001", 2001, "", 0});
  c.hosts.push_back({"h2", dir_ + "/h2", "dn-0000bbbb", "127.0.0.1:5002", 2002, "", 0});
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

}  // namespace
}  // namespace sawmill
