// The SVG pictures of a program (scheduler/stage_dag_svg.h): a box per stage, an arrow per edge
// with its label, rows for a long program, iterations in order, escaping, and task timelines.
// Well-formedness and geometry (no overlaps, arrows end at boxes) are checked in Python on the
// same fixtures (stage_dag_svg_test.py).
#include "scheduler/stage_dag_svg.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>

#include "scheduler/svg_text.h"
#include "scheduler/web_ui.h"
#include "tests/scheduler/program_fixture.h"

namespace sawmill::sched {
namespace {

using nlohmann::json;

json Program(void (*fill)(proto::JobStatus::Builder)) {
  capnp::MallocMessageBuilder m;
  auto s = m.initRoot<proto::JobStatus>();
  fill(s);
  return JobStatusToJson(s.asReader(), true);
}
json PageRank() {
  return Program([](proto::JobStatus::Builder s) { testing::FillPageRankProgram(s); });
}

size_t Count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + part.size())) ++n;
  return n;
}
bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct Box {
  int x, y, w, h;
};
// The box of each stage, by key (keys of the fixtures need no escaping).
std::map<std::string, Box> Boxes(const std::string& svg) {
  static const std::regex box(
      R"re(<g class="stage" data-key="([^"]*)">[\s\S]*?<svg x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)">)re");
  std::map<std::string, Box> out;
  for (std::sregex_iterator it(svg.begin(), svg.end(), box), end; it != end; ++it) {
    const std::smatch& m = *it;
    out[m[1]] = {std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4]), std::stoi(m[5])};
  }
  return out;
}

int Width(const std::string& svg) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(svg, m, std::regex(R"re(class="stage-dag" width="(\d+)")re")));
  return m.empty() ? 0 : std::stoi(m[1]);
}

TEST(StageDagSvg, BoxPerStageAndLabelledArrowPerEdge) {
  const json j = PageRank();
  StageDagOptions options;
  options.link_prefix = "/job/";
  options.now_ms = 7'400;
  const std::string svg = StageDagSvg(j["stages"], options);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(Count(svg, "<g class=\"stage\""), 25u);
  EXPECT_EQ(Boxes(svg).size(), 25u);
  EXPECT_EQ(Count(svg, "<g class=\"input\""), 1u);  // s0 reads the program's input
  size_t edges = 0;
  for (const json& st : j["stages"]) {
    for (const json& e : st["inputs"]) {
      ++edges;
      const std::string kind = e["kind"];
      const std::string data = " data-from=\"" + e["from"].get<std::string>() + "\" data-to=\"" +
                               st["key"].get<std::string>() + "\" data-kind=\"" + kind + "\"";
      EXPECT_TRUE(Has(svg, "<g class=\"edge\"" + data + "><path")) << data;
      const size_t label = svg.find("<text class=\"edge-label\"" + data);
      ASSERT_NE(label, std::string::npos) << data;
      EXPECT_EQ(svg.substr(svg.find(">", label), kind.size() + 8), ">" + kind + "</text>") << "label of " << data;
    }
  }
  EXPECT_EQ(edges, 35u);
  EXPECT_EQ(Count(svg, "<g class=\"edge\""), edges);
  EXPECT_EQ(Count(svg, "stroke-dasharray=\"7 4\"/><polygon"), 5u);  // broadcasts are dashed
  // A box names its key, state, operators and progress, and links to the stage's job.
  EXPECT_TRUE(Has(svg, ">s3-i6</text>"));
  EXPECT_TRUE(Has(svg, ">running</text>"));
  EXPECT_TRUE(Has(svg, ">ReadText \xE2\x80\xBA FlatMap</text>"));
  EXPECT_TRUE(Has(svg, ">maps 4/4, reduces 2/2</text>"));
  EXPECT_TRUE(Has(svg, ">maps 2/4, reduces 0/2</text>"));
  EXPECT_TRUE(Has(svg, ">maps 0/4</text>"));  // s5 has no reduces
  EXPECT_TRUE(Has(svg, ">260 ms</text>"));    // s3-i6 runs since 7.14 s, now is 7.4 s
  EXPECT_TRUE(Has(svg, ">420 ms \xC2\xB7 101k out \xC2\xB7 asked 2\xC3\x97</text>"));  // s1
  EXPECT_TRUE(Has(svg, "submitted 2 times (a restarted master asked again)"));
  EXPECT_TRUE(Has(svg, "<a href=\"/job/job-8\">"));
  for (const char* state : kLegendStates) EXPECT_TRUE(Has(svg, std::string(">") + state + "</text>")) << state;
}

TEST(StageDagSvg, LongProgramWrapsIntoRowsWithoutOverlaps) {
  const json j = PageRank();
  const std::string svg = StageDagSvg(j["stages"]);
  EXPECT_LE(Width(svg), 1280);
  const auto boxes = Boxes(svg);
  std::map<int, int> rows;  // y -> boxes
  for (const auto& [key, b] : boxes) ++rows[b.y];
  EXPECT_GE(rows.size(), 3u) << "25 stages in a row would not fit 1280 px";
  for (const auto& [k1, a] : boxes) {
    for (const auto& [k2, b] : boxes) {
      if (k1 == k2) continue;
      const bool apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
      EXPECT_TRUE(apart) << k1 << " overlaps " << k2;
    }
  }
  // Read like text: an iteration after the one before it (right, or a row below).
  for (int n = 1; n < 10; ++n) {
    const Box &before = boxes.at("s2-i" + std::to_string(n - 1)), &after = boxes.at("s2-i" + std::to_string(n));
    EXPECT_TRUE(after.y > before.y || (after.y == before.y && after.x > before.x)) << n;
  }
  // A short program is one row.
  json three = json::array();
  for (size_t k = 0; k < 3; ++k) three.push_back(j["stages"][k]);
  std::map<int, int> one_row;
  for (const auto& [key, b] : Boxes(StageDagSvg(three))) ++one_row[b.y];
  EXPECT_EQ(one_row.size(), 1u);
}

TEST(StageDagSvg, IterationsFollowEachOtherWithoutEdges) {
  json stages = json::array();
  for (const char* key : {"t-i2", "t-i0", "t-i1", "u"}) {
    stages.push_back({{"key", key}, {"state", "waiting"}, {"inputs", json::array()}});
  }
  const auto boxes = Boxes(StageDagSvg(stages));
  ASSERT_EQ(boxes.size(), 4u);
  EXPECT_LT(boxes.at("t-i0").x, boxes.at("t-i1").x);
  EXPECT_LT(boxes.at("t-i1").x, boxes.at("t-i2").x);
  EXPECT_EQ(boxes.at("u").x, boxes.at("t-i0").x);  // no iteration: first column
}

TEST(StageDagSvg, EscapesHostileText) {
  const json j = Program(testing::FillHostileProgram);
  for (const std::string& svg : {StageDagSvg(j["stages"]), StageTimelineSvg(j["stages"][0], 1'000)}) {
    for (const char* raw : {"<script", "<svg onload", "<b>", "<i>", "<a>", "h&<", "\x01", "\xff"}) {
      EXPECT_FALSE(Has(svg, raw)) << raw << " in " << svg;
    }
  }
  const std::string svg = StageDagSvg(j["stages"]);
  EXPECT_TRUE(Has(svg, "&lt;script&gt;"));
  EXPECT_TRUE(Has(svg, "&lt;/text&gt;&lt;svg onload=alert(1)&gt;"));  // in the tooltip, whole
  EXPECT_TRUE(Has(svg, "&lt;b&gt;read&lt;/b&gt;"));
  EXPECT_EQ(Count(svg, "<g class=\"edge\""), 2u);  // the input, and the hostile key to "after"
  EXPECT_TRUE(Has(svg, "data-to=\"after\""));
}

TEST(StageDagSvg, EmptyAndMalformedDocuments) {
  for (const json& doc : {json::array(), json("nope"), json::array({1, "x", nullptr}),
                          json::array({{{"key", 5}, {"inputs", "x"}, {"maps", "many"}}})}) {
    const std::string svg = StageDagSvg(doc);
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_TRUE(Has(svg, "</svg>"));
  }
  EXPECT_TRUE(Has(StageDagSvg(json::array()), "no stages yet"));
  // A cycle (a broken document) and a stage reading itself still draw.
  json cycle = json::array({{{"key", "a"}, {"inputs", {{{"from", "b"}, {"kind", "shuffle"}}}}},
                            {{"key", "b"}, {"inputs", {{{"from", "a"}, {"kind", "shuffle"}}}}},
                            {{"key", "c"}, {"inputs", {{{"from", "c"}, {"kind", "read"}}}}}});
  const std::string svg = StageDagSvg(cycle);
  EXPECT_EQ(Count(svg, "<g class=\"stage\""), 3u);
  EXPECT_EQ(Count(svg, "<g class=\"edge\""), 3u);
}

TEST(StageTimelineSvg, RowPerAttemptMapsBeforeReduces) {
  const json j = PageRank();
  const std::string s0 = StageTimelineSvg(j["stages"][0], 7'400);
  EXPECT_EQ(s0.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"task-timeline\"", 0), 0u);
  EXPECT_EQ(Count(s0, "<g class=\"attempt map\">"), 5u);
  EXPECT_EQ(Count(s0, "<g class=\"attempt reduce\">"), 2u);
  EXPECT_LT(s0.find(">map 1 #0</text>"), s0.find(">map 1 #1</text>"));
  EXPECT_LT(s0.find(">map 3 #0</text>"), s0.find(">reduce 0 #0</text>"));
  EXPECT_TRUE(Has(s0, "exit 1: out of memory"));  // the failed attempt's tooltip
  EXPECT_TRUE(Has(s0, "seconds since the program's submission"));
  EXPECT_TRUE(Has(s0, ">0.15 s</text>")) << s0;  // s0's attempts run 0.11 s .. 0.505 s: a tick per 50 ms
  EXPECT_TRUE(Has(s0, ">0.50 s</text>"));
  EXPECT_FALSE(Has(s0, ">0.55 s</text>"));
  EXPECT_TRUE(Has(s0, kMapColor));
  EXPECT_TRUE(Has(s0, kReduceColor));

  // A running attempt's bar ends at now, the right end of the axis (900 - 24 px).
  const std::string running = StageTimelineSvg(j["stages"][16], 7'400);
  std::smatch m;
  const std::regex bar(R"re(class="attempt-span" x="(\d+)" y="\d+" width="(\d+)" height="\d+" fill="#dbeafe")re");
  ASSERT_TRUE(std::regex_search(running, m, bar)) << running;
  EXPECT_EQ(std::stoi(m[1]) + std::stoi(m[2]), 876);
  EXPECT_TRUE(Has(StageTimelineSvg(j["stages"][24], 7'400), "no attempts yet"));
}

TEST(SvgText, EscapesCutsAndRepairs) {
  EXPECT_EQ(SvgText("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
  EXPECT_EQ(SvgText("abcdef", 4), "abc\xE2\x80\xA6");
  EXPECT_EQ(SvgText("abcd", 4), "abcd");
  EXPECT_EQ(SvgText("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\xE2\x80\xA6");  // never half a character
  EXPECT_EQ(SvgText("a\x01\r\tb\n"), "a  \tb\n");                             // tabs and newlines are XML
  EXPECT_EQ(SvgText("\xff\xC3"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(SvgText("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate is no character
  EXPECT_EQ(SvgText("\xEF\xBF\xBF"), "\xEF\xBF\xBD");                          // U+FFFF is not allowed in XML
}

}  // namespace
}  // namespace sawmill::sched
