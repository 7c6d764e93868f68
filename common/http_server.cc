// The status-page server: an asynchronous Beast server on one io thread, and target parsing.
#include "common/http_server.h"

#include <utility>  // before Asio: Boost 1.74's headers use std::exchange without including it

#include <chrono>
#include <exception>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <glog/logging.h>

namespace sawmill {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A slow or silent client is dropped after this.
constexpr auto kRequestTimeout = std::chrono::seconds(10);

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Calls the route; whatever it throws becomes a 500 rather than taking the server thread down.
HttpResponse Answer(const HttpRoute& route, const std::string& method, const std::string& target) {
  try {
    return route(method, target);
  } catch (const std::exception& e) {
    LOG(ERROR) << "http: " << method << " " << target << " threw: " << e.what();
  } catch (...) {
    LOG(ERROR) << "http: " << method << " " << target << " threw a non-exception";
  }
  return HttpResponse{500, "text/plain; charset=utf-8", "internal error answering " + target + "\n"};
}

}  // namespace

struct HttpServer::Impl {
  HttpRoute route;  // first: pending sessions (destroyed with `io`) refer to it
  // Reset by Stop (the acceptor first: it uses the context's services), which destroys the pending
  // operations and with them the sessions they own, closing their sockets.
  std::optional<asio::io_context> io{std::in_place, 1};
  std::optional<tcp::acceptor> acceptor{std::in_place, *io};
  uint16_t port = 0;
  std::thread thread;
  bool stopped = false;

  void Accept();
};

namespace {

// One connection: read one request, write one response, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpRoute& route) : stream_(std::move(socket)), route_(route) {}

  void Run() {
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) return;  // closed, timed out or not HTTP: nothing to answer
    const std::string method(request_.method_string());
    HttpResponse answer = Answer(route_, method, std::string(request_.target()));
    response_.version(request_.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "sawmill");
    response_.result(static_cast<unsigned>(answer.status));
    response_.set(http::field::content_type, answer.content_type);
    response_.set(http::field::cache_control, "no-store");  // status pages are always live
    response_.body() = std::move(answer.body);
    response_.prepare_payload();
    if (request_.method() == http::verb::head) response_.body().clear();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  beast::tcp_stream stream_;
  const HttpRoute& route_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor->is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), route)->Run();
    Accept();  // a failed accept (e.g. out of descriptors) does not stop the page for good
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& bind, uint16_t port, HttpRoute route) {
  const std::string where = bind + ":" + std::to_string(port);
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(bind, ec);
  if (ec) return InvalidArgument("http server: bad bind address " + bind + ": " + ec.message());
  auto impl = std::make_unique<Impl>();
  impl->route = std::move(route);
  tcp::endpoint endpoint(address, port);
  impl->acceptor->open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor->bind(endpoint, ec);
  if (!ec) impl->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status(StatusCode::kUnavailable, "http server: cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor->local_endpoint(ec).port();
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io->run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->io->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  beast::error_code ignored;
  impl_->acceptor->close(ignored);
  impl_->acceptor.reset();
  impl_->io.reset();  // sessions are owned by their pending operations: this closes their sockets
}

std::string UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (c == '+' && plus_is_space) ? ' ' : c;
  }
  return out;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
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

HttpTarget ParseTarget(std::string_view target) {
  HttpTarget t;
  target = target.substr(0, target.find('#'));
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  t.path = UrlDecode(path);
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty()) {
    size_t slash = path.find('/');
    t.segments.push_back(UrlDecode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) t.segments.emplace_back();  // a trailing slash
  }
  if (q == std::string_view::npos) return t;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = UrlDecode(pair.substr(0, eq), true);
      t.query[key] = eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return t;
}

}  // namespace sawmill
