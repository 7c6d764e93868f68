#include "common/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <linux/fs.h>

namespace sawmill {

WritableFile::WritableFile(std::string path, int fd, size_t buffer_bytes)
    : path_(std::move(path)), fd_(fd), cap_(buffer_bytes) {
  buf_.reserve(cap_);
}

WritableFile::~WritableFile() { (void)Close(); }

Result<std::unique_ptr<WritableFile>> WritableFile::Create(const std::string& path, size_t buffer_bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", path, errno);
  return std::unique_ptr<WritableFile>(new WritableFile(path, fd, buffer_bytes));
}

Status WriteAll(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

// Writes the buffer and then `data` in one writev, without copying `data` into the buffer.
static Status WriteBoth(int fd, std::string_view buffered, std::string_view data, const std::string& path) {
  iovec iov[2] = {{const_cast<char*>(buffered.data()), buffered.size()}, {const_cast<char*>(data.data()), data.size()}};
  iovec* next = iov;
  int count = 2;
  while (count > 0) {
    ssize_t w = ::writev(fd, next, count);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path, errno);
    }
    size_t left = static_cast<size_t>(w);
    while (count > 0 && left >= next->iov_len) {
      left -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + left;
      next->iov_len -= left;
    }
  }
  return Status::Ok();
}

Status WritableFile::Append(std::string_view data) {
  if (fd_ < 0) return IOError("append to closed file " + path_);
  size_ += data.size();
  // Big pieces (a datanode's packets) go straight to the file: copying them into the buffer
  // would cost a pass over the data and save next to no system calls.
  if (data.size() >= cap_ / 2) {
    Status s = WriteBoth(fd_, buf_, data, path_);
    buf_.clear();
    return s;
  }
  if (buf_.size() + data.size() > cap_) RETURN_IF_ERROR(Flush());
  buf_.append(data);
  return Status::Ok();
}

Status WritableFile::Flush() {
  if (buf_.empty()) return Status::Ok();
  Status s = WriteAll(fd_, buf_.data(), buf_.size(), path_);
  buf_.clear();
  return s;
}

Status WritableFile::Sync() {
  RETURN_IF_ERROR(Flush());
  if (::fdatasync(fd_) != 0) return ErrnoError("cannot sync", path_, errno);
  return Status::Ok();
}

Status WritableFile::Close() {
  if (fd_ < 0) return Status::Ok();
  Status s = Flush();
  if (::close(fd_) != 0 && s.ok()) s = ErrnoError("cannot close", path_, errno);
  fd_ = -1;
  return s;
}

Result<std::unique_ptr<RandomAccessFile>> RandomAccessFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("cannot stat", path, err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + " is a directory");
  }
  return std::unique_ptr<RandomAccessFile>(new RandomAccessFile(path, fd, static_cast<uint64_t>(st.st_size)));
}

RandomAccessFile::~RandomAccessFile() { ::close(fd_); }

Result<size_t> RandomAccessFile::ReadSome(uint64_t offset, size_t n, char* dst) const {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path_, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

Status RandomAccessFile::ReadAt(uint64_t offset, size_t n, char* dst) const {
  ASSIGN_OR_RETURN(size_t got, ReadSome(offset, n, dst));
  if (got != n) {
    return Corruption(path_ + ": short read at offset " + std::to_string(offset) + " (wanted " +
                      std::to_string(n) + " bytes, file has " + std::to_string(size_) + ")");
  }
  return Status::Ok();
}

void RandomAccessFile::WillNeed(uint64_t offset, uint64_t n) const {
  ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), POSIX_FADV_WILLNEED);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status ReadFileToString(const std::string& path, std::string* out) {
  ASSIGN_OR_RETURN(auto file, RandomAccessFile::Open(path));
  out->resize(file->size());
  RETURN_IF_ERROR(file->ReadAt(0, out->size(), out->data()));
  // Files under /proc and /sys report size 0 and still have content: read them to the end.
  if (out->empty()) {
    char buf[4096];
    for (uint64_t off = 0;;) {
      ASSIGN_OR_RETURN(size_t n, file->ReadSome(off, sizeof buf, buf));
      if (n == 0) break;
      out->append(buf, n);
      off += n;
    }
  }
  return Status::Ok();
}

Status WriteStringToFile(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  Status s;
  {
    ASSIGN_OR_RETURN(auto f, WritableFile::Create(tmp));
    s = f->Append(data);
    Status closed = f->Close();
    if (s.ok()) s = closed;
  }
  if (s.ok()) s = Rename(tmp, path);
  // A partial tmp file (a full disk) would only hold on to the space that is missing.
  if (!s.ok()) (void)::unlink(tmp.c_str());
  return s;
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec.value() == ENOSPC || ec.value() == EDQUOT) return ErrnoError("cannot create directory", path, ec.value());
  if (ec) return IOError("cannot create directory " + path + ": " + ec.message());
  return Status::Ok();
}

Status RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return IOError("cannot remove " + path + ": " + ec.message());
  return Status::Ok();
}

Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoError("cannot rename " + from + " to", to, errno);
  return Status::Ok();
}

static int Renameat2(const std::string& from, const std::string& to, unsigned flags) {
  return static_cast<int>(::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags));
}

Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (Renameat2(from, to, RENAME_NOREPLACE) != 0) return ErrnoError("cannot rename " + from + " to", to, errno);
  return Status::Ok();
}

Status RenameExchange(const std::string& a, const std::string& b) {
  if (Renameat2(a, b, RENAME_EXCHANGE) != 0) return ErrnoError("cannot exchange " + a + " with", b, errno);
  return Status::Ok();
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ErrnoError("cannot list", dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string r(a);
  if (r.back() != '/') r += '/';
  r += b;
  return r;
}

std::string Dirname(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string Basename(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync", dir, err);
  return Status::Ok();
}

}  // namespace sawmill
