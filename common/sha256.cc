#include "common/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

// The one-shot SHA-256 functions, not EVP, whose first use costs ms of provider loading
// (common/auth.cc).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace sawmill {

Result<std::string> Sha256FileHex(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IOError(path + ": open: " + std::strerror(errno));
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
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
    SHA256_Update(&ctx, buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  const unsigned len = sizeof digest;
  SHA256_Final(digest, &ctx);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 15];
  }
  return hex;
}

}  // namespace sawmill
