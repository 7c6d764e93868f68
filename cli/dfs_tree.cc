// Tree copies and sizes of the store (cli/dfs_tree.h).
#include "cli/dfs_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <vector>

#include "common/file.h"
#include "dfs/path.h"

namespace sawmill {
namespace {

constexpr size_t kCopyBytes = 256 << 10;

Status PutDir(dfs::DfsClient& client, const std::string& local, const std::string& path, const PutFileFn& put_file) {
  RETURN_IF_ERROR(client.Mkdirs(path));
  std::error_code ec;
  std::vector<std::filesystem::path> names;
  for (const auto& e : std::filesystem::directory_iterator(local, ec)) names.push_back(e.path());
  if (ec) return IOError("cannot list " + local + ": " + ec.message());
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string from = name.string(), to = dfs::JoinChild(path, name.filename().string());
    struct stat st;
    if (::stat(from.c_str(), &st) != 0) return ErrnoError("stat", from, errno);
    if (S_ISDIR(st.st_mode)) {
      RETURN_IF_ERROR(PutDir(client, from, to, put_file));
    } else if (S_ISREG(st.st_mode)) {
      int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return ErrnoError("open", from, errno);
      Status s = put_file(fd, from, to);
      ::close(fd);
      RETURN_IF_ERROR(s);
    } else {
      return InvalidArgument(from + ": not a regular file or directory (a device, socket or pipe is not copied)");
    }
  }
  return Status::Ok();
}

Status GetFile(dfs::DfsClient& client, const std::string& path, const std::string& local) {
  int fd = ::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", local, errno);
  Status s = CopyOut(client, path, fd, local);
  if (::close(fd) != 0 && s.ok()) s = ErrnoError("close", local, errno);
  if (!s.ok()) ::unlink(local.c_str());  // no partial file left
  return s;
}

Status GetDir(dfs::DfsClient& client, const std::string& path, const std::string& local) {
  if (::mkdir(local.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", local, errno);
  ASSIGN_OR_RETURN(auto entries, Children(client, path));
  for (const auto& e : entries) {
    const std::string to = JoinPath(local, dfs::BaseName(e.path));
    RETURN_IF_ERROR(e.is_dir ? GetDir(client, e.path, to) : GetFile(client, e.path, to));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<dfs::DfsFileStatus>> Children(dfs::DfsClient& client, const std::string& dir) {
  ASSIGN_OR_RETURN(auto entries, client.ListFull(dir));
  for (auto& e : entries) {
    if (e.path.empty() || e.path[0] != '/') e.path = dfs::JoinChild(dir, e.path);  // names or full paths
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return entries;
}

Status CopyOut(dfs::DfsClient& client, const std::string& path, int fd, const std::string& out_name) {
  ASSIGN_OR_RETURN(auto file, client.OpenRead(path));
  std::unique_ptr<char[]> buf(new char[kCopyBytes]);
  for (uint64_t off = 0; off < file->size();) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kCopyBytes, file->size() - off));
    RETURN_IF_ERROR(file->ReadAt(off, n, buf.get()));
    RETURN_IF_ERROR(WriteAll(fd, buf.get(), n, out_name));
    off += n;
  }
  return Status::Ok();
}

Status PutTree(dfs::DfsClient& client, const std::string& local, const std::string& path, const PutFileFn& put_file) {
  struct stat st;
  if (::stat(local.c_str(), &st) != 0) return ErrnoError("stat", local, errno);
  std::string to = dfs::StripDfsScheme(path);
  auto there = client.StatFull(to);
  if (there.ok() && there->is_dir) to = dfs::JoinChild(there->path, Basename(local));
  if (S_ISDIR(st.st_mode)) return PutDir(client, local, to, put_file);
  int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", local, errno);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Status s = put_file(fd, local, to);
  ::close(fd);
  return s;
}

Status GetTree(dfs::DfsClient& client, const std::string& path, const std::string& local) {
  // The store path first, so that a missing one leaves nothing behind.
  ASSIGN_OR_RETURN(auto top, client.StatFull(dfs::StripDfsScheme(path)));
  std::string to = local;
  if (IsDirectory(to)) to = JoinPath(to, top.path == "/" ? "" : dfs::BaseName(top.path));
  return top.is_dir ? GetDir(client, top.path, to) : GetFile(client, top.path, to);
}

Result<TreeTotals> Totals(dfs::DfsClient& client, const dfs::DfsFileStatus& top) {
  TreeTotals t;
  if (!top.is_dir) {
    t.files = 1;
    t.bytes = top.size;
    t.space = top.size * top.replication;
    return t;
  }
  t.dirs = 1;
  ASSIGN_OR_RETURN(auto entries, Children(client, top.path));
  for (const auto& e : entries) {
    ASSIGN_OR_RETURN(TreeTotals sub, Totals(client, e));
    t.dirs += sub.dirs;
    t.files += sub.files;
    t.bytes += sub.bytes;
    t.space += sub.space;
  }
  return t;
}

}  // namespace sawmill
