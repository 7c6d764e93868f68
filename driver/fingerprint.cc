#include "driver/fingerprint.h"

#include <algorithm>

#include "common/checksum.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "common/sha256.h"
#include "logs/log_archive.h"
#include "mapreduce/input_split.h"
#include "records/manifest.h"

namespace sawmill {
namespace {

constexpr char kFingerprintName[] = "_FINGERPRINT";

// A file's bytes, hashed in 1 MiB reads (local or dfs:).
Result<std::string> HashFile(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, OpenReadable(path));
  ContentHasher hasher;
  std::string buf(1 << 20, '\0');
  for (uint64_t at = 0; at < file->size(); at += buf.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), file->size() - at));
    RETURN_IF_ERROR(file->ReadAt(at, n, buf.data()));
    hasher.Update(buf.data(), n);
  }
  return hasher.Hex();
}

// A job output (a dataset version) by its manifest's part hashes; anything else by its files'
// bytes.
Result<std::string> InputContent(const std::string& input) {
  std::string manifest_path = JoinPath(input, kManifestName);
  bool has_manifest = false;
  if (!logs::IsLogInput(input)) {
    ASSIGN_OR_RETURN(ResolvedPath r, ResolvePath(input));
    auto info = r.fs->Stat(r.path);
    if (info.ok() && info->is_dir) {
      ASSIGN_OR_RETURN(has_manifest, FsExists(manifest_path));
    }
  }
  std::string out;
  if (has_manifest) {
    ASSIGN_OR_RETURN(Manifest m, ReadManifest(manifest_path));
    for (const auto& p : m.parts) out += p.name + "=" + p.content_hash + ";";
    return out;
  }
  ASSIGN_OR_RETURN(auto files, ExpandInput(input));
  for (const auto& f : files) {
    ASSIGN_OR_RETURN(std::string h, HashFile(f));
    out += Basename(f) + "=" + h + ";";
  }
  return out;
}

}  // namespace

Result<std::string> JobFingerprint(const std::vector<std::string>& inputs, const std::vector<std::string>& args,
                                   std::string* lineage) {
  ASSIGN_OR_RETURN(std::string binary, Sha256FileHex("/proc/self/exe"));
  std::string text = "binary " + binary + "\n";
  for (const auto& a : args) text += "arg " + a + "\n";
  for (const auto& in : inputs) {
    ASSIGN_OR_RETURN(std::string content, InputContent(in));
    text += "input " + in + " " + content + "\n";
  }
  if (lineage) *lineage = text;
  ContentHasher hasher;
  hasher.Update(text);
  return hasher.Hex();
}

std::string ReadVersionLineage(const std::string& version_dir) {
  std::string text;
  return FsReadFile(JoinPath(version_dir, "_LINEAGE"), &text).ok() ? text : "";
}

Status WriteVersionLineage(const std::string& version_dir, const std::string& lineage) {
  return FsWriteFile(JoinPath(version_dir, "_LINEAGE"), lineage);
}

std::string ReadVersionFingerprint(const std::string& version_dir) {
  std::string text;
  if (!FsReadFile(JoinPath(version_dir, kFingerprintName), &text).ok()) return "";
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

Status WriteVersionFingerprint(const std::string& version_dir, const std::string& fingerprint) {
  return FsWriteFile(JoinPath(version_dir, kFingerprintName), fingerprint + "\n");
}

}  // namespace sawmill
