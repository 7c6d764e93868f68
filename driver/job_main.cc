// The common flags of every job binary and the main() helper behind SAWMILL_JOB_MAIN.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <gflags/gflags.h>

#include "api/mapreduce.h"
#include "common/big_buffer.h"
#include "common/fault_point.h"
#include "common/file.h"
#include "datasets/dataset_catalog.h"
#include "dfs/client/connect_dfs.h"
#include "driver/dataset_io.h"
#include "driver/executor_spare.h"
#include "driver/fingerprint.h"
#include "driver/submit.h"
#include "driver/task_mode.h"
#include "logs/log_archive.h"
#include "mapreduce/input_split.h"
#include "mapreduce/local_runner.h"
#include "mapreduce/progress.h"
#include "records/record_file.h"

DEFINE_bool(local, true, "Run in local mode: a thread pool over local files, no daemons (the default).");
DEFINE_string(cluster, "", "Cluster directory (with cluster.json): submit the job to its coordinator (inputs and "
              "output are dfs:/ paths). With --local: run here, dfs:/ paths name files in that cluster's store.");
DEFINE_bool(wait, false, "With --cluster: follow the job (progress on stderr) and exit non-zero if it fails.");
DEFINE_uint64(task_timeout_ms, 0, "With --cluster: an attempt running longer fails (0: the coordinator's default).");
DEFINE_uint64(task_memory_mb, 0, "With --cluster: address-space limit of each attempt (0: the coordinator's default).");
DEFINE_int32(max_attempts, 0, "With --cluster: attempts per task before the job fails (0: the coordinator's default, 4).");
DEFINE_bool(speculation, true, "With --cluster: run a second attempt of stragglers.");
DEFINE_int32(reconnect_s, 60, "With --cluster: how long calls to a coordinator or namenode that cannot be reached (being "
             "restarted) are retried, with backoff, before the run gives up (0: at once). A --wait follower goes "
             "on following the same job.");
DEFINE_string(input, "", "Comma-separated input files or directories (a directory's files except _* and .*), or "
              "log selections logs:STREAM[/PARTITION][@FROM,TO] (offsets or UTC times, [FROM,TO); docs/logs.md).");
DEFINE_string(output, "", "Output directory: part-NNNNN record files and a _MANIFEST; or dataset:NAME, a new version "
              "of a dataset in the store (docs/datasets.md). Inputs may be dataset:NAME[@VERSION] (current by default).");
DEFINE_int32(reducers, 0, "Number of reduce tasks (= output parts). 0: one per slot that runs the job (--threads; "
             "with --cluster, the live workers' slots), fewer when the input would give a reduce less than 64 MiB; "
             "the summary line and the output's _MANIFEST say what was chosen. Give a number for the same parts "
             "on any machine.");
DEFINE_int32(threads, 2, "Worker threads in local mode.");
DEFINE_int32(memory_mb, 512, "Memory budget of the whole job in MiB (sort buffers, merges); more data spills.");
DEFINE_bool(overwrite, false, "Replace an existing output directory (atomically, at commit).");
DEFINE_int32(split_mb, 64, "Target input split size in MiB (one map task per split); local jobs with reducers use smaller splits, down to 8 MiB, to give each thread at least 8 map tasks.");
DEFINE_uint64(seed, 0, "Job seed: tasks get deterministic seeds derived from it.");
DEFINE_int32(merge_factor, 0, "Most files merged at once (0: derived from --memory_mb).");
DEFINE_int32(block_kb, 64, "Record block size in KiB for outputs and spills.");
DEFINE_string(task, "", "Internal: run one task attempt described by this AttemptSpec file (how workers run jobs).");
DEFINE_int32(executor_fd, -1, "Internal: run the attempts a worker sends on this socket, one after another (a warm "
             "executor, driver/executor.h).");
DEFINE_bool(force, false, "With --output dataset:NAME: run even when a version has this run's fingerprint.");
DEFINE_string(store, "", "Local mode: the directory that holds the store's /logs (for logs:STREAM[@FROM,TO] inputs); "
              "with --cluster the cluster's store is used.");
DEFINE_string(progress, "auto", "Progress line on stderr: auto (when stderr is a terminal), always or never.");

namespace sawmill {
namespace {

bool IsCommonFlagFile(const std::string& f) { return f.find("driver/job_main.cc") != std::string::npos; }
bool IsLibraryFlagFile(const std::string& f) {
  // glog registers its flags from ./src/*.cc, gflags from its own build tree.
  return f.rfind("./src/", 0) == 0 || f.rfind("src/", 0) == 0 || f.find("/gflags-") != std::string::npos ||
         f.find("/src/gflags") != std::string::npos;
}

void PrintFlags(const std::vector<gflags::CommandLineFlagInfo>& flags, bool common) {
  for (const auto& f : flags) {
    if (IsCommonFlagFile(f.filename) != common || (!common && IsLibraryFlagFile(f.filename))) continue;
    std::string def = f.type == "string" ? "\"" + f.default_value + "\"" : f.default_value;
    std::printf("  --%s (%s) default: %s\n      %s\n", f.name.c_str(), f.type.c_str(), def.c_str(),
                f.description.c_str());
  }
}

void PrintHelp(const char* argv0, const char* usage) {
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  std::printf("%s\n\nUsage: %s --input PATH[,PATH...] --output DIR [flags]\n", usage, Basename(argv0).c_str());
  bool any_job_flag = false;
  for (const auto& f : flags) any_job_flag |= !IsCommonFlagFile(f.filename) && !IsLibraryFlagFile(f.filename);
  if (any_job_flag) {
    std::printf("\nJob flags:\n");
    PrintFlags(flags, false);
  }
  std::printf("\nCommon flags:\n");
  PrintFlags(flags, true);
  std::printf("\nThe run ends with one summary line: records in/out, bytes in/out, seconds.\n");
}

}  // namespace

// The flags a worker repeats when it runs this binary in task mode: all but those of submission.
std::vector<std::string> TaskArgs(int argc, char** argv) {
  static const char* kDropped[] = {"cluster", "wait", "nowait", "local", "nolocal", "progress", "task", "executor_fd"};
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string body = a.rfind("--", 0) == 0 ? a.substr(2) : a.rfind("-", 0) == 0 ? a.substr(1) : "";
    std::string name = body.substr(0, body.find('='));
    bool drop = false;
    for (const char* d : kDropped) drop |= !body.empty() && name == d;
    if (!drop) {
      out.push_back(a);
      continue;
    }
    // A value in the next argument ("--cluster D"), for the non-boolean ones.
    gflags::CommandLineFlagInfo info;
    if (body.find('=') == std::string::npos && gflags::GetCommandLineFlagInfo(name.c_str(), &info) &&
        info.type != "bool" && i + 1 < argc) {
      ++i;
    }
  }
  return out;
}

// The waiting of this process's coordinator and namenode calls (--reconnect_s).
ReconnectOptions ClientReconnect() {
  ReconnectOptions r;
  r.budget_ms = int64_t{std::max(0, FLAGS_reconnect_s)} * 1000;
  return r;
}

dfs::DfsClient::Options StoreOptions() {
  dfs::DfsClient::Options o;
  o.reconnect = ClientReconnect();
  return o;
}

std::vector<std::string>& SavedArgs() {
  static std::vector<std::string> args;
  return args;
}

void ParseJobFlags(int* argc, char*** argv, const char* usage) {
  TuneMallocForTasks();
  BecomeExecutorIfSpare(argc, argv);  // a worker's spare parses the command line it is handed
  // After the handoff, which sets the environment a spare is handed: executors, attempts and
  // program masters are armed as the worker that started them.
  if (Status s = fault::ArmFromEnvironment(); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    std::exit(2);
  }
  SavedArgs() = TaskArgs(*argc, *argv);
  gflags::SetUsageMessage(usage);
  for (int i = 1; i < *argc; ++i) {
    std::string_view a = (*argv)[i];
    if (a == "--help" || a == "-help" || a == "-h" || a == "--helpshort") {
      PrintHelp((*argv)[0], usage);
      std::exit(0);
    }
  }
  // gflags exits with 1 on an unknown flag or a bad value; usage errors exit with 2 here.
  for (int i = 1; i < *argc; ++i) {
    std::string a = (*argv)[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    size_t eq = body.find('=');
    std::string name = body.substr(0, eq);
    gflags::CommandLineFlagInfo info;
    bool known = gflags::GetCommandLineFlagInfo(name.c_str(), &info);
    if (!known && name.rfind("no", 0) == 0 && gflags::GetCommandLineFlagInfo(name.c_str() + 2, &info)) {
      known = info.type == "bool" && eq == std::string::npos;
    }
    if (!known) {
      std::fprintf(stderr, "error: unknown flag '%s' (see --help)\n", a.c_str());
      std::exit(2);
    }
    if (name != info.name) continue;  // --noflag
    std::string value;
    if (eq != std::string::npos) {
      value = body.substr(eq + 1);
    } else if (info.type == "bool") {
      continue;
    } else if (i + 1 < *argc) {
      value = (*argv)[++i];
    } else {
      std::fprintf(stderr, "error: flag '%s' needs a value (see --help)\n", a.c_str());
      std::exit(2);
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      std::fprintf(stderr, "error: bad value '%s' for --%s (%s)\n", value.c_str(), name.c_str(), info.type.c_str());
      std::exit(2);
    }
  }
  gflags::ParseCommandLineFlags(argc, argv, true);
  if (!FLAGS_store.empty()) logs::SetStoreRoot(FLAGS_store);
  if (*argc > 1) {
    std::fprintf(stderr, "error: unexpected argument '%s' (see --help)\n", (*argv)[1]);
    std::exit(2);
  }
}

JobOptions JobOptionsFromFlags() {
  JobOptions o;
  std::stringstream ss(FLAGS_input);
  for (std::string item; std::getline(ss, item, ',');) {
    // A log selection's range has a comma of its own: logs:S@FROM,TO.
    bool open_range = !o.inputs.empty() && logs::IsLogInput(o.inputs.back()) &&
                      o.inputs.back().find('@') != std::string::npos &&
                      o.inputs.back().find(',', o.inputs.back().find('@')) == std::string::npos;
    if (open_range) {
      o.inputs.back() += "," + item;
    } else if (!item.empty()) {
      o.inputs.push_back(item);
    }
  }
  // logs:S@FROM, (no TO): getline drops the empty last item.
  if (!o.inputs.empty() && logs::IsLogInput(o.inputs.back()) && !FLAGS_input.empty() && FLAGS_input.back() == ',' &&
      o.inputs.back().find(',', o.inputs.back().find('@')) == std::string::npos) {
    o.inputs.back() += ",";
  }
  o.output = FLAGS_output;
  o.reducers = FLAGS_reducers;
  o.threads = FLAGS_threads;
  o.memory_mb = FLAGS_memory_mb > 0 ? static_cast<size_t>(FLAGS_memory_mb) : 0;
  o.overwrite = FLAGS_overwrite;
  o.split_bytes = static_cast<uint64_t>(FLAGS_split_mb > 0 ? FLAGS_split_mb : 64) << 20;
  o.seed = FLAGS_seed;
  o.merge_factor = FLAGS_merge_factor;
  o.block_kb = FLAGS_block_kb > 0 ? static_cast<size_t>(FLAGS_block_kb) : 64;
  o.progress = FLAGS_progress == "always" || (FLAGS_progress == "auto" && ::isatty(2));
  return o;
}

// The arguments that shape a job's output: all but where it reads and writes and how it runs
// (--split_mb too: ResolveDatasetPaths adds it for the jobs whose output depends on it).
std::vector<std::string> OutputShapingArgs() {
  static const char* kIgnored[] = {"input", "output", "overwrite", "force", "threads", "store", "progress",
                                   "speculation", "nospeculation", "max_attempts", "task_timeout_ms",
                                   "task_memory_mb", "tmp_dir", "memory_mb", "split_mb", "reconnect_s"};
  std::vector<std::string> out;
  const auto& args = SavedArgs();
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string body = a.rfind("--", 0) == 0 ? a.substr(2) : a.rfind("-", 0) == 0 ? a.substr(1) : "";
    std::string name = body.substr(0, body.find('='));
    bool ignored = false;
    for (const char* k : kIgnored) ignored |= !body.empty() && name == k;
    gflags::CommandLineFlagInfo info;
    bool separate_value = body.find('=') == std::string::npos &&
                          gflags::GetCommandLineFlagInfo(name.c_str(), &info) && info.type != "bool" &&
                          i + 1 < args.size();
    if (!ignored) {
      out.push_back(a);
      if (separate_value) out.push_back(args[i + 1]);
    }
    if (separate_value) ++i;
  }
  return out;
}

Status ResolveDatasetPaths(JobOptions* options, DatasetRun* run, bool keeps_split_size) {
  for (auto& in : options->inputs) {
    if (!datasets::IsDatasetPath(in)) continue;
    ASSIGN_OR_RETURN(std::string root, logs::StoreRoot());
    ASSIGN_OR_RETURN(in, datasets::ResolveForRead(root, in));
  }
  if (!datasets::IsDatasetPath(options->output)) return Status::Ok();
  std::string name = options->output.substr(std::string("dataset:").size());
  if (name.find('@') != std::string::npos) {
    return InvalidArgument("--output " + options->output + ": a job writes a new version; give dataset:NAME");
  }
  RETURN_IF_ERROR(datasets::ValidateName(name));
  ASSIGN_OR_RETURN(std::string root, logs::StoreRoot());
  run->name = name;
  std::vector<std::string> args = OutputShapingArgs();
  if (keeps_split_size) args.push_back("--split_mb=" + std::to_string(options->split_bytes >> 20));
  ASSIGN_OR_RETURN(run->fingerprint, JobFingerprint(options->inputs, args, &run->lineage));
  ASSIGN_OR_RETURN(auto versions, datasets::ListVersions(root, name));
  if (!FLAGS_force) {
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      if (it->complete && ReadVersionFingerprint(it->path) == run->fingerprint) {
        run->up_to_date = true;
        run->version_dir = it->path;
        return Status::Ok();
      }
    }
  }
  ASSIGN_OR_RETURN(options->output, datasets::NewVersionPath(root, name));
  run->version_dir = options->output;
  std::fprintf(stderr, "writing dataset %s version %s\n", name.c_str(), Basename(options->output).c_str());
  return Status::Ok();
}

Status FinishDatasetRun(const DatasetRun& run) {
  if (run.name.empty() || run.up_to_date) return Status::Ok();
  RETURN_IF_ERROR(WriteVersionLineage(run.version_dir, run.lineage));
  return WriteVersionFingerprint(run.version_dir, run.fingerprint);
}

void PrintUpToDate(const std::string& job, const DatasetRun& run) {
  std::printf("up to date: dataset %s version %s has this run's fingerprint %s (--force runs it again)\n",
              run.name.c_str(), Basename(run.version_dir).c_str(), run.fingerprint.c_str());
  std::printf("summary job=%s status=up_to_date maps=0 reduces=0 records_out=0 version=%s\n", job.c_str(),
              Basename(run.version_dir).c_str());
  std::fflush(stdout);
}

int RunAndReport(const JobSpec& spec, const JobOptions& options) {
  std::unique_ptr<dfs::ScopedDfs> store;
  if (!FLAGS_cluster.empty()) {
    if (gflags::GetCommandLineFlagInfoOrDie("local").is_default) {
      SubmitOptions submit;
      submit.cluster_dir = FLAGS_cluster;
      submit.wait = FLAGS_wait;
      submit.progress = FLAGS_progress == "always" || (FLAGS_progress == "auto" && ::isatty(2));
      submit.task_args = SavedArgs();
      submit.task_timeout_ms = FLAGS_task_timeout_ms;
      submit.task_memory_mb = FLAGS_task_memory_mb;
      submit.max_attempts = FLAGS_max_attempts;
      submit.speculation = FLAGS_speculation;
      submit.reconnect = ClientReconnect();
      return SubmitJob(spec, options, submit);
    }
    auto conn = dfs::ScopedDfs::Connect(FLAGS_cluster, StoreOptions());
    if (!conn.ok()) {
      std::fprintf(stderr, "error: %s\n", conn.status().message().c_str());
      return 2;
    }
    store = std::move(conn).value();
  }
  JobResult r = RunLocalJob(spec, options);
  store.reset();
  if (!r.ok) std::fprintf(stderr, "error: %s\n", r.error.c_str());
  std::string user;
  for (const auto& [k, v] : r.counters) {
    if (k.rfind("sawmill.", 0) != 0) user += " " + k + "=" + std::to_string(v);
  }
  if (!user.empty()) std::printf("counters:%s\n", user.c_str());
  double mbps = r.seconds > 0 ? static_cast<double>(r.bytes_in) / 1e6 / r.seconds : 0;
  // The reduce tasks, and what they were chosen from when --reducers was not given.
  std::string reduces = ReducerSummaryFields(r.reducers, "threads");
  // Skew shows as the slowest (or largest) reduce against the median one.
  if (r.ok && !r.reduce_seconds.empty() && r.reduce_records_in.size() == r.reduce_seconds.size()) {
    auto median_max = [](auto v) {
      std::sort(v.begin(), v.end());
      return std::make_pair(v[(v.size() - 1) / 2], v.back());
    };
    auto [s_med, s_max] = median_max(r.reduce_seconds);
    auto [n_med, n_max] = median_max(r.reduce_records_in);
    char buf[160];
    std::snprintf(buf, sizeof buf, " reduce_s_median=%.3f reduce_s_max=%.3f reduce_in_median=%llu reduce_in_max=%llu",
                  s_med, s_max, static_cast<unsigned long long>(n_med), static_cast<unsigned long long>(n_max));
    reduces += buf;
  }
  // Jobs with a tail reducer: what their map tasks sent it.
  if (auto t = r.counters.find("sawmill.tail_bytes"); t != r.counters.end()) reduces += " tail_bytes=" + std::to_string(t->second);
  std::printf("summary job=%s status=%s records_in=%llu records_out=%llu bytes_in=%llu bytes_out=%llu "
              "maps=%d reduces=%d spills=%llu seconds=%.3f mb_per_s=%.1f peak_rss_mb=%.0f shuffle_bytes=%llu%s\n",
              spec.name.c_str(), r.ok ? "ok" : "failed", static_cast<unsigned long long>(r.records_in),
              static_cast<unsigned long long>(r.records_out), static_cast<unsigned long long>(r.bytes_in),
              static_cast<unsigned long long>(r.bytes_out), r.map_tasks, r.reduce_tasks,
              static_cast<unsigned long long>(r.spills), r.seconds, mbps,
              static_cast<double>(r.peak_rss_bytes) / (1 << 20), static_cast<unsigned long long>(r.shuffle_bytes),
              reduces.c_str());
  std::fflush(stdout);
  return r.exit_code;
}

namespace {

// The job's spec factory is user code: its exceptions become a Status here, once, locally and in
// task mode. A UsageError keeps its message; another exception says where it came from.
Result<JobSpec> MakeJobSpec(const std::function<JobSpec()>& make_spec) {
  try {
    return make_spec();
  } catch (const UsageError& e) {
    return InvalidArgument(e.what());
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("making the job spec: ") + e.what());
  }
}

}  // namespace

int RunJobMain(int argc, char** argv, const char* usage, const std::function<JobSpec()>& make_spec) {
  ParseJobFlags(&argc, &argv, usage);
  // A job may read its inputs while it plans (sizes, manifests, samples): with --cluster, its
  // dfs:/ paths must be reachable then. Tasks get what was planned through JobSpec::task_flags.
  std::unique_ptr<dfs::ScopedDfs> store;
  if (!FLAGS_cluster.empty() && !RunsForWorker()) {
    auto conn = dfs::ScopedDfs::Connect(FLAGS_cluster, StoreOptions());
    if (!conn.ok()) {
      std::fprintf(stderr, "error: %s\n", conn.status().message().c_str());
      return 2;
    }
    store = std::move(conn).value();
  }
  if (RunsForWorker()) return RunForWorker([&] { return MakeJobSpec(make_spec); });
  Result<JobSpec> made = MakeJobSpec(make_spec);
  if (!made.ok()) {
    std::fprintf(stderr, "error: %s\n", made.status().message().c_str());
    return 2;
  }
  const JobSpec& spec = *made;
  JobOptions options = JobOptionsFromFlags();
  DatasetRun run;
  if (Status s = ResolveDatasetPaths(&options, &run, spec.keep_split_size); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 2;
  }
  if (run.up_to_date) {
    PrintUpToDate(spec.name, run);
    return 0;
  }
  int code = RunAndReport(spec, options);
  // A cluster job submitted without --wait may still be running: its version gets no
  // fingerprint (it is simply never reused).
  bool finished = FLAGS_cluster.empty() || !gflags::GetCommandLineFlagInfoOrDie("local").is_default || FLAGS_wait;
  if (code == 0 && finished) {
    if (Status s = FinishDatasetRun(run); !s.ok()) std::fprintf(stderr, "warning: %s\n", s.message().c_str());
  }
  return code;
}

Records ReadRecords(const std::string& path) {
  Records out;
  std::vector<std::string> files;
  if (IsDirectory(path)) {
    auto names = ListDir(path);
    if (!names.ok()) throw std::runtime_error(names.status().ToString());
    for (const auto& n : *names) {
      if (n.rfind("part-", 0) == 0) files.push_back(JoinPath(path, n));
    }
  } else {
    files.push_back(path);
  }
  for (const auto& f : files) {
    auto reader = RecordFileReader::Open(f);
    if (!reader.ok()) throw std::runtime_error(reader.status().ToString());
    RecordIterator it = (*reader)->NewIterator();
    while (it.Next()) out.emplace_back(it.key(), it.value());
    if (!it.status().ok()) throw std::runtime_error(it.status().ToString());
  }
  return out;
}

}  // namespace sawmill
