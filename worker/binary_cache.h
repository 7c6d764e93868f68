// The worker's cache of job binaries: each is copied from the store once, kept under its
// SHA-256, and checked against that hash before it is first run (and whenever the file changes).
#pragma once

#include <sys/stat.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/fs.h"
#include "common/status.h"

namespace sawmill::worker {

struct BinaryCacheOptions {
  std::string dir;               // binaries live here (made when first needed), named by SHA-256
  FileSystem* store = nullptr;   // they come from its /sawmill/binaries/<sha256>; not owned
  // Makes a downloaded file executable: ::chmod, or in tests one that fails.
  int (*chmod)(const char* path, mode_t mode) = ::chmod;
};

class BinaryCache {
 public:
  // `options.store` must outlive the cache.
  explicit BinaryCache(BinaryCacheOptions options);

  // The local path of the executable whose SHA-256 is `sha` (64 hex digits), copied from the
  // store if it is not here yet. kCorruption when the bytes do not hash to `sha`, kIOError when
  // the copy cannot be made executable (neither is left behind). Thread-safe: a get waits only
  // for a download or check of the same binary.
  Result<std::string> Get(const std::string& sha);

 private:
  // One binary: its lock is held across its download and hash check.
  struct Entry {
    std::mutex mu;
    std::string verified;  // "size:mtime:ino" of the file last checked; guarded by mu
  };

  const BinaryCacheOptions options_;
  std::mutex mu_;                                         // guards entries_ (not the entries)
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // sha -> entry; never erased
};

}  // namespace sawmill::worker
