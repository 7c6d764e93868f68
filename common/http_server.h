// A tiny HTTP/1.1 server for read-only status pages (the namenode's, the coordinator's): one
// request per connection, answered by a route function on the server's own thread. The Asio and
// Beast machinery stays in http_server.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sawmill {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
};

// Answers one request. `method` is as sent ("GET", "HEAD", "POST", ...); `target` is the raw
// request target, query included ("/job/j1?x=1"); ParseTarget splits it. Runs on the server's
// thread, one request at a time. Must not throw: an exception that escapes anyway becomes a 500.
// For HEAD the server sends the headers of the route's answer and drops its body.
using HttpRoute = std::function<HttpResponse(const std::string& method, const std::string& target)>;

class HttpServer {
 public:
  // Listens on bind:port (port 0: any free port) and serves on a thread of its own. Fails with
  // kInvalidArgument for a bind that is not an IP address, kUnavailable when it cannot listen;
  // messages name the address.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& bind, uint16_t port, HttpRoute route);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port it listens on (the one chosen when Start was given 0).
  uint16_t port() const;
  // Closes the listener and every open connection and joins the thread; no route call runs after
  // it returns. Idempotent. Must not be called from the route.
  void Stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A request target taken apart.
struct HttpTarget {
  std::string path;  // decoded: "/job/a b" for "/job/a%20b?x=1"
  // The path split at '/' before decoding (so "%2F" stays inside a segment), without the leading
  // empty one: "/job/j%2F1/logs" -> {"job", "j/1", "logs"}; "/" -> {}; "/a/" -> {"a", ""}.
  std::vector<std::string> segments;
  // Decoded, '+' read as a space; the last of repeated keys wins; "k" alone maps to "".
  std::map<std::string, std::string> query;
};
HttpTarget ParseTarget(std::string_view target);

// %XX escapes decoded (a malformed escape is kept as is); '+' becomes a space when plus_is_space.
std::string UrlDecode(std::string_view s, bool plus_is_space = false);
// Percent-encodes everything but unreserved characters (A-Z a-z 0-9 - . _ ~), for a path segment
// or a query value.
std::string UrlEncode(std::string_view s);
// <, >, &, " and ' as entities: safe in element text and in quoted attribute values.
std::string HtmlEscape(std::string_view s);

}  // namespace sawmill
