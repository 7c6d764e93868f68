// Local files: a buffered append-only writer, a positional reader, and the directory operations
// the runtime's commit protocol needs (atomic rename, exchange, recursive removal).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sawmill {

// Appends to a new file through a user-space buffer. Not thread-safe.
class WritableFile {
 public:
  // Creates (truncating) `path`.
  static Result<std::unique_ptr<WritableFile>> Create(const std::string& path,
                                                      size_t buffer_bytes = 1 << 20);
  ~WritableFile();
  Status Append(std::string_view data);
  Status Append(const void* data, size_t n) { return Append({static_cast<const char*>(data), n}); }
  uint64_t Size() const { return size_; }  // bytes appended so far
  Status Flush();
  Status Sync();   // Flush + fdatasync.
  Status Close();  // Flush + close; idempotent.
  const std::string& path() const { return path_; }

 private:
  WritableFile(std::string path, int fd, size_t buffer_bytes);
  std::string path_;
  int fd_;
  std::string buf_;
  size_t cap_;
  uint64_t size_ = 0;
};

// Positional reads of an existing file; thread-safe.
class RandomAccessFile {
 public:
  static Result<std::unique_ptr<RandomAccessFile>> Open(const std::string& path);
  ~RandomAccessFile();
  // Reads exactly n bytes at offset into dst; kCorruption (naming the file) on a short read.
  Status ReadAt(uint64_t offset, size_t n, char* dst) const;
  // Reads up to n bytes; returns the count (0 at end of file).
  Result<size_t> ReadSome(uint64_t offset, size_t n, char* dst) const;
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Hints that [offset, offset+n) will be read sequentially soon.
  void WillNeed(uint64_t offset, uint64_t n) const;

 private:
  RandomAccessFile(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_;
  uint64_t size_;
};

// write(2) of all n bytes, retrying short writes and EINTR; errors name `path`.
Status WriteAll(int fd, const char* p, size_t n, const std::string& path);

bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);
Result<uint64_t> FileSize(const std::string& path);
Status ReadFileToString(const std::string& path, std::string* out);
Status WriteStringToFile(const std::string& path, std::string_view data);  // atomic via rename
Status MakeDirs(const std::string& path);
// Removes a file or a directory tree; ok if absent.
Status RemoveAll(const std::string& path);
// rename(2): atomic; replaces an existing file but never a non-empty directory.
Status Rename(const std::string& from, const std::string& to);
// renameat2(RENAME_NOREPLACE): fails with kAlreadyExists when `to` exists.
Status RenameNoReplace(const std::string& from, const std::string& to);
// renameat2(RENAME_EXCHANGE): swaps two existing paths atomically.
Status RenameExchange(const std::string& a, const std::string& b);
// fsync(2) of a directory, so that a file renamed into it survives a crash.
Status SyncDirectory(const std::string& dir);
// Sorted names (not paths) in a directory, excluding "." and "..".
Result<std::vector<std::string>> ListDir(const std::string& dir);
std::string JoinPath(std::string_view a, std::string_view b);
std::string Dirname(std::string_view path);
std::string Basename(std::string_view path);

}  // namespace sawmill
