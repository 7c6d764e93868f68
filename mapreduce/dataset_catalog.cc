#include "mapreduce/dataset_catalog.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/file.h"
#include "common/local_fs.h"
#include "mapreduce/manifest.h"

namespace sawmill::datasets {
namespace {

constexpr char kScheme[] = "dataset:";
constexpr char kPromotions[] = "_promotions";

bool ParseNumber(const std::string& s, size_t digits, uint64_t* v) {
  if (s.size() != digits || s.find_first_not_of("0123456789") != std::string::npos) return false;
  *v = std::stoull(s);
  return true;
}

Result<std::vector<std::string>> ListNames(const std::string& dir) {
  ASSIGN_OR_RETURN(bool exists, FsExists(dir));
  if (!exists) return std::vector<std::string>{};
  ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(dir));
  ASSIGN_OR_RETURN(auto entries, r.fs->List(r.path));
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(Basename(e.path));
  std::sort(names.begin(), names.end());
  return names;
}

std::string PromotionName(uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%012llu", static_cast<unsigned long long>(seq));
  return buf;
}

// Appends a promotion naming `version`: the next sequence number, created atomically (never
// replacing an entry another promote wrote first).
Status AppendPromotion(const std::string& root, const std::string& name, uint64_t version) {
  std::string dir = JoinPath(DatasetDir(root, name), kPromotions);
  RETURN_IF_ERROR(FsMkdirs(dir));
  ASSIGN_OR_RETURN(auto names, ListNames(dir));
  uint64_t next = 1;
  for (const auto& n : names) {
    uint64_t seq;
    if (ParseNumber(n, 12, &seq)) next = std::max(next, seq + 1);
  }
  std::string tmp = JoinPath(dir, ".tmp-" + PromotionName(next));
  (void)FsRemoveAll(tmp);
  RETURN_IF_ERROR(FsWriteFile(tmp, VersionName(version) + "\n"));
  Status s = FsRename(tmp, JoinPath(dir, PromotionName(next)));
  if (!s.ok()) {
    (void)FsRemoveAll(tmp);
    return AlreadyExists("dataset " + name + " was promoted concurrently; run again (" + s.message() + ")");
  }
  return Status::Ok();
}

}  // namespace

bool IsDatasetPath(const std::string& path) { return path.rfind(kScheme, 0) == 0; }

Status ValidateName(const std::string& name) {
  bool ok = !name.empty() && name[0] != '.' && name[0] != '_' && name.size() <= 200;
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  return ok ? Status::Ok() : InvalidArgument("bad dataset name '" + name + "' (letters, digits, _ . -)");
}

std::string DatasetDir(const std::string& root, const std::string& name) {
  return JoinPath(JoinPath(root, "datasets"), name);
}

std::string VersionName(uint64_t version) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08llu", static_cast<unsigned long long>(version));
  return buf;
}

Result<std::vector<VersionInfo>> ListVersions(const std::string& root, const std::string& name) {
  RETURN_IF_ERROR(ValidateName(name));
  std::string dir = DatasetDir(root, name);
  ASSIGN_OR_RETURN(auto names, ListNames(dir));
  std::vector<VersionInfo> out;
  for (const auto& n : names) {
    VersionInfo v;
    if (!ParseNumber(n, 8, &v.version)) continue;
    v.path = JoinPath(dir, n);
    ASSIGN_OR_RETURN(v.complete, FsExists(JoinPath(v.path, kManifestName)));
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::vector<std::string>> ListDatasets(const std::string& root) {
  ASSIGN_OR_RETURN(auto names, ListNames(JoinPath(root, "datasets")));
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (ValidateName(n).ok()) out.push_back(n);
  }
  return out;
}

Result<std::vector<uint64_t>> Promotions(const std::string& root, const std::string& name) {
  RETURN_IF_ERROR(ValidateName(name));
  std::string dir = JoinPath(DatasetDir(root, name), kPromotions);
  ASSIGN_OR_RETURN(auto names, ListNames(dir));
  std::vector<uint64_t> out;
  for (const auto& n : names) {
    uint64_t seq, version;
    if (!ParseNumber(n, 12, &seq)) continue;
    std::string text;
    RETURN_IF_ERROR(FsReadFile(JoinPath(dir, n), &text));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (!ParseNumber(text, 8, &version)) return Corruption(JoinPath(dir, n) + ": not a version");
    out.push_back(version);
  }
  return out;
}

Result<uint64_t> Current(const std::string& root, const std::string& name) {
  ASSIGN_OR_RETURN(auto promotions, Promotions(root, name));
  return promotions.empty() ? 0 : promotions.back();
}

Result<std::string> NewVersionPath(const std::string& root, const std::string& name) {
  ASSIGN_OR_RETURN(auto versions, ListVersions(root, name));
  uint64_t next = versions.empty() ? 1 : versions.back().version + 1;
  RETURN_IF_ERROR(FsMkdirs(DatasetDir(root, name)));
  return JoinPath(DatasetDir(root, name), VersionName(next));
}

Result<std::string> ResolveForRead(const std::string& root, const std::string& spec) {
  std::string name = spec.substr(sizeof(kScheme) - 1);
  std::string version;
  if (size_t at = name.find('@'); at != std::string::npos) {
    version = name.substr(at + 1);
    name = name.substr(0, at);
  }
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(auto versions, ListVersions(root, name));
  uint64_t want = 0;
  if (!version.empty()) {
    if (version.find_first_not_of("0123456789") != std::string::npos || version.size() > 8) {
      return InvalidArgument("bad dataset version '" + version + "' in " + spec);
    }
    want = std::stoull(version);
  } else {
    ASSIGN_OR_RETURN(want, Current(root, name));
    if (want == 0) {
      for (const auto& v : versions) {
        if (v.complete) want = v.version;
      }
    }
  }
  for (const auto& v : versions) {
    if (v.version == want && v.complete) return v.path;
  }
  return NotFound("dataset " + spec + ": no such complete version under " + DatasetDir(root, name));
}

Status Promote(const std::string& root, const std::string& name, uint64_t version) {
  ASSIGN_OR_RETURN(auto versions, ListVersions(root, name));
  for (const auto& v : versions) {
    if (v.version != version) continue;
    if (!v.complete) return InvalidArgument("dataset " + name + " version " + VersionName(version) + " is incomplete (no _MANIFEST)");
    return AppendPromotion(root, name, version);
  }
  return NotFound("dataset " + name + " has no version " + VersionName(version));
}

Result<uint64_t> Rollback(const std::string& root, const std::string& name) {
  ASSIGN_OR_RETURN(auto promotions, Promotions(root, name));
  // The version current before the latest promotion (skipping re-promotions of the same one).
  uint64_t now = promotions.empty() ? 0 : promotions.back();
  for (size_t i = promotions.size(); i-- > 0;) {
    if (promotions[i] != now) {
      RETURN_IF_ERROR(AppendPromotion(root, name, promotions[i]));
      return promotions[i];
    }
  }
  return InvalidArgument("dataset " + name + " has no earlier current version to roll back to");
}

}  // namespace sawmill::datasets
