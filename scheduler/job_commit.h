// A job's output commit in the store, written so that running it again after it was cut off at
// any step finishes it: the output is the old one or the new one, never a mix (a reader may
// find none between two renames: the store has no exchange).
#pragma once

#include <string>

#include "common/fs.h"
#include "common/status.h"
#include "records/manifest.h"

namespace sawmill::sched {

struct JobCommit {
  std::string staging;  // store path: the parts, under _temporary/ what attempts left
  std::string output;   // store path the staging directory becomes
  Manifest manifest;
  // A commit of this job began before (the coordinator restarted during it): a missing staging
  // directory then means it was done.
  bool resume = false;
};

// Removes the staging directory's _temporary/, writes its manifest, and renames it to the output
// (an existing output is renamed aside first and removed after).
Status CommitJobOutput(FileSystem& store, const JobCommit& c);

}  // namespace sawmill::sched
