// The worker's cache of job binaries: each is copied from the store once, kept under its
// SHA-256, and checked against that hash before it is first run (and whenever the file changes).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/fs.h"
#include "common/status.h"

namespace sawmill::worker {

class BinaryCache {
 public:
  // Binaries live in `dir` (made when first needed) as files named by their SHA-256, and come
  // from `store`'s /sawmill/binaries/<sha256>. `store` is not owned and must outlive the cache.
  BinaryCache(std::string dir, FileSystem* store);

  // The local path of the executable whose SHA-256 is `sha` (64 hex digits), copied from the
  // store if it is not here yet. kCorruption when the bytes do not hash to `sha` (the copy is
  // removed). Thread-safe.
  Result<std::string> Get(const std::string& sha);

 private:
  const std::string dir_;
  FileSystem* const store_;
  std::mutex mu_;
  std::map<std::string, std::string> verified_;  // sha -> "size:mtime:ino" of the checked file
};

}  // namespace sawmill::worker
