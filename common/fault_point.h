// Fault points: named places in the engine where a test or the chaos harness makes a process
// sleep, pause, fail or die on purpose. Inert unless armed; docs/reliability.md lists them all.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sawmill {
namespace fault::internal {

enum State : int { kUnread = 0, kDisarmed = 1, kArmed = 2 };
// kUnread until the first point reads SAWMILL_FAULTS (or Arm/Disarm/ArmFromEnvironment runs).
extern std::atomic<int> g_state;
Status Hit(std::string_view name, std::string_view context);
Status Hit(std::string_view name, uint64_t context);

}  // namespace fault::internal

// A fault point named `name` (one of docs/reliability.md's "Fault points"; a name that is not
// there is refused when arming) at a place described by `context`, which an armed entry may
// narrow to contexts ending with a suffix. Returns OK unless it is armed with fail(MESSAGE): then
// an IOError "fault point NAME at CONTEXT: MESSAGE", which the site propagates like the failure
// of the step it stands before. Every site propagates it:
//   RETURN_IF_ERROR(FaultPoint("coordinator.commit.after_manifest", job_id));
// Unarmed (every process without SAWMILL_FAULTS), it costs one relaxed atomic load; the context
// is only read when armed, so pass a view of a string the site already has, or a number.
inline Status FaultPoint(std::string_view name, std::string_view context = {}) {
  if (fault::internal::g_state.load(std::memory_order_relaxed) == fault::internal::kDisarmed) [[likely]] {
    return Status();
  }
  return fault::internal::Hit(name, context);
}
inline Status FaultPoint(std::string_view name, uint64_t context) {
  if (fault::internal::g_state.load(std::memory_order_relaxed) == fault::internal::kDisarmed) [[likely]] {
    return Status();
  }
  return fault::internal::Hit(name, context);
}

namespace fault {

// Arms this process's points from `spec`, replacing whatever was armed (hit counts restart):
//   SPEC   := ENTRY (';' ENTRY)*
//   ENTRY  := NAME ['@' SUFFIX] '=' [WHEN ':'] ACTION     SUFFIX: only contexts ending with it
//   WHEN   := 'once' | 'nth(' N ')'                         default: every hit
//   ACTION := 'sleep(' MS ')' | 'pause(' FILE ')' | 'fail(' MESSAGE ')' | 'abort'
// e.g. "dataflow.task.start@.0=sleep(400);namenode.journal.sync=nth(3):abort". pause creates
// FILE (holding the context and a newline) and waits while it exists; abort SIGKILLs this
// process. Fails with InvalidArgument naming the entry and what is wrong with it (nothing is
// armed then); an empty spec disarms.
Status Arm(std::string_view spec);
// Disarms every point; a point paused in another thread returns.
void Disarm();
// Arms from the environment variable SAWMILL_FAULTS (children inherit it, so a cluster started
// with it set is armed in every process), once per process: later calls return the first
// result. The first point hit runs it too; a malformed value there prints the error and exits 2.
// A binary's main calls it first, to fail at its start ("error: SAWMILL_FAULTS: ...", exit 2).
Status ArmFromEnvironment();

}  // namespace fault
}  // namespace sawmill
