// The job author's header: Mapper, Reducer, Combiner, Partitioner, the TaskContext they emit
// through, JobSpec, and the main() helper that turns a small .cc into a job binary with the
// common flags (--local, --input, --output, --reducers, --memory_mb, --threads, --overwrite).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "api/codec.h"
#include "mapreduce/job_spec.h"
#include "mapreduce/user_code.h"

namespace sawmill {

// Throw from a spec factory (or anywhere before the job runs) for bad job-specific flags:
// the binary prints the message and exits with code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses the command line (common flags and the job's own gflags); handles --help by printing
// the usage, the job's flags and the common flags, then exiting.
void ParseJobFlags(int* argc, char*** argv, const char* usage);
// The common flags as JobOptions (after ParseJobFlags); reducers is 0 when --reducers was not
// given: RunAndReport then chooses it from the slots and the input (mapreduce/reducer_choice.h).
JobOptions JobOptionsFromFlags();
// Runs the job (local mode) and prints the one-line summary; returns the process exit code.
int RunAndReport(const JobSpec& spec, const JobOptions& options);
// ParseJobFlags + make_spec() + RunAndReport. An exception from make_spec (a UsageError, or any
// other std::exception) prints its message and exits with code 2.
int RunJobMain(int argc, char** argv, const char* usage, const std::function<JobSpec()>& make_spec);

// The records of an output directory (its part files in order) or of one record file.
using Records = std::vector<std::pair<std::string, std::string>>;
// Throws std::runtime_error when a file is missing or corrupt.
Records ReadRecords(const std::string& path);

}  // namespace sawmill

// Defines main() for a job binary.
#define SAWMILL_JOB_MAIN(usage, make_spec)                         \
  int main(int argc, char** argv) {                                \
    return ::sawmill::RunJobMain(argc, argv, usage, make_spec);    \
  }
