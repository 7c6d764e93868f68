// Versioned datasets (docs/datasets.md): <root>/datasets/<name>/<version>/ are immutable job
// outputs (versions numbered from 1, 8 digits); which one is `current` is the latest entry of an
// append-only promotion log <root>/datasets/<name>/_promotions/<seq>, so promote and rollback
// are one atomic file creation and a reader sees the old or the new version, never a mix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sawmill::datasets {

bool IsDatasetPath(const std::string& path);  // "dataset:NAME[@VERSION]"
// Names: [A-Za-z0-9_.-]+, not starting with '.' or '_'.
Status ValidateName(const std::string& name);

std::string DatasetDir(const std::string& root, const std::string& name);
std::string VersionName(uint64_t version);  // 8 digits

struct VersionInfo {
  uint64_t version = 0;
  std::string path;
  bool complete = false;  // has a _MANIFEST (a committed job output)
};

// Versions in order (empty when the dataset has none).
Result<std::vector<VersionInfo>> ListVersions(const std::string& root, const std::string& name);
Result<std::vector<std::string>> ListDatasets(const std::string& root);
// The version `current` names (0: never promoted).
Result<uint64_t> Current(const std::string& root, const std::string& name);
// Every promotion, oldest first (the versions `current` has named).
Result<std::vector<uint64_t>> Promotions(const std::string& root, const std::string& name);

// Where a job writing `dataset:NAME` puts its output: the next version's directory, reserved
// (`_reserved/<version>`) so that no other run chooses it, even before the directory exists.
Result<std::string> NewVersionPath(const std::string& root, const std::string& name);
// The directory `dataset:NAME[@VERSION]` reads: the given version, else `current`, else (never
// promoted) the latest complete version. kNotFound when there is none.
Result<std::string> ResolveForRead(const std::string& root, const std::string& spec);

// Makes `version` current. kNotFound for a version that does not exist, kFailedPrecondition-like
// kInvalidArgument for one without a _MANIFEST (incomplete).
Status Promote(const std::string& root, const std::string& name, uint64_t version);
// Makes current the version that was current before the latest promotion; returns it.
Result<uint64_t> Rollback(const std::string& root, const std::string& name);

// Deletes every version but `current` and the `keep` newest complete ones (incomplete versions
// older than those too); returns the deleted versions.
Result<std::vector<uint64_t>> Gc(const std::string& root, const std::string& name, size_t keep);

// A key's values in a sorted dataset version, found through the partitioner (hash or range) and
// the part's block index, without scanning: `blocks_read` counts the data blocks read.
struct Lookup {
  std::vector<std::string> values;
  std::string part;
  uint64_t blocks_read = 0;
};
Result<Lookup> Get(const std::string& version_dir, std::string_view key);

// What changed between two versions sorted by key: keys only in `to` (added), only in `from`
// (removed), and in both with other values (changed), with up to `examples` of each kind.
// Versions partitioned alike are compared part by part; others (another reducer count, hash
// against range) by merging each version's parts. A version of several parts must be
// partitioned by key (hash or range).
struct Diff {
  uint64_t added = 0, removed = 0, changed = 0, unchanged = 0;
  std::vector<std::string> added_keys, removed_keys, changed_keys;
};
Result<Diff> DiffVersions(const std::string& from_dir, const std::string& to_dir, size_t examples);

}  // namespace sawmill::datasets
