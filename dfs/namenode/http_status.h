// The namenode's read-only status page: a tiny HTTP/1.1 server on its own thread serving
//   GET /             HTML: datanodes (host, address, live, capacity, used, blocks), totals
//   GET /status.json  the same data as JSON (field names: StatusJson below)
// and 404 for anything else (405 for methods other than GET and HEAD). One request per connection
// (Connection: close); the server itself is common/http_server.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "dfs/namenode/namenode_service.h"

namespace sawmill::dfs {

// {"now_ms", "started_ms", "safe_mode", "last_txid", "dirs", "files", "open_files", "blocks",
//  "open_blocks", "under_replicated", "missing", "corrupt_replicas", "live_datanodes",
//  "dead_datanodes", "datanodes": [{"id", "host", "address", "machine", "live", "capacity",
//  "used", "blocks", "last_heartbeat_ms"}]}. Times are milliseconds since the epoch; blocks
// count those of closed files (open_blocks the others); under_replicated and missing count
// blocks, corrupt_replicas replicas.
std::string StatusJson(const NamenodeStatus& status);
std::string StatusHtml(const NamenodeStatus& status);

class HttpStatusServer {
 public:
  using StatusFn = std::function<NamenodeStatus()>;
  // Listens on bind:port (0: any free port). Errors name the address.
  static Result<std::unique_ptr<HttpStatusServer>> Start(const std::string& bind, uint16_t port, StatusFn status);
  ~HttpStatusServer();  // Stop()s
  HttpStatusServer(const HttpStatusServer&) = delete;
  HttpStatusServer& operator=(const HttpStatusServer&) = delete;

  uint16_t port() const;
  // Closes the listener and every open connection and joins the thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit HttpStatusServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sawmill::dfs
