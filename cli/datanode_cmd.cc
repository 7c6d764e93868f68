// `sawmill datanode`: one datanode process. Serves the replicas under <dir>/blocks over TCP
// (and, for peers on the same machine, over a Unix socket at <dir>/data.sock), reports to the
// namenode, and runs until SIGTERM or SIGINT.
#include <signal.h>
#include <sys/un.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>

#include <glog/logging.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/daemon_util.h"
#include "common/auth.h"
#include "common/file.h"
#include "common/rpc_tcp.h"
#include "dfs/datanode/block_store.h"
#include "dfs/datanode/datanode.h"

namespace sawmill {
namespace {

// Its flags beside those every daemon takes (ParseDaemonArgs).
const DaemonFlags kFlags{.role = "datanode",
                         .flags = {"namenode", "host", "heartbeat_ms", "block_report_ms", "scan_interval_ms",
                                   "sync_blocks"},
                         .required = {"namenode", "host"}};

constexpr char kUsage[] =
    R"(Usage: sawmill datanode --dir D --namenode ADDR --secret_file F --host NAME
       sawmill datanode --config CLUSTER_JSON --host NAME
                        [--bind 127.0.0.1] [--port 0] [--advertise HOST] [--heartbeat_ms 1000]
                        [--block_report_ms 60000] [--scan_interval_ms 600000]
                        [--sync_blocks true|false]

Runs a datanode: stores block replicas in D/blocks, serves writes (the replication pipeline),
reads and short-circuit grants on --bind:--port (0: any free port), registered with the namenode
as --advertise:PORT (default: the bind address) and, for clients and
datanodes on the same machine, on the Unix socket D/data.sock (skipped when its absolute path
is too long for a socket address); it registers with the
namenode at ADDR ("ip:port"), heartbeating every --heartbeat_ms. --host is the placement host
name (several datanodes of a one-machine cluster use distinct names). Full block reports every
--block_report_ms, a checksum scan of every replica every --scan_interval_ms (0 disables either).
--sync_blocks (default true) fdatasyncs every replica before acknowledging it; false leaves
write-back to the kernel (like cp), trading power-loss durability for write speed.
With --config (a deployment's cluster.json, docs/deploy.md), --dir (DIR/datanode of host NAME's
datanode entry), --port, --advertise, --namenode and --secret_file default to that file's
entries and --bind to 0.0.0.0; flags given here override it.
Its id is created once in D/datanode_id. Once listening it writes D/endpoint.json:
  {"role":"datanode","id":ID,"host":NAME,"address":"ip:port","pid":N}
Stops cleanly on SIGTERM or SIGINT (exit 0).
)";

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// The id kept in <dir>/datanode_id, created ("dn-" + 8 hex digits) on the first start.
Result<std::string> LoadOrCreateId(const std::string& dir) {
  const std::string path = JoinPath(dir, "datanode_id");
  if (PathExists(path)) {
    std::string id;
    RETURN_IF_ERROR(ReadFileToString(path, &id));
    while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) id.pop_back();
    if (id.empty()) return Corruption(path + ": empty datanode id");
    return id;
  }
  std::string id = "dn-" + Hex(RandomNonce().substr(0, 4));
  RETURN_IF_ERROR(WriteStringToFile(path, id + "\n"));
  return id;
}

// <dir>/data.sock (`dir` absolute: peers run in other working directories), or "" when it does
// not fit in a socket address.
std::string LocalSocketPath(const std::string& dir) {
  std::string path = JoinPath(dir, "data.sock");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    LOG(INFO) << "no Unix socket: " << path << " is longer than " << sizeof(sockaddr_un::sun_path) - 1
              << " bytes; same-machine peers use TCP";
    return "";
  }
  return path;
}

}  // namespace

int DatanodeCommand(int argc, char** argv) {
  DaemonArgs d;
  if (auto exit = ParseDaemonArgs(argc, argv, kFlags, kUsage, &d)) return *exit;
  const Args& args = d.args;
  int64_t heartbeat_ms, block_report_ms, scan_interval_ms;
  if (!args.GetNumber<int64_t>("heartbeat_ms", 1000, &heartbeat_ms, 1, 3600000) ||
      !args.GetNumber<int64_t>("block_report_ms", 60000, &block_report_ms, 0) ||
      !args.GetNumber<int64_t>("scan_interval_ms", 600000, &scan_interval_ms, 0)) {
    return 2;
  }
  const std::string sync_blocks = args.Get("sync_blocks", "true");
  if (sync_blocks != "true" && sync_blocks != "false") {
    return DaemonUsageError("datanode", "--sync_blocks must be true or false");
  }

  auto start = BeginDaemon(argv[0], d);
  if (!start.ok()) return DaemonFail(start.status());
  auto id = LoadOrCreateId(d.dir);
  if (!id.ok()) return DaemonFail(id.status());
  dfs::BlockStoreOptions store_options;
  store_options.sync_on_finalize = sync_blocks == "true";
  auto store = dfs::BlockStore::Open(JoinPath(d.dir, "blocks"), store_options);
  if (!store.ok()) return DaemonFail(store.status());
  const auto& report = (*store)->open_report();
  LOG(INFO) << "block store " << JoinPath(d.dir, "blocks") << ": " << (*store)->List().size() << " blocks, "
            << report.removed.size() << " leftover files removed, " << report.malformed.size() << " malformed";
  for (const Status& m : report.malformed) LOG(WARNING) << "malformed: " << m.ToString();

  // The datanode needs the advertised address, known only once the server listens: the handler
  // refuses conversations until the datanode exists.
  std::atomic<dfs::Datanode*> serving{nullptr};
  TcpServerOptions server_options;
  server_options.max_connections = d.max_connections;
  server_options.bind = d.bind;
  server_options.port = d.port;
  server_options.unix_path = LocalSocketPath(d.dir);
  auto server = TcpServer::Start(server_options, start->secret, [&serving](Connection& conn) {
    if (dfs::Datanode* d = serving.load()) d->handler()(conn);
  });
  if (!server.ok()) return DaemonFail(server.status());
  const std::string address = d.advertise + ":" + std::to_string((*server)->port());

  // Outgoing connections (namenode, downstream datanodes, copy targets) give up on a peer that
  // makes no progress for a minute, so a hung peer cannot wedge a pipeline forever.
  TcpTransport transport(start->secret, /*connect_timeout_ms=*/10000, /*io_timeout_ms=*/60000);
  dfs::Datanode::Options options;
  options.dir = d.dir;
  options.id = *id;
  options.host = args.Get("host", "");
  options.address = address;
  options.local_socket = (*server)->local_address();
  options.namenode_address = args.Get("namenode", "");
  options.heartbeat_ms = heartbeat_ms;
  options.block_report_ms = block_report_ms;
  options.scan_interval_ms = scan_interval_ms;
  auto datanode = std::make_unique<dfs::Datanode>(options, &transport, store->get());
  serving = datanode.get();

  if (Status s = WriteEndpoint(d.dir, {{"role", "datanode"}, {"id", *id}, {"host", options.host}, {"address", address}});
      !s.ok()) {
    datanode->Stop();
    (*server)->Stop();
    return DaemonFail(s);
  }
  datanode->Start();
  LOG(INFO) << "datanode " << *id << " (host " << options.host << ") serving " << JoinPath(d.dir, "blocks") << " at "
            << address << (options.local_socket.empty() ? "" : " and " + options.local_socket) << ", namenode "
            << options.namenode_address;

  int sig = WaitForStop(start->stop_signals);
  LOG(INFO) << "datanode " << *id << ": signal " << sig << ", stopping";
  // The datanode first: it closes its conversations (and the connections they opened downstream)
  // and refuses new ones; then the server joins its threads; the store goes last.
  datanode->Stop();
  (*server)->Stop();
  serving = nullptr;
  datanode.reset();
  store->reset();
  LOG(INFO) << "datanode " << *id << " stopped";
  return 0;
}

}  // namespace sawmill
