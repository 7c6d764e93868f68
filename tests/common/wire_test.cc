#include <gtest/gtest.h>

#include <sys/stat.h>

#include <random>

#include "common/auth.h"
#include "common/frame.h"
#include "common/sha256.h"
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

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += {kDigits[c >> 4], kDigits[c & 15]};
  return out;
}

TEST(Auth, HmacSha256MatchesRfc4231) {
  // Test cases 1, 2, 4 (key and data of 25 and 50 bytes), 6 and 7 (131-byte keys, hashed first).
  const std::string key131(131, '\xaa');
  struct Case {
    std::string key, data, mac;
  } cases[] = {
      {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {Unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {key131, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {key131,
       "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be "
       "hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& c : cases) EXPECT_EQ(Hex(HmacSha256(c.key, c.data)), c.mac) << c.data;
}

TEST(Sha256, FileDigestsMatchKnownValues) {
  sawmill::testing::TempDir tmp;
  struct Case {
    std::string bytes, hex;
  } cases[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {std::string(3 << 20, 'a'), "6f850bc94ae6f7de14297c01616c36d712d22864497b28a63b81d776b035e656"},  // 3 reads
  };
  for (const auto& c : cases) {
    auto hex = Sha256FileHex(tmp.Write("f" + std::to_string(c.bytes.size()), c.bytes));
    ASSERT_TRUE(hex.ok()) << hex.status().ToString();
    EXPECT_EQ(*hex, c.hex) << c.bytes.size() << " bytes";
  }
  EXPECT_FALSE(Sha256FileHex(tmp.Sub("missing")).ok());
}

TEST(Auth, NoncesAreFreshAndFullLength) {
  std::string a = RandomNonce(), b = RandomNonce();
  EXPECT_EQ(a.size(), kNonceSize);
  EXPECT_NE(a, b);
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
