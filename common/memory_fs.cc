#include "common/memory_fs.h"

#include <chrono>
#include <cstring>

#include "common/file.h"

namespace sawmill {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The keys of a directory's subtree are those that start with this ("/" for the root).
std::string SubtreePrefix(const std::string& dir) { return dir == "/" ? "/" : dir + "/"; }

class StringFile : public ReadableFile {
 public:
  StringFile(std::string path, std::string data) : path_(std::move(path)), data_(std::move(data)) {}
  Status ReadAt(uint64_t offset, size_t n, char* dst) override {
    if (offset > data_.size() || n > data_.size() - offset) {
      return Corruption(path_ + ": read of " + std::to_string(n) + " bytes at " + std::to_string(offset) +
                        " past its end (" + std::to_string(data_.size()) + " bytes)");
    }
    std::memcpy(dst, data_.data() + offset, n);
    return Status::Ok();
  }
  uint64_t size() const override { return data_.size(); }
  const std::string& path() const override { return path_; }

 private:
  std::string path_, data_;
};

}  // namespace

// Its bytes join the namespace at Close (the name was taken at Create).
class MemoryFile : public AppendableFile {
 public:
  MemoryFile(MemoryFileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  Status Append(std::string_view data) override {
    if (closed_) return InvalidArgument(path_ + " is closed");
    data_.append(data);
    return Status::Ok();
  }
  uint64_t size() const override { return data_.size(); }
  Status Close() override {
    if (closed_) return Status::Ok();
    closed_ = true;
    fs_->Closed(path_, std::move(data_));
    return Status::Ok();
  }
  const std::string& path() const override { return path_; }

 private:
  MemoryFileSystem* fs_;
  std::string path_, data_;
  bool closed_ = false;
};

MemoryFileSystem::MemoryFileSystem() { nodes_["/"] = Node{true, false, "", NowMs()}; }

Result<std::string> MemoryFileSystem::Normalize(const std::string& path) {
  if (path.empty() || path[0] != '/') return InvalidArgument("not an absolute path: '" + path + "'");
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    const size_t end = std::min(path.find('/', i), path.size());
    if (end == i) break;
    const std::string_view part(path.data() + i, end - i);
    if (part == "." || part == "..") return InvalidArgument("'" + path + "': . and .. are not allowed");
    out.append("/").append(part);
    i = end;
  }
  return out.empty() ? std::string("/") : out;
}

uint64_t MemoryFileSystem::calls() const {
  std::lock_guard<std::mutex> l(mu_);
  return calls_;
}

Status MemoryFileSystem::MkdirsLocked(const std::string& path) {
  if (path == "/") return Status::Ok();
  for (size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
    const std::string prefix = at == std::string::npos ? path : path.substr(0, at);
    auto [it, added] = nodes_.try_emplace(prefix, Node{true, false, "", NowMs()});
    if (!it->second.dir) return InvalidArgument(prefix + " is a file, not a directory");
    if (at == std::string::npos) return Status::Ok();
  }
}

Result<std::unique_ptr<ReadableFile>> MemoryFileSystem::OpenRead(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_;
  ASSIGN_OR_RETURN(std::string p, Normalize(path));
  auto it = nodes_.find(p);
  if (it == nodes_.end() || it->second.open) return NotFound(p + ": no such file");
  if (it->second.dir) return InvalidArgument(p + " is a directory");
  return std::unique_ptr<ReadableFile>(new StringFile(p, it->second.data));
}

Result<std::unique_ptr<AppendableFile>> MemoryFileSystem::Create(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_;
  ASSIGN_OR_RETURN(std::string p, Normalize(path));
  if (p == "/") return InvalidArgument("cannot create the root as a file");
  if (nodes_.count(p)) return AlreadyExists(p + " exists");
  RETURN_IF_ERROR(MkdirsLocked(Dirname(p)));
  nodes_[p] = Node{false, true, "", NowMs()};
  return std::unique_ptr<AppendableFile>(new MemoryFile(this, p));
}

void MemoryFileSystem::Closed(const std::string& path, std::string data) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(path);
  if (it == nodes_.end() || !it->second.open) return;  // deleted or renamed away while written
  it->second.open = false;
  it->second.data = std::move(data);
  it->second.mtime_ms = NowMs();
}

Status MemoryFileSystem::Rename(const std::string& src, const std::string& dst) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_;
  ASSIGN_OR_RETURN(std::string s, Normalize(src));
  ASSIGN_OR_RETURN(std::string d, Normalize(dst));
  auto it = nodes_.find(s);
  if (it == nodes_.end()) return NotFound("rename " + s + ": no such file or directory");
  if (s == "/" || d == "/") return InvalidArgument("cannot rename the root");
  if (nodes_.count(d)) return AlreadyExists("rename " + s + " to " + d + ": " + d + " exists");
  if (d.rfind(SubtreePrefix(s), 0) == 0) return InvalidArgument("cannot move " + s + " into itself");
  auto parent = nodes_.find(Dirname(d));
  if (parent == nodes_.end()) return NotFound("rename " + s + " to " + d + ": no directory " + Dirname(d));
  if (!parent->second.dir) return InvalidArgument("rename " + s + " to " + d + ": " + Dirname(d) + " is a file");
  const bool dir = it->second.dir;
  auto node = nodes_.extract(it);
  node.key() = d;
  nodes_.insert(std::move(node));
  if (dir) {
    const std::string from = SubtreePrefix(s);
    for (auto c = nodes_.lower_bound(from); c != nodes_.end() && c->first.rfind(from, 0) == 0;) {
      auto next = std::next(c);
      auto moved = nodes_.extract(c);
      moved.key() = d + "/" + moved.key().substr(from.size());
      nodes_.insert(std::move(moved));
      c = next;
    }
  }
  return Status::Ok();
}

Status MemoryFileSystem::Delete(const std::string& path, bool recursive) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_;
  ASSIGN_OR_RETURN(std::string p, Normalize(path));
  auto it = nodes_.find(p);
  if (it == nodes_.end()) return NotFound(p + ": no such file or directory");
  if (it->second.dir) {
    const std::string from = SubtreePrefix(p);
    auto first = nodes_.upper_bound(from);  // after the root's own "/"
    auto last = first;
    while (last != nodes_.end() && last->first.rfind(from, 0) == 0) ++last;
    if (first != last && !recursive) return InvalidArgument("directory not empty: " + p);
    nodes_.erase(first, last);
  }
  if (p != "/") nodes_.erase(p);
  return Status::Ok();
}

Status MemoryFileSystem::Mkdirs(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_;
  ASSIGN_OR_RETURN(std::string p, Normalize(path));
  return MkdirsLocked(p);
}

Result<FileInfo> MemoryFileSystem::Stat(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_;
  ASSIGN_OR_RETURN(std::string p, Normalize(path));
  auto it = nodes_.find(p);
  if (it == nodes_.end()) return NotFound(p + ": no such file or directory");
  FileInfo info;
  info.path = p;
  info.is_dir = it->second.dir;
  info.size = it->second.data.size();
  info.mtime_ms = it->second.mtime_ms;
  return info;
}

Result<std::vector<FileInfo>> MemoryFileSystem::List(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  ++calls_;
  ASSIGN_OR_RETURN(std::string p, Normalize(dir));
  auto it = nodes_.find(p);
  if (it == nodes_.end()) return NotFound(p + ": no such directory");
  if (!it->second.dir) return InvalidArgument(p + " is a file, not a directory");
  std::vector<FileInfo> out;
  const std::string from = SubtreePrefix(p);
  // The root's own key "/" is its subtree prefix: the walk starts after it.
  for (auto c = nodes_.upper_bound(from); c != nodes_.end() && c->first.rfind(from, 0) == 0;) {
    const size_t deeper = c->first.find('/', from.size());
    if (deeper != std::string::npos) {
      // In a child's subtree: skipped at once, past "<child>/" ('0' follows '/'). Not simply the
      // keys after the child: "/d/a-b" sorts between "/d/a" and "/d/a/x".
      c = nodes_.lower_bound(c->first.substr(0, deeper) + "0");
      continue;
    }
    auto next = std::next(c);
    FileInfo info;
    info.path = c->first;
    info.is_dir = c->second.dir;
    info.size = c->second.data.size();
    info.mtime_ms = c->second.mtime_ms;
    out.push_back(std::move(info));
    c = next;
  }
  return out;  // map order: sorted by name
}

Result<std::vector<BlockLocation>> MemoryFileSystem::GetBlockLocations(const std::string& path) {
  ASSIGN_OR_RETURN(FileInfo info, Stat(path));
  if (info.is_dir) return InvalidArgument(info.path + " is a directory");
  return std::vector<BlockLocation>{BlockLocation{0, info.size, {}}};
}

}  // namespace sawmill
