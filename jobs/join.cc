// join: joins two tables by a key column, with the strategy chosen by hand or from the inputs'
// sizes and manifests (--strategy auto; --explain says why). Inputs are TSV text files or record
// datasets (column 1 = the record key, then the value's TAB-separated columns). Output records:
// key = the join key, value = the left row's other columns then the right row's, TAB-separated,
// with empty fields for a missing side.
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include <gflags/gflags.h>

#include "api/join.h"
#include "api/mapreduce.h"

DEFINE_string(left, "", "Left input: a TSV file, a directory of them, or a record dataset (an output directory).");
DEFINE_string(right, "", "Right input, like --left.");
DEFINE_int32(left_key, 1, "Join column of the left input (1-based).");
DEFINE_int32(right_key, 1, "Join column of the right input (1-based).");
DEFINE_string(type, "inner", "Join type: inner, left, right or full (outer).");
DEFINE_string(strategy, "auto",
              "auto, reduce (shuffle both sides), broadcast (hash table of the small side in every map task), "
              "partitioned (part i with part i; needs co-partitioned record datasets) or merge (same, sorted).");
DEFINE_bool(explain, false, "Print the chosen strategy and the facts behind it, then exit without running.");
DEFINE_int32(broadcast_limit_mb, 256, "Largest small side a broadcast join loads into each map task's hash table.");
DEFINE_double(hot_share, 0.01,
              "Reduce strategy: a key holding more than this share of the large side's sampled rows is hot and spread "
              "over all reducers (0: no skew handling).");
DEFINE_bool(strict, false, "Fail on a row with fewer columns than its key column (default: count and skip it).");
DEFINE_int32(left_columns, 0, "Columns of the left table, for empty fields of a missing left side (0: from its first row).");
DEFINE_int32(right_columns, 0, "Columns of the right table (0: from its first row).");
DEFINE_string(plan, "", "Internal: the plan decided at submission, passed to the job's tasks.");
DECLARE_int32(memory_mb);
DECLARE_int32(threads);
DECLARE_int32(reducers);

namespace {

using namespace sawmill;

// Decisions taken once, before any task runs; tasks get them through --plan.
struct Plan {
  JoinStrategy strategy = JoinStrategy::kReduce;
  int small = 1;  // broadcast side; reduce: buffered side; partitioned/merge: the side not streamed
  int columns[2] = {1, 1};
  InputFormat format[2] = {InputFormat::kTextLines, InputFormat::kTextLines};
  std::vector<std::string> hot_keys;
  std::vector<std::string> why;  // for --explain

  std::string Serialize() const {
    std::string s = std::string(JoinStrategyName(strategy)) + ";" + std::to_string(small) + ";" +
                    std::to_string(columns[0]) + ";" + std::to_string(columns[1]) + ";" +
                    std::to_string(static_cast<int>(format[0])) + ";" + std::to_string(static_cast<int>(format[1]));
    for (const auto& k : hot_keys) {
      s += ";";
      for (unsigned char c : k) {
        char buf[3];
        std::snprintf(buf, sizeof buf, "%02x", c);
        s += buf;
      }
    }
    return s;
  }
  static Plan Parse(const std::string& text) {
    try {
      return ParseOrThrow(text);
    } catch (const std::logic_error&) {  // std::stoi's invalid_argument and out_of_range
      throw UsageError("bad --plan '" + text + "'");
    }
  }
  static Plan ParseOrThrow(const std::string& text) {
    std::vector<std::string> f;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ';');) f.push_back(item);
    Plan p;
    if (f.size() < 6 || !ParseJoinStrategy(f[0], &p.strategy)) throw UsageError("bad --plan '" + text + "'");
    p.small = std::stoi(f[1]) == 0 ? 0 : 1;
    p.columns[0] = std::stoi(f[2]);
    p.columns[1] = std::stoi(f[3]);
    for (int side = 0; side < 2; ++side) {
      int fmt = std::stoi(f[4 + side]);
      if (fmt != static_cast<int>(InputFormat::kTextLines) && fmt != static_cast<int>(InputFormat::kRecordFile)) {
        throw UsageError("bad --plan '" + text + "'");
      }
      p.format[side] = static_cast<InputFormat>(fmt);
    }
    for (size_t i = 6; i < f.size(); ++i) {
      std::string k;
      for (size_t j = 0; j + 1 < f[i].size(); j += 2) k.push_back(static_cast<char>(std::stoi(f[i].substr(j, 2), nullptr, 16)));
      p.hot_keys.push_back(k);
    }
    return p;
  }
};

const std::string& Input(int side) { return side == 0 ? FLAGS_left : FLAGS_right; }
const char* SideName(int side) { return side == 0 ? "left" : "right"; }
int KeyColumn(int side) { return side == 0 ? FLAGS_left_key : FLAGS_right_key; }

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// ---- row handling (tasks) ----

// Column `col` (1-based) of a TSV row as the key; the other columns, TAB-joined, as payload.
bool SplitColumns(std::string_view row, int col, std::string_view* key, std::string* payload) {
  size_t start = 0;
  for (int c = 1;; ++c) {
    size_t tab = row.find('\t', start);
    size_t end = tab == std::string_view::npos ? row.size() : tab;
    if (c == col) {
      *key = row.substr(start, end - start);
      // The rest without this column and one of its separators.
      if (start > 0) {
        payload->append(row.substr(0, start - 1));
        if (end < row.size()) payload->append(row.substr(end));
      } else if (end < row.size()) {
        payload->append(row.substr(end + 1));
      }
      return true;
    }
    if (tab == std::string_view::npos) return false;
    start = tab + 1;
  }
}

JoinExtractor MakeExtractor(int side, InputFormat format) {
  int col = KeyColumn(side);
  if (format == InputFormat::kTextLines) {
    return [col](std::string_view, std::string_view line, std::string_view* key, std::string* payload, std::string*) {
      if (SplitColumns(line, col, key, payload)) return true;
      *payload = "fewer than " + std::to_string(col) + " columns";
      return false;
    };
  }
  return [col](std::string_view rkey, std::string_view value, std::string_view* key, std::string* payload,
               std::string* scratch) {
    if (col == 1) {
      *key = rkey;
      payload->append(value);
      return true;
    }
    // The record key is column 1, then the value's columns; the key may hold tabs.
    std::string_view k;
    if (!SplitColumns(value, col - 1, &k, payload)) {
      *payload = "fewer than " + std::to_string(col) + " columns";
      return false;
    }
    scratch->assign(k);
    *key = *scratch;
    std::string rest = std::string(rkey) + (payload->empty() && value.find('\t') == std::string_view::npos ? "" : "\t");
    payload->insert(0, rest);
    return true;
  };
}

JoinEmitter MakeEmitter(const Plan& plan) {
  // A missing side is its other columns, all empty: columns - 2 tabs (none for 1 or 2 columns).
  int other[2] = {std::max(plan.columns[0] - 1, 0), std::max(plan.columns[1] - 1, 0)};
  std::string blank[2] = {std::string(std::max(other[0] - 1, 0), '\t'), std::string(std::max(other[1] - 1, 0), '\t')};
  return [other0 = other[0], other1 = other[1], blank0 = blank[0], blank1 = blank[1]](
             std::string_view key, const std::string_view* left, const std::string_view* right, TaskContext& ctx) {
    thread_local std::string buf;  // the emitter is shared by a job's task threads
    buf.clear();
    if (other0 > 0) buf.append(left ? *left : std::string_view(blank0));
    if (other0 > 0 && other1 > 0) buf.push_back('\t');
    if (other1 > 0) buf.append(right ? *right : std::string_view(blank1));
    ctx.Emit(key, buf);
  };
}

// ---- planning (submission or local run) ----

JoinInputFacts Inspect(int side) {
  auto f = InspectJoinInput(Input(side));
  if (!f.ok()) throw UsageError(std::string("--") + SideName(side) + ": " + f.status().message());
  return *f;
}

Plan MakePlan() {
  JoinType type;
  ParseJoinType(FLAGS_type, &type);
  JoinStrategy asked;
  ParseJoinStrategy(FLAGS_strategy, &asked);
  JoinInputFacts facts[2] = {Inspect(0), Inspect(1)};
  Plan p;
  for (int s = 0; s < 2; ++s) {
    p.format[s] = facts[s].format;
    int given = s == 0 ? FLAGS_left_columns : FLAGS_right_columns;
    p.columns[s] = given > 0 ? given : std::max(facts[s].columns, KeyColumn(s));
    p.why.push_back(std::string(SideName(s)) + " " + Input(s) + ": " + Mib(facts[s].bytes) + ", " +
                    (facts[s].format == InputFormat::kRecordFile ? "records" : "text") + ", " +
                    std::to_string(p.columns[s]) + " columns, key column " + std::to_string(KeyColumn(s)) +
                    (facts[s].has_manifest ? ", has a _MANIFEST" : ""));
  }
  int smaller = facts[1].bytes <= facts[0].bytes ? 1 : 0;

  // Part-by-part strategies need record datasets keyed by the join key.
  auto copartitioned = [&](bool merge) -> Status {
    for (int s = 0; s < 2; ++s) {
      if (facts[s].format != InputFormat::kRecordFile || KeyColumn(s) != 1) {
        return InvalidArgument(std::string(merge ? "merge" : "partitioned") + " join needs both inputs to be record " +
                               "datasets with a _MANIFEST keyed by the join column; " + SideName(s) + " " + Input(s) +
                               (facts[s].format != InputFormat::kRecordFile ? " is text" : " is joined on column " +
                                                                                                  std::to_string(KeyColumn(s))));
      }
    }
    return CheckCoPartitioned(FLAGS_left, FLAGS_right, merge);
  };
  // Broadcast the smaller side, or for a left (right) join the right (left) side when it fits:
  // a broadcast side whose unmatched rows are kept needs the tail task's matched-key bitmaps.
  uint64_t limit = static_cast<uint64_t>(std::max(FLAGS_broadcast_limit_mb, 0)) << 20;
  int bside = smaller;
  if (type == JoinType::kLeft || type == JoinType::kRight) {
    int other = type == JoinType::kLeft ? 1 : 0;  // broadcast without a tail
    bool only_kept_fits = facts[other].bytes > limit && facts[1 - other].bytes <= limit;
    bside = only_kept_fits ? 1 - other : other;
  }
  auto broadcastable = [&]() -> Status {
    if (facts[bside].bytes > limit) {
      return InvalidArgument(std::string("broadcast side ") + SideName(bside) + " " + Input(bside) + " is " +
                             Mib(facts[bside].bytes) + ", over --broadcast_limit_mb " +
                             std::to_string(FLAGS_broadcast_limit_mb));
    }
    return Status::Ok();
  };
  auto tail_note = [&] {
    return KeepsUnmatched(type, bside) ? std::string(", with a tail task for its unmatched rows") : std::string();
  };

  if (asked == JoinStrategy::kAuto) {
    Status m = copartitioned(true);
    Status pt = m.ok() ? m : copartitioned(false);
    Status b = broadcastable();
    if (m.ok()) {
      p.strategy = JoinStrategy::kMerge;
      p.why.push_back("merge: both inputs are partitioned alike and sorted by the key");
    } else if (pt.ok()) {
      p.strategy = JoinStrategy::kPartitioned;
      p.why.push_back("not merge: " + m.message());
      p.why.push_back("partitioned: both inputs are partitioned alike by the key");
    } else if (b.ok()) {
      p.strategy = JoinStrategy::kBroadcast;
      p.why.push_back("not merge or partitioned: " + pt.message());
      p.why.push_back(std::string("broadcast: the ") + SideName(bside) + " side fits --broadcast_limit_mb " +
                      std::to_string(FLAGS_broadcast_limit_mb) + tail_note());
    } else {
      p.strategy = JoinStrategy::kReduce;
      p.why.push_back("not merge or partitioned: " + pt.message());
      p.why.push_back("not broadcast: " + b.message());
      p.why.push_back("reduce: shuffle both sides");
    }
  } else {
    p.strategy = asked;
    Status s = asked == JoinStrategy::kMerge         ? copartitioned(true)
               : asked == JoinStrategy::kPartitioned ? copartitioned(false)
               : asked == JoinStrategy::kBroadcast   ? broadcastable()
                                                     : Status::Ok();
    if (!s.ok()) throw UsageError(s.message());
    p.why.push_back(std::string(JoinStrategyName(asked)) + ": as asked by --strategy" +
                    (asked == JoinStrategy::kBroadcast ? " (broadcast side " + std::string(SideName(bside)) + tail_note() + ")"
                                                       : std::string()));
  }
  // Broadcast: the table's side; reduce: the buffered side; partitioned and merge: the larger streams.
  p.small = p.strategy == JoinStrategy::kBroadcast ? bside : smaller;
  if (p.strategy == JoinStrategy::kReduce && FLAGS_hot_share > 0 && FLAGS_reducers > 1) {
    int large = 1 - p.small;
    JoinDef def;
    def.side[large].input = Input(large);
    def.side[large].format = facts[large].format;
    def.side[large].extract = MakeExtractor(large, facts[large].format);
    auto hot = SampleHotKeys(def, large, FLAGS_hot_share);
    if (!hot.ok()) throw UsageError("sampling " + Input(large) + " for hot keys: " + hot.status().message());
    p.hot_keys = *hot;
    p.why.push_back("hot keys of the " + std::string(SideName(large)) + " side (over " + std::to_string(FLAGS_hot_share) +
                    " of sampled rows): " + std::to_string(p.hot_keys.size()));
  }
  if (p.strategy == JoinStrategy::kReduce) {
    p.why.push_back(std::string("buffered side per key: ") + SideName(p.small) + " (the smaller)");
  }
  return p;
}

JobSpec MakeSpec() {
  JoinType type;
  JoinStrategy strategy;
  if (!ParseJoinType(FLAGS_type, &type)) throw UsageError("--type must be inner, left, right or full");
  if (!ParseJoinStrategy(FLAGS_strategy, &strategy)) {
    throw UsageError("--strategy must be auto, reduce, broadcast, partitioned or merge");
  }
  if (FLAGS_left.empty() || FLAGS_right.empty()) throw UsageError("--left and --right are required");
  if (FLAGS_left_key < 1 || FLAGS_right_key < 1) throw UsageError("--left_key and --right_key are 1-based columns");
  Plan plan = FLAGS_plan.empty() ? MakePlan() : Plan::Parse(FLAGS_plan);
  if (FLAGS_explain) {
    std::printf("join %s: strategy %s\n", JoinTypeName(type), JoinStrategyName(plan.strategy));
    for (const auto& w : plan.why) std::printf("  %s\n", w.c_str());
    std::exit(0);
  }
  JoinDef def;
  def.name = "join";
  def.type = type;
  def.strict = FLAGS_strict;
  for (int s = 0; s < 2; ++s) {
    def.side[s].input = Input(s);
    def.side[s].format = plan.format[s];
    def.side[s].extract = MakeExtractor(s, plan.format[s]);
  }
  def.emit = MakeEmitter(plan);
  Result<JobSpec> spec = InvalidArgument("no strategy");
  switch (plan.strategy) {
    case JoinStrategy::kBroadcast: spec = BroadcastJoin(def, plan.small); break;
    case JoinStrategy::kPartitioned: spec = CoPartitionedJoin(def, false, 1 - plan.small); break;
    case JoinStrategy::kMerge: spec = CoPartitionedJoin(def, true, 1 - plan.small); break;
    default: {
      ReduceJoinOptions o;
      o.buffered_side = plan.small;
      o.hot_keys = plan.hot_keys;
      o.buffer_bytes = (static_cast<size_t>(std::max(FLAGS_memory_mb, 1)) << 20) / std::max(FLAGS_threads, 1) / 4;
      spec = ReduceSideJoin(def, o);
    }
  }
  if (!spec.ok()) throw UsageError(spec.status().message());
  spec->task_flags = {"--plan=" + plan.Serialize()};
  return *spec;
}

}  // namespace

SAWMILL_JOB_MAIN("join: joins two tables (TSV files or record datasets) by a key column.", MakeSpec)
