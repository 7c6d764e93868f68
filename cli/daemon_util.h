// What every `sawmill` daemon command does the same way: signals handled by sigwait, the
// endpoint file peers and `cluster up` read, and absolute paths for files children open.
#pragma once

#include <signal.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace sawmill {

// Blocks SIGTERM and SIGINT in this thread and every thread started afterwards; WaitForStop
// returns the signal that arrived.
sigset_t BlockStopSignals();
int WaitForStop(const sigset_t& signals);

// Writes <dir>/endpoint.json (temporary file + rename) with "pid" added.
Status WriteEndpoint(const std::string& dir, nlohmann::json endpoint);

// `path` made absolute against the working directory.
std::string AbsolutePath(const std::string& path);

// Logs and prints the error; returns 1.
int DaemonFail(const Status& s);

}  // namespace sawmill
