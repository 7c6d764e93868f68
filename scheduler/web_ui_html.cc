// HTML pieces shared by the coordinator's pages.
#include "scheduler/web_ui_html.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/http_server.h"
#include "scheduler/job_state.h"

namespace sawmill::sched::html {

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

std::string StateClass(const std::string& state) {
  for (const char* known : {"waiting", "running", "committing", "succeeded", "failed", "killed"}) {
    if (state == known) return std::string(" class=\"") + known + "\"";
  }
  return "";
}

std::string Progress(int64_t done, int64_t running, int64_t total) {
  if (total <= 0) return "<span class=\"none\">none</span>";
  auto pct = [&](int64_t n) { return std::to_string(std::clamp<int64_t>(n, 0, total) * 100 / total); };
  return "<span class=\"bar\" title=\"" + std::to_string(done) + " done, " + std::to_string(running) +
         " running\"><span class=\"d\" style=\"width:" + pct(done) +
         "%\"></span><span class=\"r\" style=\"width:" + pct(std::min(running, total - std::min(done, total))) +
         "%\"></span></span> " + std::to_string(done) + "/" + std::to_string(total);
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
       ".succeeded{color:#080}.failed,.dead{color:#b00}.killed{color:#a60}.waiting{color:#666}"
       ".dag{overflow-x:auto;margin-bottom:1em}.tag{font-size:80%;color:#446;background:#eef;border:1px solid #ccd;"
       "border-radius:3px;padding:0 4px;margin-left:6px}.nw{white-space:nowrap}"
       "pre{background:#f8f8f8;border:1px solid #ddd;padding:6px;white-space:pre-wrap;max-height:40em;overflow:auto}"
       "</style></head><body>\n";
  return h;
}

}  // namespace sawmill::sched::html
