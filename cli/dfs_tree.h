// The store commands that walk directory trees (`sawmill dfs put|get` of a directory, `du`,
// `count`), as Hadoop's `hdfs dfs` does: copies in and out of the store, and sizes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "dfs/client/dfs_client.h"

namespace sawmill {

// Copies the local file or directory tree `local` to store path `path`, as `cp -r` does: into
// `path` when it does not exist, into `path`/NAME when it is a directory. Never replaces a file
// (kAlreadyExists names it). `put_file` copies one regular file (fd open for reading).
using PutFileFn = std::function<Status(int fd, const std::string& local, const std::string& path)>;
Status PutTree(dfs::DfsClient& client, const std::string& local, const std::string& path, const PutFileFn& put_file);

// Copies the store file or directory tree `path` to `local`: into `local` when it does not
// exist, into `local`/NAME when it is a directory. Replaces local files, as `cp` does.
Status GetTree(dfs::DfsClient& client, const std::string& path, const std::string& local);

// Totals of a store path: directories (itself included), files, bytes, and bytes times each
// file's replication (the space its replicas take on the datanodes).
struct TreeTotals {
  uint64_t dirs = 0, files = 0, bytes = 0, space = 0;
};
Result<TreeTotals> Totals(dfs::DfsClient& client, const dfs::DfsFileStatus& top);

// The entries of the store directory `dir`, with full paths, sorted.
Result<std::vector<dfs::DfsFileStatus>> Children(dfs::DfsClient& client, const std::string& dir);

// Copies a whole store file to `fd` (`out_name` names it in errors).
Status CopyOut(dfs::DfsClient& client, const std::string& path, int fd, const std::string& out_name);

}  // namespace sawmill
