// `sawmill pipeline run FILE [--promote]`: runs a pipeline of jobs writing datasets in
// dependency order, independent ones in parallel, up-to-date ones skipped (docs/pipelines.md).
#include <algorithm>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/jobs_dir.h"
#include "cli/commands.h"
#include "cli/store_args.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "common/subprocess.h"
#include "datasets/dataset_catalog.h"
#include "logs/log_archive.h"
#include "mapreduce/input_split.h"

namespace sawmill {
namespace {

constexpr char kUsage[] = R"(sawmill pipeline: jobs that derive datasets from logs and other datasets (docs/pipelines.md).

Usage:
  sawmill pipeline run FILE (--store DIR | --cluster D) [--promote] [--jobs_dir DIR] [--reconnect_s S]
      Runs the pipeline's jobs in dependency order (a job depends on the jobs whose dataset it
      reads), independent ones in parallel. Each writes a new version of its dataset unless
      one is up to date (same binary, arguments and input contents: skipped). A job's optional
      check runs on its new version; with --promote, versions whose check passed become current.
      Downstream jobs read the version their upstream job produced in this run. A cycle, an
      unknown binary or an input that does not exist (and no job writes) is refused before
      anything runs. --reconnect_s S (default 60): how long the pipeline and its jobs retry a
      coordinator or namenode that cannot be reached (being restarted) before giving up.
  sawmill pipeline check FILE (--store DIR | --cluster D)
      Only the validation and the order.

FILE (JSON):
  {"jobs": [{"name": "counts", "binary": "wordcount", "inputs": ["logs:web@,1000"],
             "output": "dataset:counts", "args": ["--reducers", "2"],
             "check": ["sawmill", "manifest", "{version}"]}, ...]}
  binary: a job binary in --jobs_dir (default: jobs/ beside this sawmill, or, installed,
  ../libexec/sawmill/jobs) or a path;
  check: a command run after the job, its exit status the verdict; {version} becomes the new
  version's dataset:NAME@V and the store flags (--store DIR or --cluster D) are appended. A bare
  program name is looked up in --jobs_dir, then (sawmill: this one) PATH; one found nowhere is
  refused before anything runs.
)";

struct Job {
  std::string name, binary, output_dataset;
  std::vector<std::string> inputs, args, check;
  std::set<size_t> deps;
  int level = 0;
  // Outcome.
  bool ok = false, up_to_date = false, checked = true;
  uint64_t version = 0;
  std::string message;
};

std::string DatasetName(const std::string& spec) {
  std::string n = spec.substr(std::strlen("dataset:"));
  return n.substr(0, n.find('@'));
}

// Runs argv with its stdout and stderr in a private temporary file (mode 0600, unlinked at once:
// no other process can name or replace it); returns the exit code (128 for a signal) and puts
// what the command wrote in *out.
// A check command's program: a path as given; a bare name from the jobs directory, else this
// sawmill itself for "sawmill", else from PATH. Not found is refused before anything runs.
Result<std::string> FindCheck(const std::string& name, const std::string& jobs_dir) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return NotFound("check command " + name + " is not an executable file");
  }
  if (std::string in_jobs = JoinPath(jobs_dir, name); ::access(in_jobs.c_str(), X_OK) == 0) return in_jobs;
  if (std::string self = SelfPath(); name == "sawmill" && !self.empty()) return self;
  const char* path = std::getenv("PATH");
  for (std::string_view rest = path ? path : ""; !rest.empty();) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (std::string candidate = JoinPath(dir.empty() ? "." : dir, name); ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return NotFound("check command " + name + " is in neither " + jobs_dir + " nor PATH");
}

Result<int> RunCommand(const std::vector<std::string>& argv, std::string* out) {
  std::error_code ec;
  std::string dir = std::filesystem::temp_directory_path(ec).string();
  if (ec) return IOError("no temporary directory for the output of " + argv[0] + ": " + ec.message());
  std::string path = JoinPath(dir, "sawmill-pipeline-XXXXXX");
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot create a temporary file", path, errno);
  ::unlink(path.c_str());
  SubprocessOptions o;
  o.argv = argv;
  o.stdout_fd = o.stderr_fd = fd;
  auto pid = StartSubprocess(o);
  Result<int> status = pid.ok() ? WaitSubprocess(*pid) : Result<int>(pid.status());
  out->clear();
  char buf[1 << 16];
  ssize_t n;
  for (off_t at = 0; (n = ::pread(fd, buf, sizeof buf, at)) > 0; at += n) out->append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (!status.ok()) return status.status();
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128;
}

// The version number at the start of `text` (what follows a job's "version" marker): decimal
// digits up to the end of the line or a space.
Result<uint64_t> ParseVersion(std::string_view text) {
  return ParseNumber<uint64_t>(text.substr(0, text.find_first_of(" \t\r\n")), "the version");
}

std::string Tail(const std::string& s, size_t n = 600) { return s.size() > n ? s.substr(s.size() - n) : s; }

class Pipeline {
 public:
  // `store_flags` go to the jobs; `check_flags` (--store DIR or --cluster D, what `sawmill
  // manifest` and other store tools take) to the checks.
  Pipeline(std::string root, std::vector<std::string> store_flags, std::vector<std::string> check_flags,
           std::string jobs_dir)
      : root_(std::move(root)),
        store_flags_(std::move(store_flags)),
        check_flags_(std::move(check_flags)),
        jobs_dir_(std::move(jobs_dir)) {}

  Status Load(const std::string& file) {
    std::ifstream in(file);
    if (!in) return NotFound("cannot read pipeline " + file);
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(in);
      for (const auto& j : doc.at("jobs")) {
        Job job;
        job.name = j.at("name").get<std::string>();
        job.binary = j.at("binary").get<std::string>();
        job.inputs = j.at("inputs").get<std::vector<std::string>>();
        std::string out = j.at("output").get<std::string>();
        if (!datasets::IsDatasetPath(out) || out.find('@') != std::string::npos) {
          return InvalidArgument(file + ": job " + job.name + ": output must be dataset:NAME, not " + out);
        }
        job.output_dataset = DatasetName(out);
        if (j.contains("args")) job.args = j.at("args").get<std::vector<std::string>>();
        if (j.contains("check")) job.check = j.at("check").get<std::vector<std::string>>();
        jobs_.push_back(std::move(job));
      }
    } catch (const std::exception& e) {
      return InvalidArgument(file + ": " + e.what());
    }
    if (jobs_.empty()) return InvalidArgument(file + ": no jobs");
    return Validate(file);
  }

  // Every check that can fail before a job runs: names, binaries, inputs, cycles.
  Status Validate(const std::string& file) {
    std::map<std::string, size_t> writer;
    std::set<std::string> names;
    for (size_t i = 0; i < jobs_.size(); ++i) {
      Job& j = jobs_[i];
      if (!names.insert(j.name).second) return InvalidArgument(file + ": two jobs named " + j.name);
      RETURN_IF_ERROR(datasets::ValidateName(j.output_dataset));
      if (!writer.emplace(j.output_dataset, i).second) {
        return InvalidArgument(file + ": jobs " + jobs_[writer[j.output_dataset]].name + " and " + j.name +
                               " both write dataset " + j.output_dataset);
      }
      if (j.binary.find('/') == std::string::npos) j.binary = JoinPath(jobs_dir_, j.binary);
      if (::access(j.binary.c_str(), X_OK) != 0) return NotFound("job " + j.name + ": no job binary " + j.binary);
      if (!j.check.empty()) {
        auto found = FindCheck(j.check[0], jobs_dir_);
        if (!found.ok()) return found.status().WithContext("job " + j.name);
        j.check[0] = *found;
      }
    }
    for (auto& j : jobs_) {
      for (const auto& in : j.inputs) {
        if (datasets::IsDatasetPath(in)) {
          auto w = writer.find(DatasetName(in));
          if (w != writer.end()) {
            if (in.find('@') != std::string::npos) {
              return InvalidArgument("job " + j.name + " reads " + in + ", a version of a dataset this pipeline writes");
            }
            j.deps.insert(w->second);
            continue;
          }
          auto r = datasets::ResolveForRead(root_, in);
          if (!r.ok()) return NotFound("job " + j.name + ": missing input " + in + ": " + r.status().message());
        } else if (logs::IsLogInput(in)) {
          auto r = logs::ResolveLogInput(in);
          if (!r.ok()) return NotFound("job " + j.name + ": missing input " + in + ": " + r.status().message());
        } else {
          auto e = FsExists(in);
          if (!e.ok() || !*e) return NotFound("job " + j.name + ": missing input " + in);
        }
      }
    }
    // Levels by depth; a cycle never settles.
    for (size_t round = 0; round <= jobs_.size(); ++round) {
      bool changed = false;
      for (auto& j : jobs_) {
        for (size_t d : j.deps) {
          if (j.level < jobs_[d].level + 1) {
            j.level = jobs_[d].level + 1;
            changed = true;
          }
        }
      }
      if (!changed) return Status::Ok();
      if (round == jobs_.size()) break;
    }
    std::string cycle;
    for (const auto& j : jobs_) {
      if (j.level >= static_cast<int>(jobs_.size())) cycle += " " + j.name;
    }
    return InvalidArgument(file + ": the jobs' datasets form a cycle (among:" + cycle + ")");
  }

  void PrintOrder() const {
    int levels = 0;
    for (const auto& j : jobs_) levels = std::max(levels, j.level + 1);
    for (int l = 0; l < levels; ++l) {
      std::string names;
      for (const auto& j : jobs_) {
        if (j.level == l) names += " " + j.name;
      }
      std::printf("step %d:%s\n", l + 1, names.c_str());
    }
  }

  // Runs level by level; returns the process exit code.
  int Run(bool promote) {
    int levels = 0;
    for (const auto& j : jobs_) levels = std::max(levels, j.level + 1);
    bool failed = false;
    for (int l = 0; l < levels && !failed; ++l) {
      std::vector<std::thread> threads;
      for (size_t i = 0; i < jobs_.size(); ++i) {
        if (jobs_[i].level == l) threads.emplace_back([this, i, promote] { RunJob(i, promote); });
      }
      for (auto& t : threads) t.join();
      for (const auto& j : jobs_) {
        if (j.level != l) continue;
        std::printf("%s: %s\n", j.name.c_str(), j.message.c_str());
        failed |= !j.ok;
      }
      std::fflush(stdout);
    }
    int ran = 0, skipped = 0, failures = 0, rejected = 0;
    for (const auto& j : jobs_) {
      if (!j.ok) {
        ++failures;
      } else if (j.up_to_date) {
        ++skipped;
      } else {
        ++ran;
      }
      rejected += j.ok && !j.checked;
    }
    std::printf("pipeline: %d ran, %d up to date, %d failed, %d failed their check%s\n", ran, skipped, failures,
                rejected, failed ? " (later steps not run)" : "");
    return failed || rejected ? 1 : 0;
  }

 private:
  void RunJob(size_t i, bool promote) {
    Job& j = jobs_[i];
    std::vector<std::string> argv{j.binary};
    std::string inputs;
    for (const auto& in : j.inputs) {
      std::string resolved = in;
      if (datasets::IsDatasetPath(in) && !in.empty()) {
        for (size_t d : j.deps) {
          if (jobs_[d].output_dataset == DatasetName(in)) {
            resolved = "dataset:" + jobs_[d].output_dataset + "@" + std::to_string(jobs_[d].version);
          }
        }
      }
      inputs += (inputs.empty() ? "" : ",") + resolved;
    }
    argv.insert(argv.end(), {"--input", inputs, "--output", "dataset:" + j.output_dataset, "--progress", "never"});
    argv.insert(argv.end(), store_flags_.begin(), store_flags_.end());
    argv.insert(argv.end(), j.args.begin(), j.args.end());
    auto t0 = std::chrono::steady_clock::now();
    std::string out;
    Result<int> ran = RunCommand(argv, &out);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!ran.ok()) {
      j.message = "FAILED: " + ran.status().message();
      return;
    }
    int code = *ran;
    if (code != 0) {
      j.message = "FAILED (exit " + std::to_string(code) + "): " + Tail(out);
      return;
    }
    j.up_to_date = out.find("status=up_to_date") != std::string::npos;
    // The version written (or found up to date), from the binary's own lines.
    std::string marker = j.up_to_date ? "version=" : "writing dataset " + j.output_dataset + " version ";
    size_t at = out.find(marker);
    if (at == std::string::npos) {
      j.message = "FAILED: cannot tell which version the job wrote: " + Tail(out);
      return;
    }
    auto version = ParseVersion(std::string_view(out).substr(at + marker.size()));
    if (!version.ok()) {
      j.message = "FAILED: cannot tell which version step " + j.name + " wrote: " + version.status().message() +
                  " after \"" + marker + "\": " + Tail(out);
      return;
    }
    j.version = *version;
    j.ok = true;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s version %08llu (%.2f s)", j.up_to_date ? "up to date," : "new",
                  static_cast<unsigned long long>(j.version), secs);
    j.message = buf;
    if (!j.check.empty()) {
      std::vector<std::string> check = j.check;
      for (auto& a : check) {
        size_t p = a.find("{version}");
        if (p != std::string::npos) {
          a.replace(p, 9, "dataset:" + j.output_dataset + "@" + std::to_string(j.version));
        }
      }
      check.insert(check.end(), check_flags_.begin(), check_flags_.end());
      std::string check_out;
      Result<int> check_code = RunCommand(check, &check_out);
      j.checked = check_code.ok() && *check_code == 0;
      if (!check_code.ok()) {
        j.message += ", CHECK FAILED: " + check_code.status().message();
      } else {
        j.message += j.checked ? ", check passed" : ", CHECK FAILED (exit " + std::to_string(*check_code) +
                                                        "): " + Tail(check_out, 300);
      }
    }
    if (promote) {
      if (!j.checked) {
        auto current = datasets::Current(root_, j.output_dataset);
        j.message += "; not promoted, current stays " +
                     (current.ok() && *current ? datasets::VersionName(*current) : std::string("unset"));
        return;
      }
      Status s = datasets::Promote(root_, j.output_dataset, j.version);
      j.message += s.ok() ? "; promoted" : "; PROMOTE FAILED: " + s.message();
      if (!s.ok()) j.ok = false;
    }
  }

  std::string root_;
  std::vector<std::string> store_flags_, check_flags_;
  std::string jobs_dir_;
  std::vector<Job> jobs_;
};

}  // namespace

int PipelineCommand(int argc, char** argv) {
  MoveVerbFirst(argc, argv, 2, {"promote"});
  if (argc < 3 || WantsHelp(argc, argv, 2) || std::strcmp(argv[2], "help") == 0) {
    std::fputs(kUsage, argc < 3 ? stderr : stdout);
    return argc < 3 ? 2 : 0;
  }
  std::string sub = argv[2];
  Args args;
  if (!Args::Parse(argc, argv, 3, &args, {"promote"})) return 2;
  if (!args.OnlyFlags({"store", "cluster", "promote", "jobs_dir", "reconnect_s"})) return 2;
  int64_t reconnect_s = 0;
  if (!args.GetNumber<int64_t>("reconnect_s", kDefaultReconnectMs / 1000, &reconnect_s, 0, 7 * 24 * 3600)) return 2;
  dfs::DfsClient::Options store_options;
  store_options.reconnect.budget_ms = reconnect_s * 1000;
  if (args.positional.size() != 1 || (sub != "run" && sub != "check")) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  auto opened = OpenStore(args, store_options);
  if (!opened.ok()) {
    std::fprintf(stderr, "error: %s\n", opened.status().message().c_str());
    return 2;
  }
  const std::string root = opened->root;
  std::vector<std::string> store_flags, check_flags;
  if (opened->store) {
    check_flags = {"--cluster", args.Get("cluster", "")};
    store_flags = {"--cluster", args.Get("cluster", ""), "--wait", "--reconnect_s", std::to_string(reconnect_s)};
  } else {
    check_flags = store_flags = {"--store", root};
    logs::SetStoreRoot(root);
  }
  Pipeline p(root, store_flags, check_flags, args.Get("jobs_dir", DefaultJobsDir()));
  Status s = p.Load(args.positional[0]);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s (nothing ran)\n", s.message().c_str());
    return 2;
  }
  p.PrintOrder();
  if (sub == "check") return 0;
  return p.Run(args.Has("promote"));
}

}  // namespace sawmill
