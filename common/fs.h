// The file system seam the runtime reads inputs and writes outputs through: the local disk
// (LocalFileSystem, common/local_fs.h) or the block-replicated store (dfs/client, for `dfs:/`
// paths). Paths are the file system's own (local paths, or absolute store paths).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sawmill {

// Positional reads of a closed file. Not required to be thread-safe: open one per reader.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Exactly n bytes at offset; kCorruption (naming the file) past the end.
  virtual Status ReadAt(uint64_t offset, size_t n, char* dst) = 0;
  virtual uint64_t size() const = 0;
  virtual const std::string& path() const = 0;
};

// A new file being written. Invisible to readers (store) or at its final name only after
// Close() succeeds; destroying it without Close abandons it.
class AppendableFile {
 public:
  virtual ~AppendableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual uint64_t size() const = 0;  // bytes appended so far
  virtual Status Close() = 0;
  virtual const std::string& path() const = 0;
};

struct FileInfo {
  std::string path;
  bool is_dir = false;
  uint64_t size = 0;
  int64_t mtime_ms = 0;
};

// Where a byte range of a file lives, for locality: one entry per block.
struct BlockLocation {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::vector<std::string> hosts;  // placement host names of the good replicas
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<ReadableFile>> OpenRead(const std::string& path) = 0;
  // Exclusive create (kAlreadyExists when the path exists); missing parents are created.
  virtual Result<std::unique_ptr<AppendableFile>> Create(const std::string& path) = 0;
  // Create with `replication` replicas of each block (0: the file system's default). File
  // systems that keep one copy (the local disk, test fakes) ignore it.
  virtual Result<std::unique_ptr<AppendableFile>> CreateReplicated(const std::string& path,
                                                                   uint32_t /*replication*/) {
    return Create(path);
  }
  // Atomic; fails with kAlreadyExists when `dst` exists (never replaces).
  virtual Status Rename(const std::string& src, const std::string& dst) = 0;
  // A file, or a directory (non-empty only with `recursive`); kNotFound when absent.
  virtual Status Delete(const std::string& path, bool recursive) = 0;
  virtual Status Mkdirs(const std::string& path) = 0;
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  // The entries of a directory, sorted by name.
  virtual Result<std::vector<FileInfo>> List(const std::string& dir) = 0;
  // One entry per block (a local file is one block on this host).
  virtual Result<std::vector<BlockLocation>> GetBlockLocations(const std::string& path) = 0;
};

}  // namespace sawmill
