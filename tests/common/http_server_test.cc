// The status-page HTTP server over real loopback sockets (a plain POSIX client), and the target
// parsing and escaping helpers beside it.
#include "common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sawmill {
namespace {

// A connected socket to 127.0.0.1:port, or -1.
int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` and returns the whole response (the server closes after one).
std::string Send(uint16_t port, const std::string& request) {
  int fd = Connect(port);
  EXPECT_GE(fd, 0);
  if (fd < 0) return "";
  EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  ::close(fd);
  return out;
}

std::string Get(uint16_t port, const std::string& target) {
  return Send(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
}

std::string Body(const std::string& response) {
  size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

bool HasHeader(const std::string& response, const std::string& line) {
  return (response.substr(0, response.find("\r\n\r\n")) + "\r\n").find("\r\n" + line + "\r\n") != std::string::npos;
}

// Echoes what it was asked; /teapot answers 403 in plain text; /throw throws.
HttpResponse Echo(const std::string& method, const std::string& target) {
  if (target == "/throw") throw std::runtime_error("boom");
  if (target == "/teapot") return {403, "text/plain", "short and stout"};
  return {200, "text/html; charset=utf-8", method + " " + target};
}

TEST(HttpServer, ServesRouteAnswers) {
  std::atomic<int> calls = 0;
  auto server = HttpServer::Start("127.0.0.1", 0, [&](const std::string& m, const std::string& t) {
    ++calls;
    return Echo(m, t);
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);

  std::string ok = Get(port, "/a/b%20c?x=1&y=2");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  EXPECT_TRUE(HasHeader(ok, "Content-Type: text/html; charset=utf-8")) << ok;
  EXPECT_TRUE(HasHeader(ok, "Connection: close")) << ok;
  EXPECT_EQ(Body(ok), "GET /a/b%20c?x=1&y=2");  // the raw target, query included

  std::string tea = Get(port, "/teapot");
  EXPECT_EQ(tea.rfind("HTTP/1.1 403", 0), 0u) << tea;
  EXPECT_TRUE(HasHeader(tea, "Content-Type: text/plain")) << tea;
  EXPECT_EQ(Body(tea), "short and stout");

  std::string post = Send(port, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_EQ(Body(post), "POST /p");  // the route decides what methods mean

  std::string head = Send(port, "HEAD /teapot HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 403", 0), 0u) << head;
  EXPECT_TRUE(HasHeader(head, "Content-Length: 15")) << head;
  EXPECT_EQ(Body(head), "");

  std::string boom = Get(port, "/throw");
  EXPECT_EQ(boom.rfind("HTTP/1.1 500", 0), 0u) << boom;
  Send(port, "not http at all\r\n\r\n");  // dropped unanswered; the server keeps going
  EXPECT_EQ(Get(port, "/").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(calls.load(), 6);

  (*server)->Stop();
  (*server)->Stop();
  EXPECT_EQ(Connect(port), -1) << "still listening after Stop";
}

TEST(HttpServer, SilentClientDoesNotBlockOthersOrStop) {
  auto server = HttpServer::Start("127.0.0.1", 0, Echo);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  int silent = Connect((*server)->port());
  ASSERT_GE(silent, 0);
  EXPECT_EQ(Body(Get((*server)->port(), "/x")), "GET /x");
  (*server)->Stop();  // returns although `silent` never sent a request
  char c;
  EXPECT_EQ(::read(silent, &c, 1), 0);  // its connection was closed
  ::close(silent);
}

TEST(HttpServer, StartErrors) {
  EXPECT_EQ(HttpServer::Start("not an address", 0, Echo).status().code(), StatusCode::kInvalidArgument);
  auto first = HttpServer::Start("127.0.0.1", 0, Echo);
  ASSERT_TRUE(first.ok());
  auto second = HttpServer::Start("127.0.0.1", (*first)->port(), Echo);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string((*first)->port())), std::string::npos)
      << second.status().message();
}

TEST(HttpTarget, SplitsPathAndQuery) {
  HttpTarget t = ParseTarget("/job/j%2F1/logs?a=1&b=x+y%26z&flag&a=2#frag");
  EXPECT_EQ(t.path, "/job/j/1/logs");
  EXPECT_EQ(t.segments, (std::vector<std::string>{"job", "j/1", "logs"}));
  EXPECT_EQ(t.query.size(), 3u);
  EXPECT_EQ(t.query["a"], "2");
  EXPECT_EQ(t.query["b"], "x y&z");
  EXPECT_EQ(t.query["flag"], "");

  EXPECT_TRUE(ParseTarget("/").segments.empty());
  EXPECT_TRUE(ParseTarget("/?x=1").segments.empty());
  EXPECT_EQ(ParseTarget("/a/").segments, (std::vector<std::string>{"a", ""}));
  EXPECT_EQ(ParseTarget("/a+b").path, "/a+b");  // '+' is a space only in the query
}

TEST(HttpTarget, DecodeEncodeEscape) {
  EXPECT_EQ(UrlDecode("a%20b%zz%4"), "a b%zz%4");  // malformed escapes kept
  EXPECT_EQ(UrlDecode("a+b", true), "a b");
  EXPECT_EQ(UrlEncode("job 1/<x>~_.-"), "job%201%2F%3Cx%3E~_.-");
  EXPECT_EQ(UrlDecode(UrlEncode("\x01\xff ?&=")), "\x01\xff ?&=");
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace sawmill
