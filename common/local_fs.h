// The local disk as a FileSystem, and the process-wide resolution of paths: `dfs:/x` names the
// block store registered with SetDfs (a job run with --cluster), any other path the local disk.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/fs.h"

namespace sawmill {

// Local files through common/file.h. Unlike the store, Create replaces an existing file (the
// runtime's spills and work files are rewritten on retry) and Create/Rename/Delete make no
// parent directories other than Create's.
class LocalFileSystem : public FileSystem {
 public:
  Result<std::unique_ptr<ReadableFile>> OpenRead(const std::string& path) override;
  Result<std::unique_ptr<AppendableFile>> Create(const std::string& path) override;
  Status Rename(const std::string& src, const std::string& dst) override;
  Status Delete(const std::string& path, bool recursive) override;
  Status Mkdirs(const std::string& path) override;
  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::vector<FileInfo>> List(const std::string& dir) override;
  Result<std::vector<BlockLocation>> GetBlockLocations(const std::string& path) override;
};

inline constexpr std::string_view kDfsScheme = "dfs:";

bool IsDfsPath(std::string_view path);
// Registers the store `dfs:` paths resolve to (nullptr: none), replacing the one registered.
// The registry holds one reference to it and every ResolvedPath another, so unregistering (or
// replacing) never frees a store while a resolution still uses it: it goes with its last
// holder. `dfs` should own what it needs (its transport, say) for as long as it lives.
// Thread-safe, also against concurrent ResolvePath.
void SetDfs(std::shared_ptr<FileSystem> dfs);
bool DfsRegistered();

struct ResolvedPath {
  // The local disk (never freed), or the store registered when the path was resolved, kept
  // alive by this handle.
  std::shared_ptr<FileSystem> fs;
  std::string path;  // without the scheme
};
// kInvalidArgument for a dfs: path when no store is registered (the message says to pass
// --cluster).
Result<ResolvedPath> ResolvePath(const std::string& path);
LocalFileSystem* LocalFs();

// A dfs: file opened here keeps its store alive as a ResolvedPath does.
Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path);
// `replication`: replicas of each block of a dfs: file (0: the store's default); local files
// ignore it.
Result<std::unique_ptr<AppendableFile>> CreateAppendable(const std::string& path, uint32_t replication = 0);

// The runtime's whole-path operations on either file system (paths resolved as above).
Result<bool> FsExists(const std::string& path);
Status FsMkdirs(const std::string& path);
// Removes a file or a directory tree; ok when absent.
Status FsRemoveAll(const std::string& path);
// Atomic, never replacing `dst`; both paths must be on the same file system.
Status FsRename(const std::string& src, const std::string& dst);
// Writes a whole small file so that readers see all of it or nothing (local: temp + rename;
// store: visible on close). Replaces an existing local file; on the store `path` must not exist.
Status FsWriteFile(const std::string& path, std::string_view data);
Status FsReadFile(const std::string& path, std::string* out);

}  // namespace sawmill
