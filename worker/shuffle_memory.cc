// The in-memory segment budget, its folder's lifetime, and the default place of that folder.
#include "worker/shuffle_memory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "common/file.h"

namespace sawmill::worker {
namespace {

constexpr char kLock[] = "lock";

// Whether the folder `dir` has a lock file that no live process holds (its worker is gone). A
// folder without one is left alone: the lock appears already held (see Open).
bool Abandoned(const std::string& dir) {
  int fd = ::open(JoinPath(dir, kLock).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

}  // namespace

Status ShuffleMemory::Open() {
  if (dir_.empty() || budget_ == 0) return Status::Ok();
  Close();
  RETURN_IF_ERROR(RemoveAll(dir_));
  RETURN_IF_ERROR(MakeDirs(dir_));
  // Locked under another name first, then renamed: a lock file that others see is always held.
  const std::string taking = JoinPath(dir_, std::string(kLock) + ".tmp");
  int fd = ::open(taking.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", taking, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    Status s = ErrnoError("cannot lock", taking, errno);
    ::close(fd);
    return s;
  }
  Status renamed = Rename(taking, JoinPath(dir_, kLock));
  if (!renamed.ok()) {
    ::close(fd);
    return renamed;
  }
  lock_fd_ = fd;
  {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
  }
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::path(dir_).lexically_normal();
  for (const auto& e : std::filesystem::directory_iterator(self.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || e.path().lexically_normal() == self) continue;
    if (Abandoned(e.path().string())) (void)RemoveAll(e.path().string());
  }
  return Status::Ok();
}

void ShuffleMemory::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!open_) return;
    open_ = false;
  }
  (void)RemoveAll(dir_);
  ::close(lock_fd_);
  lock_fd_ = -1;
}

bool ShuffleMemory::enabled() const {
  std::lock_guard<std::mutex> l(mu_);
  return open_;
}

bool ShuffleMemory::Reserve(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  if (!open_ || bytes > budget_ - used_) return false;
  // The budget is ours, the file system is not: other workers of this machine and other programs
  // fill /dev/shm too, and a container's may be far smaller than the budget. A segment that would
  // leave less than kFreeMarginBytes free goes to disk rather than fail its fetch half written.
  struct statvfs fs;
  if (::statvfs(dir_.c_str(), &fs) != 0 ||
      static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < bytes + kFreeMarginBytes) {
    return false;
  }
  used_ += bytes;
  return true;
}

void ShuffleMemory::Release(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  used_ -= std::min(bytes, used_);
}

uint64_t ShuffleMemory::used() const {
  std::lock_guard<std::mutex> l(mu_);
  return used_;
}

std::string DefaultShuffleMemoryDir(const std::string& worker_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory("/dev/shm", ec)) return "";
  std::string absolute = std::filesystem::absolute(worker_dir, ec).lexically_normal().string();
  if (ec) absolute = worker_dir;
  char name[64];
  std::snprintf(name, sizeof name, "/dev/shm/%s%016zx", ShuffleMemory::kPrefix, std::hash<std::string>()(absolute));
  return name;
}

}  // namespace sawmill::worker
