// The local disk seen through a root directory, as the coordinator's store in tests: store
// paths ("/out/x") live under the root, and ".." in a path cannot leave it. Shared by
// tests/scheduler/coordinator_test.cc and tests/fuzz/coordinator_fuzz.cc.
#pragma once

#include <memory>
#include <functional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/local_fs.h"
#include "common/status.h"

namespace sawmill::testing {

class RootedFs : public FileSystem {
 public:
  explicit RootedFs(std::string root) : root_(std::move(root)) {}
  Result<std::unique_ptr<ReadableFile>> OpenRead(const std::string& p) override { return local_.OpenRead(P(p)); }
  Result<std::unique_ptr<AppendableFile>> Create(const std::string& p) override {
    RETURN_IF_ERROR(Before("create", p));
    if (local_.Stat(P(p)).ok()) return AlreadyExists(p + " exists");  // the store never replaces
    return local_.Create(P(p));
  }
  Status Rename(const std::string& s, const std::string& d) override {
    RETURN_IF_ERROR(Before("rename", s));
    return local_.Rename(P(s), P(d));
  }
  Status Delete(const std::string& p, bool recursive) override {
    RETURN_IF_ERROR(Before("delete", p));
    return local_.Delete(P(p), recursive);
  }
  Status Mkdirs(const std::string& p) override {
    RETURN_IF_ERROR(Before("mkdirs", p));
    return local_.Mkdirs(P(p));
  }
  Result<FileInfo> Stat(const std::string& p) override {
    ASSIGN_OR_RETURN(FileInfo info, local_.Stat(P(p)));
    info.path = p;
    return info;
  }
  Result<std::vector<FileInfo>> List(const std::string& dir) override {
    ASSIGN_OR_RETURN(auto list, local_.List(P(dir)));
    for (auto& f : list) {
      if (f.path.rfind(root_, 0) == 0) f.path = f.path.substr(root_.size());
    }
    return list;
  }
  Result<std::vector<BlockLocation>> GetBlockLocations(const std::string& p) override {
    return local_.GetBlockLocations(P(p));
  }

  // Called before every mutation (create, rename, delete, mkdirs) with the path it names: an
  // error fails it, a wait holds it (a slow or dying store). Set before the store is shared.
  std::function<Status(const std::string& op, const std::string& path)> before_mutation;

 private:
  // Store paths are absolute; anything else (or "..", which a fuzzed request may hold) still
  // lands under the root.
  std::string P(const std::string& p) const {
    std::string clean = p;
    for (size_t at; (at = clean.find("..")) != std::string::npos;) clean.replace(at, 2, "__");
    return root_ + (clean.rfind('/', 0) == 0 ? "" : "/") + clean;
  }
  Status Before(const char* op, const std::string& p) { return before_mutation ? before_mutation(op, p) : Status::Ok(); }
  std::string root_;
  LocalFileSystem local_;
};

}  // namespace sawmill::testing
