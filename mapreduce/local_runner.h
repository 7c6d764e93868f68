// Local mode: runs a job's map and reduce tasks on a thread pool over local files, with the same
// task runtime, commit protocol and determinism contract as the cluster.
#pragma once

#include "mapreduce/job_spec.h"

namespace sawmill {

// Runs the job to completion. On success the output directory holds part-NNNNN files and a
// _MANIFEST; on failure no output directory appears (an existing one is left as it was).
JobResult RunLocalJob(const JobSpec& spec, const JobOptions& options);

}  // namespace sawmill
