// `sawmill worker`: one worker daemon (worker/worker.h): runs task attempts for the
// coordinator and serves its map outputs to reducers, until SIGTERM or SIGINT.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <glog/logging.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/daemon_util.h"
#include "common/file.h"
#include "common/reconnect.h"
#include "common/rpc_tcp.h"
#include "dfs/client/dfs_client.h"
#include "worker/shuffle_memory.h"
#include "worker/worker.h"

namespace sawmill {
namespace {

// Its flags beside those every daemon takes (ParseDaemonArgs).
const DaemonFlags kFlags{.role = "worker",
                         .flags = {"coordinator", "namenode", "host", "slots", "poll_ms", "fetch_threads", "warm_executors",
                                   "executor_idle_ms", "shuffle_memory_mb", "shuffle_memory_dir"},
                         .required = {"coordinator", "namenode", "host"}};

constexpr char kUsage[] =
    R"(Usage: sawmill worker --dir D --coordinator ADDR --namenode ADDR --secret_file F --host NAME
       sawmill worker --config CLUSTER_JSON --host NAME
                      [--slots N] [--bind 127.0.0.1] [--port 0] [--advertise HOST]
                      [--poll_ms 1000] [--fetch_threads 4] [--warm_executors true|false]
                      [--executor_idle_ms 60000] [--shuffle_memory_mb 256] [--shuffle_memory_dir DIR]

Runs a worker: registers with the coordinator at ADDR, runs the task attempts it is given in
warm executors of the job binary (fetched from the file store at the namenode ADDR into
D/binaries and checked against their SHA-256 before every first run): processes started once
per job and slot that run the job's attempts one after another (--warm_executors false: a child
process per attempt; an executor idle for --executor_idle_ms ms ends). Each attempt runs in
D/jobs/JOB/ATTEMPT with its stdout, stderr, spec and result, and serves finished map outputs to reducers on
--bind:--port (0: any free port), advertised as --advertise (default: the bind address).
Segments a reduce fetches go to --shuffle_memory_dir (default: a folder of /dev/shm named after
D, cleared at start and stop) while they fit in --shuffle_memory_mb (0: all to disk), the rest
to the attempt's directory.
--host is the placement host: the name of the datanode on the same machine, so that maps
reading its blocks count as node-local. --slots attempts run at once (default: the number of
cores). With --config (a deployment's cluster.json, docs/deploy.md), --dir, --port,
--advertise (from host NAME's worker entry), --coordinator, --namenode and --secret_file default
to that file's entries and --bind to 0.0.0.0; flags given here override it.
Once listening it writes D/endpoint.json:
  {"role":"worker","host":NAME,"address":"ip:port","pid":N}
Stops cleanly on SIGTERM or SIGINT (exit 0), killing the attempts it runs.
)";

}  // namespace

int WorkerCommand(int argc, char** argv) {
  DaemonArgs d;
  if (auto exit = ParseDaemonArgs(argc, argv, kFlags, kUsage, &d)) return *exit;
  const Args& args = d.args;
  int slots, fetch_threads;
  uint32_t poll_ms;
  const int cores = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 1024u));
  if (!args.GetNumber("slots", cores, &slots, 1, 1024) || !args.GetNumber<uint32_t>("poll_ms", 1000, &poll_ms, 1, 30000) ||
      !args.GetNumber("fetch_threads", 4, &fetch_threads, 1, 64)) {
    return 2;
  }
  int64_t executor_idle_ms, shuffle_memory_mb;
  if (!args.GetNumber<int64_t>("executor_idle_ms", 60000, &executor_idle_ms, 0, 86400000) ||
      !args.GetNumber<int64_t>("shuffle_memory_mb", 256, &shuffle_memory_mb, 0, int64_t{1} << 30)) {
    return 2;
  }
  const std::string warm_executors = args.Get("warm_executors", "true");
  if (warm_executors != "true" && warm_executors != "false") {
    return DaemonUsageError("worker", "--warm_executors must be true or false");
  }

  auto start = BeginDaemon(argv[0], d);
  if (!start.ok()) return DaemonFail(start.status());
  // Attempts of an earlier run of this worker are void: the coordinator reran them elsewhere.
  (void)RemoveAll(JoinPath(d.dir, "jobs"));

  TcpTransport transport(start->secret, /*connect_timeout_ms=*/10000, /*io_timeout_ms=*/60000);
  dfs::DfsClient::Options store_options;
  store_options.client_host = args.Get("host", "");
  // Job binaries are fetched from the store on an attempt's own thread, before its task starts:
  // a namenode restart is waited out there as the task's own calls wait it out, rather than
  // failing every attempt launched meanwhile (the chaos harness's seed 9010).
  store_options.reconnect.budget_ms = kDefaultReconnectMs;
  dfs::DfsClient store(&transport, args.Get("namenode", ""), store_options);

  worker::WorkerOptions options;
  options.dir = d.dir;
  options.host = args.Get("host", "");
  options.coordinator_address = args.Get("coordinator", "");
  options.namenode_address = args.Get("namenode", "");
  options.secret_file = d.secret_file;
  options.slots = slots;
  options.poll_ms = poll_ms;
  options.fetch_threads = fetch_threads;
  options.warm_executors = warm_executors == "true";
  options.executor_idle_ms = executor_idle_ms;
  options.shuffle_memory_dir = args.Get("shuffle_memory_dir", worker::DefaultShuffleMemoryDir(d.dir));
  options.shuffle_memory_bytes = static_cast<uint64_t>(shuffle_memory_mb) << 20;

  std::atomic<worker::Worker*> serving{nullptr};
  TcpServerOptions server_options;
  server_options.max_connections = d.max_connections;
  server_options.bind = d.bind;
  server_options.port = d.port;
  auto server = TcpServer::Start(server_options, start->secret, [&serving](Connection& conn) {
    if (worker::Worker* w = serving.load()) w->shuffle_handler()(conn);
  });
  if (!server.ok()) return DaemonFail(server.status());
  options.shuffle_address = d.advertise + ":" + std::to_string((*server)->port());
  auto w = std::make_unique<worker::Worker>(options, &transport, &store);
  serving = w.get();
  if (Status s = WriteEndpoint(d.dir, {{"role", "worker"}, {"host", options.host}, {"address", options.shuffle_address}});
      !s.ok()) {
    return DaemonFail(s);
  }
  w->Start();
  LOG(INFO) << "worker (host " << options.host << ", " << options.slots << " slots, "
            << (options.warm_executors ? "warm executors" : "a process per attempt") << ") serving map outputs at "
            << options.shuffle_address << ", coordinator " << options.coordinator_address;

  int sig = WaitForStop(start->stop_signals);
  LOG(INFO) << "worker: signal " << sig << ", stopping";
  (*server)->Stop();
  serving = nullptr;
  w->Stop();
  w.reset();
  LOG(INFO) << "worker stopped";
  return 0;
}

}  // namespace sawmill
