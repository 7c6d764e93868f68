#include "common/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

// The one-shot SHA-256 functions, not EVP, whose first use costs ms of provider loading
// (common/auth.cc).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "common/fs.h"

namespace sawmill {
namespace {

static_assert(sizeof(SHA256_CTX) <= 128 && alignof(SHA256_CTX) <= 8);

std::string Hex(const unsigned char* digest, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < len; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 15];
  }
  return hex;
}

}  // namespace

Sha256Stream::Sha256Stream() { SHA256_Init(reinterpret_cast<SHA256_CTX*>(ctx_.data())); }

void Sha256Stream::Update(std::string_view bytes) {
  SHA256_Update(reinterpret_cast<SHA256_CTX*>(ctx_.data()), bytes.data(), bytes.size());
}

std::string Sha256Stream::FinishHex() {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, reinterpret_cast<SHA256_CTX*>(ctx_.data()));
  return Hex(digest, sizeof digest);
}

Result<std::string> Sha256FileHex(FileSystem& fs, const std::string& path) {
  ASSIGN_OR_RETURN(auto file, fs.OpenRead(path));
  Sha256Stream sha;
  std::string buf;
  for (uint64_t off = 0; off < file->size();) {
    buf.resize(static_cast<size_t>(std::min<uint64_t>(file->size() - off, 1 << 20)));
    RETURN_IF_ERROR(file->ReadAt(off, buf.size(), buf.data()));
    sha.Update(buf);
    off += buf.size();
  }
  return sha.FinishHex();
}

Result<std::string> Sha256FileHex(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IOError(path + ": open: " + std::strerror(errno));
  Sha256Stream sha;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return IOError(path + ": read: " + std::strerror(e));
    }
    if (n == 0) break;
    sha.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return sha.FinishHex();
}

}  // namespace sawmill
