// Which real machine this process runs on, to decide whether a replica's file can be read
// directly (short-circuit): simulated hosts of a one-machine cluster share it.
#pragma once

#include <string>

namespace sawmill::dfs {

// The kernel's boot id (stable until reboot), or the hostname when it cannot be read.
std::string LocalMachineId();

}  // namespace sawmill::dfs
