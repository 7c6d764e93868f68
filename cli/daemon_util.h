// What every `sawmill` daemon command does the same way: its command line (flags, --help,
// --config FILE from a deployment, docs/deploy.md), its start (logging, signals handled by
// sigwait, the secret, its directory), the endpoint file peers and `cluster up` read, and
// absolute paths for files children open.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "common/status.h"

namespace sawmill {

// The flags of a daemon command. Its initializer lists borrow the arrays of the braced lists
// that initialize it: define it as a namespace-scope constant (the arrays then live as long) or
// pass it as a temporary, never copy it into something that outlives those.
struct DaemonFlags {
  const char* role;                                  // "namenode", "datanode", "coordinator" or "worker"
  std::initializer_list<const char*> flags;          // the flags it takes besides kDaemonFlags
  std::initializer_list<const char*> required = {};  // ... and must have once --config is applied
  std::initializer_list<const char*> switches = {};  // those of `flags` that take no value
};

// The flags every daemon takes: its directory, its cluster's secret, where it listens and what
// address it advertises, a deployment's cluster.json that may give them all, and a process whose
// end stops it (--supervisor_pid), and how many connections it serves at once. --dir and --secret_file are required.
inline constexpr const char* kDaemonFlags[] = {"config", "dir", "secret_file", "bind", "advertise", "port",
                                               "supervisor_pid", "max_connections"};


// A daemon's command line, parsed.
struct DaemonArgs {
  Args args;                // every flag, with those --config gives
  std::string dir;          // --dir, absolute
  std::string secret_file;  // --secret_file, absolute (attempts and children open it too)
  std::string bind;         // --bind, 127.0.0.1 by default
  std::string advertise;    // the address peers reach it at (AdvertisedHost)
  uint16_t port = 0;        // --port, 0 for any free port
  int supervisor_pid = 0;   // --supervisor_pid, 0 for none
  size_t max_connections = 4096;  // --max_connections: TcpServerOptions::max_connections
};

// Parses argv[2..] into *d as `spec` says and applies --config (ApplyConfigFile). Returns the
// exit code when the command ends here: 0 after printing `usage` for --help, 2 after an error
// (an unknown flag, a positional argument, a bad --config, a required flag missing, a bad
// --port, --bind or --advertise); nullopt to go on.
std::optional<int> ParseDaemonArgs(int argc, char** argv, const DaemonFlags& spec, const char* usage, DaemonArgs* d);

// Prints the error and where to find help; returns 2.
int DaemonUsageError(const std::string& role, const std::string& message);

// An exclusive flock(2) on <dir>/daemon.lock, held while the object lives: one daemon per
// directory. The descriptor is close-on-exec, so processes the daemon starts do not hold it.
class DirLock {
 public:
  // kAlreadyExists, naming the holder's pid, when another process holds it; nothing in `dir` is
  // changed then.
  static Result<DirLock> Acquire(const std::string& dir);
  DirLock(DirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

// What a daemon holds from its start until it exits.
struct DaemonStart {
  sigset_t stop_signals;  // for WaitForStop
  std::string secret;     // the cluster secret
  DirLock lock;           // its directory
};

// A daemon's start, once its flags are checked: glog to stderr, the open-file limit raised
// (RaiseOpenFileLimit), SIGTERM and SIGINT blocked (before any thread starts), the secret read
// from d.secret_file, d.dir created and locked (DirLock), and only then the endpoint.json an
// earlier run left there removed, so that none takes it for this one's. With d.supervisor_pid,
// first a watch on that process (WatchSupervisor) so that its end sends this process SIGTERM; a
// supervisor already gone fails the start. A daemon that finds its directory locked fails before
// touching any file of the process that holds it (its endpoint.json, metadata, blocks or attempts).
Result<DaemonStart> BeginDaemon(const char* argv0, const DaemonArgs& d);

// Raises the soft limit on open files to the hard one (BeginDaemon does, first): a worker's
// shuffle and a datanode's transfers keep a file or socket per segment or block in flight, and
// distributions' soft default of 1,024 is far below the hard limit a root or systemd start gets.
void RaiseOpenFileLimit();

// Starts a detached thread that sends this process SIGTERM once process `pid` has ended (a
// pidfd polled; where the kernel has none, kill(pid, 0) every 200 ms). InvalidArgument naming
// --supervisor_pid when no process `pid` runs.
Status WatchSupervisor(int pid);

// Waits for one of BeginDaemon's stop signals; returns it.
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
