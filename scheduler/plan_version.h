// The version of what a program's submissions say about its plan (JobSubmission.program, stage,
// parentJob, masterAttempt, scratchDir: stage keys, input edges, the master's contract). A
// coordinator runs programs of its own version only; a change to that contract bumps it.
#pragma once

#include <cstdint>

namespace sawmill::sched {

inline constexpr uint32_t kProgramPlanVersion = 1;

}  // namespace sawmill::sched
