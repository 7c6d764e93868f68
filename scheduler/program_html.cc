// The program parts of the coordinator's pages: the DAG picture, the stage table and timelines.
#include "scheduler/program_html.h"

#include <cstdint>

#include "common/http_server.h"
#include "scheduler/stage_dag_svg.h"
#include "scheduler/ui_json.h"
#include "scheduler/web_ui_html.h"

namespace sawmill::sched::html {
namespace {

using nlohmann::json;
using uijson::Array;
using uijson::Int;
using uijson::Str;

std::string Cell(const std::string& html) { return "<td>" + html + "</td>"; }
std::string NoWrap(const std::string& html) { return "<td class=\"nw\">" + html + "</td>"; }

std::string TimelineAnchor(const std::string& key) { return "stage-" + UrlEncode(key); }

std::string StageTime(const json& st, int64_t now_ms) {
  const int64_t start = Int(st, "start_ms"), end = Int(st, "end_ms");
  if (end > 0) return Duration(end - start);
  if (Active(Str(st, "state"))) return Duration(now_ms - start) + " so far";
  return "<span class=\"none\">-</span>";
}

std::string Joined(const json& list) {
  std::string out;
  for (const json& s : list) {
    if (s.is_string()) out += (out.empty() ? "" : ", ") + s.get<std::string>();
  }
  return out;
}

std::string Inputs(const json& st) {
  std::string out;
  for (const json& e : Array(st, "inputs")) {
    const std::string from = Str(e, "from");
    out += (out.empty() ? "" : ", ") + (from.empty() ? std::string("input") : from) + " (" + Str(e, "kind") + ")";
  }
  return out;
}

}  // namespace

std::string ProgramSections(const json& job) {
  const json& stages = Array(job, "stages");
  const int64_t now = Int(job, "elapsed_ms");
  StageDagOptions dag;
  dag.link_prefix = "/job/";
  dag.now_ms = now;
  std::string h = "<h2>Stage DAG</h2>\n<div class=\"dag\">" + StageDagSvg(stages, dag) + "</div>\n";

  h += "<h2>Stages</h2>\n<table>\n<tr><th>stage</th><th>operators</th><th>inputs</th><th>state</th><th>maps</th>"
       "<th>reduces</th><th>time</th><th>records out</th><th>bytes out</th><th>submissions</th><th>job</th></tr>\n";
  for (const json& st : stages) {
    if (!st.is_object()) continue;
    const std::string key = Str(st, "key"), state = Str(st, "state"), id = Str(st, "job_id");
    h += "<tr>" + NoWrap("<a href=\"#" + Esc(TimelineAnchor(key)) + "\">" + Esc(key) + "</a>") +
         Cell(Esc(Joined(Array(st, "operators")))) + Cell(Esc(Inputs(st))) + "<td" + StateClass(state) + ">" +
         Esc(state) + "</td>" + NoWrap(Progress(Int(st, "maps_done"), Int(st, "maps_running"), Int(st, "maps"))) +
         NoWrap(Progress(Int(st, "reduces_done"), Int(st, "reduces_running"), Int(st, "reduces"))) +
         NoWrap(StageTime(st, now)) + Cell(std::to_string(Int(st, "records_out"))) +
         NoWrap(Bytes(static_cast<uint64_t>(Int(st, "bytes_out")))) + Cell(std::to_string(Int(st, "submissions"))) +
         NoWrap(id.empty() ? "" : "<a href=\"" + Esc(JobHref(id)) + "\">" + Esc(id) + "</a>") + "</tr>\n";
  }
  if (stages.empty()) h += "<tr><td colspan=\"11\" class=\"none\">no stage submitted yet</td></tr>\n";
  h += "</table>\n";

  bool any = false;
  for (const json& st : stages) {
    if (!st.is_object() || !st.contains("attempts")) continue;
    if (!any) h += "<h2>Stage timelines</h2>\n";
    any = true;
    const std::string key = Str(st, "key"), state = Str(st, "state"), id = Str(st, "job_id");
    h += "<h3 id=\"" + Esc(TimelineAnchor(key)) + "\">" + Esc(key) + ": <span" + StateClass(state) + ">" + Esc(state) +
         "</span>";
    if (!id.empty()) h += " <span class=\"tag\"><a href=\"" + Esc(JobHref(id)) + "\">job " + Esc(id) + "</a></span>";
    h += "</h3>\n<div class=\"dag\">" + StageTimelineSvg(st, now, 1000) + "</div>\n";
  }
  return h;
}

std::string ProgramRow(const json& job) {
  const std::string parent = Str(job, "parent_job");
  if (parent.empty()) return "";
  return "<tr><th>program</th><td>stage <b>" + Esc(Str(job, "stage_key")) + "</b> of <a href=\"" +
         Esc(JobHref(parent)) + "\">" + Esc(parent) + "</a></td></tr>\n";
}

json ProgramTotals(const json& job) {
  json t = {{"stages", 0}, {"stages_done", 0}};
  const char* fields[] = {"maps", "maps_done", "maps_running", "reduces", "reduces_done", "reduces_running"};
  for (const char* f : fields) t[f] = 0;
  for (const json& st : Array(job, "stages")) {
    if (!st.is_object()) continue;
    t["stages"] = t["stages"].get<int64_t>() + 1;
    if (Str(st, "state") == "succeeded") t["stages_done"] = t["stages_done"].get<int64_t>() + 1;
    for (const char* f : fields) t[f] = t[f].get<int64_t>() + Int(st, f);
  }
  return t;
}

}  // namespace sawmill::sched::html
