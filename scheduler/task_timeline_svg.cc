// The task timeline of one stage of a program (declared in scheduler/stage_dag_svg.h): a bar per
// attempt over a time axis in seconds since the program's submission.
#include <algorithm>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "scheduler/stage_dag_svg.h"
#include "scheduler/svg_text.h"
#include "scheduler/ui_json.h"

namespace sawmill::sched {
namespace {

using nlohmann::json;
using uijson::Bool;
using uijson::Int;
using uijson::Str;

constexpr int kLabelW = 104;  // tag and "reduce 12 #1"
constexpr int kTop = 6;

struct Row {
  const json* attempt;
  bool reduce;
  int64_t task, number, start, end;
  std::string state;
};

std::string Num(int64_t v) { return std::to_string(v); }

// A step of 1, 2 or 5 times a power of ten giving at most about `ticks` ticks over `span` ms.
int64_t TickStep(int64_t span, int ticks) {
  int64_t step = 1;
  for (int64_t base = 1;; base *= 10) {
    for (int64_t m : {1, 2, 5}) {
      step = base * m;
      if (span / step <= ticks) return step;
    }
  }
}

std::string Seconds(int64_t ms, int64_t step) {
  const int decimals = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*f s", decimals, static_cast<double>(ms) / 1000);
  return buf;
}

}  // namespace

std::string StageTimelineSvg(const json& stage, int64_t now_ms, int width) {
  width = std::max(width, kLabelW + 200);
  std::vector<Row> rows;
  for (const json& a : uijson::Array(stage, "attempts")) {
    if (!a.is_object()) continue;
    Row r{&a,
          Bool(a, "reduce"),
          Int(a, "task"),
          Int(a, "attempt"),
          ClampMs(Int(a, "start_ms")),
          ClampMs(Int(a, "end_ms")),
          Str(a, "state")};
    if (r.end <= 0) r.end = r.state == "running" ? ClampMs(now_ms) : r.start;
    r.end = std::max(r.end, r.start);
    rows.push_back(std::move(r));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.reduce, a.task, a.number, a.start) < std::tie(b.reduce, b.task, b.number, b.start);
  });
  const std::string head =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"task-timeline\" width=\"" + Num(width) + "\" height=\"";
  const std::string font = "\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"10\">\n";
  if (rows.empty()) {
    return head + "24\" viewBox=\"0 0 " + Num(width) + " 24" + font +
           "<text x=\"4\" y=\"16\" fill=\"#777\">no attempts yet</text>\n</svg>\n";
  }

  int64_t t0 = rows[0].start, t1 = rows[0].end;
  for (const Row& r : rows) {
    t0 = std::min(t0, r.start);
    t1 = std::max(t1, r.end);
  }
  if (t1 - t0 < 10) t1 = t0 + 10;
  const int row_h = rows.size() > 60 ? 9 : 15;
  const int plot_x = kLabelW, plot_w = width - kLabelW - 24;
  const int axis_y = kTop + static_cast<int>(rows.size()) * row_h + 4;
  const int height = axis_y + 40;
  auto x_of = [&](int64_t t) {
    return plot_x + static_cast<int>(static_cast<double>(t - t0) * plot_w / static_cast<double>(t1 - t0));
  };

  std::string out = head + Num(height) + "\" viewBox=\"0 0 " + Num(width) + " " + Num(height) + font;
  // The axis: grid lines and labels at round times.
  const int64_t step = TickStep(t1 - t0, std::max(2, plot_w / 90));
  out += "<g class=\"axis\" fill=\"#555\"><line x1=\"" + Num(plot_x) + "\" y1=\"" + Num(axis_y) + "\" x2=\"" +
         Num(plot_x + plot_w) + "\" y2=\"" + Num(axis_y) + "\" stroke=\"#888\"/>";
  for (int64_t t = (t0 + step - 1) / step * step; t <= t1; t += step) {
    const int x = x_of(t);
    out += "<line x1=\"" + Num(x) + "\" y1=\"" + Num(kTop) + "\" x2=\"" + Num(x) + "\" y2=\"" + Num(axis_y + 4) +
           "\" stroke=\"#ddd\"/><text x=\"" + Num(x) + "\" y=\"" + Num(axis_y + 15) + "\" text-anchor=\"middle\">" +
           Seconds(t, step) + "</text>";
  }
  out += "<rect x=\"" + Num(plot_x) + "\" y=\"" + Num(axis_y + 24) + "\" width=\"8\" height=\"8\" fill=\"" + kMapColor +
         "\"/><text x=\"" + Num(plot_x + 11) + "\" y=\"" + Num(axis_y + 32) + "\">map</text><rect x=\"" +
         Num(plot_x + 44) + "\" y=\"" + Num(axis_y + 24) + "\" width=\"8\" height=\"8\" fill=\"" + kReduceColor +
         "\"/><text x=\"" + Num(plot_x + 55) + "\" y=\"" + Num(axis_y + 32) +
         "\">reduce &#183; seconds since the program's submission</text></g>\n";

  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const json& a = *r.attempt;
    const int y = kTop + static_cast<int>(i) * row_h;
    const StateColors c = ColorsOfState(r.state);
    const int x0 = x_of(r.start), w = std::max(2, x_of(r.end) - x0);
    std::string tip = Str(a, "attempt_id") + " on " + Str(a, "host") + ": " + r.state + ", " +
                      ShortDuration(r.end - r.start) + " from " + Seconds(r.start, 1);
    if (!Str(a, "error").empty()) tip += "\n" + Str(a, "error");
    out += "<g class=\"attempt " + std::string(r.reduce ? "reduce" : "map") + "\"><title>" + SvgText(tip, 4000) +
           "</title><rect x=\"2\" y=\"" + Num(y + 1) + "\" width=\"5\" height=\"" + Num(row_h - 3) + "\" fill=\"" +
           (r.reduce ? kReduceColor : kMapColor) + "\"/><text x=\"11\" y=\"" + Num(y + row_h - 4) + "\"" +
           (row_h < 12 ? " font-size=\"8\"" : "") + ">" +
           SvgText((r.reduce ? "reduce " : "map ") + std::to_string(r.task) + " #" + std::to_string(r.number), 15) +
           "</text><rect class=\"attempt-span\" x=\"" + Num(x0) + "\" y=\"" + Num(y + 1) + "\" width=\"" + Num(w) +
           "\" height=\"" + Num(row_h - 3) + "\" fill=\"" + c.fill + "\" stroke=\"" + c.stroke + "\"/></g>\n";
  }
  return out + "</svg>\n";
}

}  // namespace sawmill::sched
