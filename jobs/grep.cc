// grep: POSIX extended regular expressions over text lines (like `grep -E` in the C locale).
// Default: counts matching lines per pattern, output (pattern, count). With --lines: a map-only
// job writing each matching line as a record key, in input order.
#include <regex.h>

#include <fstream>

#include <gflags/gflags.h>

#include "api/combiners.h"
#include "api/mapreduce.h"
#include "api/reducers.h"

DEFINE_string(pattern, "", "Extended regular expression (POSIX ERE, as grep -E).");
DEFINE_string(patterns_file, "", "File with one pattern per line (instead of or besides --pattern).");
DEFINE_bool(lines, false, "Write matching lines (map-only) instead of counting them.");
DEFINE_bool(ignore_case, false, "Match case-insensitively (grep -i).");

namespace {

using namespace sawmill;

std::vector<std::string> Patterns() {
  std::vector<std::string> p;
  if (!FLAGS_pattern.empty()) p.push_back(FLAGS_pattern);
  if (!FLAGS_patterns_file.empty()) {
    std::ifstream in(FLAGS_patterns_file);
    if (!in) throw UsageError("cannot read --patterns_file " + FLAGS_patterns_file);
    for (std::string line; std::getline(in, line);) p.push_back(line);
  }
  if (p.empty()) throw UsageError("give --pattern or --patterns_file");
  return p;
}

// Compiled patterns, one set per task (regex_t is not shared between threads).
class Matchers {
 public:
  explicit Matchers(const std::vector<std::string>& patterns) {
    for (const auto& p : patterns) {
      regex_t re;
      int rc = regcomp(&re, p.c_str(), REG_EXTENDED | REG_NOSUB | (FLAGS_ignore_case ? REG_ICASE : 0));
      if (rc != 0) {
        char msg[256];
        regerror(rc, &re, msg, sizeof msg);
        throw UsageError("bad pattern '" + p + "': " + msg);
      }
      res_.push_back(re);
    }
  }
  ~Matchers() {
    for (auto& re : res_) regfree(&re);
  }
  bool Matches(size_t i, std::string_view line) const {
    regmatch_t m[1];
    m[0].rm_so = 0;
    m[0].rm_eo = static_cast<regoff_t>(line.size());
    return regexec(&res_[i], line.data(), 1, m, REG_STARTEND) == 0;
  }
  size_t size() const { return res_.size(); }

 private:
  std::vector<regex_t> res_;
};

class CountMapper final : public Mapper {
 public:
  explicit CountMapper(std::vector<std::string> patterns) : patterns_(std::move(patterns)), m_(patterns_) {}
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    char one[8];
    for (size_t i = 0; i < m_.size(); ++i) {
      if (m_.Matches(i, line)) ctx.Emit(patterns_[i], EncodeInt64(1, one));
    }
  }
  // Zero counts too, so every pattern appears in the output.
  void Finish(TaskContext& ctx) override {
    char zero[8];
    for (const auto& p : patterns_) ctx.Emit(p, EncodeInt64(0, zero));
  }

 private:
  std::vector<std::string> patterns_;
  Matchers m_;
};

class LineMapper final : public Mapper {
 public:
  explicit LineMapper(const std::vector<std::string>& patterns) : m_(patterns) {}
  void Map(std::string_view, std::string_view line, TaskContext& ctx) override {
    for (size_t i = 0; i < m_.size(); ++i) {
      if (m_.Matches(i, line)) {
        ctx.Emit(line, {});
        return;
      }
    }
  }

 private:
  Matchers m_;
};

JobSpec MakeSpec() {
  std::vector<std::string> patterns = Patterns();
  Matchers check(patterns);  // reject bad patterns before the job starts
  JobSpec spec;
  spec.name = "grep";
  if (FLAGS_lines) {
    spec.mapper = [patterns] { return std::make_unique<LineMapper>(patterns); };
    return spec;
  }
  spec.mapper = [patterns] { return std::make_unique<CountMapper>(patterns); };
  spec.combiner = [] { return std::make_unique<Int64SumCombiner>(); };
  spec.reducer = [] { return std::make_unique<Int64SumToDecimalReducer>(); };
  return spec;
}

}  // namespace

SAWMILL_JOB_MAIN("grep: counts lines matching each pattern (or, with --lines, writes the matching lines).",
                 MakeSpec)
