// The coordinator's web pages: JSON documents from the protocol's structs, HTML rendered from those
// documents (so a page and its /api twin never disagree), and the router between them.
#include "scheduler/web_ui.h"
#include "common/capnp_util.h"
#include "scheduler/program_html.h"
#include "scheduler/ui_json.h"
#include "scheduler/web_ui_html.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <utility>

namespace sawmill::sched {

using nlohmann::json;

namespace {

using html::Active;
using html::Bytes;
using html::Clock;
using html::Duration;
using html::Esc;
using html::Head;
using html::JobHref;
using html::kTail;
using html::Progress;
using html::StateClass;
using uijson::Array;
using uijson::Bool;
using uijson::Int;
using uijson::Str;

std::string Dump(const json& j) {
  // Strings come from jobs: never let a bad byte turn into an exception.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}


std::string IndexHtml(const json& c) {
  const json coordinator = c.contains("coordinator") ? c["coordinator"] : json::object();
  const int64_t now = Int(c, "now_ms");
  bool active = false;
  for (const json& j : Array(c, "jobs")) active = active || Active(Str(j, "state"));

  std::string h = Head("Sawmill coordinator", active);
  h += "<h1>Sawmill coordinator</h1>\n<p>" + Esc(Str(coordinator, "address"));
  if (Int(coordinator, "started_ms") > 0) h += ", up " + Duration(now - Int(coordinator, "started_ms"));
  h += "</p>\n";

  const json& workers = Array(c, "workers");
  int64_t live = 0, slots = 0, running = 0;
  for (const json& w : workers) {
    if (!Bool(w, "live")) continue;
    ++live;
    slots += Int(w, "slots");
    running += Int(w, "running");
  }
  h += "<h2>Workers</h2>\n<p>" + std::to_string(live) + " live, " + std::to_string(workers.size() - live) +
       " lost; " + std::to_string(running) + " of " + std::to_string(slots) + " slots busy</p>\n";
  h += "<table>\n<tr><th>id</th><th>host</th><th>address</th><th>slots</th><th>running</th><th>state</th>"
       "<th>last seen</th></tr>\n";
  for (const json& w : workers) {
    bool up = Bool(w, "live");
    h += up ? "<tr>" : "<tr class=\"dead\">";
    h += "<td>" + Esc(Str(w, "id")) + "</td><td>" + Esc(Str(w, "host")) + "</td><td>" + Esc(Str(w, "address")) +
         "</td><td>" + std::to_string(Int(w, "slots")) + "</td><td>" + std::to_string(Int(w, "running")) + "</td><td>" +
         (up ? "live" : "lost") + "</td><td>" + Duration(now - Int(w, "last_seen_ms")) + " ago</td></tr>\n";
  }
  h += "</table>\n";

  h += "<h2>Jobs</h2>\n<table>\n<tr><th>job</th><th>name</th><th>state</th><th>maps</th><th>reduces</th>"
       "<th>elapsed</th><th>submitted</th></tr>\n";
  for (const json& j : Array(c, "jobs")) {
    const std::string id = Str(j, "job_id"), state = Str(j, "state");
    // A program is one row: its tasks are its stages'.
    const bool program = Bool(j, "program");
    const json tasks = program ? html::ProgramTotals(j) : j;
    std::string name = Esc(Str(j, "name"));
    if (program) {
      name += "<span class=\"tag\">program, " + std::to_string(Int(tasks, "stages_done")) + "/" +
              std::to_string(Int(tasks, "stages")) + " stages</span>";
    }
    h += "<tr><td><a href=\"" + Esc(JobHref(id)) + "\">" + Esc(id) + "</a></td><td>" + name + "</td><td" +
         StateClass(state) + ">" + Esc(state) + "</td><td>" +
         Progress(Int(tasks, "maps_done"), Int(tasks, "maps_running"), Int(tasks, "maps")) + "</td><td>" +
         Progress(Int(tasks, "reduces_done"), Int(tasks, "reduces_running"), Int(tasks, "reduces")) + "</td><td>" +
         Duration(Int(j, "elapsed_ms")) + "</td><td>" + Clock(Int(j, "submit_unix_ms")) + "</td></tr>\n";
  }
  if (Array(c, "jobs").empty()) h += "<tr><td colspan=\"7\" class=\"none\">no jobs yet</td></tr>\n";
  h += "</table>\n<p><a href=\"/api/cluster\">cluster JSON</a></p>\n";
  return h + kTail;
}

// A plain job's map and reduce phases.
std::string PhasesHtml(const json& j) {
  std::string h = "<h2>Stages</h2>\n<table>\n<tr><th>stage</th><th>progress</th><th>done</th><th>running</th><th>total</th></tr>\n";
  for (const char* stage : {"map", "reduce"}) {
    const std::string p = std::string(stage) + "s";
    int64_t done = Int(j, (p + "_done").c_str()), running = Int(j, (p + "_running").c_str()), total = Int(j, p.c_str());
    h += "<tr><td>" + std::string(stage) + "</td><td>" + Progress(done, running, total) + "</td><td>" +
         std::to_string(done) + "</td><td>" + std::to_string(running) + "</td><td>" + std::to_string(total) +
         "</td></tr>\n";
  }
  h += "</table>\n";
  return h;
}

std::string JobHtml(const json& j) {
  const std::string id = Str(j, "job_id"), state = Str(j, "state");
  std::string h = Head("Sawmill job " + id, Active(state));
  h += "<p><a href=\"/\">&larr; coordinator</a></p>\n";
  h += "<h1>" + Esc(id) + ": " + Esc(Str(j, "name")) + "</h1>\n<table>\n";
  auto row = [&](const std::string& k, const std::string& v) { h += "<tr><th>" + k + "</th><td>" + v + "</td></tr>\n"; };
  row("state", "<span" + StateClass(state) + ">" + Esc(state) + "</span>");
  if (!Str(j, "error").empty()) row("error", "<pre>" + Esc(Str(j, "error")) + "</pre>");
  h += html::ProgramRow(j);
  row("output", Esc(Str(j, "output")));
  row("submitted", Clock(Int(j, "submit_unix_ms")));
  row("elapsed", Duration(Int(j, "elapsed_ms")));
  row("input", Bytes(Int(j, "bytes_read")) + " read of " + Bytes(Int(j, "input_bytes")));
  row("records", std::to_string(Int(j, "records_in")) + " in, " + std::to_string(Int(j, "records_out")) + " out");
  row("output bytes", Bytes(Int(j, "bytes_out")));
  row("attempts", std::to_string(Int(j, "failed_attempts")) + " failed, " + std::to_string(Int(j, "killed_attempts")) +
                      " killed, " + std::to_string(Int(j, "speculative_attempts")) + " speculative");
  h += "</table>\n";

  const bool program = Bool(j, "program");
  h += program ? html::ProgramSections(j) : PhasesHtml(j);

  const int64_t local = Int(j, "data_local_maps"), remote = Int(j, "remote_maps");
  h += "<h2>Locality</h2>\n<p>" + std::to_string(local) + " data-local maps, " + std::to_string(remote) + " remote";
  if (local + remote > 0) h += " (" + std::to_string(local * 100 / (local + remote)) + "% local)";
  h += "</p>\n";

  h += "<h2>Counters</h2>\n<table>\n<tr><th>counter</th><th>value</th></tr>\n";
  auto counters = j.find("counters");
  if (counters != j.end() && counters->is_object()) {
    for (auto it = counters->begin(); it != counters->end(); ++it) {
      h += "<tr><td>" + Esc(it.key()) + "</td><td>" + (it->is_number() ? it->dump() : std::string()) + "</td></tr>\n";
    }
  }
  h += "</table>\n";

  h += program ? "<h2>Program master attempts</h2>\n" : "<h2>Attempts</h2>\n";
  h += "<table>\n<tr><th>attempt</th><th>task</th><th>#</th><th>host</th><th>state</th><th>duration</th>"
       "<th>local</th><th>speculative</th><th>error</th><th>log</th></tr>\n";
  const std::string logs = JobHref(id) + "/logs";
  for (const json& a : Array(j, "attempts")) {
    const std::string aid = Str(a, "attempt_id"), astate = Str(a, "state");
    h += "<tr><td>" + Esc(aid) + "</td><td>" + (Bool(a, "reduce") ? "reduce " : "map ") +
         std::to_string(Int(a, "task")) + "</td><td>" + std::to_string(Int(a, "attempt")) + "</td><td>" +
         Esc(Str(a, "host")) + "</td><td" + StateClass(astate) + ">" + Esc(astate) + "</td><td>" +
         Duration(Int(a, "duration_ms")) + "</td><td>" + (Bool(a, "local") ? "yes" : "") + "</td><td>" +
         (Bool(a, "speculative") ? "yes" : "") + "</td><td>" + Esc(Str(a, "error")) + "</td><td><a href=\"" +
         Esc(logs + "#" + UrlEncode(aid)) + "\">stderr</a></td></tr>\n";
  }
  h += "</table>\n<p><a href=\"" + Esc(logs) + "\">all logs</a> &middot; <a href=\"" +
       Esc("/api/jobs/" + UrlEncode(id)) + "\">job JSON</a></p>\n";
  return h + kTail;
}

std::string LogsHtml(const std::string& id, const json& logs) {
  std::string h = Head("Sawmill job " + id + " logs", false);
  h += "<p><a href=\"" + Esc(JobHref(id)) + "\">&larr; job " + Esc(id) + "</a></p>\n";
  h += "<h1>Logs of " + Esc(id) + "</h1>\n";
  if (!logs.is_array() || logs.empty()) h += "<p class=\"none\">no attempt has logs</p>\n";
  if (logs.is_array()) {
    for (const json& l : logs) {
      const std::string aid = Str(l, "attempt_id"), state = Str(l, "state"), err = Str(l, "stderr");
      h += "<h3 id=\"" + Esc(UrlEncode(aid)) + "\">" + Esc(aid) + " on " + Esc(Str(l, "host")) + ": <span" +
           StateClass(state) + ">" + Esc(state) + "</span></h3>\n";
      h += err.empty() ? "<p class=\"none\">(empty stderr)</p>\n" : "<pre>" + Esc(err) + "</pre>\n";
    }
  }
  return h + kTail;
}

// Newest first (by submission; ties keep the coordinator's order).
json SortedCluster(json c) {
  auto it = c.find("jobs");
  if (it != c.end() && it->is_array()) {
    std::stable_sort(it->begin(), it->end(), [](const json& a, const json& b) {
      return Int(a, "submit_unix_ms") > Int(b, "submit_unix_ms");
    });
  }
  return c;
}

HttpResponse Json(int status, const json& j) { return {status, "application/json", Dump(j)}; }
HttpResponse Html(const std::string& body) { return {200, "text/html; charset=utf-8", body}; }

HttpResponse UnknownJob(const std::string& id, bool api) {
  if (api) return Json(404, {{"error", "unknown job: " + id}});
  return {404, "text/html; charset=utf-8",
          Head("Unknown job", false) + "<h1>Unknown job</h1>\n<p>This coordinator knows no job <b>" + Esc(id) +
              "</b>.</p>\n<p><a href=\"/\">&larr; coordinator</a></p>\n" + kTail};
}

HttpResponse Route(const std::string& method, const std::string& target, const UiData& data) {
  if (method != "GET" && method != "HEAD") return {405, "text/plain; charset=utf-8", "only GET\n"};
  const HttpTarget t = ParseTarget(target);
  const std::vector<std::string>& s = t.segments;
  if (s.empty()) return Html(IndexHtml(SortedCluster(data.cluster())));
  if (s.size() == 2 && s[0] == "api" && s[1] == "cluster") return Json(200, SortedCluster(data.cluster()));

  // /job/<id>[/logs] and /api/jobs/<id>[/logs]
  const bool api = s[0] == "api" && s.size() >= 2 && s[1] == "jobs";
  const size_t at = api ? 2 : 1;
  if ((api || s[0] == "job") && (s.size() == at + 1 || (s.size() == at + 2 && s[at + 1] == "logs")) &&
      !s[at].empty()) {
    const std::string& id = s[at];
    const bool logs = s.size() == at + 2;
    std::optional<json> doc = logs ? data.logs(id) : data.job(id);
    if (!doc) return UnknownJob(id, api);
    if (api) return Json(200, *doc);
    return Html(logs ? LogsHtml(id, *doc) : JobHtml(*doc));
  }
  return {404, "text/plain; charset=utf-8", "not found: " + t.path + "\n"};
}

// An attempt's times count from its job's submission (a program's, for its stages' attempts), so a
// running one's duration ends at that job's elapsed time.
json AttemptToJson(proto::AttemptStatus::Reader a, int64_t elapsed_ms) {
  const std::string state = Text(a.getState());
  const int64_t start = a.getStartMs(), end = a.getEndMs();
  const int64_t duration = state == "running" ? elapsed_ms - start : end - start;
  return {
      {"attempt_id", Text(a.getAttemptId())},
      {"reduce", a.getReduce()},
      {"task", a.getTask()},
      {"attempt", a.getAttempt()},
      {"worker", Text(a.getWorker())},
      {"host", Text(a.getHost())},
      {"state", state},
      {"start_ms", start},
      {"end_ms", end},
      {"local", a.getLocal()},
      {"speculative", a.getSpeculative()},
      {"error", Text(a.getError())},
      {"duration_ms", std::max<int64_t>(0, duration)},
  };
}

json AttemptsToJson(capnp::List<proto::AttemptStatus>::Reader attempts, int64_t elapsed_ms) {
  json out = json::array();
  for (auto a : attempts) out.push_back(AttemptToJson(a, elapsed_ms));
  return out;
}

// The task counts of a JobStatus or a StageStatus, under the same names.
template <typename StatusReader>
void PutTaskCounts(StatusReader s, json* j) {
  (*j)["maps"] = s.getMaps();
  (*j)["maps_done"] = s.getMapsDone();
  (*j)["maps_running"] = s.getMapsRunning();
  (*j)["reduces"] = s.getReduces();
  (*j)["reduces_done"] = s.getReducesDone();
  (*j)["reduces_running"] = s.getReducesRunning();
}

json EdgesToJson(capnp::List<proto::StageEdge>::Reader edges) {
  json out = json::array();
  for (auto e : edges) out.push_back({{"from", Text(e.getFrom())}, {"kind", Text(e.getKind())}});
  return out;
}

json StagesToJson(capnp::List<proto::StageStatus>::Reader stages, int64_t elapsed_ms, bool with_attempts) {
  json out = json::array();
  for (auto st : stages) {
    json operators = json::array();
    for (auto op : st.getOperators()) operators.push_back(Text(op));
    json j = {
        {"key", Text(st.getKey())},
        {"job_id", Text(st.getJobId())},
        {"state", Text(st.getState())},
        {"operators", std::move(operators)},
        {"inputs", EdgesToJson(st.getInputs())},
        {"start_ms", st.getStartMs()},
        {"end_ms", st.getEndMs()},
        {"records_out", st.getRecordsOut()},
        {"bytes_out", st.getBytesOut()},
        {"submissions", st.getSubmissions()},
    };
    PutTaskCounts(st, &j);
    if (with_attempts) j["attempts"] = AttemptsToJson(st.getAttempts(), elapsed_ms);
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

json JobStatusToJson(proto::JobStatus::Reader s, bool with_attempts) {
  json counters = json::object();
  for (auto c : s.getCounters()) counters[Text(c.getName())] = c.getValue();
  json j = {
      {"job_id", Text(s.getJobId())},
      {"name", Text(s.getName())},
      {"state", Text(s.getState())},
      {"error", Text(s.getError())},
      {"output", Text(s.getOutput())},
      {"submit_unix_ms", s.getSubmitUnixMs()},
      {"elapsed_ms", s.getElapsedMs()},
      {"input_bytes", s.getInputBytes()},
      {"bytes_read", s.getBytesRead()},
      {"data_local_maps", s.getDataLocalMaps()},
      {"remote_maps", s.getRemoteMaps()},
      {"failed_attempts", s.getFailedAttempts()},
      {"killed_attempts", s.getKilledAttempts()},
      {"speculative_attempts", s.getSpeculativeAttempts()},
      {"records_in", s.getRecordsIn()},
      {"records_out", s.getRecordsOut()},
      {"bytes_out", s.getBytesOut()},
      {"counters", std::move(counters)},
      {"program", s.getProgram()},
      {"parent_job", Text(s.getParentJob())},
      {"stage_key", Text(s.getStageKey())},
      {"stages", StagesToJson(s.getStages(), s.getElapsedMs(), with_attempts)},
  };
  PutTaskCounts(s, &j);
  if (with_attempts) j["attempts"] = AttemptsToJson(s.getAttempts(), s.getElapsedMs());
  return j;
}

json AttemptLogsToJson(capnp::List<proto::AttemptLog>::Reader logs) {
  json out = json::array();
  for (auto l : logs) {
    out.push_back({{"attempt_id", Text(l.getAttemptId())},
                   {"host", Text(l.getHost())},
                   {"state", Text(l.getState())},
                   {"stderr", Text(l.getStderr())}});
  }
  return out;
}

HttpResponse RouteCoordinatorUi(const std::string& method, const std::string& target, const UiData& data) {
  try {
    return Route(method, target, data);
  } catch (const std::exception& e) {
    return {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
  } catch (...) {
    return {500, "text/plain; charset=utf-8", "internal error\n"};
  }
}

}  // namespace sawmill::sched
