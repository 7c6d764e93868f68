// The status page: rendering (HTML, JSON) and its routes, served by common/http_server.
#include "dfs/namenode/http_status.h"

#include <cstdio>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/http_server.h"

namespace sawmill::dfs {

namespace {

std::string Bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace

std::string StatusJson(const NamenodeStatus& s) {
  nlohmann::json j = {
      {"now_ms", s.now_ms},
      {"started_ms", s.started_ms},
      {"safe_mode", s.safe_mode},
      {"read_only", s.read_only},
      {"last_txid", s.last_txid},
      {"dirs", s.dirs},
      {"files", s.files},
      {"open_files", s.open_files},
      {"blocks", s.blocks},
      {"open_blocks", s.open_blocks},
      {"under_replicated", s.under_replicated},
      {"missing", s.missing},
      {"corrupt_replicas", s.corrupt},
      {"live_datanodes", s.live_datanodes},
      {"dead_datanodes", s.dead_datanodes},
  };
  nlohmann::json dns = nlohmann::json::array();
  for (const DatanodeStatus& d : s.datanodes) {
    dns.push_back({{"id", d.id},
                   {"host", d.host},
                   {"address", d.address},
                   {"machine", d.machine},
                   {"live", d.live},
                   {"capacity", d.capacity},
                   {"used", d.used},
                   {"blocks", d.blocks},
                   {"last_heartbeat_ms", d.last_heartbeat_ms}});
  }
  j["datanodes"] = std::move(dns);
  // Names come from datanodes: never let a bad byte turn into an exception.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string StatusHtml(const NamenodeStatus& s) {
  std::string h;
  h += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sawmill namenode</title>\n";
  h += "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
       ".dead{color:#b00}</style></head><body>\n";
  h += "<h1>Sawmill namenode</h1>\n";
  if (!s.read_only.empty()) h += "<p class=\"dead\"><b>Read-only</b>: " + HtmlEscape(s.read_only) + "</p>\n";
  if (s.safe_mode) h += "<p><b>Safe mode</b>: waiting for block reports; no replicas are copied or deleted.</p>\n";
  h += "<table>\n";
  auto row = [&](const std::string& k, const std::string& v) { h += "<tr><th>" + k + "</th><td>" + v + "</td></tr>\n"; };
  row("files", std::to_string(s.files) + " (" + std::to_string(s.open_files) + " open)");
  row("directories", std::to_string(s.dirs));
  row("blocks", std::to_string(s.blocks) + " (+" + std::to_string(s.open_blocks) + " being written)");
  row("under-replicated blocks", std::to_string(s.under_replicated));
  row("missing blocks", std::to_string(s.missing));
  row("corrupt replicas", std::to_string(s.corrupt));
  row("datanodes", std::to_string(s.live_datanodes) + " live, " + std::to_string(s.dead_datanodes) + " dead");
  row("last transaction", std::to_string(s.last_txid));
  row("up", std::to_string((s.now_ms - s.started_ms) / 1000) + " s");
  h += "</table>\n<h2>Datanodes</h2>\n<table>\n";
  h += "<tr><th>id</th><th>host</th><th>address</th><th>state</th><th>capacity</th><th>used</th><th>blocks</th>"
       "<th>last heartbeat</th></tr>\n";
  for (const DatanodeStatus& d : s.datanodes) {
    h += d.live ? "<tr>" : "<tr class=\"dead\">";
    h += "<td>" + HtmlEscape(d.id) + "</td><td>" + HtmlEscape(d.host) + "</td><td>" + HtmlEscape(d.address) + "</td>";
    h += std::string("<td>") + (d.live ? "live" : "dead") + "</td>";
    h += "<td>" + Bytes(d.capacity) + "</td><td>" + Bytes(d.used) + "</td><td>" + std::to_string(d.blocks) + "</td>";
    h += "<td>" + std::to_string((s.now_ms - d.last_heartbeat_ms) / 1000) + " s ago</td></tr>\n";
  }
  h += "</table>\n<p><a href=\"/status.json\">status.json</a></p>\n</body></html>\n";
  return h;
}

struct HttpStatusServer::Impl {
  std::unique_ptr<HttpServer> server;
};

namespace {

HttpResponse Route(const HttpStatusServer::StatusFn& status, const std::string& method, const std::string& target) {
  if (method != "GET" && method != "HEAD") return {405, "text/plain", "only GET\n"};
  const std::string path = ParseTarget(target).path;
  if (path == "/" || path == "/status.json") {
    NamenodeStatus s = status();
    bool json = path == "/status.json";
    return {200, json ? "application/json" : "text/html; charset=utf-8", json ? StatusJson(s) : StatusHtml(s)};
  }
  return {404, "text/plain", "not found: " + path + "\n"};
}

}  // namespace

Result<std::unique_ptr<HttpStatusServer>> HttpStatusServer::Start(const std::string& bind, uint16_t port,
                                                                   StatusFn status) {
  auto impl = std::make_unique<Impl>();
  auto server = HttpServer::Start(bind, port, [status = std::move(status)](const std::string& method,
                                                                           const std::string& target) {
    return Route(status, method, target);
  });
  if (!server.ok()) return server.status().WithContext("namenode status page");
  impl->server = std::move(server).value();
  return std::unique_ptr<HttpStatusServer>(new HttpStatusServer(std::move(impl)));
}

HttpStatusServer::HttpStatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpStatusServer::~HttpStatusServer() { Stop(); }

uint16_t HttpStatusServer::port() const { return impl_->server->port(); }

void HttpStatusServer::Stop() { impl_->server->Stop(); }

}  // namespace sawmill::dfs
