// The dataflow executor: runs a program's stages one MapReduce job at a time, locally or on a
// cluster, binds the datasets between them to temporary directories, runs loops, and recomputes
// intermediates lost with a machine from their lineage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>

#include <gflags/gflags.h>

#include "api/dataflow.h"
#include "api/mapreduce.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "dataflow/lower.h"
#include "dataflow/plan.h"
#include "datasets/dataset_catalog.h"
#include "dfs/client/connect_dfs.h"
#include "driver/dataset_io.h"
#include "driver/submit.h"
#include "driver/task_mode.h"
#include "mapreduce/input_split.h"
#include "mapreduce/local_runner.h"
#include "records/record_file.h"

DECLARE_string(cluster);
DECLARE_bool(wait);
DECLARE_string(progress);
DECLARE_uint64(task_timeout_ms);
DECLARE_uint64(task_memory_mb);
DECLARE_int32(max_attempts);
DECLARE_bool(speculation);
DEFINE_bool(explain, false, "Print the plan (stages, fused operators, join strategies) and exit without running.");
DEFINE_string(tmp_dir, "", "Where datasets between stages live: a local directory (default $TMPDIR or /tmp), or "
              "with --cluster a dfs:/ directory (default dfs:/tmp/sawmill-df).");
DEFINE_string(df_stage, "", "Internal: the stage a task belongs to (plan.stage).");
DEFINE_string(df_bind, "", "Internal: the paths of the datasets a task's stage reads (id=path,...).");
DEFINE_string(df_test_task_sleep, "", "Testing: SUFFIX:MS makes every task of a stage whose plan.stage tag ends with "
              "SUFFIX sleep MS milliseconds before it starts, so that a test can kill a worker while it runs.");
DEFINE_string(df_test_pause, "", "Testing: SUFFIX:FILE creates FILE before the first stage job whose name ends with "
              "SUFFIX (e.g. .0-i3: a loop body's first stage in iteration 3, from 0) and waits until FILE is removed.");

namespace sawmill {
std::vector<std::string>& SavedArgs();  // job_main.cc
}

namespace sawmill::df {
namespace {

using namespace internal;

bool Progress() { return FLAGS_progress == "always" || (FLAGS_progress == "auto" && ::isatty(2)); }

std::string EncodeBindings(const Bindings& b) {
  std::string s;
  for (const auto& [id, path] : b) s += (s.empty() ? "" : ",") + std::to_string(id) + "=" + path;
  return s;
}

Bindings DecodeBindings(const std::string& s) {
  Bindings b;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    size_t eq = item.find('=');
    if (eq != std::string::npos) b[std::atoi(item.substr(0, eq).c_str())] = item.substr(eq + 1);
    pos = end + 1;
  }
  return b;
}

// Reads every record of a materialized dataset (checksums included): false when any is lost.
bool Readable(const std::string& dir) {
  auto files = ExpandInput(dir);
  if (!files.ok()) return false;
  for (const auto& f : *files) {
    auto r = RecordFileReader::Open(f);
    if (!r.ok()) return false;
    RecordIterator it = (*r)->NewIterator();
    while (it.Next()) {
    }
    if (!it.status().ok()) return false;
  }
  return true;
}

class Executor {
 public:
  Executor(const Analysis& analysis, const RunOptions& options, std::string program, const SubmitOptions* cluster)
      : a_(analysis), opt_(options), program_(std::move(program)), cluster_(cluster) {}

  RunReport Run() {
    auto start = std::chrono::steady_clock::now();
    Status s = Setup();
    if (s.ok()) s = RunPlan(a_.program(), &report_.counters);
    if (!tmp_.empty()) (void)FsRemoveAll(tmp_);
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report_.ok = s.ok();
    if (s.ok()) {
      report_.exit_code = 0;
    } else {
      report_.error = s.message();
      if (report_.exit_code == 0) report_.exit_code = 1;
    }
    return report_;
  }

 private:
  Status Setup() {
    report_.exit_code = 0;
    // Refused before anything runs, rather than at the stage that writes.
    for (const auto& st : a_.program().stages) {
      if (st.output->kind != NodeKind::kWrite) continue;
      report_.exit_code = 2;
      if (st.output->path.empty()) return InvalidArgument("Write needs an output path (no --output given?)");
      auto exists = FsExists(st.output->path);
      if (!exists.ok()) return exists.status();
      if (*exists && !opt_.overwrite) {
        return AlreadyExists("output " + st.output->path + " exists (pass --overwrite to replace it)");
      }
      report_.exit_code = 0;
    }
    std::string root = opt_.tmp_dir;
    if (root.empty()) {
      const char* t = std::getenv("TMPDIR");
      root = cluster_ ? "dfs:/tmp/sawmill-df" : (t && *t ? t : "/tmp");
    }
    tmp_ = JoinPath(root, program_ + "-df-" + std::to_string(::getpid()) + "-" +
                              std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000007));
    RETURN_IF_ERROR(FsMkdirs(tmp_));
    return Status::Ok();
  }

  std::string TempPath(const Node& n, int iteration) const {
    std::string name = "n" + std::to_string(n.id);
    if (iteration >= 0) name += "-i" + std::to_string(iteration);
    return JoinPath(tmp_, name);
  }

  Status RunPlan(const Plan& plan, Counters* counters, int iteration = -1) {
    for (const auto& st : plan.stages) {
      if (st.is_loop()) {
        RETURN_IF_ERROR(RunLoop(*st.output, counters));
        continue;
      }
      if (st.output->kind == NodeKind::kWrite) {
        paths_[st.output->id] = st.output->path;
      } else if (!paths_.count(st.output->id) || iteration >= 0) {
        paths_[st.output->id] = TempPath(*st.output, iteration);
      }
      RETURN_IF_ERROR(RunStage(st, paths_, iteration, counters, /*recompute=*/false));
    }
    return Status::Ok();
  }

  Status RunLoop(const Node& loop, Counters* counters) {
    auto start = std::chrono::steady_clock::now();
    Status s = RunIterations(loop, counters);
    report_.loop_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s;
  }

  Status RunIterations(const Node& loop, Counters* counters) {
    const Plan& body = a_.plan(loop.id);
    std::string prev = paths_.at(loop.parents[0]->id);
    std::vector<std::string> previous_iteration;  // its intermediates, dropped after the next
    report_.iterations = 0;
    for (int i = 0; i < loop.iterations; ++i) {
      paths_[loop.loop_var->id] = prev;
      Counters c;
      for (const auto& st : body.stages) paths_[st.output->id] = TempPath(*st.output, i);
      bool checkpoint = loop.checkpoint_every > 0 && (i + 1) % loop.checkpoint_every == 0;
      if (checkpoint) durable_.insert(paths_[loop.loop_result->id]);
      RETURN_IF_ERROR(RunPlan(body, &c, i));
      for (const auto& [k, v] : c) (*counters)[k] += v;
      for (const auto& p : previous_iteration) {
        if (!durable_.count(p) && p != paths_.at(loop.parents[0]->id)) (void)FsRemoveAll(p);
      }
      previous_iteration.clear();
      for (const auto& st : body.stages) previous_iteration.push_back(paths_[st.output->id]);
      prev = paths_[loop.loop_result->id];
      report_.iterations = i + 1;
      if (Progress()) std::fprintf(stderr, "iteration %d of %d done\n", i + 1, loop.iterations);
      if (loop.until && loop.until(i, c)) break;
    }
    paths_[loop.id] = prev;
    return Status::Ok();
  }

  JobOptions StageOptions(const Stage& st, const Bindings& paths) const {
    JobOptions o;
    o.output = paths.at(st.output->id);
    o.reducers = st.shuffle ? st.partitions : 1;
    o.threads = opt_.threads;
    o.memory_mb = opt_.memory_mb;
    o.overwrite = st.output->kind != NodeKind::kWrite || opt_.overwrite;
    o.split_bytes = opt_.split_bytes;
    o.seed = opt_.seed;
    o.block_kb = opt_.block_kb;
    o.progress = Progress();
    return o;
  }

  // Runs one stage with these bindings. On a cluster, a stage that fails after reading an
  // intermediate that is no longer readable (its only copy was on a lost machine) recomputes
  // that intermediate from its lineage and runs again.
  Status RunStage(const Stage& st, const Bindings& paths, int iteration, Counters* counters, bool recompute) {
    ASSIGN_OR_RETURN(JobSpec spec, StageJobSpec(a_, st, paths, program_));
    if (iteration >= 0) spec.name += "-i" + std::to_string(iteration);  // which iteration, in the web UI
    JobOptions options = StageOptions(st, paths);
    bool intermediate = st.output->kind != NodeKind::kWrite;
    if (intermediate && !durable_.count(options.output)) spec.output_replication = 1;
    Bindings task_bindings;
    for (const auto& n : StageReads(a_, st)) {
      if (paths.count(n->id)) task_bindings[n->id] = paths.at(n->id);
    }
    spec.task_flags = {"--df_stage=" + st.Tag(), "--df_bind=" + EncodeBindings(task_bindings)};
    for (int attempt = 0;; ++attempt) {
      PauseForTest(spec.name);
      JobResult r;
      if (cluster_) {
        auto rr = RunClusterJob(spec, options, *cluster_);
        if (!rr.ok()) return rr.status();
        r = std::move(rr).value();
      } else {
        r = RunLocalJob(spec, options);
      }
      if (r.ok) {
        Account(st, r, counters, intermediate);
        if (intermediate) lineage_[options.output] = {&st, paths, iteration};
        if (recompute) ++report_.recomputed_stages;
        if (Progress()) {
          std::fprintf(stderr, "stage %s (%s#%d) done: %.3f s, %llu records out\n", st.Tag().c_str(),
                       st.output->op.c_str(), st.output->id, r.seconds, static_cast<unsigned long long>(r.records_out));
        }
        return Status::Ok();
      }
      if (r.exit_code == 2) report_.exit_code = 2;
      Status failed = Aborted("stage " + st.Tag() + " (" + st.output->op + "#" + std::to_string(st.output->id) +
                              "): " + r.error);
      if (!cluster_ || attempt >= 2) return failed;
      bool lost = false;
      for (const auto& [id, path] : task_bindings) {
        auto it = lineage_.find(path);
        if (it == lineage_.end() || Readable(path)) continue;
        std::fprintf(stderr, "stage %s: intermediate %s is lost; recomputing it from its lineage\n", st.Tag().c_str(),
                     path.c_str());
        auto producer = it->second;
        RETURN_IF_ERROR(RunStage(*producer.stage, producer.paths, producer.iteration, counters, true));
        lost = true;
      }
      if (!lost) return failed;
    }
  }

  // --df_test_pause=SUFFIX:FILE: before the first run of a stage job whose name ends with
  // SUFFIX, create FILE and wait until it is removed.
  void PauseForTest(const std::string& job) {
    size_t colon = FLAGS_df_test_pause.rfind(':');
    if (colon == std::string::npos || paused_) return;
    std::string suffix = FLAGS_df_test_pause.substr(0, colon);
    if (job.size() < suffix.size() || job.compare(job.size() - suffix.size(), suffix.size(), suffix) != 0) return;
    paused_ = true;
    std::string file = FLAGS_df_test_pause.substr(colon + 1);
    (void)WriteStringToFile(file, job + "\n");
    while (PathExists(file)) ::usleep(20000);
  }

  void Account(const Stage& st, const JobResult& r, Counters* counters, bool intermediate) {
    ++report_.stages_run;
    report_.shuffle_stages_run += st.shuffle != nullptr;
    for (const auto& [k, v] : r.counters) {
      if (k.rfind("sawmill.", 0) != 0) (*counters)[k] += v;
    }
    if (intermediate) {
      ++report_.intermediates;
      report_.intermediate_bytes += r.bytes_out;
    } else {
      report_.records_out += r.records_out;
      report_.bytes_out += r.bytes_out;
    }
  }

  struct Producer {
    const Stage* stage;
    Bindings paths;
    int iteration;
  };

  const Analysis& a_;
  const RunOptions& opt_;
  std::string program_;
  const SubmitOptions* cluster_;
  std::string tmp_;
  Bindings paths_;
  std::set<std::string> durable_;            // checkpoints: never dropped, never recomputed
  std::map<std::string, Producer> lineage_;  // intermediate path → the stage run that wrote it
  RunReport report_;
  bool paused_ = false;
};

// The program is user code: its exceptions (Iterate's std::invalid_argument, or its own) become
// a Status here, the one place it is called.
Result<Analysis> Build(const Program& program, const RunOptions& options, Graph* graph) {
  Flow flow(graph, {options.inputs, options.output, options.partitions});
  try {
    program(flow);
  } catch (const std::exception& e) {
    return InvalidArgument(e.what());
  }
  if (graph->writes().empty()) return InvalidArgument("the program writes nothing (no Dataset::Write)");
  return Analysis::Run(*graph, options.partitions);
}

// Whether a stage of the program keeps its split size (its output then depends on --split_mb);
// false for a program the planner refuses, which Execute reports.
bool ProgramKeepsSplitSize(const Program& program, const RunOptions& options) {
  Graph graph;
  auto analysis = Build(program, options, &graph);
  return analysis.ok() && AnyStageKeepsSplitSize(*analysis);
}

RunReport Execute(const Program& program, const RunOptions& options, const std::string& name,
                  const SubmitOptions* cluster) {
  Graph graph;
  auto analysis = Build(program, options, &graph);
  if (!analysis.ok()) {
    RunReport r;
    r.exit_code = 2;
    r.error = analysis.status().message();
    return r;
  }
  return Executor(*analysis, options, name, cluster).Run();
}

RunOptions OptionsFromFlags() {
  JobOptions j = JobOptionsFromFlags();
  RunOptions o;
  o.threads = j.threads;
  o.memory_mb = j.memory_mb;
  o.partitions = j.reducers;
  o.overwrite = j.overwrite;
  o.split_bytes = j.split_bytes;
  o.block_kb = j.block_kb;
  o.seed = j.seed;
  o.tmp_dir = FLAGS_tmp_dir;
  o.inputs = j.inputs;
  o.output = j.output;
  return o;
}

void PrintReport(const std::string& name, const RunReport& r) {
  if (!r.ok) std::fprintf(stderr, "error: %s\n", r.error.c_str());
  std::string user;
  for (const auto& [k, v] : r.counters) user += " " + k + "=" + std::to_string(v);
  if (!user.empty()) std::printf("counters:%s\n", user.c_str());
  std::printf("summary job=%s status=%s stages=%d shuffle_stages=%d iterations=%d records_out=%llu bytes_out=%llu "
              "intermediates=%d intermediate_bytes=%llu recomputed_stages=%d seconds=%.3f loop_seconds=%.3f\n",
              name.c_str(), r.ok ? "ok" : "failed", r.stages_run, r.shuffle_stages_run, r.iterations,
              static_cast<unsigned long long>(r.records_out), static_cast<unsigned long long>(r.bytes_out),
              r.intermediates, static_cast<unsigned long long>(r.intermediate_bytes), r.recomputed_stages, r.seconds,
              r.loop_seconds);
  std::fflush(stdout);
}

}  // namespace

RunReport RunDataflow(const Program& program, const RunOptions& options) {
  return Execute(program, options, "dataflow", nullptr);
}

Result<std::string> ExplainDataflow(const Program& program, const RunOptions& options) {
  Graph graph;
  ASSIGN_OR_RETURN(Analysis a, Build(program, options, &graph));
  return a.Explain();
}

int RunDataflowMain(int argc, char** argv, const char* usage, const Program& program) {
  std::string name = Basename(argv[0]);
  ParseJobFlags(&argc, &argv, usage);
  RunOptions options = OptionsFromFlags();
  if (RunsForWorker()) {
    // A task of one stage: rebuild the same plan, then run the stage's job spec. Per attempt: a
    // warm executor runs attempts of other stages, whose task flags (--df_stage, --df_bind) differ.
    // The spec refers to all three until the attempt ends.
    std::unique_ptr<Graph> graph;
    Analysis analysis;
    Bindings bindings;
    return RunForWorker([&]() -> Result<JobSpec> {
      analysis = Analysis();  // the previous attempt's, and its spec, are done with its graph
      graph = std::make_unique<Graph>();
      ASSIGN_OR_RETURN(analysis, Build(program, OptionsFromFlags(), graph.get()));
      const Stage* stage = analysis.FindStage(FLAGS_df_stage);
      if (!stage) return InvalidArgument("no stage " + FLAGS_df_stage + " in this program's plan");
      size_t colon = FLAGS_df_test_task_sleep.rfind(':');
      if (colon != std::string::npos) {
        std::string suffix = FLAGS_df_test_task_sleep.substr(0, colon);
        if (FLAGS_df_stage.size() >= suffix.size() &&
            FLAGS_df_stage.compare(FLAGS_df_stage.size() - suffix.size(), suffix.size(), suffix) == 0) {
          ::usleep(static_cast<useconds_t>(std::atoi(FLAGS_df_test_task_sleep.c_str() + colon + 1)) * 1000);
        }
      }
      bindings = DecodeBindings(FLAGS_df_bind);
      return StageJobSpec(analysis, *stage, bindings, name);
    });
  }
  if (FLAGS_explain) {
    auto text = ExplainDataflow(program, options);
    if (!text.ok()) {
      std::fprintf(stderr, "error: %s\n", text.status().message().c_str());
      return 2;
    }
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  std::unique_ptr<dfs::ScopedDfs> store;
  SubmitOptions submit;
  bool cluster = !FLAGS_cluster.empty() && gflags::GetCommandLineFlagInfoOrDie("local").is_default;
  DatasetRun dataset;
  auto resolve_datasets = [&]() -> int {
    JobOptions paths;
    paths.inputs = options.inputs;
    paths.output = options.output;
    paths.split_bytes = options.split_bytes;
    bool keeps_split_size = datasets::IsDatasetPath(options.output) && ProgramKeepsSplitSize(program, options);
    if (Status s = ResolveDatasetPaths(&paths, &dataset, keeps_split_size); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 2;
    }
    options.inputs = paths.inputs;
    options.output = paths.output;
    return 0;
  };
  if (!FLAGS_cluster.empty()) {
    auto conn = dfs::ScopedDfs::Connect(FLAGS_cluster);
    if (!conn.ok()) {
      std::fprintf(stderr, "error: %s\n", conn.status().message().c_str());
      return 2;
    }
    store = std::move(conn).value();
    submit.cluster_dir = FLAGS_cluster;
    submit.progress = Progress();
    submit.task_args = SavedArgs();
    submit.task_timeout_ms = FLAGS_task_timeout_ms;
    submit.task_memory_mb = FLAGS_task_memory_mb;
    submit.max_attempts = FLAGS_max_attempts;
    submit.speculation = FLAGS_speculation;
  }
  if (int code = resolve_datasets(); code != 0) return code;
  if (dataset.up_to_date) {
    PrintUpToDate(name, dataset);
    return 0;
  }
  RunReport r = Execute(program, options, name, cluster ? &submit : nullptr);
  PrintReport(name, r);
  if (r.ok) {
    if (Status s = FinishDatasetRun(dataset); !s.ok()) std::fprintf(stderr, "warning: %s\n", s.message().c_str());
  }
  return r.exit_code;
}

}  // namespace sawmill::df
