// Raw log line formats (logs/log_formats.h): access log times and fields, RFC 3339, JSON members.
#include "logs/log_formats.h"

#include <gtest/gtest.h>

namespace sawmill::logs {
namespace {

TEST(LogFormatsTest, AccessLogTimeIsUtcWithTheZoneApplied) {
  int64_t ms = 0;
  ASSERT_TRUE(ParseAccessLogTime("10/Oct/2000:13:55:36 -0700", &ms));
  EXPECT_EQ(ms, 971211336000);  // 2000-10-10T20:55:36Z
  ASSERT_TRUE(ParseAccessLogTime("01/Jan/1970:00:00:00 +0000", &ms));
  EXPECT_EQ(ms, 0);
  ASSERT_TRUE(ParseAccessLogTime("29/Feb/2024:23:59:59 +0530", &ms));
  EXPECT_EQ(ms, 1709251199000 - 330 * 60000);
  for (const char* bad : {"10/Foo/2000:13:55:36 -0700", "10/Oct/2000:13:55:36", "10/Oct/2000 13:55:36 -0700",
                          "10/Oct/2000:25:55:36 -0700", "1/Oct/2000:13:55:36 -0700", ""}) {
    EXPECT_FALSE(ParseAccessLogTime(bad, &ms)) << bad;
  }
}

TEST(LogFormatsTest, Rfc3339) {
  int64_t ms = 0;
  ASSERT_TRUE(ParseRfc3339("2026-12-06T14:03:00Z", &ms));
  EXPECT_EQ(ms, 1796565780000);
  ASSERT_TRUE(ParseRfc3339("2026-12-06 15:03:00.1234567+01:00", &ms));
  EXPECT_EQ(ms, 1796565780123);
  ASSERT_TRUE(ParseRfc3339("2026-12-06t14:03:00.5z", &ms));
  EXPECT_EQ(ms, 1796565780500);
  for (const char* bad : {"2026-12-06T14:03:00", "2026-12-06T14:03Z", "2026-13-06T14:03:00Z",
                          "2026-12-06T14:03:00.Z", "2026-12-06T14:03:00+0100", "x"}) {
    EXPECT_FALSE(ParseRfc3339(bad, &ms)) << bad;
  }
}

TEST(LogFormatsTest, CombinedLineFields) {
  AccessLogLine l;
  const char* why = nullptr;
  ASSERT_TRUE(ParseAccessLogLine(
      R"x(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326 "http://e.com/s.html" "Mozilla/4.08 [en] (Win98; I ;Nav)" 0.042)x",
      &l, &why));
  EXPECT_EQ(l.host, "127.0.0.1");
  EXPECT_EQ(l.user, "frank");
  EXPECT_EQ(l.method, "GET");
  EXPECT_EQ(l.path, "/apache_pb.gif?x=1");
  EXPECT_EQ(l.protocol, "HTTP/1.0");
  EXPECT_EQ(l.status, 200);
  EXPECT_EQ(l.referer, "http://e.com/s.html");
  EXPECT_EQ(l.agent, "Mozilla/4.08 [en] (Win98; I ;Nav)");
  EXPECT_EQ(l.time_ms, 971211336000);
  EXPECT_EQ(l.latency_ms, 42);
  // Common log format (no referer or agent), and an integer latency in milliseconds.
  ASSERT_TRUE(ParseAccessLogLine(R"(h - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 404 -)", &l, &why));
  EXPECT_EQ(l.user, "-");
  EXPECT_EQ(l.latency_ms, -1);
  ASSERT_TRUE(ParseAccessLogLine(R"(h - u [10/Oct/2000:13:55:36 -0700] "GET /\"q\" HTTP/1.1" 200 5 "-" "a" 17)", &l, &why));
  EXPECT_EQ(l.latency_ms, 17);
  EXPECT_EQ(l.path, R"(/\"q\")");
  for (const char* bad : {"", "h - u", R"(h - u 10/Oct/2000:13:55:36 -0700 "GET /" 200 5)",
                          R"(h - u [10/Oct/2000:13:55:36 -0700] "GET / 200 5)", R"(h - u [10/Oct/2000:13:55:36 -0700] "GET /" x 5)"}) {
    EXPECT_FALSE(ParseAccessLogLine(bad, &l, &why)) << bad;
    EXPECT_NE(why, nullptr);
  }
  int64_t ms;
  EXPECT_TRUE(AccessLogLineTime("anything [10/Oct/2000:13:55:36 -0700] goes", &ms, &why));
  EXPECT_FALSE(AccessLogLineTime("no time here", &ms, &why));
}

TEST(LogFormatsTest, JsonMembers) {
  JsonField f;
  const char* why = nullptr;
  const std::string line =
      R"({"nested":{"time":"no","a":[1,{"b":null}]},"time":"2026-12-06T14:03:00Z","n":-12.5e3,"s":"a\"b\\c\u00e9\ud83d\ude00","t":true})";
  ASSERT_TRUE(FindJsonField(line, "time", &f, &why));
  EXPECT_EQ(f.kind, JsonKind::kString);
  EXPECT_EQ(f.text, "2026-12-06T14:03:00Z");
  ASSERT_TRUE(FindJsonField(line, "n", &f, &why));
  EXPECT_EQ(f.kind, JsonKind::kNumber);
  EXPECT_EQ(f.text, "-12.5e3");
  ASSERT_TRUE(FindJsonField(line, "s", &f, &why));
  EXPECT_EQ(f.text, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80");
  ASSERT_TRUE(FindJsonField(line, "t", &f, &why));
  EXPECT_EQ(f.kind, JsonKind::kOther);
  ASSERT_TRUE(FindJsonField(line, "missing", &f, &why));
  EXPECT_EQ(f.kind, JsonKind::kMissing);
  ASSERT_TRUE(FindJsonField(R"( { "time" : 1700000000123 } )", "time", &f, &why));
  int64_t ms = 0;
  ASSERT_TRUE(JsonFieldTime(f, &ms, &why));
  EXPECT_EQ(ms, 1700000000123);
  ASSERT_TRUE(FindJsonField(R"({"time":1.5})", "time", &f, &why));
  EXPECT_FALSE(JsonFieldTime(f, &ms, &why));
  for (const char* bad : {"", "[1]", "{", R"({"a":})", R"({"a":1,})", R"({"a":1} x)", R"({"a":"\x"})",
                          R"({"a":01})", R"({"a":"\ud800"})", "{\"a\":\"tab\there\"}"}) {
    EXPECT_FALSE(FindJsonField(bad, "a", &f, &why)) << bad;
  }
}

TEST(LogFormatsTest, FormatNames) {
  auto combined = ParseLineFormat("combined"), common = ParseLineFormat("common"), jsonl = ParseLineFormat("jsonl");
  EXPECT_EQ(*combined, LineFormat::kCombined);
  EXPECT_EQ(*common, LineFormat::kCombined);
  EXPECT_EQ(*jsonl, LineFormat::kJsonl);
  EXPECT_FALSE(ParseLineFormat("csv").ok());
}

}  // namespace
}  // namespace sawmill::logs
