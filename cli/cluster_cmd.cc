// `sawmill cluster up|down|status|start`: a simulated cluster on one machine. A namenode and N
// hosts run as separate processes on 127.0.0.1 with OS-chosen ports, each in its own directory
// under the cluster directory; D/cluster.json names every process (common/cluster_config.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/jobs_dir.h"
#include "cli/verb_usage.h"
#include "common/auth.h"
#include "common/cluster_config.h"
#include "common/file.h"
#include "common/subprocess.h"
#include "dfs/client/connect_dfs.h"
#include "scheduler/job_client.h"

namespace sawmill {
namespace {

// A function-local static, as dfs_cmd.cc's CommandHelp: never destroyed.
const CommandUsage& Usage() {
  static const auto* usage = new CommandUsage{
      "cluster",
      "sawmill cluster: a cluster of separate processes on this machine (docs/distributed.md).\n\n",
      {
          {"up",
           "  sawmill cluster up --dir D --workers N [--replication R] [--block_size BYTES]\n"
           "                     [--heartbeat_timeout_ms MS] [--heartbeat_ms MS] [--sync_blocks true|false]\n"
           "                     [--slots S] [--coordinator_flags \"--flag=value ...\"]\n"
           "                     [--worker_flags \"--flag=value ...\"] [--supervisor_pid P]\n"
           "      Starts a namenode, a coordinator and N simulated hosts (host1..hostN, each running a\n"
           "      datanode and a worker with S slots, default: the number of cores) as separate processes\n"
           "      on 127.0.0.1, writes the cluster secret (D/secret, mode 0600) and D/cluster.json, and\n"
           "      waits until every datanode and worker has registered. Logs: D/*/*.log, D/*/*/*.log.\n"
           "      --coordinator_flags are extra flags for `sawmill coordinator`, --worker_flags for each\n"
           "      `sawmill worker` (e.g. --warm_executors=false; see their --help).\n"
           "      Defaults: replication min(3, N), block size 64 MiB, datanodes fdatasync each replica\n"
           "      (--sync_blocks false leaves write-back to the kernel). An existing D keeps its data.\n"
           "      --supervisor_pid P: every daemon stops cleanly (as on SIGTERM) once process P ends, so\n"
           "      that a test's cluster ends with the test even when it is SIGKILLed (tests pass their own\n"
           "      pid); a P that has already ended is refused.\n",
           {"workers", "replication", "block_size", "heartbeat_timeout_ms", "heartbeat_ms", "sync_blocks", "slots",
            "coordinator_flags", "worker_flags", "supervisor_pid"}},
          {"down",
           "  sawmill cluster down --dir D\n"
           "      Stops every process of the cluster (SIGTERM, then SIGKILL after 10 s).\n",
           {}},
          {"status",
           "  sawmill cluster status --dir D\n"
           "      Lists the processes and whether each is running; the namenode's and the coordinator's\n"
           "      lines end with their web pages.\n",
           {}},
          {"start",
           "  sawmill cluster start --dir D --process namenode|coordinator|hostK|hostK/datanode|hostK/worker\n"
           "                        [--supervisor_pid P]\n"
           "      Starts a stopped process again (after a crash or a test's SIGKILL) with its original\n"
           "      arguments and ports, its status page's included (a new one, recorded in cluster.json,\n"
           "      only if that one was taken meanwhile), and updates its pid in D/cluster.json; hostK starts\n"
           "      those of its datanode and worker that are stopped (the datanode first). --supervisor_pid P\n"
           "      replaces the one `cluster up` gave (0: none).\n",
           {"process", "supervisor_pid"}},
      },
      "",
      {"dir"},
  };
  return *usage;
}

using Clock = std::chrono::steady_clock;

std::string SelfExe() {
  std::string self = SelfPath();
  return self.empty() ? "sawmill" : self;
}

// Whether `pid` runs and is a process of this cluster (its command line names `dir`), so that a
// recycled pid is never signalled.
bool ProcessAlive(int pid, const std::string& dir) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string cmdline;
  if (!ReadFileToString("/proc/" + std::to_string(pid) + "/cmdline", &cmdline).ok()) return false;
  std::string stat;
  if (ReadFileToString("/proc/" + std::to_string(pid) + "/stat", &stat).ok()) {
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') return false;
  }
  return cmdline.find(dir) != std::string::npos;
}

// argv is kept NUL-separated in <process dir>/argv so that `cluster start` can rerun it.
Status SaveArgv(const std::string& dir, const std::vector<std::string>& argv) {
  std::string data;
  for (const auto& a : argv) data.append(a).push_back('\0');
  return WriteStringToFile(JoinPath(dir, "argv"), data);
}

Result<std::vector<std::string>> LoadArgv(const std::string& dir) {
  std::string data;
  RETURN_IF_ERROR(ReadFileToString(JoinPath(dir, "argv"), &data));
  std::vector<std::string> argv;
  size_t start = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\0') {
      argv.push_back(data.substr(start, i - start));
      start = i + 1;
    }
  }
  return argv;
}

// Starts a detached daemon (own session, stdin /dev/null, stdout and stderr to `log`); returns
// its pid.
Result<int> Spawn(const std::vector<std::string>& argv, const std::string& log) {
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", log, errno);
  SubprocessOptions o;
  o.argv = argv;
  o.stdin_fd = SubprocessOptions::kDevNull;
  o.stdout_fd = o.stderr_fd = fd;
  o.group = SubprocessOptions::Group::kNewSession;
  auto pid = StartSubprocess(o);
  ::close(fd);
  if (!pid.ok()) return pid.status();
  return static_cast<int>(*pid);
}

std::string LogTail(const std::string& log) {
  std::string data;
  if (!ReadFileToString(log, &data).ok()) return "";
  if (data.size() > 2000) data = data.substr(data.size() - 2000);
  return data;
}

// Waits for <dir>/endpoint.json, written by the daemon once it listens.
Result<nlohmann::json> WaitForEndpoint(const std::string& dir, int pid, const std::string& log,
                                       std::chrono::milliseconds timeout) {
  std::string path = JoinPath(dir, "endpoint.json");
  auto deadline = Clock::now() + timeout;
  while (true) {
    std::string data;
    if (ReadFileToString(path, &data).ok()) {
      auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded() && j.value("pid", 0) == pid) return j;
    }
    int wstatus = 0;
    if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
      return Aborted("process " + std::to_string(pid) + " exited before listening; " + log + ":\n" + LogTail(log));
    }
    if (Clock::now() > deadline) {
      return Status(StatusCode::kUnavailable,
                    "no " + path + " after " + std::to_string(timeout.count()) + " ms; " + log + ":\n" + LogTail(log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

struct Started {
  int pid = 0;
  nlohmann::json endpoint;
};

Result<Started> StartDaemon(const std::string& dir, const std::string& role, std::vector<std::string> argv) {
  RETURN_IF_ERROR(MakeDirs(dir));
  (void)RemoveAll(JoinPath(dir, "endpoint.json"));
  RETURN_IF_ERROR(SaveArgv(dir, argv));
  std::string log = JoinPath(dir, role + ".log");
  ASSIGN_OR_RETURN(int pid, Spawn(argv, log));
  ASSIGN_OR_RETURN(nlohmann::json ep, WaitForEndpoint(dir, pid, log, std::chrono::seconds(30)));
  return Started{pid, ep};
}

Status WaitForDatanodes(const ClusterConfig& config, size_t want, std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto conn, dfs::ConnectDfs(config.dir));
  dfs::DfsClient& client = *conn->client;
  auto deadline = Clock::now() + timeout;
  Status last;
  while (Clock::now() < deadline) {
    auto nodes = client.Datanodes();
    if (nodes.ok()) {
      size_t live = 0;
      for (const auto& d : *nodes) live += d.live ? 1 : 0;
      if (live >= want) return Status::Ok();
      last = Status(StatusCode::kUnavailable, std::to_string(live) + " of " + std::to_string(want) + " datanodes registered");
    } else {
      last = nodes.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status(StatusCode::kUnavailable, "datanodes did not register in time: " + last.message());
}

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

// --supervisor_pid, checked to name a running process (0: none); false after printing why not.
bool GetSupervisor(const Args& args, int* pid) {
  if (!args.GetNumber<int>("supervisor_pid", 0, pid, 0, 1 << 30)) return false;
  if (*pid > 0 && ::kill(*pid, 0) != 0 && errno == ESRCH) {
    std::fprintf(stderr, "error: --supervisor_pid %d: no such process (the supervisor has already ended)\n", *pid);
    return false;
  }
  return true;
}

// `argv` with its --supervisor_pid set to `pid` (removed for 0).
std::vector<std::string> WithSupervisor(std::vector<std::string> argv, int pid) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--supervisor_pid") {
      argv.erase(argv.begin() + static_cast<std::ptrdiff_t>(i), argv.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      break;
    }
  }
  if (pid > 0) {
    argv.push_back("--supervisor_pid");
    argv.push_back(std::to_string(pid));
  }
  return argv;
}

bool AnyAlive(const ClusterConfig& c) {
  if (ProcessAlive(c.namenode_pid, c.dir) || ProcessAlive(c.coordinator_pid, c.dir)) return true;
  for (const auto& h : c.hosts) {
    if (ProcessAlive(h.datanode_pid, c.dir) || ProcessAlive(h.worker_pid, c.dir)) return true;
  }
  return false;
}

Status WaitForWorkers(const ClusterConfig& config, size_t want, std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto conn, sched::ConnectCoordinator(config.dir));
  auto deadline = Clock::now() + timeout;
  Status last;
  while (Clock::now() < deadline) {
    capnp::MallocMessageBuilder m;
    m.initRoot<sched::proto::CoordinatorRequest>().setWorkers();
    auto reply = conn->client->Call(m);
    if (reply.ok()) {
      size_t n = 0;
      (void)CatchCapnp("workers", [&] {
        n = (*reply)->Root<sched::proto::CoordinatorResponse>().getWorkers().size();
        return Status::Ok();
      });
      if (n >= want) return Status::Ok();
      last = Status(StatusCode::kUnavailable, std::to_string(n) + " of " + std::to_string(want) + " workers registered");
    } else {
      last = reply.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status(StatusCode::kUnavailable, "workers did not register in time: " + last.message());
}

int Up(const Args& args) {
  int supervisor = 0;
  if (!GetSupervisor(args, &supervisor)) return 2;
  const std::string sync_blocks = args.Get("sync_blocks", "true");
  if (sync_blocks != "true" && sync_blocks != "false") {
    std::fprintf(stderr, "error: --sync_blocks must be true or false\n");
    return 2;
  }
  std::string dir = args.Get("dir", "");
  uint64_t workers = 0, replication = 0, block_size = 0, hb_timeout = 0, hb = 0;
  if (dir.empty() || !args.GetU64("workers", 0, &workers) || workers < 1 || workers > 64) {
    std::fprintf(stderr, "error: cluster up needs --dir D and --workers N (1..64)\n");
    return 2;
  }
  if (!args.GetNumber<uint64_t>("replication", std::min<uint64_t>(3, workers), &replication, 1, 512) ||
      !args.GetU64("block_size", 64 << 20, &block_size) ||
      !args.GetU64("heartbeat_timeout_ms", 10000, &hb_timeout) || !args.GetU64("heartbeat_ms", 1000, &hb)) {
    return 2;
  }
  uint64_t slots = 0;
  if (!args.GetU64("slots", std::max(1u, std::thread::hardware_concurrency()), &slots)) return 2;
  if (replication < 1 || block_size < 1 || slots < 1) {
    std::fprintf(stderr, "error: --replication, --block_size and --slots must be at least 1\n");
    return 2;
  }
  if (dir[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd)) dir = JoinPath(cwd, dir);
  }
  if (auto old = LoadClusterConfig(dir); old.ok() && AnyAlive(*old)) {
    std::fprintf(stderr, "error: the cluster in %s is already up (sawmill cluster down --dir %s)\n", dir.c_str(),
                 dir.c_str());
    return 1;
  }
  if (Status s = MakeDirs(dir); !s.ok()) return Fail(s);
  ClusterConfig config;
  config.dir = dir;
  config.secret_file = JoinPath(dir, "secret");
  config.replication = static_cast<uint32_t>(replication);
  config.block_size = block_size;
  if (!PathExists(config.secret_file)) {
    if (Status s = WriteNewSecret(config.secret_file); !s.ok()) return Fail(s);
  }
  const std::string self = SelfExe();
  config.namenode_dir = JoinPath(dir, "namenode");
  auto nn = StartDaemon(config.namenode_dir, "namenode",
                        WithSupervisor({self, "namenode", "--dir", config.namenode_dir, "--secret_file", config.secret_file,
                         "--port", "0", "--http_port", "0", "--replication", std::to_string(replication),
                         "--block_size", std::to_string(block_size), "--heartbeat_timeout_ms",
                         std::to_string(hb_timeout), "--allow_shared_hosts"}, supervisor));
  if (!nn.ok()) return Fail(nn.status().WithContext("starting the namenode"));
  config.namenode_pid = nn->pid;
  config.namenode_address = nn->endpoint.value("address", "");
  config.namenode_http = nn->endpoint.value("http", "");
  for (uint64_t i = 1; i <= workers; ++i) {
    ClusterConfig::Host h;
    h.name = "host" + std::to_string(i);
    h.dir = JoinPath(dir, h.name);
    std::string dn_dir = JoinPath(h.dir, "datanode");
    auto dn = StartDaemon(dn_dir, "datanode",
                          WithSupervisor({self, "datanode", "--dir", dn_dir, "--namenode", config.namenode_address,
                           "--secret_file", config.secret_file, "--host", h.name, "--port", "0",
                           "--heartbeat_ms", std::to_string(hb), "--sync_blocks", sync_blocks}, supervisor));
    if (!dn.ok()) {
      (void)WriteClusterConfig(config);  // so that `cluster down` stops what did start
      return Fail(dn.status().WithContext("starting the datanode of " + h.name));
    }
    h.datanode_pid = dn->pid;
    h.datanode_id = dn->endpoint.value("id", "");
    h.datanode_address = dn->endpoint.value("address", "");
    config.hosts.push_back(h);
  }
  if (Status s = WriteClusterConfig(config); !s.ok()) return Fail(s);
  if (Status s = WaitForDatanodes(config, workers, std::chrono::seconds(30)); !s.ok()) return Fail(s);

  config.coordinator_dir = JoinPath(dir, "coordinator");
  std::vector<std::string> coordinator_argv = {self, "coordinator", "--dir", config.coordinator_dir, "--namenode",
                                               config.namenode_address, "--secret_file", config.secret_file,
                                               "--port", "0", "--http_port", "0"};
  {
    std::stringstream extra(args.Get("coordinator_flags", ""));
    for (std::string f; extra >> f;) coordinator_argv.push_back(f);
  }
  auto co = StartDaemon(config.coordinator_dir, "coordinator", WithSupervisor(coordinator_argv, supervisor));
  if (!co.ok()) {
    (void)WriteClusterConfig(config);
    return Fail(co.status().WithContext("starting the coordinator"));
  }
  config.coordinator_pid = co->pid;
  config.coordinator_address = co->endpoint.value("address", "");
  config.coordinator_http = co->endpoint.value("http", "");
  for (auto& h : config.hosts) {
    std::string w_dir = JoinPath(h.dir, "worker");
    std::vector<std::string> worker_argv = {self, "worker", "--dir", w_dir, "--coordinator", config.coordinator_address,
                                            "--namenode", config.namenode_address, "--secret_file", config.secret_file,
                                            "--host", h.name, "--port", "0", "--slots", std::to_string(slots)};
    std::stringstream extra(args.Get("worker_flags", ""));
    for (std::string f; extra >> f;) worker_argv.push_back(f);
    auto w = StartDaemon(w_dir, "worker", WithSupervisor(worker_argv, supervisor));
    if (!w.ok()) {
      (void)WriteClusterConfig(config);
      return Fail(w.status().WithContext("starting the worker of " + h.name));
    }
    h.worker_pid = w->pid;
    h.worker_address = w->endpoint.value("address", "");
  }
  if (Status s = WriteClusterConfig(config); !s.ok()) return Fail(s);
  if (Status s = WaitForWorkers(config, workers, std::chrono::seconds(30)); !s.ok()) return Fail(s);
  std::printf("cluster up in %s: namenode %s (status page http://%s/), coordinator %s (web page http://%s/), "
              "%llu hosts with a datanode and a worker of %llu slots, replication %u\n",
              dir.c_str(), config.namenode_address.c_str(), config.namenode_http.c_str(),
              config.coordinator_address.c_str(), config.coordinator_http.c_str(),
              static_cast<unsigned long long>(workers), static_cast<unsigned long long>(slots), config.replication);
  return 0;
}

// SIGTERM, then SIGKILL after the grace period.
void StopProcess(int pid, const std::string& dir, const char* what) {
  if (!ProcessAlive(pid, dir)) return;
  ::kill(pid, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (ProcessAlive(pid, dir) && Clock::now() < deadline) {
    ::waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (ProcessAlive(pid, dir)) {
    std::fprintf(stderr, "warning: %s (pid %d) ignored SIGTERM; killing it\n", what, pid);
    ::kill(pid, SIGKILL);
  }
}

int Down(const Args& args) {
  auto config = LoadClusterConfig(args.Get("dir", ""));
  if (!config.ok()) return Fail(config.status());
  for (const auto& h : config->hosts) StopProcess(h.worker_pid, config->dir, ("worker of " + h.name).c_str());
  StopProcess(config->coordinator_pid, config->dir, "coordinator");
  for (const auto& h : config->hosts) StopProcess(h.datanode_pid, config->dir, ("datanode of " + h.name).c_str());
  StopProcess(config->namenode_pid, config->dir, "namenode");
  std::printf("cluster in %s stopped\n", config->dir.c_str());
  return 0;
}

int StatusCmd(const Args& args) {
  auto config = LoadClusterConfig(args.Get("dir", ""));
  if (!config.ok()) return Fail(config.status());
  // The namenode's and the coordinator's web pages end their lines.
  auto line = [&](const char* role, const std::string& host, const std::string& addr, int pid,
                  const std::string& http = "") {
    std::printf("%-11s %-8s %-22s pid %-8d %s%s\n", role, host.c_str(), addr.c_str(), pid,
                ProcessAlive(pid, config->dir) ? "running" : "stopped",
                http.empty() ? "" : ("  http://" + http + "/").c_str());
  };
  line("namenode", "-", config->namenode_address, config->namenode_pid, config->namenode_http);
  if (!config->coordinator_address.empty()) {
    line("coordinator", "-", config->coordinator_address, config->coordinator_pid, config->coordinator_http);
  }
  for (const auto& h : config->hosts) {
    line("datanode", h.name, h.datanode_address, h.datanode_pid);
    if (!h.worker_address.empty()) line("worker", h.name, h.worker_address, h.worker_pid);
  }
  return 0;
}

// One stopped process of the cluster: where it lives and its entry in cluster.json.
struct Stopped {
  std::string name, dir, address, role;
  int* pid = nullptr;
  std::string* http = nullptr;  // its status page's address in cluster.json, if it has one
};

// Reruns a process with its saved argv, on its previous port so that peers find it again, and
// with `supervisor` for --supervisor_pid unless that is -1 (keep the saved one).
Status Restart(ClusterConfig& config, const Stopped& p, int supervisor) {
  ASSIGN_OR_RETURN(auto argv, LoadArgv(p.dir));
  if (supervisor >= 0) argv = WithSupervisor(std::move(argv), supervisor);
  auto port_of = [](const std::string& address) { return address.substr(address.rfind(':') + 1); };
  // The status page too, so that cluster.json and the links printed at submission stay valid.
  const bool keep_http = p.http != nullptr && !p.http->empty();
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--port") argv[i + 1] = port_of(p.address);
    if (argv[i] == "--http_port" && keep_http) argv[i + 1] = port_of(*p.http);
  }
  auto started = StartDaemon(p.dir, p.role, argv);
  if (!started.ok() && keep_http) {
    // Its old status page port was taken meanwhile: a new one, recorded below.
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--http_port") argv[i + 1] = "0";
    }
    started = StartDaemon(p.dir, p.role, argv);
  }
  if (!started.ok()) return started.status().WithContext("starting " + p.name);
  *p.pid = started->pid;
  if (p.http != nullptr && !started->endpoint.value("http", "").empty()) *p.http = started->endpoint.value("http", "");
  RETURN_IF_ERROR(WriteClusterConfig(config));
  std::printf("%s started (pid %d) at %s\n", p.name.c_str(), *p.pid, started->endpoint.value("address", "").c_str());
  return Status::Ok();
}

int Start(const Args& args) {
  int supervisor = -1;
  if (args.Has("supervisor_pid") && !GetSupervisor(args, &supervisor)) return 2;
  auto loaded = LoadClusterConfig(args.Get("dir", ""));
  if (!loaded.ok()) return Fail(loaded.status());
  ClusterConfig config = std::move(loaded).value();
  const std::string which = args.Get("process", "");
  std::vector<Stopped> named;  // what --process names (a bare host: its datanode, then its worker)
  if (which == "namenode") {
    named.push_back({which, config.namenode_dir, config.namenode_address, "namenode", &config.namenode_pid,
                     &config.namenode_http});
  } else if (which == "coordinator" && !config.coordinator_address.empty()) {
    named.push_back({which, config.coordinator_dir, config.coordinator_address, "coordinator", &config.coordinator_pid,
                     &config.coordinator_http});
  } else {
    const std::string host = which.substr(0, which.find('/'));
    const std::string part = which.find('/') == std::string::npos ? "" : which.substr(which.find('/') + 1);
    for (auto& h : config.hosts) {
      if (h.name != host) continue;
      if (part.empty() || part == "datanode") {
        named.push_back({h.name + "/datanode", JoinPath(h.dir, "datanode"), h.datanode_address, "datanode",
                         &h.datanode_pid});
      }
      if ((part.empty() || part == "worker") && !h.worker_address.empty()) {
        named.push_back({h.name + "/worker", JoinPath(h.dir, "worker"), h.worker_address, "worker", &h.worker_pid});
      }
    }
  }
  if (named.empty()) {
    std::fprintf(stderr, "error: --process must be namenode, coordinator, a host name (host1..) or "
                         "hostK/datanode|worker\n");
    return 2;
  }
  std::vector<Stopped> stopped;
  for (const auto& p : named) {
    if (!ProcessAlive(*p.pid, config.dir)) stopped.push_back(p);
  }
  if (stopped.empty()) {
    std::fprintf(stderr, "error: %s is running (pid %d)\n", which.c_str(), *named[0].pid);
    return 1;
  }
  for (const auto& p : stopped) {
    if (Status s = Restart(config, p, supervisor); !s.ok()) return Fail(s);
  }
  return 0;
}

}  // namespace

int ClusterCommand(int argc, char** argv) {
  MoveVerbFirst(argc, argv, 2, {});
  const VerbUsage* verb = nullptr;
  if (int code = Usage().Answer(argc, argv, &verb); code != kRunVerb) return code;
  const std::string sub = verb->verb;
  Args args;
  if (!Args::Parse(argc, argv, 3, &args) || !Usage().FlagsOk(args, *verb)) return 2;
  if (sub == "up") return Up(args);
  if (sub == "down") return Down(args);
  if (sub == "status") return StatusCmd(args);
  if (sub == "start") return Start(args);
  std::fprintf(stderr, "error: no code for cluster %s\n", sub.c_str());
  return 2;
}

}  // namespace sawmill
