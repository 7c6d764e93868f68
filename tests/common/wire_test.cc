#include <gtest/gtest.h>

#include <sys/stat.h>

#include <random>

#include "common/auth.h"
#include "common/frame.h"
#include "tests/common/temp_dir.h"

namespace sawmill {
namespace {

TEST(Frame, DecodesFramesFedInAnyPieces) {
  std::string wire;
  std::vector<std::pair<std::string, std::string>> frames = {{"h1", "body-one"}, {"", ""}, {std::string(5000, 'x'), ""},
                                                             {"h4", std::string(100000, 'b')}};
  for (const auto& [h, b] : frames) {
    EncodeFrame(h, b.size(), &wire);
    wire += b;
  }
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    FrameDecoder d;
    size_t fed = 0;
    std::vector<std::pair<std::string, std::string>> got;
    std::string header, body;
    bool in_body = false;
    while (got.size() < frames.size()) {
      if (fed < wire.size()) {
        size_t n = std::min<size_t>(wire.size() - fed, 1 + rng() % 3000);
        d.Feed(std::string_view(wire).substr(fed, n));
        fed += n;
      }
      while (true) {
        if (!in_body) {
          auto f = d.Next(&header);
          ASSERT_TRUE(f.ok());
          if (!f->has_value()) break;
          in_body = true;
          body.clear();
        }
        body.append(d.TakeBody(1 << 20));
        if (d.body_remaining() > 0) break;
        got.emplace_back(header, body);
        in_body = false;
      }
    }
    EXPECT_EQ(got, frames);
  }
}

TEST(Frame, RejectsGarbageAndOversizedHeaders) {
  FrameDecoder d;
  d.Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string h;
  EXPECT_FALSE(d.Next(&h).ok());
  FrameDecoder big;
  std::string wire;
  EncodeFrame("", 0, &wire);
  wire[4] = wire[5] = wire[6] = wire[7] = '\x7f';  // header length far over the limit
  big.Feed(wire);
  auto r = big.Next(&h);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exceeds"), std::string::npos);
}

TEST(Auth, MutualHandshakeSucceedsWithTheSameSecret) {
  AuthServer server("s3cret-s3cret-s3cret-s3cret-0123");
  AuthClient client("s3cret-s3cret-s3cret-s3cret-0123");
  auto reply = client.Respond(server.Challenge());
  ASSERT_TRUE(reply.ok());
  auto proof = server.Verify(*reply);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(client.Check(*proof).ok());
}

TEST(Auth, WrongSecretReplayAndTamperingFail) {
  AuthServer server("right-secret-right-secret-012345");
  AuthClient wrong("wrong-secret-wrong-secret-012345");
  auto reply = wrong.Respond(server.Challenge());
  ASSERT_TRUE(reply.ok());
  EXPECT_FALSE(server.Verify(*reply).ok());

  // A reply recorded for one challenge does not answer the next.
  AuthClient right("right-secret-right-secret-012345");
  auto good = right.Respond(server.Challenge());
  ASSERT_TRUE(server.Verify(*good).ok());
  server.Challenge();
  EXPECT_FALSE(server.Verify(*good).ok());

  // A flipped bit anywhere in the reply fails; so does a server proof from a wrong server.
  std::string challenge = server.Challenge();
  auto r = right.Respond(challenge);
  for (size_t i = 0; i < r->size(); i += 7) {
    std::string t = *r;
    t[i] ^= 1;
    AuthServer s2("right-secret-right-secret-012345");
    EXPECT_FALSE(s2.Verify(t).ok()) << i;
  }
  AuthServer impostor("wrong-secret-wrong-secret-012345");
  AuthClient c("right-secret-right-secret-012345");
  auto r2 = c.Respond(impostor.Challenge());
  EXPECT_FALSE(c.Check(std::string(kMacSize, 'x')).ok());
  EXPECT_FALSE(c.Respond("short").ok());
}

TEST(Auth, SecretFilesAreCreatedPrivateAndLoosePermissionsRefused) {
  testing::TempDir dir;
  std::string path = dir.Sub("secret");
  ASSERT_TRUE(WriteNewSecret(path).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto s = LoadSecret(path);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size(), 64u);
  EXPECT_FALSE(WriteNewSecret(path).ok());  // never overwritten
  ::chmod(path.c_str(), 0644);
  auto loose = LoadSecret(path);
  ASSERT_FALSE(loose.ok());
  EXPECT_NE(loose.status().message().find(path), std::string::npos);
  auto missing = LoadSecret(dir.Sub("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
}

}  // namespace
}  // namespace sawmill
