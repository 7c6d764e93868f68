// A job's state as the coordinator reports it (JobStatus.state): the Scheduler's JobState seen
// from outside, with the job's commit between its tasks done and its end. For the coordinator and
// every client that follows a job; on the wire, the web page and in history it is the lowercase name.
#pragma once

#include <optional>
#include <string_view>

namespace sawmill::sched {

enum class CoordinatorJobState { kRunning, kCommitting, kSucceeded, kFailed };

// "running", "committing", "succeeded", "failed".
const char* CoordinatorJobStateName(CoordinatorJobState s);
// The state a name gives; nullopt for a text no coordinator writes.
std::optional<CoordinatorJobState> ParseCoordinatorJobState(std::string_view name);
// Succeeded or failed: the job will not change again.
inline bool Finished(CoordinatorJobState s) {
  return s == CoordinatorJobState::kSucceeded || s == CoordinatorJobState::kFailed;
}

}  // namespace sawmill::sched
