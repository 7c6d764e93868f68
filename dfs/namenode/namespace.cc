// The in-memory namespace tree and its operations.
#include "dfs/namenode/namespace.h"

#include <glog/logging.h>

#include "dfs/path.h"

namespace sawmill::dfs {

struct Namespace::Inode {
  bool is_dir = false;
  int64_t mtime = 0;
  std::map<std::string, std::unique_ptr<Inode>> children;  // directories
  uint32_t replication = 0;                                 // files, as are the fields below
  uint64_t block_size = 0;
  std::vector<BlockInfo> blocks;
  bool under_construction = false;
  std::string lease_holder;

  uint64_t size() const {
    uint64_t n = 0;
    for (const auto& b : blocks) n += b.length;
    return n;
  }
};

namespace {

using Mode = Namespace::Mode;

Status CheckReplication(const std::string& path, uint32_t replication) {
  if (replication < 1 || replication > Namespace::kMaxReplication) {
    return InvalidArgument(path + ": replication " + std::to_string(replication) + " is not in [1, 512]");
  }
  return Status::Ok();
}

}  // namespace

Namespace::Namespace() : root_(std::make_unique<Inode>()) { root_->is_dir = true; }
Namespace::~Namespace() = default;
Namespace::Namespace(Namespace&&) noexcept = default;
Namespace& Namespace::operator=(Namespace&&) noexcept = default;

Namespace::Inode* Namespace::Find(const std::string& path) const {
  Inode* node = root_.get();
  for (const std::string& name : SplitPath(path)) {
    if (!node->is_dir) return nullptr;
    auto it = node->children.find(name);
    if (it == node->children.end()) return nullptr;
    node = it->second.get();
  }
  return node;
}

Result<Namespace::Inode*> Namespace::ParentDir(const std::string& path) const {
  if (path == "/") return InvalidArgument("/: the root has no parent");
  std::string parent = ParentOf(path);
  Inode* dir = Find(parent);
  if (dir == nullptr) return NotFound(path + ": parent directory " + parent + " does not exist");
  if (!dir->is_dir) return InvalidArgument(path + ": parent " + parent + " is not a directory");
  return dir;
}

Result<const Namespace::Inode*> Namespace::VisibleFile(const std::string& path) const {
  const Inode* node = Find(path);
  if (node == nullptr || (!node->is_dir && node->under_construction)) return NotFound(path + ": no such file");
  if (node->is_dir) return InvalidArgument(path + ": is a directory");
  return node;
}

Result<Namespace::Inode*> Namespace::LeasedFile(const std::string& path, const std::string& client) const {
  Inode* node = Find(path);
  if (node == nullptr) return NotFound(path + ": no such file");
  if (node->is_dir) return InvalidArgument(path + ": is a directory");
  if (!node->under_construction) return InvalidArgument(path + ": is not under construction");
  if (node->lease_holder != client) {
    return InvalidArgument(path + ": lease is held by " + node->lease_holder + ", not " + client);
  }
  return node;
}

Status Namespace::Mkdirs(const std::string& path, int64_t mtime, Mode mode) {
  // Validate the whole chain before creating anything.
  std::vector<std::string> names = SplitPath(path);
  Inode* node = root_.get();
  size_t existing = 0;
  std::string prefix = "/";
  for (; existing < names.size(); ++existing) {
    auto it = node->children.find(names[existing]);
    if (it == node->children.end()) break;
    prefix = JoinChild(prefix, names[existing]);
    if (!it->second->is_dir) {
      if (existing + 1 == names.size()) return AlreadyExists(path + ": a file exists there");
      return InvalidArgument(path + ": " + prefix + " is a file");
    }
    node = it->second.get();
  }
  if (mode == Mode::kCheck || existing == names.size()) return Status::Ok();
  node->mtime = mtime;
  for (size_t i = existing; i < names.size(); ++i) {
    auto child = std::make_unique<Inode>();
    child->is_dir = true;
    child->mtime = mtime;
    Inode* next = child.get();
    node->children.emplace(names[i], std::move(child));
    node = next;
  }
  return Status::Ok();
}

Status Namespace::Create(const std::string& path, const std::string& client, uint32_t replication,
                         uint64_t block_size, int64_t mtime, Mode mode) {
  if (Find(path) != nullptr) return AlreadyExists(path + ": already exists");
  ASSIGN_OR_RETURN(Inode* dir, ParentDir(path));
  RETURN_IF_ERROR(CheckReplication(path, replication));
  if (block_size == 0) return InvalidArgument(path + ": block size must be positive");
  if (client.empty()) return InvalidArgument(path + ": empty client name");
  if (mode == Mode::kCheck) return Status::Ok();
  auto file = std::make_unique<Inode>();
  file->mtime = mtime;
  file->replication = replication;
  file->block_size = block_size;
  file->under_construction = true;
  file->lease_holder = client;
  dir->children.emplace(BaseName(path), std::move(file));
  dir->mtime = mtime;
  return Status::Ok();
}

Status Namespace::AddBlock(const std::string& path, const std::string& client, uint64_t block_id,
                           uint64_t generation, Mode mode) {
  ASSIGN_OR_RETURN(Inode* file, LeasedFile(path, client));
  if (block_id != next_block_id_) {
    return InvalidArgument(path + ": block id " + std::to_string(block_id) + " is not the next id " +
                           std::to_string(next_block_id_));
  }
  if (mode == Mode::kCheck) return Status::Ok();
  file->blocks.push_back({block_id, generation, 0});
  ++next_block_id_;
  return Status::Ok();
}

Status Namespace::Complete(const std::string& path, const std::string& client,
                           const std::vector<uint64_t>& block_lengths, int64_t mtime, Mode mode) {
  ASSIGN_OR_RETURN(Inode* file, LeasedFile(path, client));
  if (block_lengths.size() != file->blocks.size()) {
    return InvalidArgument(path + ": " + std::to_string(block_lengths.size()) + " block lengths for " +
                           std::to_string(file->blocks.size()) + " blocks");
  }
  for (uint64_t len : block_lengths) {
    if (len > file->block_size) {
      return InvalidArgument(path + ": block length " + std::to_string(len) + " exceeds the block size");
    }
  }
  if (mode == Mode::kCheck) return Status::Ok();
  for (size_t i = 0; i < block_lengths.size(); ++i) file->blocks[i].length = block_lengths[i];
  file->under_construction = false;
  file->lease_holder.clear();
  file->mtime = mtime;
  return Status::Ok();
}

Status Namespace::AbandonBlock(const std::string& path, const std::string& client, uint64_t block_id,
                               Mode mode) {
  ASSIGN_OR_RETURN(Inode* file, LeasedFile(path, client));
  if (file->blocks.empty() || file->blocks.back().id != block_id) {
    return InvalidArgument(path + ": block " + std::to_string(block_id) + " is not the file's last block");
  }
  if (mode == Mode::kCheck) return Status::Ok();
  file->blocks.pop_back();
  return Status::Ok();
}

Status Namespace::Abandon(const std::string& path, Mode mode) {
  Inode* file = Find(path);
  if (file == nullptr) return NotFound(path + ": no such file");
  if (file->is_dir || !file->under_construction) return InvalidArgument(path + ": is not under construction");
  if (mode == Mode::kCheck) return Status::Ok();
  Find(ParentOf(path))->children.erase(BaseName(path));
  return Status::Ok();
}

Status Namespace::Rename(const std::string& src, const std::string& dst, int64_t mtime, Mode mode) {
  if (src == "/") return InvalidArgument("/: cannot rename the root");
  if (Find(src) == nullptr) return NotFound(src + ": no such file or directory");
  if (IsAncestor(src, dst)) return InvalidArgument("cannot move " + src + " into itself (" + dst + ")");
  if (Find(dst) != nullptr) return AlreadyExists(dst + ": rename destination already exists");
  ASSIGN_OR_RETURN(Inode* dst_dir, ParentDir(dst));
  if (mode == Mode::kCheck) return Status::Ok();
  Inode* src_dir = Find(ParentOf(src));
  auto node = src_dir->children.extract(BaseName(src));
  CHECK(!node.empty()) << src;
  node.key() = BaseName(dst);
  dst_dir->children.insert(std::move(node));
  src_dir->mtime = mtime;
  dst_dir->mtime = mtime;
  return Status::Ok();
}

Status Namespace::Delete(const std::string& path, bool recursive, int64_t mtime, Mode mode) {
  if (path == "/") return InvalidArgument("/: cannot delete the root");
  Inode* node = Find(path);
  if (node == nullptr) return NotFound(path + ": no such file or directory");
  if (node->is_dir && !node->children.empty() && !recursive) {
    return InvalidArgument(path + ": directory is not empty");
  }
  if (mode == Mode::kCheck) return Status::Ok();
  Inode* dir = Find(ParentOf(path));
  dir->children.erase(BaseName(path));
  dir->mtime = mtime;
  return Status::Ok();
}

std::vector<BlockInfo> Namespace::BlocksUnder(const std::string& path) const {
  std::vector<BlockInfo> out;
  std::function<void(const Inode*)> walk = [&](const Inode* n) {
    out.insert(out.end(), n->blocks.begin(), n->blocks.end());
    for (const auto& [name, child] : n->children) walk(child.get());
  };
  if (const Inode* node = Find(path)) walk(node);
  return out;
}

Status Namespace::SetReplication(const std::string& path, uint32_t replication, Mode mode) {
  ASSIGN_OR_RETURN(const Inode* file, VisibleFile(path));
  RETURN_IF_ERROR(CheckReplication(path, replication));
  if (mode == Mode::kCheck) return Status::Ok();
  const_cast<Inode*>(file)->replication = replication;
  return Status::Ok();
}

Result<FileStatus> Namespace::Stat(const std::string& path) const {
  const Inode* node = Find(path);
  if (node == nullptr || (!node->is_dir && node->under_construction)) {
    return NotFound(path + ": no such file or directory");
  }
  FileStatus st{path, node->is_dir, node->mtime, node->size(), node->replication, node->block_size};
  return st;
}

Result<std::vector<FileStatus>> Namespace::List(const std::string& path) const {
  const Inode* node = Find(path);
  if (node == nullptr || (!node->is_dir && node->under_construction)) {
    return NotFound(path + ": no such file or directory");
  }
  if (!node->is_dir) return InvalidArgument(path + ": is not a directory");
  std::vector<FileStatus> out;
  for (const auto& [name, child] : node->children) {
    if (!child->is_dir && child->under_construction) continue;
    out.push_back({JoinChild(path, name), child->is_dir, child->mtime, child->size(), child->replication,
                   child->block_size});
  }
  return out;
}

Result<std::vector<BlockInfo>> Namespace::GetBlocks(const std::string& path) const {
  ASSIGN_OR_RETURN(const Inode* file, VisibleFile(path));
  return file->blocks;
}

Result<std::vector<BlockInfo>> Namespace::LeasedBlocks(const std::string& path, const std::string& client) const {
  ASSIGN_OR_RETURN(const Inode* file, LeasedFile(path, client));
  return file->blocks;
}

std::vector<InodeRecord> Namespace::Snapshot() const {
  std::vector<InodeRecord> out;
  std::function<void(const std::string&, const Inode*)> visit = [&](const std::string& path, const Inode* n) {
    out.push_back({path, n->is_dir, n->mtime, n->replication, n->block_size, n->blocks, n->under_construction,
                   n->lease_holder});
    for (const auto& [name, child] : n->children) visit(JoinChild(path, name), child.get());
  };
  visit("/", root_.get());
  return out;
}

void Namespace::ForEachBlock(const std::function<void(const std::string&, const BlockInfo&)>& fn) const {
  std::function<void(const std::string&, const Inode*)> visit = [&](const std::string& path, const Inode* n) {
    for (const BlockInfo& b : n->blocks) fn(path, b);
    for (const auto& [name, child] : n->children) visit(JoinChild(path, name), child.get());
  };
  visit("/", root_.get());
}

std::vector<OpenFile> Namespace::FilesUnderConstruction() const {
  std::vector<OpenFile> out;
  std::function<void(const std::string&, const Inode*)> visit = [&](const std::string& path, const Inode* n) {
    if (!n->is_dir && n->under_construction) out.push_back({path, n->lease_holder});
    for (const auto& [name, child] : n->children) visit(JoinChild(path, name), child.get());
  };
  visit("/", root_.get());
  return out;
}

NamespaceCounts Namespace::Counts() const {
  NamespaceCounts c;
  std::function<void(const Inode*)> visit = [&](const Inode* n) {
    if (n->is_dir) {
      ++c.dirs;
    } else {
      ++c.files;
      c.open_files += n->under_construction;
      c.blocks += n->blocks.size();
    }
    for (const auto& [name, child] : n->children) visit(child.get());
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
    auto node = std::make_unique<Inode>();
    node->is_dir = r.is_dir;
    node->mtime = r.mtime;
    if (!r.is_dir) {
      node->replication = r.replication;
      node->block_size = r.block_size;
      node->blocks = r.blocks;
      node->under_construction = r.under_construction;
      node->lease_holder = r.lease_holder;
      for (const BlockInfo& b : r.blocks) {
        if (b.id >= next_block_id) return Corruption("namespace image: " + r.path + " has block " +
                                                     std::to_string(b.id) + " beyond the next block id");
      }
    }
    if (!dir->children.emplace(BaseName(r.path), std::move(node)).second) {
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
