// The TCP implementation of the transport seam (common/rpc.h): TcpServer accepts connections,
// runs the server side of the handshake (common/auth.h) and hands each authenticated
// conversation to a Handler on its own thread; TcpTransport opens authenticated connections.
// Both also speak the same protocol over Unix stream sockets ("unix:/path" addresses), which
// same-machine peers use to skip the loopback TCP stack.
// Byte layout, thread model and limits: docs/formats/wire.md.
//
// The Asio machinery stays in rpc_tcp.cc so that users of this header compile quickly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/rpc.h"
#include "common/status.h"

namespace sawmill {

struct TcpServerOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see TcpServer::port())
  // A peer that has not completed the handshake within this is closed.
  int64_t handshake_timeout_ms = 10000;
  // An authenticated conversation whose reads or writes make no progress for this long fails
  // (0: wait forever, e.g. a client that keeps a connection open between requests).
  int64_t io_timeout_ms = 0;
  // Connections being authenticated plus conversations; further connections are closed at once.
  size_t max_connections = 512;
  // When not empty, the server also accepts on a Unix stream socket at this path (same
  // handshake, handlers and limits), created with mode 0600. A socket file left there by an
  // earlier run is replaced; any other file there is an error. Stop() removes it.
  std::string unix_path;
};

class TcpServer {
 public:
  // Listens on options.bind:options.port (and options.unix_path) and serves until Stop().
  // Errors name the address or path.
  static Result<std::unique_ptr<TcpServer>> Start(TcpServerOptions options, std::string secret, Handler handler);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  uint16_t port() const;
  // "ip:port" actually bound (the bind address as given, e.g. 0.0.0.0 for all interfaces).
  std::string address() const;
  // "unix:/path" of the Unix socket, or "" when options.unix_path was empty.
  std::string local_address() const;
  // Stops accepting, closes every connection (a Handler blocked in Receive gets an error) and
  // joins all threads, so it waits for handlers to return. Idempotent; the destructor calls it.
  // Not from inside a Handler (it would wait for itself).
  void Stop();

  struct Impl;

 private:
  explicit TcpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Connect("host:port") resolves, connects within connect_timeout_ms and authenticates with
// `secret` before returning; Connect("unix:/path") does the same over a Unix stream socket.
// A wrong secret is reported as such. io_timeout_ms bounds each read
// or write on the returned connection (0: none).
class TcpTransport : public Transport {
 public:
  explicit TcpTransport(std::string secret, int64_t connect_timeout_ms = 10000, int64_t io_timeout_ms = 0);
  Result<std::unique_ptr<Connection>> Connect(const std::string& address) override;

 private:
  std::string secret_;
  int64_t connect_timeout_ms_, io_timeout_ms_;
};

}  // namespace sawmill
