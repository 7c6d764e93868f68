// The resumable job output commit (scheduler/job_commit.h).
#include "scheduler/job_commit.h"

#include "common/fault_point.h"
#include "common/file.h"

namespace sawmill::sched {
namespace {

bool Exists(FileSystem& store, const std::string& path) { return store.Stat(path).ok(); }

Status DeleteIfThere(FileSystem& store, const std::string& path) {
  Status s = store.Delete(path, true);
  return s.code() == StatusCode::kNotFound ? Status::Ok() : s;
}

// Replaces `path` (a commit cut off may have written it already).
Status WriteFile(FileSystem& store, const std::string& path, const std::string& data) {
  RETURN_IF_ERROR(DeleteIfThere(store, path));
  ASSIGN_OR_RETURN(auto f, store.Create(path));
  RETURN_IF_ERROR(f->Append(data));
  return f->Close();
}

}  // namespace

Status CommitJobOutput(FileSystem& store, const JobCommit& c) {
  // Where an existing output waits while the new one takes its place.
  const std::string old = c.staging + ".old";
  // Before each store mutation: the chaos harness stops the coordinator at any of them.
  uint64_t step = 0;
  auto point = [&] { return FaultPoint("coordinator.commit.step", step++); };
  if (!Exists(store, c.staging)) {
    // Renamed into place by the commit that was cut off: only the old output may be left.
    if (Exists(store, old)) return DeleteIfThere(store, old);
    if (c.resume && Exists(store, c.output)) return Status::Ok();
    // Otherwise no task wrote a part: the manifest makes the directory.
  }
  RETURN_IF_ERROR(point());
  RETURN_IF_ERROR(DeleteIfThere(store, JoinPath(c.staging, "_temporary")));
  RETURN_IF_ERROR(point());
  RETURN_IF_ERROR(WriteFile(store, JoinPath(c.staging, kManifestName), ManifestBytes(c.manifest)));
  if (Exists(store, c.output)) {
    // A leftover of an earlier job's commit to this output, cut off before it removed it.
    RETURN_IF_ERROR(point());
    RETURN_IF_ERROR(DeleteIfThere(store, old));
    RETURN_IF_ERROR(point());
    RETURN_IF_ERROR(store.Rename(c.output, old));
  }
  RETURN_IF_ERROR(point());
  RETURN_IF_ERROR(store.Rename(c.staging, c.output));
  RETURN_IF_ERROR(point());
  (void)store.Delete(old, true);
  return Status::Ok();
}

}  // namespace sawmill::sched
