// `sawmill namenode`: the file store's metadata daemon. Serves the namenode protocol over TCP
// and a read-only status page over HTTP until SIGTERM or SIGINT, then stops cleanly (exit 0).
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include <glog/logging.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/daemon_util.h"
#include "common/file.h"
#include "common/rpc_tcp.h"
#include "dfs/namenode/http_status.h"
#include "dfs/namenode/namenode_service.h"

namespace sawmill {
namespace {

// Its flags beside those every daemon takes (ParseDaemonArgs).
const DaemonFlags kFlags{.role = "namenode",
                         .flags = {"http_port", "replication", "block_size", "heartbeat_timeout_ms",
                                   "lease_timeout_ms", "replication_interval_ms", "allow_shared_hosts"},
                         .switches = {"allow_shared_hosts"}};

constexpr char kUsage[] = R"(Usage: sawmill namenode --dir D --secret_file F [flags]
       sawmill namenode --config CLUSTER_JSON [flags]

Runs the file store's namenode until SIGTERM/SIGINT. Metadata lives in D/meta; once listening it
writes D/endpoint.json {"role":"namenode","address":"IP:PORT","http":"IP:HPORT","pid":N}.

  --config F                   a deployment's cluster.json (docs/deploy.md): --dir, --port,
                               --http_port, --advertise, --secret_file, --replication and
                               --block_size default to its namenode entry, --bind to 0.0.0.0;
                               flags given here override it
  --dir D                      namenode directory (created if missing)
  --secret_file F              cluster secret (mode 0600)
  --bind 127.0.0.1             address to listen on (RPC and status page)
  --advertise HOST             address peers reach it at (default: the bind address)
  --port 0                     RPC port (0: any free port)
  --http_port 0                status page port (0: any free port)
  --replication 3              default replication factor of new files
  --block_size 67108864        default block size of new files
  --heartbeat_timeout_ms 10000 a datanode silent this long is dead
  --lease_timeout_ms 60000     a writer silent this long loses its open files
  --replication_interval_ms 1000  period of the replication monitor
  --allow_shared_hosts         place several replicas on one host (one-machine clusters)
)";

std::string Endpoint(const std::string& bind, uint16_t port) { return bind + ":" + std::to_string(port); }

void LogRecovery(const dfs::RecoveryInfo& r, const std::string& meta) {
  if (r.checkpoint.empty()) {
    LOG(INFO) << "metadata " << meta << ": no checkpoint";
  } else {
    LOG(INFO) << "metadata " << meta << ": loaded " << r.checkpoint << " (transaction " << r.checkpoint_txid << ")";
  }
  for (const std::string& bad : r.bad_checkpoints) LOG(WARNING) << "skipped unreadable checkpoint: " << bad;
  LOG(INFO) << "replayed " << r.replayed << " journal records";
  if (r.dropped_bytes > 0) {
    LOG(WARNING) << "dropped " << r.dropped_bytes << " bytes of torn or corrupt journal tail";
    for (const std::string& why : r.drop_reasons) LOG(WARNING) << "  " << why;
  }
}

}  // namespace

int NamenodeCommand(int argc, char** argv) {
  DaemonArgs d;
  if (auto exit = ParseDaemonArgs(argc, argv, kFlags, kUsage, &d)) return *exit;
  const Args& args = d.args;
  uint16_t http_port;
  uint32_t replication;
  uint64_t block_size;
  int64_t heartbeat_timeout, lease_timeout, replication_interval;
  if (!args.GetNumber<uint16_t>("http_port", 0, &http_port) ||
      !args.GetNumber<uint32_t>("replication", 3, &replication, 1, 512) ||
      !args.GetNumber<uint64_t>("block_size", 64ull << 20, &block_size, 1) ||
      !args.GetNumber<int64_t>("heartbeat_timeout_ms", 10'000, &heartbeat_timeout, 1) ||
      !args.GetNumber<int64_t>("lease_timeout_ms", 60'000, &lease_timeout, 1) ||
      !args.GetNumber<int64_t>("replication_interval_ms", 1000, &replication_interval, 1)) {
    return 2;
  }

  auto start = BeginDaemon(argv[0], d);
  if (!start.ok()) return DaemonFail(start.status());

  dfs::NamenodeService::Options options;
  options.replication = replication;
  options.block_size = block_size;
  options.lease_timeout_ms = lease_timeout;
  options.replication_interval_ms = replication_interval;
  options.block_manager.heartbeat_timeout_ms = heartbeat_timeout;
  options.block_manager.allow_shared_hosts = args.Has("allow_shared_hosts");
  const std::string meta = JoinPath(d.dir, "meta");
  auto service = dfs::NamenodeService::Open(meta, options);
  if (!service.ok()) return DaemonFail(service.status().WithContext("cannot open namenode metadata"));
  LogRecovery((*service)->recovery(), meta);
  (*service)->Start();

  TcpServerOptions tcp_options;
  tcp_options.max_connections = d.max_connections;
  tcp_options.bind = d.bind;
  tcp_options.port = d.port;
  auto rpc = TcpServer::Start(tcp_options, start->secret, (*service)->handler());
  if (!rpc.ok()) return DaemonFail(rpc.status());
  dfs::NamenodeService* svc = service->get();
  auto http = dfs::HttpStatusServer::Start(d.bind, http_port, [svc] { return svc->GetStatus(); });
  if (!http.ok()) return DaemonFail(http.status());

  const std::string address = Endpoint(d.advertise, (*rpc)->port()),
                    http_address = Endpoint(d.advertise, (*http)->port());
  if (Status s = WriteEndpoint(d.dir, {{"role", "namenode"}, {"address", address}, {"http", http_address}}); !s.ok()) {
    return DaemonFail(s);
  }
  LOG(INFO) << "namenode listening on " << d.bind << ", serving as " << address
            << ", status page http://" << http_address << "/";

  int sig = WaitForStop(start->stop_signals);
  LOG(INFO) << "got " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ": stopping";
  (*http)->Stop();
  (*rpc)->Stop();      // waits for the conversations to end
  (*service)->Stop();  // loop stopped, checkpoint written
  LOG(INFO) << "namenode stopped";
  return 0;
}

}  // namespace sawmill
