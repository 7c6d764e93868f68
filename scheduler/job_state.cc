#include "scheduler/job_state.h"

namespace sawmill::sched {

const char* CoordinatorJobStateName(CoordinatorJobState s) {
  switch (s) {
    case CoordinatorJobState::kRunning:
      return "running";
    case CoordinatorJobState::kCommitting:
      return "committing";
    case CoordinatorJobState::kSucceeded:
      return "succeeded";
    case CoordinatorJobState::kFailed:
      return "failed";
  }
  return "unknown";
}

std::optional<CoordinatorJobState> ParseCoordinatorJobState(std::string_view name) {
  for (auto s : {CoordinatorJobState::kRunning, CoordinatorJobState::kCommitting, CoordinatorJobState::kSucceeded,
                 CoordinatorJobState::kFailed}) {
    if (name == CoordinatorJobStateName(s)) return s;
  }
  return std::nullopt;
}

}  // namespace sawmill::sched
