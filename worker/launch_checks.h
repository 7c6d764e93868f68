// What a worker checks in a launch before it acts on it: names that become directories under
// its own, and texts it will read again on the attempt's thread.
#pragma once

#include <cstdint>
#include <string>

#include "scheduler/coordinator.capnp.h"

namespace sawmill::worker {

// The most map outputs a reduce attempt may wait for: its segment table is allocated up front.
constexpr int32_t kMaxMapCount = 1 << 20;

// Whether `s` names a path below a directory and nothing above it: '/'-separated parts of
// [A-Za-z0-9._-], none empty, "." or containing "..".
bool SafeName(const std::string& s);

// A job id is one directory name under jobs/.
bool SafeJobId(const std::string& s);

// Reads every text of a launch that the attempt's thread reads again: capnp throws on a
// malformed one (no NUL terminator), and that must happen while the orders are parsed, under
// their CatchCapnp, not on the attempt's thread.
void CheckTexts(sched::proto::AttemptLaunch::Reader l);

}  // namespace sawmill::worker
