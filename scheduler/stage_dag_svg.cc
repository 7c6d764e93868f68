// The stage DAG picture of a program: layout (columns by depth, wrapped into rows; arrows routed
// through the gaps between columns and the channels between rows) and its SVG.
#include "scheduler/stage_dag_svg.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_server.h"
#include "scheduler/svg_text.h"
#include "scheduler/ui_json.h"

namespace sawmill::sched {
namespace {

using nlohmann::json;
using uijson::Array;
using uijson::Int;
using uijson::Str;

constexpr int kBoxW = 184, kBoxH = 74;  // a stage
constexpr int kInputW = 60, kInputH = 24;
constexpr int kStackGap = 18;   // between nodes of one column
constexpr int kLane = 6;        // between parallel arrows
constexpr int kLabelRoom = 66;  // an arrow's last straight run, which carries its label
constexpr int kMargin = 10;
constexpr int kMinGap = 40;  // between columns
constexpr int kLegendH = 34;
constexpr int kLegendW = 730;

struct Node {
  std::string name;             // the stage's key, or what an input node reads
  const json* stage = nullptr;  // null for an input node
  int order = 0;                // submission order (its stage's, for an input node)
  int column = 0, band = 0, pos = 0;
  int x = 0, y = 0, w = 0, h = 0;
  int inputs = 0;         // arrows into it (ports on its left side)
  int exit_lane = -1;     // in the gap after its column, in its band
  int channel_lane = -1;  // in the channel below its band
  int ExitY() const { return y + h / 2 + (stage ? 5 : 0); }
  int PortY(int port) const { return y + h * (port + 1) / (inputs + 1); }
};

struct Edge {
  int from = 0, to = 0;
  std::string kind;
  int port = 0;         // of the target's inputs
  bool elbow = false;   // next column, same row: no channel
  int entry_lane = -1;  // in the gap before the target's column
};

struct Layout {
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  int columns_per_band = 1, bands = 0, width = 0, height = 0;
  std::vector<int> column_x;           // left edge of each column position
  std::vector<int> gap_x, exit_width;  // per gap (gap p is left of position p)
  std::vector<int> band_top, band_h, channel_lanes;
  // The run of a source's arrows along the channel below its row.
  int ChannelY(const Node& source) const {
    return band_top[source.band] + band_h[source.band] + 10 + kLane * source.channel_lane;
  }
};

// "K-i<N>..." is iteration N of the stage tagged K: its predecessor is "K-i<N-1>".
std::string PreviousIteration(const std::string& key) {
  for (size_t at = key.rfind("-i"); at != std::string::npos && at > 0; at = key.rfind("-i", at - 1)) {
    size_t end = at + 2;
    while (end < key.size() && key[end] >= '0' && key[end] <= '9') ++end;
    if (end == at + 2 || end - at > 10 || (end < key.size() && key[end] != '-')) continue;
    int n = std::stoi(key.substr(at + 2, end - at - 2));
    return n > 0 ? key.substr(0, at) + "-i" + std::to_string(n - 1) : std::string();
  }
  return {};
}

// Nodes and edges with DAG columns.
void BuildGraph(const json& stages, Layout* l) {
  std::map<std::string, int> by_key;  // the first stage of a key
  if (stages.is_array()) {
    for (const json& s : stages) {
      if (!s.is_object()) continue;
      Node n;
      n.name = Str(s, "key");
      n.stage = &s;
      n.order = static_cast<int>(l->nodes.size());
      by_key.emplace(n.name, n.order);
      l->nodes.push_back(std::move(n));
    }
  }
  const size_t stage_count = l->nodes.size();
  auto producer = [&](size_t i, const std::string& from) -> int {
    auto it = by_key.find(from);
    return from.empty() || it == by_key.end() || it->second == static_cast<int>(i) ? -1 : it->second;
  };
  // Column: one past every producer's and the previous iteration's; 1 at least when an input node
  // goes before it. Depth first without recursion (a long program must not exhaust the stack); a
  // producer still on the path, a cycle in a broken document, does not count.
  std::vector<std::vector<int>> before(stage_count);
  std::vector<int> least(stage_count, 0);
  for (size_t i = 0; i < stage_count; ++i) {
    for (const json& e : Array(*l->nodes[i].stage, "inputs")) {
      if (!e.is_object()) continue;
      const int p = producer(i, Str(e, "from"));
      if (p < 0) least[i] = 1;
      if (p >= 0) before[i].push_back(p);
    }
    const int prev = producer(i, PreviousIteration(l->nodes[i].name));
    if (prev >= 0) before[i].push_back(prev);
  }
  enum { kNew, kOnPath, kDone };
  std::vector<int> state(stage_count, kNew);
  std::vector<std::pair<int, size_t>> path;  // stage, next of its producers to visit
  for (size_t root = 0; root < stage_count; ++root) {
    if (state[root] != kNew) continue;
    state[root] = kOnPath;
    path.push_back({static_cast<int>(root), 0});
    while (!path.empty()) {
      auto& [i, next] = path.back();
      if (next < before[i].size()) {
        const int p = before[i][next++];
        if (state[p] == kNew) {
          state[p] = kOnPath;
          path.push_back({p, 0});
        }
        continue;
      }
      int c = least[i];
      for (int p : before[i]) {
        if (state[p] == kDone) c = std::max(c, l->nodes[p].column + 1);
      }
      l->nodes[i].column = c;
      state[i] = kDone;
      path.pop_back();
    }
  }

  for (size_t i = 0; i < stage_count; ++i) {
    std::map<std::string, int> input_nodes;  // this stage's, by what they read
    for (const json& e : Array(*l->nodes[i].stage, "inputs")) {
      if (!e.is_object()) continue;
      const std::string from = Str(e, "from");
      int p = producer(i, from);
      if (p < 0) {
        auto [it, added] = input_nodes.emplace(from, static_cast<int>(l->nodes.size()));
        if (added) {
          Node n;
          n.name = from.empty() ? "input" : from;
          n.order = l->nodes[i].order;
          n.column = std::max(0, l->nodes[i].column - 1);
          l->nodes.push_back(std::move(n));
        }
        p = it->second;
      }
      Edge edge;
      edge.from = p;
      edge.to = static_cast<int>(i);
      edge.kind = Str(e, "kind");
      edge.port = l->nodes[i].inputs++;
      l->edges.push_back(std::move(edge));
    }
  }
  for (Node& n : l->nodes) {
    n.w = n.stage ? kBoxW : kInputW;
    n.h = n.stage ? kBoxH : kInputH;
  }
}

// Rows, stacks, lanes and coordinates for `per_band` columns a row.
void Place(int per_band, Layout* l) {
  l->columns_per_band = per_band;
  int max_column = 0;
  for (const Node& n : l->nodes) max_column = std::max(max_column, n.column);
  l->bands = l->nodes.empty() ? 0 : max_column / per_band + 1;
  for (Node& n : l->nodes) {
    n.band = n.column / per_band;
    n.pos = n.column % per_band;
    n.exit_lane = n.channel_lane = -1;
  }

  // Stacks: submission order, an input node before the stage it feeds; heights give the rows'.
  std::vector<int> order(l->nodes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const Node &x = l->nodes[a], &y = l->nodes[b];
    return std::make_pair(x.order, x.stage != nullptr) < std::make_pair(y.order, y.stage != nullptr);
  });
  l->band_h.assign(l->bands, 0);
  std::map<std::pair<int, int>, int> stack_h;  // (band, pos) -> height so far
  for (int i : order) {
    Node& n = l->nodes[i];
    int& h = stack_h[{n.band, n.pos}];
    n.y = h;  // within its band for now
    h += n.h + kStackGap;
    l->band_h[n.band] = std::max(l->band_h[n.band], h - kStackGap);
  }

  // Exit lanes per (band, gap): the lowest source nearest its column, so that a higher one's
  // run down never crosses a lower one's stub.
  std::map<std::pair<int, int>, std::vector<int>> sources;
  std::vector<bool> has_out(l->nodes.size(), false), via_channel(l->nodes.size(), false);
  for (Edge& e : l->edges) {
    const Node &s = l->nodes[e.from], &t = l->nodes[e.to];
    e.elbow = s.band == t.band && t.pos == s.pos + 1;
    has_out[e.from] = true;
    if (!e.elbow) via_channel[e.from] = true;
  }
  for (size_t i = 0; i < l->nodes.size(); ++i) {
    if (has_out[i]) sources[{l->nodes[i].band, l->nodes[i].pos + 1}].push_back(static_cast<int>(i));
  }
  l->exit_width.assign(per_band + 1, 0);
  for (auto& [where, list] : sources) {
    std::sort(list.begin(), list.end(), [&](int a, int b) { return l->nodes[a].y > l->nodes[b].y; });
    for (size_t k = 0; k < list.size(); ++k) l->nodes[list[k]].exit_lane = static_cast<int>(k);
    l->exit_width[where.second] = std::max<int>(l->exit_width[where.second], kLane * static_cast<int>(list.size() + 1));
  }
  l->channel_lanes.assign(l->bands, 0);
  for (size_t i = 0; i < l->nodes.size(); ++i) {
    if (via_channel[i]) l->nodes[i].channel_lane = l->channel_lanes[l->nodes[i].band]++;
  }

  // Rows from the top: a row, then its channel.
  l->band_top.assign(l->bands, 0);
  int y = kLegendH + kMargin;
  for (int b = 0; b < l->bands; ++b) {
    l->band_top[b] = y;
    y += l->band_h[b] + 20 + kLane * l->channel_lanes[b];
  }
  l->height = y + kMargin;
  for (Node& n : l->nodes) n.y += l->band_top[n.band];

  // Entry lanes per gap: the runs of one source share a lane (a bus); others share one when
  // their spans leave room between them.
  std::map<int, std::map<int, std::pair<int, int>>> spans;  // gap -> source -> [top, bottom]
  for (const Edge& e : l->edges) {
    if (e.elbow) continue;
    const Node &s = l->nodes[e.from], &t = l->nodes[e.to];
    const int ty = t.PortY(e.port), cy = l->ChannelY(s);
    auto [it, added] = spans[t.pos].emplace(e.from, std::make_pair(std::min(ty, cy), std::max(ty, cy)));
    if (!added)
      it->second = {std::min(it->second.first, std::min(ty, cy)), std::max(it->second.second, std::max(ty, cy))};
  }
  std::vector<int> entry_lanes(per_band + 1, 0);
  std::map<std::pair<int, int>, int> lane_of;  // (gap, source) -> lane
  for (auto& [gap, by_source] : spans) {
    std::vector<std::pair<std::pair<int, int>, int>> list;  // span, source
    for (auto& [src, span] : by_source) list.push_back({span, src});
    std::sort(list.begin(), list.end());
    std::vector<int> lane_end;  // bottom of the last span in each lane
    for (auto& [span, src] : list) {
      size_t lane = 0;
      while (lane < lane_end.size() && lane_end[lane] + kLane >= span.first) ++lane;
      if (lane == lane_end.size()) lane_end.push_back(0);
      lane_end[lane] = span.second;
      lane_of[{gap, src}] = static_cast<int>(lane);
    }
    entry_lanes[gap] = static_cast<int>(lane_end.size());
  }
  for (Edge& e : l->edges) {
    if (!e.elbow) e.entry_lane = lane_of[{l->nodes[e.to].pos, e.from}];
  }

  // Columns from the left: gap, column, gap, ..., the last gap holding only exits.
  l->gap_x.assign(per_band + 1, 0);
  l->column_x.assign(per_band, 0);
  int x = kMargin;
  for (int p = 0; p <= per_band; ++p) {
    l->gap_x[p] = x;
    int entry = entry_lanes[p] ? kLane * (entry_lanes[p] + 1) : 0;
    int w = l->exit_width[p] + entry + (p < per_band ? kLabelRoom : kLane);
    if (p == 0 && entry == 0) w = 0;  // nothing enters the first column from the left but short arrows
    x += std::max(w, p == 0 ? 0 : kMinGap);
    if (p < per_band) {
      l->column_x[p] = x;
      x += kBoxW;
    }
  }
  l->width = x + kMargin;
  for (Node& n : l->nodes) n.x = l->column_x[n.pos] + (kBoxW - n.w);  // inputs hug their stage
}

Layout LayOut(const json& stages, const StageDagOptions& options) {
  Layout l;
  BuildGraph(stages, &l);
  int max_column = 0;
  for (const Node& n : l.nodes) max_column = std::max(max_column, n.column);
  // No more columns than would fit with the narrowest gaps; fewer while lanes need more room.
  int per_band = std::clamp((options.max_width - 2 * kMargin) / (kBoxW + kMinGap), 1, max_column + 1);
  Place(per_band, &l);
  while (per_band > 1 && l.width > options.max_width) Place(--per_band, &l);
  return l;
}

std::string Num(int v) { return std::to_string(v); }

std::string Dash(const std::string& kind) {
  if (kind == "broadcast") return " stroke-dasharray=\"7 4\"";
  if (kind == "read") return " stroke-dasharray=\"2 3\"";
  return "";
}

std::string Legend() {
  std::string s = "<g class=\"legend\" font-size=\"11\">";
  int x = kMargin;
  for (const char* state : kLegendStates) {
    StateColors c = ColorsOfState(state);
    s += "<rect x=\"" + Num(x) + "\" y=\"10\" width=\"14\" height=\"12\" rx=\"2\" fill=\"" + c.fill + "\" stroke=\"" +
         c.stroke + "\"/><text x=\"" + Num(x + 19) + "\" y=\"20\">" + state + "</text>";
    x += 30 + 7 * static_cast<int>(std::string_view(state).size());
  }
  x += 16;
  for (const char* kind : {"shuffle", "broadcast", "read"}) {
    s += "<line x1=\"" + Num(x) + "\" y1=\"16\" x2=\"" + Num(x + 28) +
         "\" y2=\"16\" stroke=\"#444\" stroke-width=\"1.5\"" + Dash(kind) + "/><text x=\"" + Num(x + 33) +
         "\" y=\"20\">" + kind + "</text>";
    x += 44 + 7 * static_cast<int>(std::string_view(kind).size());
  }
  return s + "</g>\n";
}

std::string Tooltip(const Node& n, const std::string& ops, const std::string& progress, const std::string& extra) {
  std::string t = n.name + " (" + Str(*n.stage, "state") + ")\n" + ops + "\n" + progress;
  if (!extra.empty()) t += "\n" + extra;
  if (!Str(*n.stage, "job_id").empty()) t += "\njob " + Str(*n.stage, "job_id");
  return "<title>" + SvgText(t, 4000) + "</title>";
}

std::string StageBox(const Node& n, const StageDagOptions& options) {
  const json& s = *n.stage;
  const std::string state = Str(s, "state");
  const StateColors c = ColorsOfState(state);
  std::string ops;
  for (const json& op : Array(s, "operators")) {
    if (!op.is_string()) continue;
    ops += (ops.empty() ? "" : " \xE2\x80\xBA ") + op.get<std::string>();  // U+203A
  }
  const int64_t maps = Int(s, "maps"), reduces = Int(s, "reduces");
  std::string progress = "maps " + std::to_string(Int(s, "maps_done")) + "/" + std::to_string(maps);
  if (reduces > 0) progress += ", reduces " + std::to_string(Int(s, "reduces_done")) + "/" + std::to_string(reduces);
  std::string extra;
  const int64_t start = ClampMs(Int(s, "start_ms")), end = ClampMs(Int(s, "end_ms"));
  if (end > 0) {
    extra = ShortDuration(end - start);
  } else if (state == "running" || state == "committing") {
    extra = ShortDuration(ClampMs(options.now_ms) - start);
  }
  if (Int(s, "records_out") > 0) {
    extra += std::string(extra.empty() ? "" : " \xC2\xB7 ") + ShortCount(static_cast<uint64_t>(Int(s, "records_out"))) +
             " out";
  }
  // Asked again by a restarted program master (the tooltip says it whole).
  std::string asked;
  if (Int(s, "submissions") > 1) {
    extra += " \xC2\xB7 asked " + std::to_string(Int(s, "submissions")) + "\xC3\x97";  // U+00D7
    asked = "submitted " + std::to_string(Int(s, "submissions")) + " times (a restarted master asked again)";
  }

  std::string out = "<g class=\"stage\" data-key=\"" + SvgText(n.name, 200) + "\">" +
                    Tooltip(n, ops, progress, asked.empty() ? extra : extra + "\n" + asked);
  const std::string job = Str(s, "job_id");
  const bool link = !options.link_prefix.empty() && !job.empty();
  if (link) out += "<a href=\"" + SvgText(options.link_prefix + UrlEncode(job)) + "\">";
  // A nested <svg> clips whatever text is still too wide for the box.
  out += "<svg x=\"" + Num(n.x) + "\" y=\"" + Num(n.y) + "\" width=\"" + Num(n.w) + "\" height=\"" + Num(n.h) + "\">";
  out += "<rect x=\"1\" y=\"1\" width=\"" + Num(n.w - 2) + "\" height=\"" + Num(n.h - 2) + "\" rx=\"5\" fill=\"" +
         c.fill + "\" stroke=\"" + c.stroke + "\" stroke-width=\"1.5\"/>";
  const int64_t total = maps + reduces, done = Int(s, "maps_done") + Int(s, "reduces_done");
  if (total > 0) {
    const int bar = static_cast<int>((n.w - 12) * std::clamp<int64_t>(done, 0, total) / total);
    out += "<rect x=\"6\" y=\"" + Num(n.h - 8) + "\" width=\"" + Num(n.w - 12) +
           "\" height=\"3\" fill=\"#fff\" stroke=\"none\"/>";
    out +=
        "<rect x=\"6\" y=\"" + Num(n.h - 8) + "\" width=\"" + Num(bar) + "\" height=\"3\" fill=\"" + c.stroke + "\"/>";
  }
  out += "<text x=\"7\" y=\"16\" font-size=\"12\" font-weight=\"bold\">" + SvgText(n.name, 14) + "</text>";
  out += "<text x=\"" + Num(n.w - 7) + "\" y=\"16\" font-size=\"10\" text-anchor=\"end\" fill=\"" + c.stroke + "\">" +
         SvgText(state, 10) + "</text>";
  out += "<text x=\"7\" y=\"32\" font-size=\"10.5\">" + SvgText(ops.empty() ? "-" : ops, 27) + "</text>";
  out += "<text x=\"7\" y=\"47\" font-size=\"10.5\">" + SvgText(progress, 27) + "</text>";
  out += "<text x=\"7\" y=\"61\" font-size=\"10\" fill=\"#555\">" + SvgText(extra, 28) + "</text>";
  out += "</svg>";
  if (link) out += "</a>";
  return out + "</g>\n";
}

std::string InputBox(const Node& n) {
  return "<g class=\"input\"><title>" + SvgText(n.name, 4000) + "</title><rect x=\"" + Num(n.x) + "\" y=\"" + Num(n.y) +
         "\" width=\"" + Num(n.w) + "\" height=\"" + Num(n.h) +
         "\" rx=\"12\" fill=\"#fff\" stroke=\"#444\" stroke-dasharray=\"3 2\"/><text x=\"" + Num(n.x + n.w / 2) +
         "\" y=\"" + Num(n.y + 16) + "\" font-size=\"10.5\" text-anchor=\"middle\">" + SvgText(n.name, 8) +
         "</text></g>\n";
}

// ` data-from=".." data-to=".." data-kind=".."` naming an edge (from is "" for an input node).
std::string EdgeData(const Layout& l, const Edge& e) {
  const Node &s = l.nodes[e.from], &t = l.nodes[e.to];
  return " data-from=\"" + SvgText(s.stage ? s.name : "", 200) + "\" data-to=\"" + SvgText(t.name, 200) +
         "\" data-kind=\"" + SvgText(e.kind.empty() ? "?" : e.kind, 40) + "\"";
}

std::string Arrow(const Layout& l, const Edge& e) {
  const Node &s = l.nodes[e.from], &t = l.nodes[e.to];
  const int sx = s.x + s.w, sy = s.ExitY();
  const int tx = t.x, ty = t.PortY(e.port);
  const int ex = l.gap_x[s.pos + 1] + kLane * (s.exit_lane + 1);
  std::string d = "M" + Num(sx) + "," + Num(sy) + " H" + Num(ex);
  if (e.elbow) {
    d += " V" + Num(ty);
  } else {
    const int cy = l.ChannelY(s);
    const int nx = l.gap_x[t.pos] + l.exit_width[t.pos] + kLane * (e.entry_lane + 1);
    d += " V" + Num(cy) + " H" + Num(nx) + " V" + Num(ty);
  }
  d += " H" + Num(tx - 7);
  return "<g class=\"edge\"" + EdgeData(l, e) + "><path d=\"" + d +
         "\" fill=\"none\" stroke=\"#444\" stroke-width=\"1.3\"" + Dash(e.kind) + "/><polygon points=\"" + Num(tx) +
         "," + Num(ty) + " " + Num(tx - 8) + "," + Num(ty - 4) + " " + Num(tx - 8) + "," + Num(ty + 4) +
         "\" fill=\"#444\"/></g>\n";
}

// Above the arrow's last run, on a white halo: drawn after every arrow, so no line crosses it.
std::string Label(const Layout& l, const Edge& e) {
  const Node& t = l.nodes[e.to];
  return "<text class=\"edge-label\"" + EdgeData(l, e) + " x=\"" + Num(t.x - 10) + "\" y=\"" +
         Num(t.PortY(e.port) - 3) +
         "\" font-size=\"10\" text-anchor=\"end\" fill=\"#333\" stroke=\"#fff\" stroke-width=\"3\" "
         "paint-order=\"stroke\">" +
         SvgText(e.kind.empty() ? "?" : e.kind, 10) + "</text>\n";
}

}  // namespace

std::string StageDagSvg(const json& stages, const StageDagOptions& options) {
  const Layout l = LayOut(stages, options);
  const int width = std::max(l.width, kLegendW), height = std::max(l.height, kLegendH + 40);
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"stage-dag\" width=\"" + Num(width) +
                    "\" height=\"" + Num(height) + "\" viewBox=\"0 0 " + Num(width) + " " + Num(height) +
                    "\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\">\n";
  out += Legend();
  if (l.nodes.empty()) {
    out += "<text x=\"" + Num(kMargin) + "\" y=\"" + Num(kLegendH + 24) +
           "\" font-size=\"12\" fill=\"#777\">no stages yet</text>\n";
  }
  // Arrows, then their labels, then boxes: a label never hides a box's text.
  for (const Edge& e : l.edges) out += Arrow(l, e);
  for (const Edge& e : l.edges) out += Label(l, e);
  for (const Node& n : l.nodes) out += n.stage ? StageBox(n, options) : InputBox(n);
  return out + "</svg>\n";
}

}  // namespace sawmill::sched
