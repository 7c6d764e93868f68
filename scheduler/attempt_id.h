// Job and attempt ids, the one place that knows their shape: jobs are "job-3", tasks "m-00007"
// (map 7) or "r-00002" (reduce 2), attempts "job-3/m-00007/1" (attempt 1 of map 7 of job-3),
// and an attempt's directory on a worker or in a job's staging is "m-00007_1".
#pragma once

#include <string>
#include <string_view>

namespace sawmill::sched {

// "job-3" for 3.
std::string JobId(int number);
// The number of a job id ("job-3" -> 3), or -1 when `id` is not "job-" and 1 to 9 digits.
int ParseJobNumber(std::string_view id);

// "m-00007" for map 7, "r-00002" for reduce 2.
std::string TaskName(bool reduce, int task);
// "job-3/m-00007/1": unique for the cluster's life.
std::string AttemptId(const std::string& job_id, bool reduce, int task, int attempt);

// The parts of an attempt id.
struct AttemptName {
  std::string job;
  bool reduce = false;
  int task = -1;
  int attempt = -1;  // the attempt number, or -1 when that part is not 1 to 9 digits
  std::string dir;  // AttemptDirName(job, id)
};
// "job-3/m-00007/1" -> job "job-3", reduce false, task 7, dir "m-00007_1". False when the id has
// no job part, no "m-"/"r-" task of 1 to 9 digits, or no attempt part after it.
bool ParseAttemptId(const std::string& id, AttemptName* out);

// The directory of an attempt's files, below its job's: the attempt id without its "<job_id>/"
// prefix, '/' replaced by '_' ("job-3/m-00007/1" -> "m-00007_1"). Any id gives one name without
// '/', so a hostile id cannot name a parent directory through it (the worker checks the id
// besides).
std::string AttemptDirName(const std::string& job_id, const std::string& attempt_id);

}  // namespace sawmill::sched
