// The in-memory segment budget and the default place of its directory.
#include "worker/shuffle_memory.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>

namespace sawmill::worker {

bool ShuffleMemory::Reserve(uint64_t bytes) {
  if (!enabled()) return false;
  std::lock_guard<std::mutex> l(mu_);
  if (bytes > budget_ - used_) return false;
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
  std::snprintf(name, sizeof name, "/dev/shm/sawmill-shuffle-%016zx", std::hash<std::string>()(absolute));
  return name;
}

}  // namespace sawmill::worker
