// The partition append lock of logs/log_archive.h: a small file renamed into place (a rename
// never replaces, locally or in the store), naming its holder so that a dead one can be told.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "common/auth.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "common/fault_point.h"
#include "logs/log_archive.h"

namespace sawmill::logs {
namespace {

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string Unique() { return std::to_string(::getpid()) + "-" + RandomHex(8); }

// "host=H pid=P since=MS": whether that process is known to be gone (same host, no such pid).
bool HolderIsGone(const std::string& holder) {
  const std::string host = "host=" + HostName() + " pid=";
  if (holder.rfind(host, 0) != 0) return false;
  long pid = std::strtol(holder.c_str() + host.size(), nullptr, 10);
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

Result<std::unique_ptr<PartitionLock>> LockPartition(const std::string& root, const std::string& stream,
                                                     int partition) {
  RETURN_IF_ERROR(ValidateStream(stream, partition));
  const std::string dir = PartitionDir(root, stream, partition);
  RETURN_IF_ERROR(FsMkdirs(dir));
  const std::string path = JoinPath(dir, ".append.lock");
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const std::string holder =
      "host=" + HostName() + " pid=" + std::to_string(::getpid()) + " since=" + std::to_string(now_ms);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::string tmp = JoinPath(dir, ".lock-" + Unique());
    RETURN_IF_ERROR(FsWriteFile(tmp, holder + "\n"));
    if (FsRename(tmp, path).ok()) {
      auto lock = std::unique_ptr<PartitionLock>(new PartitionLock(path, holder));
      RETURN_IF_ERROR(FaultPoint("logs.partition.locked", dir));
      return lock;
    }
    (void)FsRemoveAll(tmp);
    std::string other;
    if (!FsReadFile(path, &other).ok()) continue;  // released meanwhile: try again
    other = Trimmed(other);
    if (attempt == 0 && HolderIsGone(other)) {
      // Move the dead holder's lock aside and check it is still the one judged dead before
      // dropping it: another process may have broken it and taken the lock in between.
      const std::string aside = JoinPath(dir, ".stale-" + Unique());
      if (FsRename(path, aside).ok()) {
        std::string moved;
        if (FsReadFile(aside, &moved).ok() && Trimmed(moved) == other) {
          (void)FsRemoveAll(aside);
          continue;
        }
        (void)FsRename(aside, path);
      }
    }
    return Status(StatusCode::kUnavailable,
                  stream + "/" + std::to_string(partition) + " is being appended to by another process (" + other +
                      "; lock " + path + "). If that process is gone, remove the lock (sawmill dfs rm, or rm for a "
                      "local store) and retry");
  }
  return Status(StatusCode::kUnavailable, "could not take the lock " + path);
}

PartitionLock::~PartitionLock() {
  std::string now;
  if (FsReadFile(path_, &now).ok() && Trimmed(now) == holder_) (void)FsRemoveAll(path_);
}

}  // namespace sawmill::logs
