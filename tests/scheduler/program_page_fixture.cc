// Writes the web UI's documents for the program fixtures (tests/scheduler/program_fixture.h) into
// a directory, for tests/scheduler/stage_dag_svg_test.py and for looking at the page in a browser:
//   program_page_fixture DIR [STAGES.json...]
// DIR/program.html (GET /job/job-7), program.json, dag.svg, timeline.svg (stage s0),
// index.html (GET / with the program and a plain job), hostile.html, hostile.json, hostile.svg,
// hostile_timeline.svg; and each STAGES.json given (a document's "stages") as DIR/<k>.svg.
#include <capnp/message.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "scheduler/stage_dag_svg.h"
#include "scheduler/web_ui.h"
#include "tests/scheduler/program_fixture.h"

namespace sawmill::sched {
namespace {

using nlohmann::json;

bool Write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) std::fprintf(stderr, "error: cannot write %s\n", path.c_str());
  return static_cast<bool>(f);
}

json Doc(void (*fill)(proto::JobStatus::Builder), bool with_attempts) {
  capnp::MallocMessageBuilder m;
  auto s = m.initRoot<proto::JobStatus>();
  fill(s);
  return JobStatusToJson(s.asReader(), with_attempts);
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [STAGES.json...]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  // Each STAGES.json (a "stages" array) drawn as DIR/<k>.svg, k counting from 0.
  for (int k = 2; k < argc; ++k) {
    std::ifstream in(argv[k]);
    const json stages = json::parse(in, nullptr, false);
    if (stages.is_discarded() || !Write(dir + "/" + std::to_string(k - 2) + ".svg", StageDagSvg(stages))) {
      std::fprintf(stderr, "error: %s is no JSON or cannot be drawn\n", argv[k]);
      return 1;
    }
  }
  auto pagerank = [](proto::JobStatus::Builder s) { testing::FillPageRankProgram(s); };
  const json program = Doc(pagerank, true), hostile = Doc(testing::FillHostileProgram, true);
  json plain = Doc(pagerank, false);
  plain["job_id"] = "job-1";
  plain["name"] = "wordcount";
  plain["program"] = false;
  plain["stages"] = json::array();
  plain["maps"] = 8;
  plain["maps_done"] = 8;

  UiData data;
  data.cluster = [&] {
    return json{{"now_ms", 1'700'000'010'000},
                {"coordinator", {{"address", "127.0.0.1:7000"}, {"started_ms", 1'699'999'000'000}}},
                {"workers", json::array()},
                {"jobs", json::array({plain, Doc(pagerank, false)})}};
  };
  data.job = [&](const std::string& id) -> std::optional<json> {
    if (id == "job-7") return program;
    if (id == "job-9") return hostile;
    return std::nullopt;
  };
  data.logs = [](const std::string&) -> std::optional<json> { return std::nullopt; };

  StageDagOptions options;
  options.now_ms = program["elapsed_ms"].get<int64_t>();
  const json& s0 = program["stages"][0];
  bool ok = Write(dir + "/program.html", RouteCoordinatorUi("GET", "/job/job-7", data).body) &&
            Write(dir + "/program.json", program.dump(2)) &&
            Write(dir + "/dag.svg", StageDagSvg(program["stages"], options)) &&
            Write(dir + "/timeline.svg", StageTimelineSvg(s0, options.now_ms)) &&
            Write(dir + "/index.html", RouteCoordinatorUi("GET", "/", data).body) &&
            Write(dir + "/hostile.html", RouteCoordinatorUi("GET", "/job/job-9", data).body) &&
            Write(dir + "/hostile.json", hostile.dump(2, ' ', false, json::error_handler_t::replace)) &&
            Write(dir + "/hostile.svg", StageDagSvg(hostile["stages"])) &&
            Write(dir + "/hostile_timeline.svg", StageTimelineSvg(hostile["stages"][0], 1'000));
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace sawmill::sched

int main(int argc, char** argv) { return sawmill::sched::Main(argc, argv); }
