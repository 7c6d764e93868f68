// Fault points (common/fault_point.h): the spec parser, the armed table, and the actions.
#include "common/fault_point.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"

namespace sawmill::fault {
namespace internal {

std::atomic<int> g_state{kUnread};

}  // namespace internal
namespace {

// Every fault point in the engine: the one list of names Arm accepts. docs/reliability.md
// ("Fault points") says where each is and what its context is; tests/common/fault_points_test.py
// checks that this list, that section and the FaultPoint calls in the sources name the same points.
constexpr std::string_view kPoints[] = {
    "coordinator.commit.step",
    "coordinator.journal.sync",
    "dataflow.master.before_stage",
    "dataflow.task.start",
    "datanode.block.finalize",
    "logs.partition.locked",
    "namenode.journal.sync",
    "records.writer.before_footer",
    "task.attempt.before_report",
    "worker.binary.fetch",
};

constexpr char kGrammar[] =
    "an entry is NAME[@SUFFIX]=[once:|nth(N):]ACTION, ACTION one of sleep(MS), pause(FILE), fail(MESSAGE), abort";

enum class Action { kSleep, kPause, kFail, kAbort };
constexpr const char* kActionNames[] = {"sleep", "pause", "fail", "abort"};

struct Entry {
  std::string name, suffix;  // suffix empty: every context
  uint64_t nth = 0;          // fire on that hit only; 0: on every hit
  Action action = Action::kSleep;
  std::string arg;           // MS, FILE or MESSAGE
  uint64_t sleep_ms = 0;
  uint64_t hits = 0;
};

// The process's one table: a fault point is reached from any thread and any layer, with nothing
// to pass it, as RocksDB's SyncPoint is. Never destroyed, so that a point hit by a thread still
// running at exit finds it.
struct Table {
  std::mutex mu;
  std::vector<Entry> armed;  // guarded by mu
  uint64_t generation = 0;   // guarded by mu; bumped by every Arm and Disarm, ends pauses
  bool env_read = false;     // guarded by mu
  Status env_status;         // guarded by mu
};
Table& T() {
  static Table* table = new Table;
  return *table;
}

bool ParseNumber(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 12) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && *out <= max;
}

// The argument of "WORD(ARG)" when `s` is exactly that; false otherwise.
bool Call(std::string_view s, std::string_view word, std::string_view* arg) {
  if (s.size() < word.size() + 2 || s.substr(0, word.size()) != word || s[word.size()] != '(' || s.back() != ')') {
    return false;
  }
  *arg = s.substr(word.size() + 1, s.size() - word.size() - 2);
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

Result<Entry> ParseEntry(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("fault entry '" + std::string(text) + "': " + why + " (" + kGrammar + ")");
  };
  Entry e;
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) return bad("no '='");
  std::string_view target = text.substr(0, eq), rhs = text.substr(eq + 1);
  size_t at = target.find('@');
  e.name = target.substr(0, at);
  if (at != std::string_view::npos) {
    e.suffix = target.substr(at + 1);
    if (e.suffix.empty()) return bad("an empty context suffix after '@'");
  }
  if (std::find(std::begin(kPoints), std::end(kPoints), e.name) == std::end(kPoints)) {
    std::string known;
    for (std::string_view p : kPoints) known += (known.empty() ? "" : ", ") + std::string(p);
    return bad("no fault point named '" + e.name + "'; the points are " + known);
  }
  std::string_view arg;
  if (rhs.substr(0, 5) == "once:") {
    e.nth = 1;
    rhs.remove_prefix(5);
  } else if (size_t colon = rhs.find("):"); rhs.substr(0, 4) == "nth(" && colon != std::string_view::npos) {
    if (!ParseNumber(rhs.substr(4, colon - 4), 1'000'000'000, &e.nth) || e.nth == 0) {
      return bad("nth(N) needs a whole number N from 1");
    }
    rhs.remove_prefix(colon + 2);
  }
  if (rhs == "abort") {
    e.action = Action::kAbort;
  } else if (Call(rhs, "sleep", &arg)) {
    e.action = Action::kSleep;
    if (!ParseNumber(arg, 86'400'000, &e.sleep_ms)) return bad("sleep(MS) needs milliseconds, 0 to 86400000");
  } else if (Call(rhs, "pause", &arg)) {
    e.action = Action::kPause;
    if (arg.empty()) return bad("pause(FILE) needs a file");
  } else if (Call(rhs, "fail", &arg)) {
    e.action = Action::kFail;
    if (arg.empty()) return bad("fail(MESSAGE) needs a message");
  } else {
    return bad("no action in '" + std::string(rhs) + "'");
  }
  e.arg = arg;
  return e;
}

Result<std::vector<Entry>> ParseSpec(std::string_view spec) {
  std::vector<Entry> entries;
  while (!spec.empty()) {
    size_t semi = spec.find(';');
    std::string_view text = Trim(spec.substr(0, semi));
    spec = semi == std::string_view::npos ? std::string_view() : spec.substr(semi + 1);
    if (text.empty()) continue;
    ASSIGN_OR_RETURN(Entry e, ParseEntry(text));
    entries.push_back(std::move(e));
  }
  return entries;
}

void Install(std::vector<Entry> entries) {  // T().mu held
  T().armed = std::move(entries);
  ++T().generation;
  internal::g_state.store(T().armed.empty() ? internal::kDisarmed : internal::kArmed, std::memory_order_relaxed);
}

Status ReadEnvironment() {  // T().mu held
  Table& t = T();
  if (t.env_read || internal::g_state.load(std::memory_order_relaxed) != internal::kUnread) return t.env_status;
  t.env_read = true;
  const char* value = std::getenv("SAWMILL_FAULTS");
  auto entries = ParseSpec(value ? value : "");
  if (!entries.ok()) {
    t.env_status = entries.status().WithContext("SAWMILL_FAULTS");
    Install({});
    return t.env_status;
  }
  Install(std::move(entries).value());
  return Status::Ok();
}

// Waits while `file` exists, or until the points are armed anew or disarmed.
void Pause(const std::string& file, uint64_t armed_generation) {
  for (;;) {
    {
      std::lock_guard<std::mutex> l(T().mu);
      if (T().generation != armed_generation) return;
    }
    if (!PathExists(file)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

Status Arm(std::string_view spec) {
  ASSIGN_OR_RETURN(std::vector<Entry> entries, ParseSpec(spec));
  std::lock_guard<std::mutex> l(T().mu);
  Install(std::move(entries));
  return Status::Ok();
}

void Disarm() {
  std::lock_guard<std::mutex> l(T().mu);
  Install({});
}

Status ArmFromEnvironment() {
  std::lock_guard<std::mutex> l(T().mu);
  return ReadEnvironment();
}

namespace internal {

Status Hit(std::string_view name, std::string_view context) {
  std::vector<Entry> fired;
  uint64_t armed_generation;
  {
    Table& t = T();
    std::lock_guard<std::mutex> l(t.mu);
    if (Status s = ReadEnvironment(); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      std::_Exit(2);
    }
    for (Entry& e : t.armed) {
      if (e.name != name || !context.ends_with(e.suffix)) continue;
      ++e.hits;
      if (e.nth == 0 || e.hits == e.nth) fired.push_back(e);
    }
    armed_generation = t.generation;
  }
  for (const Entry& e : fired) {
    std::string where = std::string(name) + (context.empty() ? "" : " at " + std::string(context));
    // One line on the process's stderr (an attempt's or a daemon's log) for each action taken.
    std::fprintf(stderr, "fault point %s: %s%s%s\n", where.c_str(), kActionNames[static_cast<int>(e.action)],
                 e.arg.empty() ? "" : " ", e.arg.c_str());
    switch (e.action) {
      case Action::kSleep:
        std::this_thread::sleep_for(std::chrono::milliseconds(e.sleep_ms));
        break;
      case Action::kPause:
        RETURN_IF_ERROR(WriteStringToFile(e.arg, std::string(context) + "\n").WithContext("fault point " + where));
        Pause(e.arg, armed_generation);
        break;
      case Action::kFail:
        return IOError("fault point " + where + ": " + e.arg);
      case Action::kAbort:
        std::fflush(stderr);
        ::kill(::getpid(), SIGKILL);
        std::_Exit(137);  // not reached: SIGKILL cannot be caught
    }
  }
  return Status::Ok();
}

Status Hit(std::string_view name, uint64_t context) { return Hit(name, std::to_string(context)); }

}  // namespace internal
}  // namespace sawmill::fault
