#include "common/auth.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

// OpenSSL's one-shot SHA-256 functions: the EVP interfaces (HMAC, RAND_bytes) load the library's
// configuration and providers on first use, ~2.5 ms of every process that authenticates once
// (each CLI command, job client, executor and master). SHA-256 itself is the same code.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/file.h"

namespace sawmill {
namespace {

std::string Proof(std::string_view secret, std::string_view role, std::string_view a, std::string_view b) {
  std::string msg;
  msg.reserve(role.size() + a.size() + b.size());
  msg.append(role).append(a).append(b);
  return HmacSha256(secret, msg);
}

Status AuthFailed() { return InvalidArgument("authentication failed: the peer does not hold the cluster secret"); }

}  // namespace

std::string RandomNonce() {
  std::string n(kNonceSize, '\0');
  size_t got = 0;
  while (got < n.size()) {
    // The kernel's CSPRNG; blocks only until it is seeded at boot.
    ssize_t r = ::getrandom(n.data() + got, n.size() - got, 0);
    if (r < 0 && errno == EINTR) continue;
    // Without randomness a replayed proof could pass: refuse to run rather than weaken auth.
    if (r <= 0) std::abort();
    got += static_cast<size_t>(r);
  }
  return n;
}

// HMAC (RFC 2104) over SHA-256: H((K ^ opad) || H((K ^ ipad) || message)), K the key padded to
// the 64-byte block (hashed first when longer). Checked against RFC 4231's vectors.
std::string HmacSha256(std::string_view key, std::string_view message) {
  constexpr size_t kBlock = SHA256_CBLOCK;
  unsigned char k[kBlock] = {};
  if (key.size() > kBlock) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), k);
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  unsigned char pad[kBlock], inner[SHA256_DIGEST_LENGTH], out[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, pad, kBlock);
  SHA256_Update(&ctx, message.data(), message.size());
  SHA256_Final(inner, &ctx);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, pad, kBlock);
  SHA256_Update(&ctx, inner, sizeof inner);
  SHA256_Final(out, &ctx);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

bool MacEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

const std::string& AuthServer::Challenge() {
  nonce_ = RandomNonce();
  return nonce_;
}

Result<std::string> AuthServer::Verify(std::string_view reply) {
  if (nonce_.empty() || reply.size() != kNonceSize + kMacSize) return AuthFailed();
  std::string_view client_nonce = reply.substr(0, kNonceSize);
  if (!MacEquals(reply.substr(kNonceSize), Proof(secret_, "client", nonce_, client_nonce))) return AuthFailed();
  std::string proof = Proof(secret_, "server", client_nonce, nonce_);
  nonce_.clear();  // one verification per challenge
  return proof;
}

Result<std::string> AuthClient::Respond(std::string_view challenge) {
  if (challenge.size() != kNonceSize) return InvalidArgument("malformed authentication challenge");
  server_nonce_.assign(challenge);
  nonce_ = RandomNonce();
  return nonce_ + Proof(secret_, "client", server_nonce_, nonce_);
}

Status AuthClient::Check(std::string_view server_proof) const {
  if (nonce_.empty() || !MacEquals(server_proof, Proof(secret_, "server", nonce_, server_nonce_))) {
    return AuthFailed();
  }
  return Status::Ok();
}

std::string RandomHex(size_t bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string raw, hex;
  while (raw.size() < bytes) raw += RandomNonce();
  raw.resize(bytes);
  for (unsigned char c : raw) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  return hex;
}

Status WriteNewSecret(const std::string& path) {
  std::string hex = RandomHex(kNonceSize) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create secret", path, errno);
  bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return ErrnoError("cannot write secret", path, err);
  return Status::Ok();
}

Result<std::string> LoadSecret(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot read secret", path, errno);
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    return InvalidArgument("secret " + path + " is accessible by group or others (chmod 600 it)");
  }
  std::string s;
  RETURN_IF_ERROR(ReadFileToString(path, &s));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.size() < 32) return InvalidArgument("secret " + path + " is too short");
  return s;
}

}  // namespace sawmill
