// The status page: rendering (HTML, JSON) and an asynchronous Beast server on one io thread.
#include "dfs/namenode/http_status.h"

#include <utility>  // before Asio: Boost 1.74's headers use std::exchange without including it

#include <chrono>
#include <cstdio>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <glog/logging.h>
#include <nlohmann/json.hpp>

namespace sawmill::dfs {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A slow or silent client is dropped after this.
constexpr auto kRequestTimeout = std::chrono::seconds(10);

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

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
    h += "<td>" + Escape(d.id) + "</td><td>" + Escape(d.host) + "</td><td>" + Escape(d.address) + "</td>";
    h += std::string("<td>") + (d.live ? "live" : "dead") + "</td>";
    h += "<td>" + Bytes(d.capacity) + "</td><td>" + Bytes(d.used) + "</td><td>" + std::to_string(d.blocks) + "</td>";
    h += "<td>" + std::to_string((s.now_ms - d.last_heartbeat_ms) / 1000) + " s ago</td></tr>\n";
  }
  h += "</table>\n<p><a href=\"/status.json\">status.json</a></p>\n</body></html>\n";
  return h;
}

struct HttpStatusServer::Impl {
  StatusFn status;  // first: pending sessions (destroyed with `io`) refer to it
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  uint16_t port = 0;
  std::thread thread;
  bool stopped = false;

  void Accept();
};

namespace {

// One connection: read one request, write one response, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpStatusServer::StatusFn& status)
      : stream_(std::move(socket)), status_(status) {}

  void Run() {
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) return;  // closed, timed out or not HTTP: nothing to answer
    std::string target(request_.target());
    target = target.substr(0, target.find('?'));
    response_.version(request_.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "sawmill-namenode");
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      response_.result(http::status::method_not_allowed);
      response_.set(http::field::content_type, "text/plain");
      response_.body() = "only GET\n";
    } else if (target == "/" || target == "/status.json") {
      NamenodeStatus s = status_();
      bool json = target == "/status.json";
      response_.result(http::status::ok);
      response_.set(http::field::content_type, json ? "application/json" : "text/html; charset=utf-8");
      response_.body() = json ? StatusJson(s) : StatusHtml(s);
    } else {
      response_.result(http::status::not_found);
      response_.set(http::field::content_type, "text/plain");
      response_.body() = "not found: " + target + "\n";
    }
    response_.prepare_payload();
    if (request_.method() == http::verb::head) response_.body().clear();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  beast::tcp_stream stream_;
  const HttpStatusServer::StatusFn& status_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

void HttpStatusServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), status)->Run();
    Accept();  // a failed accept (e.g. out of descriptors) does not stop the page for good
  });
}

Result<std::unique_ptr<HttpStatusServer>> HttpStatusServer::Start(const std::string& bind, uint16_t port,
                                                                   StatusFn status) {
  const std::string where = bind + ":" + std::to_string(port);
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(bind, ec);
  if (ec) return InvalidArgument("status page: bad bind address " + bind + ": " + ec.message());
  auto impl = std::make_unique<Impl>();
  impl->status = std::move(status);
  tcp::endpoint endpoint(address, port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status(StatusCode::kUnavailable, "status page: cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint(ec).port();
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<HttpStatusServer>(new HttpStatusServer(std::move(impl)));
}

HttpStatusServer::HttpStatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpStatusServer::~HttpStatusServer() { Stop(); }

uint16_t HttpStatusServer::port() const { return impl_->port; }

void HttpStatusServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Sessions are owned by their pending operations: stopping the loop and destroying the context
  // (with the Impl) closes their sockets.
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace sawmill::dfs
