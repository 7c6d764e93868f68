// A FileSystem held in this process's memory: a whole namespace of directories and files with
// the store's semantics (exclusive create, no-replace rename, recursive delete). For simulations
// that must not pay a disk's path walks for what a namenode on another host would do
// (`sawmill bench coordinator`), and for tests.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/fs.h"

namespace sawmill {

class MemoryFileSystem : public FileSystem {
 public:
  MemoryFileSystem();

  Result<std::unique_ptr<ReadableFile>> OpenRead(const std::string& path) override;
  Result<std::unique_ptr<AppendableFile>> Create(const std::string& path) override;
  Status Rename(const std::string& src, const std::string& dst) override;
  Status Delete(const std::string& path, bool recursive) override;
  Status Mkdirs(const std::string& path) override;
  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::vector<FileInfo>> List(const std::string& dir) override;
  Result<std::vector<BlockLocation>> GetBlockLocations(const std::string& path) override;

  // Calls made so far, of every kind: what a store on another host would have been asked.
  uint64_t calls() const;

  struct Node {
    bool dir = false;
    bool open = false;  // a file being written: its name is taken, it cannot be read yet
    std::string data;
    int64_t mtime_ms = 0;
  };

 private:
  friend class MemoryFile;
  // Under mu_: the normalized absolute path ("/a/b"; "/" for the root), or kInvalidArgument.
  static Result<std::string> Normalize(const std::string& path);
  Status MkdirsLocked(const std::string& path);
  void Closed(const std::string& path, std::string data);

  mutable std::mutex mu_;
  std::map<std::string, Node> nodes_;  // by path: a directory's subtree follows it in order
  uint64_t calls_ = 0;
};

}  // namespace sawmill
