// The coordinator's web pages: JSON documents from the protocol's structs, HTML rendered from those
// documents (so a page and its /api twin never disagree), and the router between them.
#include "scheduler/web_ui.h"
#include "common/capnp_util.h"
#include "scheduler/job_state.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <utility>

namespace sawmill::sched {

using nlohmann::json;

namespace {


// Lenient field access: a missing or mistyped field reads as empty, so a page renders whatever
// part of a document is there instead of failing.
std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}
bool Bool(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
const json& Array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

std::string Dump(const json& j) {
  // Strings come from jobs: never let a bad byte turn into an exception.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string Esc(const std::string& s) { return HtmlEscape(s); }

std::string Duration(int64_t ms) {
  if (ms < 0) ms = 0;
  char buf[48];
  if (ms < 1000) {
    std::snprintf(buf, sizeof(buf), "%lld ms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof(buf), "%.1f s", ms / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof(buf), "%lldm %02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldh %02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  }
  return buf;
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

// "2024-05-01 12:00:00 UTC" for milliseconds since the epoch.
std::string Clock(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

bool Active(const std::string& state) {
  auto s = ParseCoordinatorJobState(state);
  return s && !Finished(*s);
}

// A CSS class for a state; unknown states get none (the state itself is never put in an attribute).
std::string StateClass(const std::string& state) {
  for (const char* known : {"running", "committing", "succeeded", "failed", "killed"}) {
    if (state == known) return std::string(" class=\"") + known + "\"";
  }
  return "";
}

// A bar of done (green) and running (blue) tasks out of total.
std::string Progress(int64_t done, int64_t running, int64_t total) {
  if (total <= 0) return "<span class=\"none\">none</span>";
  auto pct = [&](int64_t n) { return std::to_string(std::clamp<int64_t>(n, 0, total) * 100 / total); };
  return "<span class=\"bar\" title=\"" + std::to_string(done) + " done, " + std::to_string(running) +
         " running\"><span class=\"d\" style=\"width:" + pct(done) + "%\"></span><span class=\"r\" style=\"width:" +
         pct(std::min(running, total - std::min(done, total))) + "%\"></span></span> " + std::to_string(done) + "/" +
         std::to_string(total);
}

std::string JobHref(const std::string& id) { return "/job/" + UrlEncode(id); }

std::string Head(const std::string& title, bool refresh) {
  std::string h = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">";
  if (refresh) h += "<meta http-equiv=\"refresh\" content=\"2\">";
  h += "<title>" + Esc(title) + "</title>\n";
  h += "<style>body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse;margin-bottom:1em}"
       "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}"
       ".bar{display:inline-block;width:160px;height:12px;background:#eee;border:1px solid #bbb;"
       "vertical-align:middle;overflow:hidden}.bar span{display:block;height:100%;float:left}"
       ".d{background:#4a4}.r{background:#8bd}.none{color:#999}.running,.committing{color:#05a}"
       ".succeeded{color:#080}.failed,.dead{color:#b00}.killed{color:#a60}"
       "pre{background:#f8f8f8;border:1px solid #ddd;padding:6px;white-space:pre-wrap;max-height:40em;overflow:auto}"
       "</style></head><body>\n";
  return h;
}

constexpr char kTail[] = "</body></html>\n";

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
    h += "<tr><td><a href=\"" + Esc(JobHref(id)) + "\">" + Esc(id) + "</a></td><td>" + Esc(Str(j, "name")) +
         "</td><td" + StateClass(state) + ">" + Esc(state) + "</td><td>" +
         Progress(Int(j, "maps_done"), Int(j, "maps_running"), Int(j, "maps")) + "</td><td>" +
         Progress(Int(j, "reduces_done"), Int(j, "reduces_running"), Int(j, "reduces")) + "</td><td>" +
         Duration(Int(j, "elapsed_ms")) + "</td><td>" + Clock(Int(j, "submit_unix_ms")) + "</td></tr>\n";
  }
  if (Array(c, "jobs").empty()) h += "<tr><td colspan=\"7\" class=\"none\">no jobs yet</td></tr>\n";
  h += "</table>\n<p><a href=\"/api/cluster\">cluster JSON</a></p>\n";
  return h + kTail;
}

std::string JobHtml(const json& j) {
  const std::string id = Str(j, "job_id"), state = Str(j, "state");
  std::string h = Head("Sawmill job " + id, Active(state));
  h += "<p><a href=\"/\">&larr; coordinator</a></p>\n";
  h += "<h1>" + Esc(id) + ": " + Esc(Str(j, "name")) + "</h1>\n<table>\n";
  auto row = [&](const std::string& k, const std::string& v) { h += "<tr><th>" + k + "</th><td>" + v + "</td></tr>\n"; };
  row("state", "<span" + StateClass(state) + ">" + Esc(state) + "</span>");
  if (!Str(j, "error").empty()) row("error", "<pre>" + Esc(Str(j, "error")) + "</pre>");
  row("output", Esc(Str(j, "output")));
  row("submitted", Clock(Int(j, "submit_unix_ms")));
  row("elapsed", Duration(Int(j, "elapsed_ms")));
  row("input", Bytes(Int(j, "bytes_read")) + " read of " + Bytes(Int(j, "input_bytes")));
  row("records", std::to_string(Int(j, "records_in")) + " in, " + std::to_string(Int(j, "records_out")) + " out");
  row("output bytes", Bytes(Int(j, "bytes_out")));
  row("attempts", std::to_string(Int(j, "failed_attempts")) + " failed, " + std::to_string(Int(j, "killed_attempts")) +
                      " killed, " + std::to_string(Int(j, "speculative_attempts")) + " speculative");
  h += "</table>\n";

  h += "<h2>Stages</h2>\n<table>\n<tr><th>stage</th><th>progress</th><th>done</th><th>running</th><th>total</th></tr>\n";
  for (const char* stage : {"map", "reduce"}) {
    const std::string p = std::string(stage) + "s";
    int64_t done = Int(j, (p + "_done").c_str()), running = Int(j, (p + "_running").c_str()), total = Int(j, p.c_str());
    h += "<tr><td>" + std::string(stage) + "</td><td>" + Progress(done, running, total) + "</td><td>" +
         std::to_string(done) + "</td><td>" + std::to_string(running) + "</td><td>" + std::to_string(total) +
         "</td></tr>\n";
  }
  h += "</table>\n";

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

  h += "<h2>Attempts</h2>\n<table>\n<tr><th>attempt</th><th>task</th><th>#</th><th>host</th><th>state</th>"
       "<th>duration</th><th>local</th><th>speculative</th><th>error</th><th>log</th></tr>\n";
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
      {"maps", s.getMaps()},
      {"maps_done", s.getMapsDone()},
      {"maps_running", s.getMapsRunning()},
      {"reduces", s.getReduces()},
      {"reduces_done", s.getReducesDone()},
      {"reduces_running", s.getReducesRunning()},
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
  };
  // Minimal until the DAG page lands: what tests of programs read.
  json stages = json::array();
  for (auto st : s.getStages()) {
    stages.push_back({{"key", Text(st.getKey())},
                      {"job_id", Text(st.getJobId())},
                      {"state", Text(st.getState())},
                      {"submissions", st.getSubmissions()}});
  }
  j["stages"] = std::move(stages);
  if (with_attempts) {
    json attempts = json::array();
    for (auto a : s.getAttempts()) {
      const std::string state = Text(a.getState());
      const int64_t start = a.getStartMs(), end = a.getEndMs();
      const int64_t duration = state == "running" ? s.getElapsedMs() - start : end - start;
      attempts.push_back({
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
      });
    }
    j["attempts"] = std::move(attempts);
  }
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
