// The namenode's in-memory namespace: a tree of directories and files, files with block lists
// and leases. Pure logic: no I/O, no clock; NamespaceStore makes it durable.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "dfs/block_info.h"

namespace sawmill::dfs {

// What readers see of an inode.
struct FileStatus {
  std::string path;
  bool is_dir = false;
  int64_t mtime = 0;
  uint64_t size = 0;          // files: sum of block lengths
  uint32_t replication = 0;   // files only
  uint64_t block_size = 0;    // files only
};

// One inode with every field, as a checkpoint stores it.
struct InodeRecord {
  std::string path;
  bool is_dir = false;
  int64_t mtime = 0;
  uint32_t replication = 0;
  uint64_t block_size = 0;
  std::vector<BlockInfo> blocks;
  bool under_construction = false;
  std::string lease_holder;
};

// Sizes of the namespace, for status pages.
struct NamespaceCounts {
  size_t dirs = 0;  // the root included
  size_t files = 0;
  size_t open_files = 0;  // files under construction (counted in files too)
  size_t blocks = 0;      // of every file, open ones included
};

struct OpenFile {
  std::string path;
  std::string lease_holder;
};

// Every mutation validates first and changes nothing on failure. With Mode::kCheck it stops after
// validating, so that NamespaceStore can journal a mutation only once it is known to succeed and
// then apply it with kApply (which then cannot fail). Mutations are deterministic given their
// arguments. Paths must be normalized (NormalizePath); errors name the path.
class Namespace {
 public:
  enum class Mode { kCheck, kApply };
  static constexpr uint32_t kMaxReplication = 512;

  Namespace();
  ~Namespace();
  Namespace(Namespace&&) noexcept;
  Namespace& operator=(Namespace&&) noexcept;

  // Creates `path` and any missing parents; ok if it already is a directory.
  Status Mkdirs(const std::string& path, int64_t mtime, Mode mode = Mode::kApply);
  // Exclusive create of an empty file under construction, leased to `client`.
  Status Create(const std::string& path, const std::string& client, uint32_t replication,
                uint64_t block_size, int64_t mtime, Mode mode = Mode::kApply);
  // Appends block `block_id` (must be next_block_id(), which then advances) to a file under
  // construction leased to `client`.
  Status AddBlock(const std::string& path, const std::string& client, uint64_t block_id,
                  uint64_t generation, Mode mode = Mode::kApply);
  // Sets the final block lengths (one per block) and closes the file.
  Status Complete(const std::string& path, const std::string& client,
                  const std::vector<uint64_t>& block_lengths, int64_t mtime, Mode mode = Mode::kApply);
  // Removes the last block (which must be `block_id`) of a file under construction leased to
  // `client`: its writer gave up on that block's pipeline. Block ids are never reused.
  Status AbandonBlock(const std::string& path, const std::string& client, uint64_t block_id,
                      Mode mode = Mode::kApply);
  // Removes a file under construction (its lease expired).
  Status Abandon(const std::string& path, Mode mode = Mode::kApply);
  // Moves a file or a whole directory tree; `dst` must not exist, its parent must.
  Status Rename(const std::string& src, const std::string& dst, int64_t mtime, Mode mode = Mode::kApply);
  // Removes a file or a directory (a non-empty one only with `recursive`).
  Status Delete(const std::string& path, bool recursive, int64_t mtime, Mode mode = Mode::kApply);
  // The blocks of every file at or under `path`, open files included (what deleting or
  // abandoning it frees, for the block manager to invalidate). Empty if nothing is there.
  std::vector<BlockInfo> BlocksUnder(const std::string& path) const;
  Status SetReplication(const std::string& path, uint32_t replication, Mode mode = Mode::kApply);

  // Readers. Files under construction are invisible here (kNotFound).
  Result<FileStatus> Stat(const std::string& path) const;
  // The children of a directory, sorted by name.
  Result<std::vector<FileStatus>> List(const std::string& path) const;
  Result<std::vector<BlockInfo>> GetBlocks(const std::string& path) const;
  // The blocks of a file under construction that `client` holds the lease of (errors as
  // AddBlock's): what a repeated request of its writer is checked against.
  Result<std::vector<BlockInfo>> LeasedBlocks(const std::string& path, const std::string& client) const;

  // Every block of every file (under construction too), in path order.
  void ForEachBlock(const std::function<void(const std::string& path, const BlockInfo&)>& fn) const;
  // The paths of the files holding the blocks `ids` (ids of no file are left out): one walk
  // that builds a path only for a file holding one of them, ended once all are found. Fsck
  // names only its problem blocks; a path for every block took 22 s at 10 M files.
  std::unordered_map<uint64_t, std::string> PathsOfBlocks(const std::unordered_set<uint64_t>& ids) const;
  std::vector<OpenFile> FilesUnderConstruction() const;
  NamespaceCounts Counts() const;
  uint64_t next_block_id() const { return next_block_id_; }

  // Every inode in pre-order (root first, children by name), and the inverse.
  std::vector<InodeRecord> Snapshot() const;
  static Result<Namespace> FromSnapshot(const std::vector<InodeRecord>& inodes, uint64_t next_block_id);
  // One line per inode with every field, sorted by path, then next_block_id: for comparing.
  std::string Dump() const;

 private:
  // A directory or a file (namespace.cc): each with only its own fields, since a namenode holds
  // millions of them (docs/scale.md).
  struct Inode;
  struct Dir;
  struct File;
  struct InodeDeleter {
    void operator()(Inode* inode) const;
  };
  using InodePtr = std::unique_ptr<Inode, InodeDeleter>;
  // The inode at `path`, or nullptr.
  Inode* Find(const std::string& path) const;
  // The directory that would hold `path`; errors if missing or not a directory.
  Result<Dir*> ParentDir(const std::string& path) const;
  Result<const File*> VisibleFile(const std::string& path) const;
  Result<File*> LeasedFile(const std::string& path, const std::string& client) const;

  std::unique_ptr<Dir> root_;
  uint64_t next_block_id_ = 1;
};

}  // namespace sawmill::dfs
