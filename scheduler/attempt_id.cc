// Formatting and parsing of job and attempt ids (scheduler/attempt_id.h).
#include "scheduler/attempt_id.h"

#include <algorithm>
#include <cstdio>

namespace sawmill::sched {
namespace {

// A non-negative decimal below 10^9, or -1.
int ParseIndex(std::string_view digits) {
  if (digits.empty() || digits.size() > 9) return -1;
  int v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

constexpr std::string_view kJobPrefix = "job-";

}  // namespace

std::string JobId(int number) { return std::string(kJobPrefix) + std::to_string(number); }

int ParseJobNumber(std::string_view id) {
  if (id.substr(0, kJobPrefix.size()) != kJobPrefix) return -1;
  return ParseIndex(id.substr(kJobPrefix.size()));
}

std::string TaskName(bool reduce, int task) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c-%05d", reduce ? 'r' : 'm', task);
  return buf;
}

std::string AttemptId(const std::string& job_id, bool reduce, int task, int attempt) {
  return job_id + "/" + TaskName(reduce, task) + "/" + std::to_string(attempt);
}

bool ParseAttemptId(const std::string& id, AttemptName* out) {
  size_t a = id.find('/');
  if (a == std::string::npos) return false;
  size_t b = id.find('/', a + 1);
  if (b == std::string::npos || b - a < 4) return false;
  out->job = id.substr(0, a);
  std::string kind = id.substr(a + 1, 2);
  if (kind != "m-" && kind != "r-") return false;
  out->reduce = kind == "r-";
  out->task = ParseIndex(std::string_view(id).substr(a + 3, b - a - 3));
  if (out->task < 0) return false;
  out->attempt = ParseIndex(std::string_view(id).substr(b + 1));
  out->dir = AttemptDirName(out->job, id);
  return true;
}

std::string AttemptDirName(const std::string& job_id, const std::string& attempt_id) {
  std::string rest = attempt_id.rfind(job_id + "/", 0) == 0 ? attempt_id.substr(job_id.size() + 1) : attempt_id;
  std::replace(rest.begin(), rest.end(), '/', '_');
  return rest;
}

}  // namespace sawmill::sched
