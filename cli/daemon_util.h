// What every `sawmill` daemon command does the same way: signals handled by sigwait, the
// endpoint file peers and `cluster up` read, absolute paths for files children open, and the
// flags a daemon takes from a deployment's config file (`--config FILE`, docs/deploy.md).
#pragma once

#include <signal.h>

#include <string>

#include <nlohmann/json.hpp>

#include "cli/args.h"
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

// `role` is "namenode", "datanode", "coordinator" or "worker". When `args` has --config FILE (a
// cluster.json listing every process, common/cluster_config.h), fills each flag of that daemon the
// command line leaves unset from FILE: --dir, --port (and --http_port) and --advertise from its
// own entry (a datanode's or worker's picked by --host, which is then required), --namenode and
// --coordinator from the peers' entries, --secret_file, --bind 0.0.0.0, and for the namenode
// --replication and --block_size. Relative paths in FILE are resolved against FILE's directory.
// Without --config it does nothing. Errors name FILE and the entry or field at fault.
Status ApplyConfigFile(const std::string& role, Args* args);

// --advertise, defaulting to --bind; an error when that is a wildcard (0.0.0.0, ::), which
// listens everywhere but is no address a peer on another machine can reach.
Result<std::string> AdvertisedHost(const Args& args, const std::string& default_bind);

}  // namespace sawmill
