// Fetched segments kept in memory: a directory on a memory file system (tmpfs, /dev/shm), which
// the reduce attempt's process reads like any segment file, and the byte budget that bounds it.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "common/status.h"

namespace sawmill::worker {

// Thread-safe. Off (every Reserve fails) when the directory is empty, the budget 0, or Open
// failed: segments then all go to the attempt's directory on disk, as files of their own.
class ShuffleMemory {
 public:
  ShuffleMemory(std::string dir, uint64_t budget_bytes) : dir_(std::move(dir)), budget_(budget_bytes) {}
  ~ShuffleMemory() { Close(); }
  ShuffleMemory(const ShuffleMemory&) = delete;
  ShuffleMemory& operator=(const ShuffleMemory&) = delete;

  // Makes the directory afresh (a predecessor's segments are void) and holds a lock in it for as
  // long as it is open. Memory is not files on disk: the folders of workers that died without
  // closing theirs (SIGKILL) are removed here too, those beside dir() whose name starts like
  // kPrefix and whose lock nobody holds. On error, off.
  Status Open();
  // Removes the directory (idempotent).
  void Close();

  bool enabled() const;
  const std::string& dir() const { return dir_; }
  // Takes `bytes` of the budget if they fit in what is left and the directory's file system has
  // room for them and kFreeMarginBytes more.
  bool Reserve(uint64_t bytes);
  void Release(uint64_t bytes);
  uint64_t used() const;

  static constexpr char kPrefix[] = "sawmill-shuffle-";
  static constexpr uint64_t kFreeMarginBytes = 16 << 20;

 private:
  const std::string dir_;
  const uint64_t budget_;
  mutable std::mutex mu_;
  uint64_t used_ = 0;
  bool open_ = false;
  int lock_fd_ = -1;
};

// Where a worker whose directory is `worker_dir` keeps segments in memory by default: a folder of
// /dev/shm named kPrefix and a hash of worker_dir (so that a restarted worker clears what its
// predecessor left), or "" when /dev/shm is not a directory.
std::string DefaultShuffleMemoryDir(const std::string& worker_dir);

}  // namespace sawmill::worker
