#include "common/local_fs.h"

#include <sys/stat.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "common/file.h"

namespace sawmill {
namespace {

class LocalReadable : public ReadableFile {
 public:
  explicit LocalReadable(std::unique_ptr<RandomAccessFile> f) : f_(std::move(f)) {}
  Status ReadAt(uint64_t offset, size_t n, char* dst) override { return f_->ReadAt(offset, n, dst); }
  uint64_t size() const override { return f_->size(); }
  const std::string& path() const override { return f_->path(); }

 private:
  std::unique_ptr<RandomAccessFile> f_;
};

class LocalAppendable : public AppendableFile {
 public:
  explicit LocalAppendable(std::unique_ptr<WritableFile> f) : f_(std::move(f)) {}
  Status Append(std::string_view data) override { return f_->Append(data); }
  uint64_t size() const override { return f_->Size(); }
  Status Close() override { return f_->Close(); }
  const std::string& path() const override { return f_->path(); }

 private:
  std::unique_ptr<WritableFile> f_;
};

// A file opened on the registered store keeps the store alive: the file talks through it.
// Members in this order: the file goes first.
class StoreReadable : public ReadableFile {
 public:
  StoreReadable(std::shared_ptr<FileSystem> fs, std::unique_ptr<ReadableFile> f) : fs_(std::move(fs)), f_(std::move(f)) {}
  Status ReadAt(uint64_t offset, size_t n, char* dst) override { return f_->ReadAt(offset, n, dst); }
  uint64_t size() const override { return f_->size(); }
  const std::string& path() const override { return f_->path(); }

 private:
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<ReadableFile> f_;
};

class StoreAppendable : public AppendableFile {
 public:
  StoreAppendable(std::shared_ptr<FileSystem> fs, std::unique_ptr<AppendableFile> f)
      : fs_(std::move(fs)), f_(std::move(f)) {}
  Status Append(std::string_view data) override { return f_->Append(data); }
  uint64_t size() const override { return f_->size(); }
  Status Close() override { return f_->Close(); }
  const std::string& path() const override { return f_->path(); }

 private:
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<AppendableFile> f_;
};

// The registered store: one slot for the process, read and replaced under its mutex.
struct DfsRegistry {
  std::mutex mu;
  std::shared_ptr<FileSystem> dfs;  // GUARDED_BY(mu)
};

DfsRegistry& Registry() {
  static DfsRegistry registry;
  return registry;
}

std::shared_ptr<FileSystem> RegisteredDfs() {
  DfsRegistry& r = Registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.dfs;
}

Result<FileInfo> StatLocal(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("no such file or directory: " + path);
    return ErrnoError("stat", path, errno);
  }
  FileInfo info;
  info.path = path;
  info.is_dir = S_ISDIR(st.st_mode);
  info.size = info.is_dir ? 0 : static_cast<uint64_t>(st.st_size);
  info.mtime_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  return info;
}

}  // namespace

Result<std::unique_ptr<ReadableFile>> LocalFileSystem::OpenRead(const std::string& path) {
  ASSIGN_OR_RETURN(auto f, RandomAccessFile::Open(path));
  return std::unique_ptr<ReadableFile>(new LocalReadable(std::move(f)));
}

Result<std::unique_ptr<AppendableFile>> LocalFileSystem::Create(const std::string& path) {
  std::string dir = Dirname(path);
  if (!dir.empty()) RETURN_IF_ERROR(MakeDirs(dir));
  ASSIGN_OR_RETURN(auto f, WritableFile::Create(path));
  return std::unique_ptr<AppendableFile>(new LocalAppendable(std::move(f)));
}

Status LocalFileSystem::Rename(const std::string& src, const std::string& dst) {
  return RenameNoReplace(src, dst);
}

Status LocalFileSystem::Delete(const std::string& path, bool recursive) {
  ASSIGN_OR_RETURN(FileInfo info, StatLocal(path));
  if (info.is_dir && !recursive) {
    ASSIGN_OR_RETURN(auto names, ListDir(path));
    if (!names.empty()) return InvalidArgument("directory not empty: " + path);
  }
  return RemoveAll(path);
}

Status LocalFileSystem::Mkdirs(const std::string& path) { return MakeDirs(path); }

Result<FileInfo> LocalFileSystem::Stat(const std::string& path) { return StatLocal(path); }

Result<std::vector<FileInfo>> LocalFileSystem::List(const std::string& dir) {
  ASSIGN_OR_RETURN(auto names, ListDir(dir));
  std::vector<FileInfo> out;
  for (const auto& n : names) {
    auto info = StatLocal(JoinPath(dir, n));
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) continue;  // removed meanwhile
      return info.status();
    }
    out.push_back(std::move(info).value());
  }
  return out;
}

Result<std::vector<BlockLocation>> LocalFileSystem::GetBlockLocations(const std::string& path) {
  ASSIGN_OR_RETURN(FileInfo info, StatLocal(path));
  return std::vector<BlockLocation>{BlockLocation{0, info.size, {}}};
}

bool IsDfsPath(std::string_view path) { return path.substr(0, kDfsScheme.size()) == kDfsScheme; }

void SetDfs(std::shared_ptr<FileSystem> dfs) {
  DfsRegistry& r = Registry();
  std::shared_ptr<FileSystem> previous;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    previous = std::exchange(r.dfs, std::move(dfs));
  }
  // `previous` may be the last reference: released here, outside the lock.
}
bool DfsRegistered() { return RegisteredDfs() != nullptr; }

LocalFileSystem* LocalFs() {
  static LocalFileSystem fs;
  return &fs;
}

Result<ResolvedPath> ResolvePath(const std::string& path) {
  if (!IsDfsPath(path)) {
    // Aliasing an empty owner: a pointer to the static local file system without a count.
    return ResolvedPath{std::shared_ptr<FileSystem>(std::shared_ptr<FileSystem>(), LocalFs()), path};
  }
  std::shared_ptr<FileSystem> dfs = RegisteredDfs();
  if (!dfs) return InvalidArgument(path + ": a dfs: path needs a cluster (pass --cluster DIR)");
  return ResolvedPath{std::move(dfs), path.substr(kDfsScheme.size())};
}

Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) {
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(path));
  ASSIGN_OR_RETURN(auto f, r.fs->OpenRead(r.path));
  if (!IsDfsPath(path)) return f;
  return std::unique_ptr<ReadableFile>(new StoreReadable(std::move(r.fs), std::move(f)));
}

Result<std::unique_ptr<AppendableFile>> CreateAppendable(const std::string& path, uint32_t replication) {
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(path));
  ASSIGN_OR_RETURN(auto f, replication == 0 ? r.fs->Create(r.path) : r.fs->CreateReplicated(r.path, replication));
  if (!IsDfsPath(path)) return f;
  return std::unique_ptr<AppendableFile>(new StoreAppendable(std::move(r.fs), std::move(f)));
}

Result<bool> FsExists(const std::string& path) {
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(path));
  auto info = r.fs->Stat(r.path);
  if (info.ok()) return true;
  if (info.status().code() == StatusCode::kNotFound) return false;
  return info.status();
}

Status FsMkdirs(const std::string& path) {
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(path));
  return r.fs->Mkdirs(r.path);
}

Status FsRemoveAll(const std::string& path) {
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(path));
  Status s = r.fs->Delete(r.path, /*recursive=*/true);
  return s.code() == StatusCode::kNotFound ? Status::Ok() : s;
}

Status FsRename(const std::string& src, const std::string& dst) {
  if (IsDfsPath(src) != IsDfsPath(dst)) {
    return InvalidArgument("cannot rename " + src + " to " + dst + ": different file systems");
  }
  ASSIGN_OR_RETURN(ResolvedPath a, ResolvePath(src));
  ASSIGN_OR_RETURN(ResolvedPath b, ResolvePath(dst));
  return a.fs->Rename(a.path, b.path);
}

Status FsWriteFile(const std::string& path, std::string_view data) {
  if (!IsDfsPath(path)) return WriteStringToFile(path, data);
  ASSIGN_OR_RETURN(auto f, CreateAppendable(path));
  RETURN_IF_ERROR(f->Append(data));
  return f->Close();
}

Status FsReadFile(const std::string& path, std::string* out) {
  if (!IsDfsPath(path)) return ReadFileToString(path, out);
  ASSIGN_OR_RETURN(auto f, OpenReadable(path));
  out->resize(f->size());
  return f->ReadAt(0, out->size(), out->data());
}

}  // namespace sawmill
