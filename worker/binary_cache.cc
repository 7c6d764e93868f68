// The worker's cache of job binaries (worker/binary_cache.h).
#include "worker/binary_cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fault_point.h"
#include "common/file.h"
#include "common/sha256.h"
#include "worker/launch_checks.h"

namespace sawmill::worker {
namespace {

// Changes when the file is replaced or rewritten; "" when there is none.
std::string Signature(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
}

}  // namespace

BinaryCache::BinaryCache(BinaryCacheOptions options) : options_(std::move(options)) {}

Result<std::string> BinaryCache::Get(const std::string& sha) {
  if (sha.size() != 64 || !SafeName(sha)) return InvalidArgument("bad binary hash '" + sha + "'");
  Entry* entry;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto& e = entries_[sha];
    if (!e) e = std::make_unique<Entry>();
    entry = e.get();
  }
  std::lock_guard<std::mutex> l(entry->mu);
  const std::string path = JoinPath(options_.dir, sha);
  std::string sig = Signature(path);
  if (!sig.empty() && entry->verified == sig) return path;
  if (sig.empty()) {
    RETURN_IF_ERROR(MakeDirs(options_.dir));
    const std::string source = "/sawmill/binaries/" + sha;
    RETURN_IF_ERROR(FaultPoint("worker.binary.fetch", sha));
    ASSIGN_OR_RETURN(auto in, options_.store->OpenRead(source));
    const std::string tmp = path + ".tmp";
    {
      ASSIGN_OR_RETURN(auto out, WritableFile::Create(tmp));
      std::string buf;
      for (uint64_t off = 0; off < in->size();) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(4 << 20, in->size() - off));
        buf.resize(n);
        RETURN_IF_ERROR(in->ReadAt(off, n, buf.data()));
        RETURN_IF_ERROR(out->Append(buf));
        off += n;
      }
      RETURN_IF_ERROR(out->Close());
    }
    if (options_.chmod(tmp.c_str(), 0555) != 0) {
      int err = errno;
      (void)RemoveAll(tmp);
      return IOError("cannot make job binary " + tmp + " executable: chmod: " + std::strerror(err));
    }
    RETURN_IF_ERROR(Rename(tmp, path));
    sig = Signature(path);
  }
  // Checked before every first exec of this file version: the store's copy or the local one
  // may have been replaced by someone, and we run only what was submitted.
  ASSIGN_OR_RETURN(std::string actual, Sha256FileHex(path));
  if (actual != sha) {
    (void)RemoveAll(path);
    return Corruption("job binary dfs:/sawmill/binaries/" + sha + " has SHA-256 " + actual +
                      ": refusing to run a binary that is not the one submitted");
  }
  entry->verified = sig;
  return path;
}

}  // namespace sawmill::worker
