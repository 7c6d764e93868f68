// The dataflow executor: runs a program's stages one MapReduce job at a time, locally or on a
// cluster, binds the datasets between them to temporary directories, runs loops, and recomputes
// intermediates lost with a machine from their lineage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include <gflags/gflags.h>

#include "api/dataflow.h"
#include "api/mapreduce.h"
#include "common/fault_point.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "dataflow/lower.h"
#include "dataflow/plan.h"
#include "datasets/dataset_catalog.h"
#include "dfs/client/connect_dfs.h"
#include "driver/dataset_io.h"
#include "driver/master_mode.h"
#include "driver/submit.h"
#include "driver/task_mode.h"
#include "mapreduce/input_split.h"
#include "mapreduce/local_runner.h"
#include "records/record_file.h"
#include "scheduler/coordinator.capnp.h"
#include "scheduler/job_client.h"
#include "scheduler/job_state.h"

DECLARE_string(cluster);
DECLARE_string(task);
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
DEFINE_string(df_scratch, "", "Internal: a program master's directory for its intermediates (dfs:/).");
DEFINE_string(df_name, "", "Internal: the program's name, for a master run from the workers' binary cache.");
DEFINE_string(df_bind, "", "Internal: the paths of the datasets a task's stage reads (id=path,...).");

namespace sawmill {
std::vector<std::string>& SavedArgs();  // job_main.cc
ReconnectOptions ClientReconnect();     // job_main.cc: --reconnect_s
dfs::DfsClient::Options StoreOptions();  // job_main.cc: the store client of --cluster
}

namespace sawmill::df {
namespace {

using namespace internal;

bool Progress() { return FLAGS_progress == "always" || (FLAGS_progress == "auto" && ::isatty(2)); }

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

// The program's outputs, refused before anything runs rather than at the stage that writes: a
// Write without a path, an existing output without --overwrite, on a cluster a local path.
Status CheckWrites(const Analysis& a, bool overwrite, bool cluster) {
  for (const auto& st : a.program().stages) {
    const Node& out = *st.output;
    if (out.kind != NodeKind::kWrite) continue;
    if (out.path.empty()) return InvalidArgument("Write needs an output path (no --output given?)");
    if (cluster && !IsDfsPath(out.path)) {
      return InvalidArgument("cluster programs write dfs:/ paths; " + out.path + " is local");
    }
    ASSIGN_OR_RETURN(bool exists, FsExists(out.path));
    if (exists && !overwrite) return AlreadyExists("output " + out.path + " exists (pass --overwrite to replace it)");
  }
  return Status::Ok();
}

class Executor {
 public:
  // A program master (cluster->parent_job set) submits each stage as a stage of its program, in
  // `cluster->stage`; a restarted master asks for the stages again and the coordinator answers
  // those that ran with their results, so none runs twice. `first_master`: not a restart.
  // `known`: a restarted master's stage keys the program already has (run or running).
  Executor(const Analysis& analysis, const RunOptions& options, std::string program, const SubmitOptions* cluster,
           bool first_master = true, std::set<std::string> known = {})
      : a_(analysis),
        opt_(options),
        program_(std::move(program)),
        cluster_(cluster),
        first_master_(first_master),
        known_(std::move(known)) {}

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
  bool Master() const { return cluster_ && !cluster_->parent_job.empty(); }

  Status Setup() {
    report_.exit_code = 0;
    if (Master()) {
      // The submitting client checked the outputs; a restarted master finds its own written.
      if (FLAGS_df_scratch.empty()) return InvalidArgument("a program master without --df_scratch");
      tmp_ = FLAGS_df_scratch;
      return FsMkdirs(tmp_);
    }
    if (Status s = CheckWrites(a_, opt_.overwrite, /*cluster=*/false); !s.ok()) {
      report_.exit_code = 2;
      return s;
    }
    // Locally: a cluster runs a program through its master, above.
    std::string root = opt_.tmp_dir;
    if (root.empty()) {
      const char* t = std::getenv("TMPDIR");
      root = t && *t ? t : "/tmp";
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

  // Runs the plan's stages in order. On a cluster, consecutive stages that read nothing another
  // of them writes form a wave and run side by side (a DAG scheduler over the plan's order).
  Status RunPlan(const Plan& plan, Counters* counters, int iteration = -1) {
    std::vector<const Stage*> wave;
    auto flush = [&]() -> Status {
      Status s = RunWave(wave, iteration, counters);
      wave.clear();
      return s;
    };
    for (const auto& st : plan.stages) {
      if (st.is_loop()) {
        RETURN_IF_ERROR(flush());
        RETURN_IF_ERROR(RunLoop(*st.output, counters));
        continue;
      }
      if (!wave.empty() && (!cluster_ || ReadsFrom(st, wave))) RETURN_IF_ERROR(flush());
      if (st.output->kind == NodeKind::kWrite) {
        paths_[st.output->id] = st.output->path;
      } else if (!paths_.count(st.output->id) || iteration >= 0) {
        paths_[st.output->id] = TempPath(*st.output, iteration);
      }
      wave.push_back(&st);
    }
    return flush();
  }

  bool ReadsFrom(const Stage& st, const std::vector<const Stage*>& wave) const {
    for (const auto& n : StageReads(a_, st)) {
      for (const Stage* w : wave) {
        if (w->output->id == n->id) return true;
      }
    }
    return false;
  }

  // The wave's stages at once (one thread each), their counters added in plan order; the first
  // error in plan order.
  Status RunWave(const std::vector<const Stage*>& wave, int iteration, Counters* counters) {
    if (wave.size() <= 1) {
      return wave.empty() ? Status::Ok() : RunStage(*wave[0], paths_, iteration, counters, /*recompute=*/false);
    }
    std::vector<Counters> each(wave.size());
    std::vector<Status> status(wave.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < wave.size(); ++i) {
      threads.emplace_back([&, i] { status[i] = RunStage(*wave[i], paths_, iteration, &each[i], /*recompute=*/false); });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < wave.size(); ++i) {
      for (const auto& [k, v] : each[i]) (*counters)[k] += v;
    }
    for (const auto& s : status) RETURN_IF_ERROR(s);
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
  static std::string BaseKey(const Stage& st, int iteration) {
    return st.Tag() + (iteration >= 0 ? "-i" + std::to_string(iteration) : "");
  }

  Status RunStage(const Stage& st, const Bindings& paths, int iteration, Counters* counters, bool recompute) {
    std::string key = BaseKey(st, iteration);
    SubmitOptions submit = cluster_ ? *cluster_ : SubmitOptions{};
    {
      std::lock_guard<std::mutex> l(mu_);
      if (recompute) key += "-r" + std::to_string(++recomputes_[key]);
      if (Master()) submit.stage = Describe(st, paths, key);
    }
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
      // A restarted master passes the stages the first ran: a test pausing there pauses once.
      if (first_master_) RETURN_IF_ERROR(FaultPoint("dataflow.master.before_stage", spec.name));
      if (Master()) submit.stage.key = key + (attempt > 0 ? "-a" + std::to_string(attempt) : "");
      JobResult r;
      if (cluster_) {
        // A stage a restarted master's predecessor submitted is followed, not planned again (its
        // inputs may be gone by now: later iterations drop earlier ones).
        auto rr = Master() && known_.count(submit.stage.key) ? RejoinClusterStage(submit)
                                                              : RunClusterJob(spec, options, submit);
        if (!rr.ok()) return rr.status();
        r = std::move(rr).value();
      } else {
        r = RunLocalJob(spec, options);
      }
      if (r.ok) {
        std::lock_guard<std::mutex> l(mu_);
        Account(st, r, counters, intermediate);
        if (intermediate) lineage_[options.output] = {&st, paths, iteration};
        stage_of_path_[options.output] = key;
        if (recompute) ++report_.recomputed_stages;
        if (Progress()) {
          std::fprintf(stderr, "stage %s (%s#%d) done: %.3f s, %llu records out\n", st.Tag().c_str(),
                       st.output->op.c_str(), st.output->id, r.seconds, static_cast<unsigned long long>(r.records_out));
        }
        return Status::Ok();
      }
      if (r.exit_code == 2) {
        std::lock_guard<std::mutex> l(mu_);
        report_.exit_code = 2;
      }
      Status failed = Aborted("stage " + st.Tag() + " (" + st.output->op + "#" + std::to_string(st.output->id) +
                              "): " + r.error);
      if (!cluster_ || attempt >= 2) return failed;
      // A restarted master replays what the first did after this failure (the keys it submitted
      // then), not what the store holds now: later iterations may have dropped these inputs.
      const bool replay = known_.count(key + "-a" + std::to_string(attempt + 1)) > 0;
      // One stage at a time recomputes (stages of a wave may have lost the same producer).
      std::lock_guard<std::recursive_mutex> recomputing(recompute_mu_);
      bool lost = false;
      for (const auto& [id, path] : task_bindings) {
        std::unique_lock<std::mutex> l(mu_);
        auto it = lineage_.find(path);
        if (it == lineage_.end()) continue;
        if (replay) {
          const std::string base = BaseKey(*it->second.stage, it->second.iteration);
          if (!known_.count(base + "-r" + std::to_string(recomputes_[base] + 1))) continue;
        } else if (l.unlock(), Readable(path)) {
          continue;
        }
        if (!l.owns_lock()) l.lock();
        std::fprintf(stderr, "stage %s: intermediate %s is lost; recomputing it from its lineage\n", st.Tag().c_str(),
                     path.c_str());
        auto producer = it->second;
        l.unlock();
        RETURN_IF_ERROR(RunStage(*producer.stage, producer.paths, producer.iteration, counters, true));
        lost = true;
      }
      if (!lost && !replay) return failed;
    }
  }

  // The stage as the program's DAG shows it: its fused operators, and an edge from each stage
  // (or the program's input) it reads: "shuffle" into a stage with a shuffle, "broadcast" for a
  // map-side join's other side, else "read".
  StageDescription Describe(const Stage& st, const Bindings& paths, const std::string& key) const {
    StageDescription d;
    d.key = key;
    std::set<int> seen, direct;
    auto add = [&](const NodePtr& n) {
      if (n && n->kind != NodeKind::kLoopVar && seen.insert(n->id).second) d.operators.push_back(n->op);
    };
    for (const auto& in : st.inputs) {
      direct.insert(in.node->id);
      if (in.node->kind == NodeKind::kSource) add(in.node);
      for (const auto& n : in.path) add(n);
    }
    add(st.shuffle);
    for (const auto& n : st.reduce_path) add(n);
    for (const auto& n : StageReads(a_, st)) {
      auto p = paths.find(n->id);
      auto from = p == paths.end() ? stage_of_path_.end() : stage_of_path_.find(p->second);
      d.inputs.push_back({from == stage_of_path_.end() ? "" : from->second,
                          !direct.count(n->id) ? "broadcast" : st.shuffle ? "shuffle" : "read"});
    }
    return d;
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
  bool first_master_;
  std::set<std::string> known_;
  // Stages of a wave run on threads of their own: mu_ guards what they share (the report, the
  // maps below); recompute_mu_ lets one stage at a time recompute lost inputs (recursively).
  std::mutex mu_;
  std::recursive_mutex recompute_mu_;
  std::string tmp_;
  std::map<std::string, std::string> stage_of_path_;  // dataset path -> key of the stage that wrote it
  std::map<std::string, int> recomputes_;             // stage key -> times recomputed
  Bindings paths_;
  std::set<std::string> durable_;            // checkpoints: never dropped, never recomputed
  std::map<std::string, Producer> lineage_;  // intermediate path → the stage run that wrote it
  RunReport report_;
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

void PrintReport(const std::string& name, const RunReport& r);

RunReport Execute(const Program& program, const RunOptions& options, const std::string& name,
                  const SubmitOptions* cluster, bool first_master = true, std::set<std::string> known = {}) {
  Graph graph;
  auto analysis = Build(program, options, &graph);
  if (!analysis.ok()) {
    RunReport r;
    r.exit_code = 2;
    r.error = analysis.status().message();
    return r;
  }
  return Executor(*analysis, options, name, cluster, first_master, std::move(known)).Run();
}

// The figures of PrintReport's summary that are not counters, carried as sawmill.df.* counters
// from a program master to the client that follows the program.
std::map<std::string, int64_t> ReportCounters(const RunReport& r) {
  std::map<std::string, int64_t> c;
  for (const auto& [k, v] : r.counters) c[k] = v;
  c["sawmill.df.stages"] = r.stages_run;
  c["sawmill.df.shuffle_stages"] = r.shuffle_stages_run;
  c["sawmill.df.iterations"] = r.iterations;
  c["sawmill.df.intermediates"] = r.intermediates;
  c["sawmill.df.intermediate_bytes"] = static_cast<int64_t>(r.intermediate_bytes);
  c["sawmill.df.recomputed_stages"] = r.recomputed_stages;
  c["sawmill.df.loop_ms"] = static_cast<int64_t>(r.loop_seconds * 1000);
  return c;
}

// The program's final status (its job's) as the RunReport the master made.
RunReport ReportFromStatus(sched::proto::JobStatus::Reader s) {
  RunReport r;
  r.ok = sched::ParseCoordinatorJobState(Text(s.getState())) == sched::CoordinatorJobState::kSucceeded;
  r.exit_code = r.ok ? 0 : 1;
  r.error = r.ok ? "" : Text(s.getJobId()) + " failed: " + Text(s.getError());
  std::map<std::string, int64_t> c;
  for (auto counter : s.getCounters()) c[Text(counter.getName())] = counter.getValue();
  auto take = [&](const char* name) { return c.count(name) ? c[name] : 0; };
  r.stages_run = static_cast<int>(take("sawmill.df.stages"));
  r.shuffle_stages_run = static_cast<int>(take("sawmill.df.shuffle_stages"));
  r.iterations = static_cast<int>(take("sawmill.df.iterations"));
  r.intermediates = static_cast<int>(take("sawmill.df.intermediates"));
  r.intermediate_bytes = static_cast<uint64_t>(take("sawmill.df.intermediate_bytes"));
  r.recomputed_stages = static_cast<int>(take("sawmill.df.recomputed_stages"));
  r.loop_seconds = static_cast<double>(take("sawmill.df.loop_ms")) / 1000;
  for (const auto& [k, v] : c) {
    if (k.rfind("sawmill.", 0) != 0) r.counters[k] = v;
  }
  r.records_out = s.getRecordsOut();
  r.bytes_out = s.getBytesOut();
  r.seconds = static_cast<double>(s.getElapsedMs()) / 1000;
  return r;
}

// The program master: runs the program's stages through the coordinator, then reports how the
// program ended. Exit 1 only when the master itself could not run (it is then retried).
// The stage keys the program has so far (what a restarted master's predecessors submitted).
Result<std::set<std::string>> KnownStages(const MasterSpec& m) {
  ASSIGN_OR_RETURN(auto coord, sched::ConnectCoordinatorAt(m.coordinator, m.secret_file, ClientReconnect()));
  ASSIGN_OR_RETURN(auto reply, sched::GetJobStatus(*coord->client, m.job_id));
  std::set<std::string> keys;
  RETURN_IF_ERROR(CatchCapnp("program status", [&] {
    for (auto st : reply->Root<sched::proto::CoordinatorResponse>().getStatus().getStages()) keys.insert(Text(st.getKey()));
    return Status::Ok();
  }));
  return keys;
}

int RunMaster(const Program& program, const RunOptions& options, const std::string& name_in, const MasterSpec& m) {
  const std::string name = FLAGS_df_name.empty() ? name_in : FLAGS_df_name;
  Status s = ConnectSpecStore(m, ClientReconnect());
  std::set<std::string> known;
  if (s.ok() && m.attempt > 0) {
    auto k = KnownStages(m);
    if (k.ok()) known = std::move(k).value();
    else s = k.status();
  }
  MasterOutcome outcome;
  if (s.ok()) {
    SubmitOptions submit;
    submit.coordinator_address = m.coordinator;
    submit.secret_file = m.secret_file;
    submit.parent_job = m.job_id;
    submit.master_attempt = m.attempt_id;
    submit.reconnect = ClientReconnect();
    submit.task_args = SavedArgs();
    submit.task_timeout_ms = FLAGS_task_timeout_ms;
    submit.task_memory_mb = FLAGS_task_memory_mb;
    submit.max_attempts = FLAGS_max_attempts;
    submit.speculation = FLAGS_speculation;
    std::fprintf(stderr, "program %s: master attempt %d on %s\n", m.job_id.c_str(), m.attempt, m.host.c_str());
    RunReport r = Execute(program, options, name, &submit, m.attempt == 0, std::move(known));
    PrintReport(name, r);
    outcome.program_error = r.ok ? "" : r.error.empty() ? "failed without saying why" : r.error;
    outcome.counters = ReportCounters(r);
    outcome.records_out = r.records_out;
    outcome.bytes_out = r.bytes_out;
  }
  if (!s.ok()) std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  Status w = WriteMasterResult(m, s, outcome);
  SetDfs(nullptr);
  if (!w.ok()) {
    std::fprintf(stderr, "error: writing the master's result: %s\n", w.ToString().c_str());
    return 1;
  }
  return s.ok() ? 0 : 1;
}

// A cluster run from the submitting process: the plan and the outputs are checked here (a
// refusal exits 2), then the program is one job whose master runs in the cluster; with --wait
// the process follows it and prints its summary.
int SubmitDataflowProgram(const Program& program, const RunOptions& options, const std::string& name,
                          SubmitOptions submit, const std::vector<std::string>& resolved_flags, bool wait) {
  {
    Graph graph;
    auto analysis = Build(program, options, &graph);
    Status s = analysis.ok() ? CheckWrites(*analysis, options.overwrite, /*cluster=*/true) : analysis.status();
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 2;
    }
  }
  ProgramSubmission ps;
  ps.name = name;
  ps.inputs = options.inputs;
  ps.output = options.output;
  std::string root = options.tmp_dir.empty() ? "dfs:/tmp/sawmill-df" : options.tmp_dir;
  ps.scratch_dir = JoinPath(root, name + "-df-" + std::to_string(::getpid()) + "-" +
                                      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() %
                                                     1000000007));
  ps.task_flags = resolved_flags;
  ps.task_flags.push_back("--df_scratch=" + ps.scratch_dir);
  ps.task_flags.push_back("--df_name=" + name);
  auto submitted = SubmitProgram(ps, submit);
  if (!submitted.ok()) {
    std::fprintf(stderr, "error: %s\n", submitted.status().message().c_str());
    return 2;
  }
  std::printf("submitted %s: %s (a dataflow program); http://%s/job/%s\n", submitted->job_id.c_str(), name.c_str(),
              submitted->coordinator_http.c_str(), submitted->job_id.c_str());
  std::fflush(stdout);
  if (!wait) return 0;
  auto final = FollowJob(submitted->job_id, submit);
  RunReport r;
  Status read = final.status();
  if (read.ok()) {
    read = CatchCapnp("program status", [&] {
      r = ReportFromStatus((*final)->Root<sched::proto::CoordinatorResponse>().getStatus());
      return Status::Ok();
    });
  }
  if (!read.ok()) {
    std::fprintf(stderr, "error: following %s: %s\n", submitted->job_id.c_str(), read.message().c_str());
    return 1;
  }
  PrintReport(name, r);
  return r.exit_code;
}

RunOptions OptionsFromFlags() {
  JobOptions j = JobOptionsFromFlags();
  RunOptions o;
  o.threads = j.threads;
  o.memory_mb = j.memory_mb;
  // A program's shuffles keep one partition unless --reducers is given: its stages' inputs are
  // intermediates whose sizes are not known when the program is planned.
  o.partitions = j.reducers > 0 ? j.reducers : 1;
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
  if (!FLAGS_task.empty()) {
    if (auto master = ReadMasterSpec(FLAGS_task); master.ok() && master->master) {
      return RunMaster(program, options, name, *master);
    }
  }
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
      RETURN_IF_ERROR(FaultPoint("dataflow.task.start", FLAGS_df_stage));
      ASSIGN_OR_RETURN(bindings, DecodeBindings(FLAGS_df_bind));
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
    auto conn = dfs::ScopedDfs::Connect(FLAGS_cluster, StoreOptions());
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
    submit.reconnect = ClientReconnect();
  }
  if (int code = resolve_datasets(); code != 0) return code;
  if (dataset.up_to_date) {
    PrintUpToDate(name, dataset);
    return 0;
  }
  if (cluster) {
    // The master gets the resolved paths (a dataset: input or output names a version here).
    std::vector<std::string> resolved;
    if (!dataset.name.empty() || options.inputs != JobOptionsFromFlags().inputs) {
      std::string inputs;
      for (const auto& in : options.inputs) inputs += (inputs.empty() ? "" : ",") + in;
      resolved = {"--input=" + inputs, "--output=" + options.output};
    }
    // A new dataset version is recorded once the program succeeded: followed to its end.
    bool wait = FLAGS_wait || !dataset.name.empty();
    int code = SubmitDataflowProgram(program, options, name, submit, resolved, wait);
    if (code == 0 && wait) {
      if (Status s = FinishDatasetRun(dataset); !s.ok()) std::fprintf(stderr, "warning: %s\n", s.message().c_str());
    }
    return code;
  }
  RunReport r = Execute(program, options, name, nullptr);
  PrintReport(name, r);
  if (r.ok) {
    if (Status s = FinishDatasetRun(dataset); !s.ok()) std::fprintf(stderr, "warning: %s\n", s.message().c_str());
  }
  return r.exit_code;
}

}  // namespace sawmill::df
