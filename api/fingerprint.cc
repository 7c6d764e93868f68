#include "api/fingerprint.h"

#include <cstdio>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/file.h"
#include "common/local_fs.h"
#include "common/sha256.h"
#include "mapreduce/input_split.h"
#include "mapreduce/log_archive.h"
#include "mapreduce/manifest.h"

namespace sawmill {
namespace {

constexpr char kFingerprintName[] = "_FINGERPRINT";

std::string Hex128(XXH128_hash_t h) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

// A file's bytes, hashed in 1 MiB reads (local or dfs:).
Result<std::string> HashFile(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, OpenReadable(path));
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  std::string buf(1 << 20, '\0');
  Status s;
  for (uint64_t at = 0; at < file->size() && s.ok(); at += buf.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), file->size() - at));
    s = file->ReadAt(at, n, buf.data());
    if (s.ok()) XXH3_128bits_update(state, buf.data(), n);
  }
  std::string hex = Hex128(XXH3_128bits_digest(state));
  XXH3_freeState(state);
  if (!s.ok()) return s;
  return hex;
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
  return Hex128(XXH3_128bits(text.data(), text.size()));
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
