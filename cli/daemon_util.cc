#include "cli/daemon_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include <glog/logging.h>

#include "common/auth.h"
#include "common/cluster_config.h"
#include "common/file.h"

namespace sawmill {
namespace {

// What every daemon's --help adds after its own text.
constexpr char kSupervisorHelp[] =
    "With --supervisor_pid P it also stops cleanly (as on SIGTERM) once process P ends, and refuses\n"
    "to start when P has already ended: `sawmill cluster up --supervisor_pid P` passes it to every\n"
    "daemon, so that a test's daemons end with the test even when it is SIGKILLed.\n"
    "--max_connections N (default 4096): connections served at once (each on its own thread);\n"
    "further ones are refused. Every datanode keeps one to the namenode and every worker one to\n"
    "the coordinator, so a cluster of H hosts needs more than H there (docs/scale.md).\n";

// Blocks SIGTERM and SIGINT in this thread and every thread started afterwards, so that only
// sigwait receives them.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace

std::optional<int> ParseDaemonArgs(int argc, char** argv, const DaemonFlags& spec, const char* usage, DaemonArgs* d) {
  Args* args = &d->args;
  if (!Args::Parse(argc, argv, 2, args, spec.switches)) return 2;
  if (args->Has("help")) {
    std::fputs(usage, stdout);
    std::fputs(kSupervisorHelp, stdout);
    return 0;
  }
  if (!args->OnlyFlags(spec.flags, kDaemonFlags)) return 2;
  if (!args->positional.empty()) {
    return DaemonUsageError(spec.role, "unexpected argument '" + args->positional[0] + "'");
  }
  if (Status s = ApplyConfigFile(spec.role, args); !s.ok()) return DaemonUsageError(spec.role, s.ToString());
  // Those every daemon requires, then its own.
  for (std::initializer_list<const char*> required : {{"dir", "secret_file"}, spec.required}) {
    for (const char* flag : required) {
      if (args->Get(flag, "").empty()) return DaemonUsageError(spec.role, std::string("--") + flag + " is required");
    }
  }
  if (!args->GetNumber<uint16_t>("port", 0, &d->port)) return 2;
  if (!args->GetNumber<int>("supervisor_pid", 0, &d->supervisor_pid, 0, 1 << 30)) return 2;
  if (!args->GetNumber<size_t>("max_connections", 4096, &d->max_connections, 1, 1 << 20)) return 2;
  auto advertised = AdvertisedHost(*args, "127.0.0.1");
  if (!advertised.ok()) return DaemonUsageError(spec.role, advertised.status().message());
  d->advertise = *advertised;
  d->bind = args->Get("bind", "127.0.0.1");
  d->dir = AbsolutePath(args->Get("dir", ""));
  d->secret_file = AbsolutePath(args->Get("secret_file", ""));
  return std::nullopt;
}

int DaemonUsageError(const std::string& role, const std::string& message) {
  std::fprintf(stderr, "error: %s\n(see sawmill %s --help)\n", message.c_str(), role.c_str());
  return 2;
}

Result<DirLock> DirLock::Acquire(const std::string& dir) {
  const std::string path = JoinPath(dir, "daemon.lock");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", path, errno);
  DirLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) return ErrnoError("flock", path, err);
    std::string holder;
    (void)ReadFileToString(path, &holder);
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    return AlreadyExists(dir + " is in use by another daemon (pid " + (holder.empty() ? "unknown" : holder) +
                         ", holding " + path + "): one daemon per directory");
  }
  // The holder's pid, for the message above; the lock itself is the flock.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return ErrnoError("write", path, errno);
  }
  return lock;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    LOG(INFO) << "open-file limit raised from " << before << " to " << limit.rlim_max;
  }
}

Result<DaemonStart> BeginDaemon(const char* argv0, const DaemonArgs& d) {
  google::InitGoogleLogging(argv0);
  FLAGS_logtostderr = true;
  RaiseOpenFileLimit();
  const sigset_t stop_signals = BlockStopSignals();
  // After the block, so that the watch's thread leaves SIGTERM to sigwait too.
  if (d.supervisor_pid > 0) RETURN_IF_ERROR(WatchSupervisor(d.supervisor_pid));
  ASSIGN_OR_RETURN(std::string secret, LoadSecret(d.secret_file));
  RETURN_IF_ERROR(MakeDirs(d.dir));
  ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(d.dir));
  // Only a dead process's: a live one would hold the lock.
  (void)RemoveAll(JoinPath(d.dir, "endpoint.json"));
  return DaemonStart{stop_signals, std::move(secret), std::move(lock)};
}

Status WatchSupervisor(int pid) {
  const std::string flag = "--supervisor_pid " + std::to_string(pid);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int err = pidfd >= 0 ? 0 : errno;
  // A kernel without pidfds (before 5.3): kill(pid, 0), where EPERM means it runs.
  if (err == ENOSYS) err = ::kill(pid, 0) == 0 ? 0 : errno;
  if (err == ESRCH) return InvalidArgument(flag + ": no such process (the supervisor has already ended); not starting");
  if (err != 0 && err != EPERM) return ErrnoError("pidfd_open", flag, err);
  std::thread([pid, pidfd] {
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      ::close(pidfd);
    } else {
      while (::kill(pid, 0) == 0 || errno != ESRCH) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    LOG(INFO) << "supervisor (pid " << pid << ") ended; stopping as on SIGTERM";
    ::kill(::getpid(), SIGTERM);
  }).detach();
  return Status::Ok();
}

int WaitForStop(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  return sig;
}

Status WriteEndpoint(const std::string& dir, nlohmann::json endpoint) {
  endpoint["pid"] = ::getpid();
  const std::string path = JoinPath(dir, "endpoint.json");
  RETURN_IF_ERROR(WriteStringToFile(path + ".tmp", endpoint.dump() + "\n"));
  return Rename(path + ".tmp", path);
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return JoinPath(cwd, path);
}

int DaemonFail(const Status& s) {
  LOG(ERROR) << s.ToString();
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

namespace {

// "HOST:PORT" split at the last colon; `what` names the entry in errors.
Status SplitAddress(const std::string& file, const std::string& what, const std::string& address,
                    bool port_required, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  const std::string p = colon == std::string::npos ? "" : address.substr(colon + 1);
  auto number = ParseNumber<uint16_t>(p, "port");
  if (colon == 0 || !number.ok()) {
    return InvalidArgument(file + ": " + what + " \"" + address + "\" is not HOST:PORT");
  }
  if (port_required && *number == 0) {
    return InvalidArgument(file + ": " + what + " \"" + address +
                           "\" needs a fixed port: its peers find it by this address");
  }
  *host = address.substr(0, colon);
  *port = p;
  return Status::Ok();
}

// Sets --key unless the command line gave it.
void Default(Args* args, const std::string& key, const std::string& value) {
  if (!args->Has(key) && !value.empty()) args->flags[key] = value;
}

}  // namespace

Status ApplyConfigFile(const std::string& role, Args* args) {
  if (!args->Has("config")) return Status::Ok();
  const std::string file = AbsolutePath(args->Get("config", ""));
  if (file.empty()) return InvalidArgument("--config needs a file");
  ASSIGN_OR_RETURN(ClusterConfig c, LoadClusterConfigFile(file));
  std::string host, port, http_host, http_port;
  if (role == "namenode") {
    RETURN_IF_ERROR(SplitAddress(file, "namenode address", c.namenode_address, true, &host, &port));
    RETURN_IF_ERROR(
        SplitAddress(file, "namenode http", c.namenode_http, true, &http_host, &http_port));
    Default(args, "dir", c.Resolve(c.namenode_dir));
    Default(args, "http_port", http_port);
    if (c.replication > 0) Default(args, "replication", std::to_string(c.replication));
    if (c.block_size > 0) Default(args, "block_size", std::to_string(c.block_size));
  } else if (role == "coordinator") {
    if (c.coordinator_address.empty()) return NotFound(file + ": no coordinator in \"processes\"");
    RETURN_IF_ERROR(
        SplitAddress(file, "coordinator address", c.coordinator_address, true, &host, &port));
    RETURN_IF_ERROR(
        SplitAddress(file, "coordinator http", c.coordinator_http, true, &http_host, &http_port));
    Default(args, "dir", c.Resolve(c.coordinator_dir));
    Default(args, "http_port", http_port);
  } else if (role == "datanode" || role == "worker") {
    const std::string name = args->Get("host", "");
    if (name.empty()) {
      return InvalidArgument("--config needs --host NAME: the entry of " + file + " to run");
    }
    const ClusterConfig::Host* h = c.FindHost(name);
    const std::string* address = h == nullptr         ? nullptr
                                 : role == "datanode" ? &h->datanode_address
                                                      : &h->worker_address;
    if (address == nullptr || address->empty()) {
      std::string names;
      for (const auto& x : c.hosts) {
        const std::string& a = role == "datanode" ? x.datanode_address : x.worker_address;
        if (!a.empty()) names += " " + x.name;
      }
      return NotFound(file + ": no " + role + " on host \"" + name + "\" (its " + role +
                      "s are on:" + (names.empty() ? " none" : names) + ")");
    }
    // Registered with the namenode or coordinator, which tell their peers: port 0 works too.
    RETURN_IF_ERROR(
        SplitAddress(file, role + " address of " + name, *address, false, &host, &port));
    if (role == "datanode") {
      Default(args, "dir", JoinPath(c.Resolve(h->dir), "datanode"));
    } else {
      Default(args, "dir",
              c.Resolve(h->worker_dir.empty() ? JoinPath(h->dir, "worker") : h->worker_dir));
      if (c.coordinator_address.empty()) {
        return NotFound(file + ": no coordinator in \"processes\"");
      }
      Default(args, "coordinator", c.coordinator_address);
    }
  } else {
    return InvalidArgument("no config entries for role " + role);
  }
  if (role != "namenode") Default(args, "namenode", c.namenode_address);
  Default(args, "port", port);
  Default(args, "advertise", host);
  Default(args, "bind", "0.0.0.0");
  Default(args, "secret_file", c.SecretPath());
  return Status::Ok();
}

Result<std::string> AdvertisedHost(const Args& args, const std::string& default_bind) {
  const std::string bind = args.Get("bind", default_bind);
  const std::string advertise = args.Get("advertise", bind);
  if (advertise.empty() || advertise == "0.0.0.0" || advertise == "::" || advertise == "[::]") {
    return InvalidArgument("--bind " + bind +
                           " listens on every interface: give --advertise HOST, the address " +
                           "peers reach this daemon at");
  }
  return advertise;
}

}  // namespace sawmill
