// The coordinator's web pages: JSON documents from Cap'n Proto JobStatus/AttemptLog (programs
// and their stages too), and the router (status codes, content types, escaping, unknown jobs,
// program pages) over a fake UiData.
#include "scheduler/web_ui.h"
#include "tests/scheduler/program_fixture.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace sawmill::sched {
namespace {

using nlohmann::json;

const char kEvilName[] = "<script>alert(1)</script>";

// A running job with two counters and two attempts (one finished, one running).
void FillJob(proto::JobStatus::Builder s) {
  s.setJobId("job_1");
  s.setName(kEvilName);
  s.setState("running");
  s.setError("");
  s.setOutput("dfs:/out/wc");
  s.setSubmitUnixMs(1'700'000'000'000);
  s.setElapsedMs(5'000);
  s.setMaps(10);
  s.setMapsDone(4);
  s.setMapsRunning(3);
  s.setReduces(2);
  s.setReducesDone(0);
  s.setReducesRunning(1);
  s.setInputBytes(1 << 30);
  s.setBytesRead(1 << 20);
  s.setDataLocalMaps(3);
  s.setRemoteMaps(1);
  s.setFailedAttempts(1);
  s.setKilledAttempts(2);
  s.setSpeculativeAttempts(1);
  s.setRecordsIn(1000);
  s.setRecordsOut(10);
  s.setBytesOut(12345);
  auto counters = s.initCounters(2);
  counters[0].setName("map.records");
  counters[0].setValue(1000);
  counters[1].setName("user.<odd>");
  counters[1].setValue(-7);
  auto attempts = s.initAttempts(2);
  attempts[0].setAttemptId("job_1_m_3_0");
  attempts[0].setReduce(false);
  attempts[0].setTask(3);
  attempts[0].setAttempt(0);
  attempts[0].setWorker("w1");
  attempts[0].setHost("host1");
  attempts[0].setState("failed");
  attempts[0].setStartMs(100);
  attempts[0].setEndMs(600);
  attempts[0].setLocal(true);
  attempts[0].setSpeculative(false);
  attempts[0].setError("exit 1: <oops>");
  attempts[1].setAttemptId("job_1_r_1_2");
  attempts[1].setReduce(true);
  attempts[1].setTask(1);
  attempts[1].setAttempt(2);
  attempts[1].setWorker("w2");
  attempts[1].setHost("host2");
  attempts[1].setState("running");
  attempts[1].setStartMs(1'000);
  attempts[1].setEndMs(0);
  attempts[1].setLocal(false);
  attempts[1].setSpeculative(true);
}

json JobJson(bool with_attempts) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<proto::JobStatus>();
  FillJob(s);
  return JobStatusToJson(s.asReader(), with_attempts);
}

json LogsJson() {
  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<proto::CoordinatorResponse>().initLogs(2);
  list[0].setAttemptId("job_1_m_3_0");
  list[0].setHost("host1");
  list[0].setState("failed");
  list[0].setStderr("line 1\n<b>bold</b> & more\n");
  list[1].setAttemptId("job_1_r_1_2");
  list[1].setHost("host2");
  list[1].setState("running");
  list[1].setStderr("");
  return AttemptLogsToJson(list.asReader());
}

TEST(WebUiJson, JobStatusFields) {
  json j = JobJson(true);
  EXPECT_EQ(j["job_id"], "job_1");
  EXPECT_EQ(j["name"], kEvilName);  // escaping is the pages' business
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["error"], "");
  EXPECT_EQ(j["output"], "dfs:/out/wc");
  EXPECT_EQ(j["submit_unix_ms"], 1'700'000'000'000);
  EXPECT_EQ(j["elapsed_ms"], 5'000);
  EXPECT_EQ(j["maps"], 10);
  EXPECT_EQ(j["maps_done"], 4);
  EXPECT_EQ(j["maps_running"], 3);
  EXPECT_EQ(j["reduces"], 2);
  EXPECT_EQ(j["reduces_done"], 0);
  EXPECT_EQ(j["reduces_running"], 1);
  EXPECT_EQ(j["input_bytes"], 1u << 30);
  EXPECT_EQ(j["bytes_read"], 1u << 20);
  EXPECT_EQ(j["data_local_maps"], 3);
  EXPECT_EQ(j["remote_maps"], 1);
  EXPECT_EQ(j["failed_attempts"], 1);
  EXPECT_EQ(j["killed_attempts"], 2);
  EXPECT_EQ(j["speculative_attempts"], 1);
  EXPECT_EQ(j["records_in"], 1000);
  EXPECT_EQ(j["records_out"], 10);
  EXPECT_EQ(j["bytes_out"], 12345);
  EXPECT_EQ(j["counters"], (json{{"map.records", 1000}, {"user.<odd>", -7}}));
  EXPECT_EQ(j["program"], false);
  EXPECT_EQ(j["parent_job"], "");
  EXPECT_EQ(j["stage_key"], "");
  EXPECT_EQ(j["stages"], json::array());
  EXPECT_EQ(j.size(), 29u) << j.dump();  // 28 fields and attempts: nothing unexpected

  ASSERT_EQ(j["attempts"].size(), 2u);
  const json& a = j["attempts"][0];
  EXPECT_EQ(a["attempt_id"], "job_1_m_3_0");
  EXPECT_EQ(a["reduce"], false);
  EXPECT_EQ(a["task"], 3);
  EXPECT_EQ(a["attempt"], 0);
  EXPECT_EQ(a["worker"], "w1");
  EXPECT_EQ(a["host"], "host1");
  EXPECT_EQ(a["state"], "failed");
  EXPECT_EQ(a["start_ms"], 100);
  EXPECT_EQ(a["end_ms"], 600);
  EXPECT_EQ(a["local"], true);
  EXPECT_EQ(a["speculative"], false);
  EXPECT_EQ(a["error"], "exit 1: <oops>");
  EXPECT_EQ(a["duration_ms"], 500);
  EXPECT_EQ(a.size(), 13u);
  const json& r = j["attempts"][1];
  EXPECT_EQ(r["reduce"], true);
  EXPECT_EQ(r["attempt"], 2);
  EXPECT_EQ(r["speculative"], true);
  EXPECT_EQ(r["duration_ms"], 4'000);  // running: the job's elapsed time minus its start

  json summary = JobJson(false);
  EXPECT_FALSE(summary.contains("attempts"));
  EXPECT_EQ(summary["maps_done"], 4);
}

TEST(WebUiJson, AttemptLogs) {
  json l = LogsJson();
  ASSERT_TRUE(l.is_array());
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0], (json{{"attempt_id", "job_1_m_3_0"},
                        {"host", "host1"},
                        {"state", "failed"},
                        {"stderr", "line 1\n<b>bold</b> & more\n"}}));
  EXPECT_EQ(l[1]["stderr"], "");
}

// A cluster of two workers (one lost) and two jobs given oldest first.
json Cluster(const std::string& newest_state) {
  json old_job = JobJson(false);
  json new_job = JobJson(false);
  new_job["job_id"] = "job_2";
  new_job["name"] = "newer";
  new_job["state"] = newest_state;
  new_job["submit_unix_ms"] = 1'700'000'100'000;
  old_job["state"] = "succeeded";
  return {{"now_ms", 1'700'000'200'000},
          {"coordinator", {{"address", "127.0.0.1:7000"}, {"started_ms", 1'699'999'000'000}}},
          {"workers", json::array({{{"id", "w1"}, {"host", "host-a"}, {"address", "127.0.0.1:7001"}, {"slots", 4},
                                    {"running", 2}, {"last_seen_ms", 1'700'000'199'000}, {"live", true}},
                                   {{"id", "w2"}, {"host", "host-b"}, {"address", "127.0.0.1:7002"}, {"slots", 4},
                                    {"running", 0}, {"last_seen_ms", 1'700'000'000'000}, {"live", false}}})},
          {"jobs", json::array({old_job, new_job})}};
}

struct Fake {
  std::string newest_state = "running";
  std::vector<std::string> asked;  // job ids the router asked for
  UiData data() {
    UiData d;
    d.cluster = [this] { return Cluster(newest_state); };
    d.job = [this](const std::string& id) -> std::optional<json> {
      asked.push_back(id);
      if (id == "job_1") return JobJson(true);
      return std::nullopt;
    };
    d.logs = [this](const std::string& id) -> std::optional<json> {
      asked.push_back(id);
      if (id == "job_1") return LogsJson();
      return std::nullopt;
    };
    return d;
  }
};

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(WebUiRoute, IndexListsWorkersAndJobsNewestFirst) {
  Fake fake;
  HttpResponse r = RouteCoordinatorUi("GET", "/", fake.data());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(Has(r.body, "host-a")) << r.body;
  EXPECT_TRUE(Has(r.body, "host-b"));
  EXPECT_TRUE(Has(r.body, "127.0.0.1:7000"));
  EXPECT_TRUE(Has(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_FALSE(Has(r.body, kEvilName));
  EXPECT_TRUE(Has(r.body, "href=\"/job/job_1\""));
  EXPECT_TRUE(Has(r.body, "4/10"));  // the maps bar of job_1
  // Both jobs must be on the page before their order means anything (npos < npos is false,
  // but a found job_2 is before a missing job_1).
  const size_t newest = r.body.find(">job_2<"), oldest = r.body.find(">job_1<");
  ASSERT_NE(newest, std::string::npos) << r.body;
  ASSERT_NE(oldest, std::string::npos) << r.body;
  EXPECT_LT(newest, oldest) << "newest job first";
  EXPECT_TRUE(Has(r.body, "http-equiv=\"refresh\""));  // job_2 runs

  fake.newest_state = "failed";
  EXPECT_FALSE(Has(RouteCoordinatorUi("GET", "/", fake.data()).body, "http-equiv=\"refresh\""));
}

TEST(WebUiRoute, ClusterJson) {
  Fake fake;
  HttpResponse r = RouteCoordinatorUi("GET", "/api/cluster", fake.data());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  json c = json::parse(r.body);
  EXPECT_EQ(c["coordinator"]["address"], "127.0.0.1:7000");
  EXPECT_EQ(c["workers"].size(), 2u);
  ASSERT_EQ(c["jobs"].size(), 2u);
  EXPECT_EQ(c["jobs"][0]["job_id"], "job_2");  // sorted newest first, as the page shows them
  EXPECT_EQ(c["jobs"][1]["name"], kEvilName);
}

TEST(WebUiRoute, JobPage) {
  Fake fake;
  HttpResponse r = RouteCoordinatorUi("GET", "/job/job_1?refresh=0", fake.data());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(fake.asked, std::vector<std::string>{"job_1"});
  EXPECT_FALSE(Has(r.body, kEvilName));
  EXPECT_TRUE(Has(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_TRUE(Has(r.body, "dfs:/out/wc"));
  EXPECT_TRUE(Has(r.body, "3 data-local maps, 1 remote (75% local)")) << r.body;
  EXPECT_TRUE(Has(r.body, "map.records"));
  EXPECT_TRUE(Has(r.body, "user.&lt;odd&gt;"));
  EXPECT_TRUE(Has(r.body, "job_1_m_3_0"));
  EXPECT_TRUE(Has(r.body, "exit 1: &lt;oops&gt;"));
  EXPECT_TRUE(Has(r.body, "reduce 1"));
  EXPECT_TRUE(Has(r.body, "href=\"/job/job_1/logs#job_1_r_1_2\""));
  EXPECT_TRUE(Has(r.body, "4.0 s"));  // the running attempt's duration
  EXPECT_TRUE(Has(r.body, "http-equiv=\"refresh\""));
}

TEST(WebUiRoute, LogsPage) {
  Fake fake;
  HttpResponse r = RouteCoordinatorUi("GET", "/job/job_1/logs", fake.data());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(Has(r.body, "<pre>line 1\n&lt;b&gt;bold&lt;/b&gt; &amp; more\n</pre>")) << r.body;
  EXPECT_TRUE(Has(r.body, "id=\"job_1_m_3_0\""));
  EXPECT_TRUE(Has(r.body, "(empty stderr)"));
}

TEST(WebUiRoute, JobJsonEndpoints) {
  Fake fake;
  HttpResponse job = RouteCoordinatorUi("GET", "/api/jobs/job_1", fake.data());
  EXPECT_EQ(job.status, 200);
  EXPECT_EQ(job.content_type, "application/json");
  EXPECT_EQ(json::parse(job.body), JobJson(true));
  HttpResponse logs = RouteCoordinatorUi("GET", "/api/jobs/job_1/logs", fake.data());
  EXPECT_EQ(logs.status, 200);
  EXPECT_EQ(logs.content_type, "application/json");
  EXPECT_EQ(json::parse(logs.body), LogsJson());
}

TEST(WebUiRoute, UnknownJobsAndPaths) {
  Fake fake;
  HttpResponse page = RouteCoordinatorUi("GET", "/job/%3Cscript%3E", fake.data());
  EXPECT_EQ(page.status, 404);
  EXPECT_TRUE(Has(page.body, "no job <b>&lt;script&gt;</b>")) << page.body;
  EXPECT_FALSE(Has(page.body, "<script>"));
  EXPECT_EQ(RouteCoordinatorUi("GET", "/job/nope/logs", fake.data()).status, 404);

  HttpResponse api = RouteCoordinatorUi("GET", "/api/jobs/job%201", fake.data());
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(api.content_type, "application/json");
  EXPECT_EQ(json::parse(api.body)["error"], "unknown job: job 1");
  EXPECT_EQ(RouteCoordinatorUi("GET", "/api/jobs/nope/logs", fake.data()).status, 404);
  EXPECT_EQ(fake.asked, (std::vector<std::string>{"<script>", "nope", "job 1", "nope"}));

  for (const char* path : {"/nothing", "/job", "/job/", "/job/job_1/extra", "/job/job_1/logs/x", "/api",
                           "/api/jobs", "/api/jobs/", "/api/cluster/x", "/api/job/job_1"}) {
    HttpResponse r = RouteCoordinatorUi("GET", path, fake.data());
    EXPECT_EQ(r.status, 404) << path;
  }
}

TEST(WebUiRoute, MethodsAndFailures) {
  Fake fake;
  EXPECT_EQ(RouteCoordinatorUi("POST", "/", fake.data()).status, 405);
  EXPECT_EQ(RouteCoordinatorUi("DELETE", "/api/jobs/job_1", fake.data()).status, 405);
  EXPECT_EQ(RouteCoordinatorUi("HEAD", "/", fake.data()).status, 200);

  UiData broken = fake.data();
  broken.cluster = []() -> json { throw std::runtime_error("coordinator gone"); };
  HttpResponse r = RouteCoordinatorUi("GET", "/", broken);
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(Has(r.body, "coordinator gone"));

  // A document of the wrong shape still renders (empty fields), never throws.
  broken.job = [](const std::string&) -> std::optional<json> { return json("not an object"); };
  EXPECT_EQ(RouteCoordinatorUi("GET", "/job/x", broken).status, 200);
  broken.cluster = [] { return json{{"jobs", 3}, {"workers", {{"id", 5}}}}; };
  EXPECT_EQ(RouteCoordinatorUi("GET", "/", broken).status, 200);
}

json ProgramJson(bool with_attempts) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<proto::JobStatus>();
  testing::FillPageRankProgram(s);
  return JobStatusToJson(s.asReader(), with_attempts);
}

TEST(WebUiJson, ProgramStages) {
  json j = ProgramJson(true);
  EXPECT_EQ(j["program"], true);
  EXPECT_EQ(j["parent_job"], "");
  ASSERT_EQ(j["stages"].size(), 25u);  // s0, s1, r0, 10 iterations of two, s4, s5
  const json& s0 = j["stages"][0];
  EXPECT_EQ(s0["key"], "s0");
  EXPECT_EQ(s0["job_id"], "job-8");
  EXPECT_EQ(s0["state"], "succeeded");
  EXPECT_EQ(s0["operators"], (json{"ReadText", "FlatMap"}));
  EXPECT_EQ(s0["inputs"], (json::array({{{"from", ""}, {"kind", "read"}}})));
  EXPECT_EQ(s0["maps"], 4);
  EXPECT_EQ(s0["maps_done"], 4);
  EXPECT_EQ(s0["maps_running"], 0);
  EXPECT_EQ(s0["reduces"], 2);
  EXPECT_EQ(s0["reduces_done"], 2);
  EXPECT_EQ(s0["reduces_running"], 0);
  EXPECT_EQ(s0["start_ms"], 100);
  EXPECT_EQ(s0["end_ms"], 520);
  EXPECT_EQ(s0["records_out"], 100'000);
  EXPECT_EQ(s0["bytes_out"], 2'000'000);
  EXPECT_EQ(s0["submissions"], 1);
  EXPECT_EQ(s0.size(), 17u) << s0.dump();
  ASSERT_EQ(s0["attempts"].size(), 7u);  // 4 maps, one retried, 2 reduces
  const json& failed = s0["attempts"][0];
  EXPECT_EQ(failed["attempt_id"], "job-8_m_1_0");
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["error"], "exit 1: out of memory");
  EXPECT_EQ(failed["duration_ms"], 60);
  EXPECT_EQ(failed.size(), 13u);  // the shape of the job's attempts
  EXPECT_EQ(j["stages"][1]["submissions"], 2);
  EXPECT_EQ(j["stages"][3]["inputs"], (json::array({{{"from", "r0"}, {"kind", "shuffle"}},
                                                     {{"from", "s1"}, {"kind", "broadcast"}}})));

  const json& running = j["stages"][16];
  EXPECT_EQ(running["key"], "s3-i6");
  EXPECT_EQ(running["state"], "running");
  EXPECT_EQ(running["end_ms"], 0);
  const json& last = running["attempts"][2];
  EXPECT_EQ(last["state"], "running");
  // A running stage attempt's duration ends at the program's elapsed time.
  EXPECT_EQ(last["duration_ms"], 7'400 - last["start_ms"].get<int64_t>());
  EXPECT_EQ(j["stages"][24]["key"], "s5");
  EXPECT_EQ(j["stages"][24]["state"], "waiting");

  json summary = ProgramJson(false);
  ASSERT_EQ(summary["stages"].size(), 25u);
  EXPECT_FALSE(summary["stages"][0].contains("attempts"));
}

TEST(WebUiJson, StageOfAProgram) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<proto::JobStatus>();
  FillJob(s);
  s.setParentJob("job-7");
  s.setStageKey("s2-i3");
  json j = JobStatusToJson(s.asReader(), false);
  EXPECT_EQ(j["program"], false);
  EXPECT_EQ(j["parent_job"], "job-7");
  EXPECT_EQ(j["stage_key"], "s2-i3");
}

size_t Count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + part.size())) ++n;
  return n;
}

struct ProgramFake {
  UiData data() {
    UiData d;
    d.cluster = [] {
      json plain = JobJson(false), program = ProgramJson(false);
      plain["submit_unix_ms"] = 1'600'000'000'000;
      return json{{"now_ms", 1'700'000'200'000}, {"workers", json::array()}, {"jobs", json::array({plain, program})}};
    };
    d.job = [](const std::string& id) -> std::optional<json> {
      if (id == "job-7") return ProgramJson(true);
      if (id == "job-19") {
        json stage = JobJson(true);
        stage["job_id"] = "job-19";
        stage["parent_job"] = "job-7";
        stage["stage_key"] = "<s2-i3>";
        return stage;
      }
      if (id == "job_1") return JobJson(true);
      return std::nullopt;
    };
    d.logs = [](const std::string&) -> std::optional<json> { return std::nullopt; };
    return d;
  }
};

TEST(WebUiRoute, ProgramPage) {
  HttpResponse r = RouteCoordinatorUi("GET", "/job/job-7", ProgramFake().data());
  ASSERT_EQ(r.status, 200);
  const std::string& b = r.body;
  EXPECT_EQ(Count(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"stage-dag\""), 1u) << b;
  EXPECT_EQ(Count(b, "<g class=\"stage\""), 25u);
  EXPECT_TRUE(Has(b, "<h2>Stage DAG</h2>"));
  // Every stage: a row linking to its job page, and a timeline (those waiting say so).
  for (int k = 0; k < 25; ++k) {
    const std::string id = "job-" + std::to_string(8 + k);
    EXPECT_TRUE(Has(b, "<td class=\"nw\"><a href=\"/job/" + id + "\">" + id + "</a>")) << k;
  }
  EXPECT_EQ(Count(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"task-timeline\""), 25u);
  EXPECT_TRUE(Has(b, "<h3 id=\"stage-s3-i6\">s3-i6: <span class=\"running\">running</span>"));
  EXPECT_TRUE(Has(b, "<a href=\"#stage-s2-i0\">s2-i0</a>"));
  EXPECT_TRUE(Has(b, "r0 (shuffle), s1 (broadcast)"));
  EXPECT_TRUE(Has(b, "ReadText, FlatMap"));
  EXPECT_TRUE(Has(b, "<h2>Program master attempts</h2>"));
  EXPECT_TRUE(Has(b, "job-7_m_0_0"));
  EXPECT_FALSE(Has(b, "<tr><td>map</td>")) << "a program has no map/reduce table of its own";
  EXPECT_TRUE(Has(b, "http-equiv=\"refresh\""));
  // The page's stylesheet sizes its own progress bars (.bar{width:160px}), which would resize a
  // picture's rect of that class: the pictures use classes of their own.
  EXPECT_EQ(Count(b, "class=\"bar\""), Count(b, "<span class=\"bar\""));
}

TEST(WebUiRoute, StagePageLinksToItsProgram) {
  HttpResponse r = RouteCoordinatorUi("GET", "/job/job-19", ProgramFake().data());
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Has(r.body, "<tr><th>program</th><td>stage <b>&lt;s2-i3&gt;</b> of <a href=\"/job/job-7\">job-7</a>"))
      << r.body;
}

TEST(WebUiRoute, PlainJobPageHasNoProgramParts) {
  HttpResponse r = RouteCoordinatorUi("GET", "/job/job_1", ProgramFake().data());
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Has(r.body, "<tr><td>map</td>")) << r.body;
  EXPECT_TRUE(Has(r.body, "<tr><td>reduce</td>"));
  EXPECT_TRUE(Has(r.body, "<h2>Attempts</h2>"));
  for (const char* part : {"stage-dag", "task-timeline", "Program master", "<th>program</th>", "<svg"}) {
    EXPECT_FALSE(Has(r.body, part)) << part;
  }
}

TEST(WebUiRoute, IndexShowsAProgramAsOneRow) {
  HttpResponse r = RouteCoordinatorUi("GET", "/", ProgramFake().data());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Count(r.body, "href=\"/job/"), 2u) << r.body;  // the plain job and the program, no stage
  EXPECT_TRUE(Has(r.body, "pagerank<span class=\"tag\">program, 16/25 stages</span>"));
  // Its tasks summed over the stages: 25 x 4 maps, 24 x 2 reduces; 16 stages done and 2 maps of the 17th.
  EXPECT_TRUE(Has(r.body, "66/100")) << r.body;
  EXPECT_TRUE(Has(r.body, "32/48"));
}

}  // namespace
}  // namespace sawmill::sched
