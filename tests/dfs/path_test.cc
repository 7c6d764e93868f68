// NormalizePath and the path helpers.
#include "dfs/path.h"

#include <gtest/gtest.h>

namespace sawmill::dfs {
namespace {

TEST(NormalizePath, Table) {
  struct Case { std::string in, out; };
  for (const Case& c : std::vector<Case>{{"/", "/"}, {"//", "/"}, {"/a", "/a"}, {"/a/", "/a"}, {"//a//b///", "/a/b"},
                                        {"/a/b/c", "/a/b/c"}, {"/a.b/..c/...", "/a.b/..c/..."}}) {
    auto r = NormalizePath(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.out) << c.in;
  }
}

TEST(NormalizePath, RejectsNamingThePath) {
  std::string nul = std::string("/a") + '\0' + "b";
  for (const std::string& bad : {std::string(""), std::string("a/b"), std::string("/a/../b"), std::string("/a/."),
                                 std::string("/./a"), std::string(".."), nul, "/" + std::string(256, 'x'),
                                 [] { std::string s; for (int i = 0; i < 20; ++i) s += "/" + std::string(250, 'y'); return s; }()}) {
    auto r = NormalizePath(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("path \""), std::string::npos) << r.status().message();
  }
  EXPECT_NE(NormalizePath("/a/../b").status().message().find("/a/../b"), std::string::npos);
  EXPECT_NE(NormalizePath(nul).status().message().find("/a\\0b"), std::string::npos);
  EXPECT_TRUE(NormalizePath("/" + std::string(255, 'x')).ok());
  // The 4096-byte limit applies to the normalized path: redundant slashes do not count.
  EXPECT_EQ(NormalizePath(std::string(5000, '/') + "a").value(), "/a");
}

TEST(PathHelpers, ParentBaseAncestor) {
  EXPECT_EQ(ParentOf("/"), "/");
  EXPECT_EQ(ParentOf("/a"), "/");
  EXPECT_EQ(ParentOf("/a/b"), "/a");
  EXPECT_EQ(BaseName("/"), "");
  EXPECT_EQ(BaseName("/a/b"), "b");
  EXPECT_TRUE(IsAncestor("/", "/a"));
  EXPECT_TRUE(IsAncestor("/a", "/a"));
  EXPECT_TRUE(IsAncestor("/a", "/a/b"));
  EXPECT_FALSE(IsAncestor("/a", "/ab"));
  EXPECT_FALSE(IsAncestor("/a/b", "/a"));
  EXPECT_EQ(SplitPath("/"), std::vector<std::string>{});
  EXPECT_EQ(SplitPath("/a/b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(JoinChild("/", "a"), "/a");
  EXPECT_EQ(JoinChild("/a", "b"), "/a/b");
}

}  // namespace
}  // namespace sawmill::dfs
