// Messages between a worker and a warm executor (mapreduce/executor_channel.h).
#include "mapreduce/executor_channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sawmill {
namespace {

// Reads exactly `n` bytes; the count read before an end of file or error is in *got.
Status ReadFull(int fd, char* p, size_t n, size_t* got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = ::read(fd, p + *got, n - *got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return IOError(std::string("executor channel read: ") + std::strerror(errno));
    if (r == 0) return Status(StatusCode::kUnavailable, "executor channel closed");
    *got += static_cast<size_t>(r);
  }
  return Status::Ok();
}

}  // namespace

Status SendExecutorMessage(int fd, std::string_view bytes) {
  if (bytes.size() > kMaxExecutorMessage)
    return InvalidArgument("executor message of " + std::to_string(bytes.size()) + " bytes");
  std::string out(4, '\0');
  uint32_t n = static_cast<uint32_t>(bytes.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.append(bytes);
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t w = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return IOError(std::string("executor channel write: ") + std::strerror(errno));
    sent += static_cast<size_t>(w);
  }
  return Status::Ok();
}

Result<std::string> ReceiveExecutorMessage(int fd) {
  char len[4];
  size_t got = 0;
  Status s = ReadFull(fd, len, 4, &got);
  if (!s.ok()) return got == 0 ? s : IOError("executor channel closed within a message");
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n |= static_cast<uint32_t>(static_cast<unsigned char>(len[i])) << (8 * i);
  if (n > kMaxExecutorMessage)
    return InvalidArgument("executor message of " + std::to_string(n) + " bytes");
  std::string out(n, '\0');
  s = ReadFull(fd, out.data(), n, &got);
  if (!s.ok())
    return s.code() == StatusCode::kUnavailable
               ? IOError("executor channel closed within a message")
               : s;
  return out;
}

}  // namespace sawmill
