// `sawmill coordinator`: the job coordinator daemon (scheduler/coordinator.h) with its web page,
// until SIGTERM or SIGINT.

#include <cstdio>
#include <memory>
#include <string>

#include <glog/logging.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/daemon_util.h"
#include "common/file.h"
#include "common/http_server.h"
#include "common/local_fs.h"
#include "common/rpc_tcp.h"
#include "dfs/client/dfs_client.h"
#include "scheduler/coordinator.h"
#include "scheduler/web_ui.h"

namespace sawmill {
namespace {

// Its flags beside those every daemon takes (ParseDaemonArgs).
const DaemonFlags kFlags{.role = "coordinator",
                         .flags = {"namenode", "http_port", "worker_timeout_ms", "task_timeout_ms", "task_memory_mb",
                                   "max_attempts", "locality_delay_ms", "slow_start", "speculation", "max_finished_jobs"},
                         .required = {"namenode"}};

constexpr char kUsage[] = R"(Usage: sawmill coordinator --dir D --namenode ADDR --secret_file F
       sawmill coordinator --config CLUSTER_JSON
                           [--bind 127.0.0.1] [--port 0] [--advertise HOST] [--http_port 0]
                           [--worker_timeout_ms 10000] [--task_timeout_ms 3600000]
                           [--task_memory_mb 0] [--max_attempts 4] [--locality_delay_ms 3000]
                           [--slow_start 0.05] [--speculation true|false]
                           [--max_finished_jobs 1000]

Runs the job coordinator: accepts jobs from job binaries and `sawmill job`, schedules their
map and reduce attempts onto registered workers (node-local first, delay scheduling, slow start,
retries, speculation), commits outputs in the file store at the namenode ADDR, and keeps the
history of jobs in D/history. The newest --max_finished_jobs finished jobs stay in memory (the
job list); older ones are answered from D/history when asked for by id. Listens on
--bind:--port (0: any free port) and advertises --advertise (default: the bind address) with
that port; serves its web page and JSON
(/api/cluster, /api/jobs/ID) on --http_port. With --config (a deployment's cluster.json,
docs/deploy.md), --dir, --port, --http_port, --advertise, --namenode and --secret_file default
to that file's entries and --bind to 0.0.0.0; flags given here override it.
Once listening it writes D/endpoint.json:
  {"role":"coordinator","address":"ip:port","http":"ip:hport","pid":N}
Stops cleanly on SIGTERM or SIGINT (exit 0).
)";

}  // namespace

int CoordinatorCommand(int argc, char** argv) {
  DaemonArgs d;
  if (auto exit = ParseDaemonArgs(argc, argv, kFlags, kUsage, &d)) return *exit;
  const Args& args = d.args;
  uint16_t http_port;
  int64_t worker_timeout_ms, locality_delay_ms;
  uint64_t task_timeout_ms, task_memory_mb, max_finished_jobs;
  int max_attempts;
  double slow_start;
  if (!args.GetNumber<uint16_t>("http_port", 0, &http_port) ||
      !args.GetNumber<int64_t>("worker_timeout_ms", 10000, &worker_timeout_ms, 0) ||
      !args.GetU64("task_timeout_ms", 3600000, &task_timeout_ms) || !args.GetU64("task_memory_mb", 0, &task_memory_mb) ||
      !args.GetNumber<uint64_t>("max_finished_jobs", 1000, &max_finished_jobs, 1) ||
      !args.GetNumber("max_attempts", 4, &max_attempts, 1, 100) ||
      !args.GetNumber<int64_t>("locality_delay_ms", 3000, &locality_delay_ms, 0) ||
      !args.GetNumber("slow_start", 0.05, &slow_start, 0.0, 1.0)) {
    return 2;
  }
  const std::string speculation = args.Get("speculation", "true");
  if (speculation != "true" && speculation != "false") return DaemonUsageError("coordinator", "--speculation must be true or false");

  auto start = BeginDaemon(argv[0], d);
  if (!start.ok()) return DaemonFail(start.status());

  TcpTransport transport(start->secret, /*connect_timeout_ms=*/10000, /*io_timeout_ms=*/60000);
  // A namenode restart is waited out, for less than the worker timeout: the coordinator's store
  // calls (commits) still hold the lock the workers' polls need (issue 20, item 5).
  dfs::DfsClient::Options store_options;
  store_options.reconnect.budget_ms = worker_timeout_ms / 2;
  auto store = std::make_shared<dfs::DfsClient>(&transport, args.Get("namenode", ""), store_options);
  SetDfs(store);  // manifests are written through the dfs: registry

  sched::CoordinatorOptions options;
  options.dir = d.dir;
  options.namenode_address = args.Get("namenode", "");
  options.worker_timeout_ms = worker_timeout_ms;
  options.task_timeout_ms = task_timeout_ms;
  options.task_memory_mb = task_memory_mb;
  options.max_finished_jobs = max_finished_jobs;
  options.scheduler.max_attempts = max_attempts;
  options.scheduler.locality_delay_ms = locality_delay_ms;
  options.scheduler.slow_start = slow_start;
  options.scheduler.speculation = speculation == "true";

  TcpServerOptions server_options;
  server_options.max_connections = d.max_connections;
  server_options.bind = d.bind;
  server_options.port = d.port;
  std::atomic<sched::Coordinator*> serving{nullptr};
  auto server = TcpServer::Start(server_options, start->secret, [&serving](Connection& conn) {
    if (sched::Coordinator* c = serving.load()) c->handler()(conn);
  });
  if (!server.ok()) return DaemonFail(server.status());
  options.address = d.advertise + ":" + std::to_string((*server)->port());
  auto coordinator = std::make_unique<sched::Coordinator>(options, store.get());
  if (Status s = coordinator->Start(); !s.ok()) return DaemonFail(s);
  serving = coordinator.get();

  sched::UiData ui;
  sched::Coordinator* c = coordinator.get();
  ui.cluster = [c] { return c->ClusterJson(); };
  ui.job = [c](const std::string& id) { return c->JobJson(id); };
  ui.logs = [c](const std::string& id) { return c->LogsJson(id); };
  auto http = HttpServer::Start(d.bind, http_port, [ui](const std::string& method, const std::string& target) {
    return sched::RouteCoordinatorUi(method, target, ui);
  });
  if (!http.ok()) return DaemonFail(http.status());
  const std::string http_address = d.advertise + ":" + std::to_string((*http)->port());
  if (Status s = WriteEndpoint(d.dir, {{"role", "coordinator"}, {"address", options.address}, {"http", http_address}});
      !s.ok()) {
    return DaemonFail(s);
  }
  LOG(INFO) << "coordinator at " << options.address << ", web page http://" << http_address << "/, namenode "
            << options.namenode_address;

  int sig = WaitForStop(start->stop_signals);
  LOG(INFO) << "coordinator: signal " << sig << ", stopping";
  (*http)->Stop();
  coordinator->Stop();
  (*server)->Stop();
  serving = nullptr;
  coordinator.reset();
  SetDfs(nullptr);
  LOG(INFO) << "coordinator stopped";
  return 0;
}

}  // namespace sawmill
