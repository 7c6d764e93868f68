// The namenode status page: JSON and HTML rendering, and the server over a real loopback socket.
#include "dfs/namenode/http_status.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sawmill::dfs {
namespace {

NamenodeStatus Sample() {
  NamenodeStatus s;
  s.now_ms = 10'000;
  s.started_ms = 4'000;
  s.files = 3;
  s.dirs = 2;
  s.blocks = 5;
  s.under_replicated = 1;
  s.missing = 2;
  s.corrupt = 1;
  s.live_datanodes = 1;
  s.dead_datanodes = 1;
  s.datanodes.push_back({"dn-1", "<h1>", "127.0.0.1:5", "m", true, 1 << 30, 1 << 20, 4, 9'000});
  s.datanodes.push_back({"dn-2", "h2", "127.0.0.1:6", "m", false, 0, 0, 0, 1'000});
  return s;
}

// One HTTP/1.1 request to 127.0.0.1:port; the whole response (the server closes).
std::string Get(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  ::close(fd);
  return out;
}

std::string Body(const std::string& response) {
  size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

TEST(HttpStatus, JsonHasEveryField) {
  auto j = nlohmann::json::parse(StatusJson(Sample()));
  EXPECT_EQ(j["files"], 3);
  EXPECT_EQ(j["missing"], 2);
  EXPECT_EQ(j["corrupt_replicas"], 1);
  EXPECT_EQ(j["safe_mode"], false);
  ASSERT_EQ(j["datanodes"].size(), 2u);
  EXPECT_EQ(j["datanodes"][0]["host"], "<h1>");
  EXPECT_EQ(j["datanodes"][0]["capacity"], 1 << 30);
  EXPECT_EQ(j["datanodes"][1]["live"], false);
}

TEST(HttpStatus, HtmlEscapesNames) {
  std::string html = StatusHtml(Sample());
  EXPECT_NE(html.find("&lt;h1&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<h1>&"), std::string::npos);
  EXPECT_NE(html.find("127.0.0.1:6"), std::string::npos);
  EXPECT_NE(html.find("1.0 GiB"), std::string::npos);
}

TEST(HttpStatus, ServesPagesAnd404) {
  int calls = 0;
  auto server = HttpStatusServer::Start("127.0.0.1", 0, [&] {
    ++calls;
    return Sample();
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);

  std::string json = Get(port, "GET /status.json HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(json.rfind("HTTP/1.1 200", 0), 0u) << json;
  EXPECT_NE(json.find("application/json"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(Body(json))["blocks"], 5);

  std::string html = Get(port, "GET /?refresh=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(html.rfind("HTTP/1.1 200", 0), 0u) << html;
  EXPECT_NE(Body(html).find("dn-2"), std::string::npos);

  std::string missing = Get(port, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404", 0), 0u) << missing;
  std::string post = Get(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  Get(port, "not http at all\r\n\r\n");  // dropped; the server keeps going
  EXPECT_EQ(Get(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(calls, 3);

  (*server)->Stop();
  (*server)->Stop();
  EXPECT_EQ(HttpStatusServer::Start("not an address", 0, Sample).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sawmill::dfs
