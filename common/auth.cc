#include "common/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

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
  if (RAND_bytes(reinterpret_cast<unsigned char*>(n.data()), static_cast<int>(n.size())) != 1) {
    // Without randomness a replayed proof could pass: refuse to run rather than weaken auth.
    std::abort();
  }
  return n;
}

std::string HmacSha256(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
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

Status WriteNewSecret(const std::string& path) {
  static const char kHex[] = "0123456789abcdef";
  std::string raw = RandomNonce(), hex;
  for (unsigned char c : raw) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  hex.push_back('\n');
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
