// The in-memory namespace tree and its operations.
#include "dfs/namenode/namespace.h"

#include <glog/logging.h>

#include <algorithm>
#include <bit>
#include <span>
#include <string_view>

#include "dfs/path.h"

namespace sawmill::dfs {

// Sizes matter here: with glibc's malloc a file is one 96-byte chunk (a name of up to 15
// characters inline, one block inline) plus its 8-byte slot in its directory's vector, and a
// directory one 80-byte chunk plus its children's slots.
struct Namespace::Inode {
  std::string name;  // the root's is empty
  int64_t mtime = 0;
  uint32_t is_dir : 1 = 0;
  uint32_t block_count : 31 = 0;  // files: their blocks
  uint32_t replication = 0;       // files
};

// Children sorted by name, found by binary search (as HDFS's INodeDirectory keeps them).
struct Namespace::Dir : Namespace::Inode {
  std::vector<InodePtr> children;

  Dir() { is_dir = 1; }
  std::vector<InodePtr>::const_iterator LowerBound(std::string_view child) const {
    return std::lower_bound(children.begin(), children.end(), child,
                            [](const InodePtr& c, std::string_view n) { return std::string_view(c->name) < n; });
  }
  Inode* Child(std::string_view child) const {
    auto it = LowerBound(child);
    return it != children.end() && it->get()->name == child ? it->get() : nullptr;
  }
  // False (and `child` is dropped) if the name is taken.
  bool Insert(InodePtr child) {
    auto it = LowerBound(child->name);
    if (it != children.end() && it->get()->name == child->name) return false;
    children.insert(it, std::move(child));
    return true;
  }
  InodePtr Extract(std::string_view child) {
    auto it = LowerBound(child);
    if (it == children.end() || it->get()->name != child) return nullptr;
    auto at = children.begin() + (it - children.begin());
    InodePtr out = std::move(*at);
    children.erase(at);
    return out;
  }
};

struct Namespace::File : Namespace::Inode {
  uint64_t block_size = 0;
  union {
    BlockInfo one;    // block_count <= 1
    BlockInfo* many;  // block_count >= 2: capacity max(2, bit_ceil(block_count)) or more
  };
  std::unique_ptr<std::string> lease_holder;  // set while the file is under construction

  File() : one{} {}
  ~File() {
    if (block_count > 1) delete[] many;
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  bool under_construction() const { return lease_holder != nullptr; }
  std::span<BlockInfo> blocks() { return {block_count > 1 ? many : &one, block_count}; }
  std::span<const BlockInfo> blocks() const { return {block_count > 1 ? many : &one, block_count}; }
  std::vector<BlockInfo> BlockList() const { return {blocks().begin(), blocks().end()}; }
  void PushBlock(const BlockInfo& b) {
    const uint32_t n = block_count;
    if (n == 0) {
      one = b;
    } else {
      if (n == 1 || std::has_single_bit(n)) {
        auto* grown = new BlockInfo[n == 1 ? 2 : size_t{n} * 2];
        std::copy(blocks().begin(), blocks().end(), grown);
        if (n > 1) delete[] many;
        many = grown;
      }
      many[n] = b;
    }
    block_count = n + 1;
  }
  void PopBlock() {
    if (block_count == 2) {
      BlockInfo first = many[0];
      delete[] many;
      one = first;
    }
    block_count = block_count - 1;
  }
  uint64_t size() const {
    uint64_t n = 0;
    for (const auto& b : blocks()) n += b.length;
    return n;
  }
};

void Namespace::InodeDeleter::operator()(Inode* inode) const {
  if (inode->is_dir) {
    delete static_cast<Dir*>(inode);
  } else {
    delete static_cast<File*>(inode);
  }
}

namespace {

using Mode = Namespace::Mode;

Status CheckReplication(const std::string& path, uint32_t replication) {
  if (replication < 1 || replication > Namespace::kMaxReplication) {
    return InvalidArgument(path + ": replication " + std::to_string(replication) + " is not in [1, 512]");
  }
  return Status::Ok();
}

FileStatus StatusOf(std::string path, bool is_dir, int64_t mtime, uint64_t size, uint32_t replication,
                    uint64_t block_size) {
  return FileStatus{std::move(path), is_dir, mtime, size, replication, block_size};
}

}  // namespace

Namespace::Namespace() : root_(std::make_unique<Dir>()) {}
Namespace::~Namespace() = default;
Namespace::Namespace(Namespace&&) noexcept = default;
Namespace& Namespace::operator=(Namespace&&) noexcept = default;

Namespace::Inode* Namespace::Find(const std::string& path) const {
  Inode* node = root_.get();
  for (const std::string& name : SplitPath(path)) {
    if (!node->is_dir) return nullptr;
    node = static_cast<Dir*>(node)->Child(name);
    if (node == nullptr) return nullptr;
  }
  return node;
}

Result<Namespace::Dir*> Namespace::ParentDir(const std::string& path) const {
  if (path == "/") return InvalidArgument("/: the root has no parent");
  std::string parent = ParentOf(path);
  Inode* dir = Find(parent);
  if (dir == nullptr) return NotFound(path + ": parent directory " + parent + " does not exist");
  if (!dir->is_dir) return InvalidArgument(path + ": parent " + parent + " is not a directory");
  return static_cast<Dir*>(dir);
}

Result<const Namespace::File*> Namespace::VisibleFile(const std::string& path) const {
  const Inode* node = Find(path);
  if (node == nullptr || (!node->is_dir && static_cast<const File*>(node)->under_construction())) {
    return NotFound(path + ": no such file");
  }
  if (node->is_dir) return InvalidArgument(path + ": is a directory");
  return static_cast<const File*>(node);
}

Result<Namespace::File*> Namespace::LeasedFile(const std::string& path, const std::string& client) const {
  Inode* node = Find(path);
  if (node == nullptr) return NotFound(path + ": no such file");
  if (node->is_dir) return InvalidArgument(path + ": is a directory");
  File* file = static_cast<File*>(node);
  if (!file->under_construction()) return InvalidArgument(path + ": is not under construction");
  if (*file->lease_holder != client) {
    return InvalidArgument(path + ": lease is held by " + *file->lease_holder + ", not " + client);
  }
  return file;
}

Status Namespace::Mkdirs(const std::string& path, int64_t mtime, Mode mode) {
  // Validate the whole chain before creating anything.
  std::vector<std::string> names = SplitPath(path);
  Dir* node = root_.get();
  size_t existing = 0;
  std::string prefix = "/";
  for (; existing < names.size(); ++existing) {
    Inode* child = node->Child(names[existing]);
    if (child == nullptr) break;
    prefix = JoinChild(prefix, names[existing]);
    if (!child->is_dir) {
      if (existing + 1 == names.size()) return AlreadyExists(path + ": a file exists there");
      return InvalidArgument(path + ": " + prefix + " is a file");
    }
    node = static_cast<Dir*>(child);
  }
  if (mode == Mode::kCheck || existing == names.size()) return Status::Ok();
  node->mtime = mtime;
  for (size_t i = existing; i < names.size(); ++i) {
    auto* child = new Dir();
    child->name = names[i];
    child->mtime = mtime;
    node->Insert(InodePtr(child));
    node = child;
  }
  return Status::Ok();
}

Status Namespace::Create(const std::string& path, const std::string& client, uint32_t replication,
                         uint64_t block_size, int64_t mtime, Mode mode) {
  if (Find(path) != nullptr) return AlreadyExists(path + ": already exists");
  ASSIGN_OR_RETURN(Dir* dir, ParentDir(path));
  RETURN_IF_ERROR(CheckReplication(path, replication));
  if (block_size == 0) return InvalidArgument(path + ": block size must be positive");
  if (client.empty()) return InvalidArgument(path + ": empty client name");
  if (mode == Mode::kCheck) return Status::Ok();
  auto* file = new File();
  InodePtr owned(file);
  file->name = BaseName(path);
  file->mtime = mtime;
  file->replication = replication;
  file->block_size = block_size;
  file->lease_holder = std::make_unique<std::string>(client);
  dir->Insert(std::move(owned));
  dir->mtime = mtime;
  return Status::Ok();
}

Status Namespace::AddBlock(const std::string& path, const std::string& client, uint64_t block_id,
                           uint64_t generation, Mode mode) {
  ASSIGN_OR_RETURN(File* file, LeasedFile(path, client));
  if (block_id != next_block_id_) {
    return InvalidArgument(path + ": block id " + std::to_string(block_id) + " is not the next id " +
                           std::to_string(next_block_id_));
  }
  if (mode == Mode::kCheck) return Status::Ok();
  file->PushBlock({block_id, generation, 0});
  ++next_block_id_;
  return Status::Ok();
}

Status Namespace::Complete(const std::string& path, const std::string& client,
                           const std::vector<uint64_t>& block_lengths, int64_t mtime, Mode mode) {
  ASSIGN_OR_RETURN(File* file, LeasedFile(path, client));
  if (block_lengths.size() != file->block_count) {
    return InvalidArgument(path + ": " + std::to_string(block_lengths.size()) + " block lengths for " +
                           std::to_string(file->block_count) + " blocks");
  }
  for (uint64_t len : block_lengths) {
    if (len > file->block_size) {
      return InvalidArgument(path + ": block length " + std::to_string(len) + " exceeds the block size");
    }
  }
  if (mode == Mode::kCheck) return Status::Ok();
  std::span<BlockInfo> blocks = file->blocks();
  for (size_t i = 0; i < block_lengths.size(); ++i) blocks[i].length = block_lengths[i];
  file->lease_holder.reset();
  file->mtime = mtime;
  return Status::Ok();
}

Status Namespace::AbandonBlock(const std::string& path, const std::string& client, uint64_t block_id,
                               Mode mode) {
  ASSIGN_OR_RETURN(File* file, LeasedFile(path, client));
  if (file->block_count == 0 || file->blocks().back().id != block_id) {
    return InvalidArgument(path + ": block " + std::to_string(block_id) + " is not the file's last block");
  }
  if (mode == Mode::kCheck) return Status::Ok();
  file->PopBlock();
  return Status::Ok();
}

Status Namespace::Abandon(const std::string& path, Mode mode) {
  Inode* file = Find(path);
  if (file == nullptr) return NotFound(path + ": no such file");
  if (file->is_dir || !static_cast<File*>(file)->under_construction()) {
    return InvalidArgument(path + ": is not under construction");
  }
  if (mode == Mode::kCheck) return Status::Ok();
  static_cast<Dir*>(Find(ParentOf(path)))->Extract(BaseName(path));
  return Status::Ok();
}

Status Namespace::Rename(const std::string& src, const std::string& dst, int64_t mtime, Mode mode) {
  if (src == "/") return InvalidArgument("/: cannot rename the root");
  if (Find(src) == nullptr) return NotFound(src + ": no such file or directory");
  if (IsAncestor(src, dst)) return InvalidArgument("cannot move " + src + " into itself (" + dst + ")");
  if (Find(dst) != nullptr) return AlreadyExists(dst + ": rename destination already exists");
  ASSIGN_OR_RETURN(Dir* dst_dir, ParentDir(dst));
  if (mode == Mode::kCheck) return Status::Ok();
  Dir* src_dir = static_cast<Dir*>(Find(ParentOf(src)));
  InodePtr node = src_dir->Extract(BaseName(src));
  CHECK(node != nullptr) << src;
  node->name = BaseName(dst);
  CHECK(dst_dir->Insert(std::move(node))) << dst;
  src_dir->mtime = mtime;
  dst_dir->mtime = mtime;
  return Status::Ok();
}

Status Namespace::Delete(const std::string& path, bool recursive, int64_t mtime, Mode mode) {
  if (path == "/") return InvalidArgument("/: cannot delete the root");
  Inode* node = Find(path);
  if (node == nullptr) return NotFound(path + ": no such file or directory");
  if (node->is_dir && !static_cast<Dir*>(node)->children.empty() && !recursive) {
    return InvalidArgument(path + ": directory is not empty");
  }
  if (mode == Mode::kCheck) return Status::Ok();
  Dir* dir = static_cast<Dir*>(Find(ParentOf(path)));
  dir->Extract(BaseName(path));
  dir->mtime = mtime;
  return Status::Ok();
}

std::vector<BlockInfo> Namespace::BlocksUnder(const std::string& path) const {
  std::vector<BlockInfo> out;
  std::function<void(const Inode*)> walk = [&](const Inode* n) {
    if (!n->is_dir) {
      auto blocks = static_cast<const File*>(n)->blocks();
      out.insert(out.end(), blocks.begin(), blocks.end());
      return;
    }
    for (const auto& child : static_cast<const Dir*>(n)->children) walk(child.get());
  };
  if (const Inode* node = Find(path)) walk(node);
  return out;
}

Status Namespace::SetReplication(const std::string& path, uint32_t replication, Mode mode) {
  ASSIGN_OR_RETURN(const File* file, VisibleFile(path));
  RETURN_IF_ERROR(CheckReplication(path, replication));
  if (mode == Mode::kCheck) return Status::Ok();
  const_cast<File*>(file)->replication = replication;
  return Status::Ok();
}

Result<FileStatus> Namespace::Stat(const std::string& path) const {
  const Inode* node = Find(path);
  if (node == nullptr) return NotFound(path + ": no such file or directory");
  if (node->is_dir) return StatusOf(path, true, node->mtime, 0, 0, 0);
  const File* file = static_cast<const File*>(node);
  if (file->under_construction()) return NotFound(path + ": no such file or directory");
  return StatusOf(path, false, file->mtime, file->size(), file->replication, file->block_size);
}

Result<std::vector<FileStatus>> Namespace::List(const std::string& path) const {
  const Inode* node = Find(path);
  if (node == nullptr || (!node->is_dir && static_cast<const File*>(node)->under_construction())) {
    return NotFound(path + ": no such file or directory");
  }
  if (!node->is_dir) return InvalidArgument(path + ": is not a directory");
  std::vector<FileStatus> out;
  for (const auto& child : static_cast<const Dir*>(node)->children) {
    if (child->is_dir) {
      out.push_back(StatusOf(JoinChild(path, child->name), true, child->mtime, 0, 0, 0));
      continue;
    }
    const File* file = static_cast<const File*>(child.get());
    if (file->under_construction()) continue;
    out.push_back(StatusOf(JoinChild(path, file->name), false, file->mtime, file->size(), file->replication,
                           file->block_size));
  }
  return out;
}

Result<std::vector<BlockInfo>> Namespace::GetBlocks(const std::string& path) const {
  ASSIGN_OR_RETURN(const File* file, VisibleFile(path));
  return file->BlockList();
}

Result<std::vector<BlockInfo>> Namespace::LeasedBlocks(const std::string& path, const std::string& client) const {
  ASSIGN_OR_RETURN(const File* file, LeasedFile(path, client));
  return file->BlockList();
}

std::vector<InodeRecord> Namespace::Snapshot() const {
  std::vector<InodeRecord> out;
  std::function<void(const std::string&, const Inode*)> visit = [&](const std::string& path, const Inode* n) {
    if (!n->is_dir) {
      const File* f = static_cast<const File*>(n);
      out.push_back({path, false, f->mtime, f->replication, f->block_size, f->BlockList(), f->under_construction(),
                     f->under_construction() ? *f->lease_holder : std::string()});
      return;
    }
    out.push_back({path, true, n->mtime, 0, 0, {}, false, ""});
    for (const auto& child : static_cast<const Dir*>(n)->children) visit(JoinChild(path, child->name), child.get());
  };
  visit("/", root_.get());
  return out;
}

void Namespace::ForEachBlock(const std::function<void(const std::string&, const BlockInfo&)>& fn) const {
  std::function<void(const std::string&, const Inode*)> visit = [&](const std::string& path, const Inode* n) {
    if (!n->is_dir) {
      for (const BlockInfo& b : static_cast<const File*>(n)->blocks()) fn(path, b);
      return;
    }
    for (const auto& child : static_cast<const Dir*>(n)->children) visit(JoinChild(path, child->name), child.get());
  };
  visit("/", root_.get());
}

std::unordered_map<uint64_t, std::string> Namespace::PathsOfBlocks(const std::unordered_set<uint64_t>& ids) const {
  std::unordered_map<uint64_t, std::string> out;
  if (ids.empty()) return out;
  std::string path = "/";  // the current directory's path, then a child's appended to it
  // False once every id is found.
  std::function<bool(const Dir*)> visit = [&](const Dir* dir) {
    const size_t len = path.size();
    for (const auto& child : dir->children) {
      path.resize(len);
      if (len > 1) path += '/';
      path += child->name;
      if (child->is_dir) {
        if (!visit(static_cast<const Dir*>(child.get()))) return false;
        continue;
      }
      for (const BlockInfo& b : static_cast<const File*>(child.get())->blocks()) {
        if (ids.contains(b.id) && out.emplace(b.id, path).second && out.size() == ids.size()) return false;
      }
    }
    path.resize(len);
    return true;
  };
  visit(root_.get());
  return out;
}

std::vector<OpenFile> Namespace::FilesUnderConstruction() const {
  std::vector<OpenFile> out;
  std::function<void(const std::string&, const Inode*)> visit = [&](const std::string& path, const Inode* n) {
    if (!n->is_dir) {
      const File* f = static_cast<const File*>(n);
      if (f->under_construction()) out.push_back({path, *f->lease_holder});
      return;
    }
    for (const auto& child : static_cast<const Dir*>(n)->children) visit(JoinChild(path, child->name), child.get());
  };
  visit("/", root_.get());
  return out;
}

NamespaceCounts Namespace::Counts() const {
  NamespaceCounts c;
  std::function<void(const Inode*)> visit = [&](const Inode* n) {
    if (!n->is_dir) {
      ++c.files;
      c.open_files += static_cast<const File*>(n)->under_construction();
      c.blocks += n->block_count;
      return;
    }
    ++c.dirs;
    for (const auto& child : static_cast<const Dir*>(n)->children) visit(child.get());
  };
  visit(root_.get());
  return c;
}

Result<Namespace> Namespace::FromSnapshot(const std::vector<InodeRecord>& inodes, uint64_t next_block_id) {
  Namespace ns;
  ns.next_block_id_ = next_block_id;
  if (inodes.empty() || inodes[0].path != "/" || !inodes[0].is_dir) {
    return Corruption("namespace image does not start with the root directory");
  }
  ns.root_->mtime = inodes[0].mtime;
  for (size_t i = 1; i < inodes.size(); ++i) {
    const InodeRecord& r = inodes[i];
    auto normalized = NormalizePath(r.path);
    if (!normalized.ok() || *normalized != r.path || r.path == "/") {
      return Corruption("namespace image: bad inode path \"" + r.path + "\"");
    }
    Inode* dir = ns.Find(ParentOf(r.path));
    if (dir == nullptr || !dir->is_dir) return Corruption("namespace image: " + r.path + " has no parent directory");
    InodePtr node;
    if (r.is_dir) {
      node.reset(new Dir());
    } else {
      auto* file = new File();
      node.reset(file);
      file->replication = r.replication;
      file->block_size = r.block_size;
      for (const BlockInfo& b : r.blocks) {
        if (b.id >= next_block_id) return Corruption("namespace image: " + r.path + " has block " +
                                                     std::to_string(b.id) + " beyond the next block id");
        file->PushBlock(b);
      }
      if (r.under_construction) file->lease_holder = std::make_unique<std::string>(r.lease_holder);
    }
    node->name = BaseName(r.path);
    node->mtime = r.mtime;
    if (!static_cast<Dir*>(dir)->Insert(std::move(node))) {
      return Corruption("namespace image: " + r.path + " appears twice");
    }
  }
  return ns;
}

std::string Namespace::Dump() const {
  std::string out;
  for (const InodeRecord& r : Snapshot()) {  // pre-order by name is sorted by path component-wise
    out += r.path;
    out += r.is_dir ? " dir" : " file";
    out += " mtime=" + std::to_string(r.mtime);
    if (!r.is_dir) {
      out += " repl=" + std::to_string(r.replication) + " bs=" + std::to_string(r.block_size);
      if (r.under_construction) out += " uc=" + r.lease_holder;
      out += " blocks=";
      for (const BlockInfo& b : r.blocks) {
        out += std::to_string(b.id) + ":" + std::to_string(b.generation) + ":" + std::to_string(b.length) + ",";
      }
    }
    out += "\n";
  }
  out += "next_block_id=" + std::to_string(next_block_id_) + "\n";
  return out;
}

}  // namespace sawmill::dfs
