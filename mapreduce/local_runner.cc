#include "mapreduce/local_runner.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "common/file.h"
#include "common/local_fs.h"
#include "mapreduce/input_split.h"
#include "mapreduce/job_plan.h"
#include "mapreduce/progress.h"
#include "mapreduce/split_reader.h"
#include "mapreduce/task.h"
#include "mapreduce/task_context.h"
#include "records/manifest.h"

namespace sawmill {
namespace {

constexpr int kMapTasksPerThread = 8;
constexpr uint64_t kMinSplitBytes = 8 << 20;

std::string PartName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "part-%05d", i);
  return buf;
}

// Runs fn(task, thread) for tasks [0, n) on `threads` threads; stops handing out tasks after the
// first failure and returns the failure of the lowest-numbered failed task.
Status ParallelTasks(int n, int threads, const std::function<Status(int task, int thread)>& fn) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  int failed_task = -1;
  Status first;
  auto worker = [&](int thread) {
    while (!failed.load()) {
      int t = next.fetch_add(1);
      if (t >= n) return;
      Status s = fn(t, thread);
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (failed_task < 0 || t < failed_task) {
          failed_task = t;
          first = s;
        }
        failed = true;
      }
    }
  };
  int k = std::max(1, std::min(threads, n));
  std::vector<std::thread> pool;
  for (int i = 1; i < k; ++i) pool.emplace_back(worker, i);
  worker(0);
  for (auto& t : pool) t.join();
  return first;
}

uint64_t PeakRssBytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

class LocalJob {
 public:
  LocalJob(const JobSpec& spec, const JobOptions& options) : spec_(spec), opt_(options) {}

  JobResult Run() {
    auto start = std::chrono::steady_clock::now();
    Status s = RunPhases();
    if (!staging_.empty()) (void)FsRemoveAll(staging_);
    if (dfs_out_ && !work_root_.empty()) (void)RemoveAll(work_root_);
    result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result_.peak_rss_bytes = PeakRssBytes();
    if (!s.ok()) {
      result_.ok = false;
      result_.error = s.message();
      if (result_.exit_code == 0) result_.exit_code = 1;
      return result_;
    }
    result_.ok = true;
    result_.exit_code = 0;
    return result_;
  }

 private:
  Status UsageError(Status s) {
    result_.exit_code = 2;
    return s;
  }

  Status RunPhases() {
    if (!spec_.has_mapper()) return UsageError(InvalidArgument("job " + spec_.name + " has no mapper"));
    if (opt_.inputs.empty()) return UsageError(InvalidArgument("no --input given"));
    if (opt_.output.empty()) return UsageError(InvalidArgument("no --output given"));
    if (opt_.threads < 1) return UsageError(InvalidArgument("--threads must be at least 1"));
    if (spec_.reducer && opt_.reducers < 0) {
      return UsageError(InvalidArgument("--reducers must be at least 1 (or 0: one per thread, by input size)"));
    }
    if (spec_.reducer && spec_.tail_reducer) {
      return UsageError(InvalidArgument("job " + spec_.name + " has both a reducer and a tail_reducer"));
    }
    if (opt_.memory_mb < 1) return UsageError(InvalidArgument("--memory_mb must be at least 1"));
    std::string out = opt_.output;
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    auto exists = FsExists(out);
    if (!exists.ok()) return UsageError(exists.status());
    if (*exists && !opt_.overwrite) {
      return UsageError(AlreadyExists("output " + out + " exists (pass --overwrite to replace it)"));
    }
    auto splits_or = ComputeJobSplits(spec_, opt_.inputs, opt_.split_bytes);
    if (!splits_or.ok()) return UsageError(splits_or.status());
    splits_ = std::move(splits_or).value();
    for (const auto& sp : splits_) input_bytes_ += sp.bytes;
    if (spec_.reducer) {
      result_.reducers = ChooseReducers(opt_.reducers, opt_.threads, input_bytes_);
      opt_.reducers = result_.reducers.reducers;
      manifest_.reducers_auto = result_.reducers.automatic;
    }
    // Jobs with reducers get smaller splits when --split_mb would give each thread fewer than
    // kMapTasksPerThread map tasks: the map phase then ends evenly instead of one thread
    // finishing a big task alone, and each task's sort works on a smaller, cache-friendlier
    // buffer. Their output does not depend on the splits; a map-only job's parts do (one per
    // split), so its splits stay --split_mb, as on a cluster.
    uint64_t threads = static_cast<uint64_t>(opt_.threads);
    uint64_t even = input_bytes_ / (threads * kMapTasksPerThread);
    even = std::max<uint64_t>(even, kMinSplitBytes);
    uint64_t resplit = 0;
    if (spec_.reducer && spec_.large_splits && !spec_.keep_split_size) {
      // As few tasks as --split_mb gives, rounded up to a multiple of the threads (3 tasks on 2
      // threads leave one idle through the third: PageRank's in-links, 2.5 s -> 2.1 s).
      uint64_t tasks = (splits_.size() + threads - 1) / threads * threads;
      if (tasks != splits_.size() && input_bytes_ > 0) resplit = std::max<uint64_t>((input_bytes_ + tasks - 1) / tasks, 1);
    } else if (spec_.reducer && !spec_.keep_split_size && even < opt_.split_bytes &&
               splits_.size() < threads * kMapTasksPerThread) {
      resplit = even;
    }
    if (resplit > 0) {
      splits_or = ComputeJobSplits(spec_, opt_.inputs, resplit);
      if (!splits_or.ok()) return UsageError(splits_or.status());
      splits_ = std::move(splits_or).value();
    }

    // The output is staged beside its final name (same file system, so the commit is a rename);
    // task work files (spills, map outputs) always stay on the local disk.
    dfs_out_ = IsDfsPath(out);
    std::string parent = Dirname(out);
    if (parent == kDfsScheme) parent += "/";
    RETURN_IF_ERROR(FsMkdirs(parent));
    staging_ = JoinPath(parent, "." + Basename(out) + ".staging-" + std::to_string(::getpid()));
    RETURN_IF_ERROR(FsRemoveAll(staging_));
    RETURN_IF_ERROR(FsMkdirs(JoinPath(staging_, "_temporary")));
    if (dfs_out_) {
      const char* tmp = std::getenv("TMPDIR");
      work_root_ = JoinPath(tmp && *tmp ? tmp : "/tmp", "sawmill-" + spec_.name + "-" + std::to_string(::getpid()));
      RETURN_IF_ERROR(RemoveAll(work_root_));
      RETURN_IF_ERROR(MakeDirs(work_root_));
    } else {
      work_root_ = JoinPath(staging_, "_temporary");
    }

    partitions_ = spec_.reducer ? opt_.reducers : 0;
    RETURN_IF_ERROR(ChoosePartitioner());
    TaskBudget budget = ComputeTaskBudget(opt_);
    task_memory_ = budget.memory_bytes;
    merge_factor_ = budget.merge_factor;

    result_.map_tasks = static_cast<int>(splits_.size());
    result_.reduce_tasks = spec_.tail_reducer ? 1 : partitions_;
    map_stats_.resize(splits_.size());
    reduce_stats_.resize(partitions_);
    result_.reduce_seconds.assign(partitions_, 0.0);
    {
      ProgressLine line(&progress_, result_.map_tasks, result_.reduce_tasks, input_bytes_, opt_.progress);
      RETURN_IF_ERROR(MapPhase());
      if (spec_.reducer) RETURN_IF_ERROR(ReducePhase());
      if (spec_.tail_reducer) RETURN_IF_ERROR(TailPhase());
    }
    Summarize();
    return Commit(out);
  }

  Status ChoosePartitioner() {
    ASSIGN_OR_RETURN(PartitionPlan plan, PlanPartitioning(spec_, opt_));
    ASSIGN_OR_RETURN(partitioner_, MakePartitioner(spec_, plan));
    manifest_.partitioner = PartitionKindName(plan.kind);
    manifest_.split_points = plan.split_points;
    manifest_.total_order = plan.kind == PartitionKind::kRange;
    return Status::Ok();
  }

  TaskConfig BaseConfig(int index, bool reduce) {
    TaskConfig c;
    c.spec = &spec_;
    c.task_index = index;
    c.num_partitions = std::max(partitions_, 1);
    c.partitioner = partitioner_.get();
    c.seed = TaskSeed(opt_.seed, reduce, index);
    c.memory_bytes = task_memory_;
    c.merge_factor = merge_factor_;
    c.block_bytes = opt_.block_kb << 10;
    c.compress_intermediate = false;
    c.output_replication = spec_.output_replication;
    c.progress = &progress_;
    return c;
  }

  std::string TaskDir(const char* kind, int i) const {
    char buf[48];
    std::snprintf(buf, sizeof buf, "attempt_%s_%05d_0", kind, i);
    return JoinPath(work_root_, buf);
  }

  // Where a task writes its part before the task commit renames it into the staging directory:
  // in its local work dir, or in its attempt directory on the store.
  std::string AttemptOutput(const char* kind, int i, const std::string& work_dir) const {
    if (!dfs_out_) return JoinPath(work_dir, PartName(i));
    char buf[48];
    std::snprintf(buf, sizeof buf, "attempt_%s_%05d_0", kind, i);
    return JoinPath(JoinPath(JoinPath(staging_, "_temporary"), buf), PartName(i));
  }

  Status MapPhase() {
    std::vector<MapBuffers> buffers(opt_.threads);
    map_outputs_.resize(splits_.size());
    return ParallelTasks(static_cast<int>(splits_.size()), opt_.threads, [&](int t, int thread) -> Status {
      TaskConfig c = BaseConfig(t, false);
      c.work_dir = TaskDir("m", t);
      RETURN_IF_ERROR(MakeDirs(c.work_dir));
      c.output_path = spec_.reducer ? JoinPath(c.work_dir, "map.out") : AttemptOutput("m", t, c.work_dir);
      if (spec_.tail_reducer) c.tail_output_path = JoinPath(c.work_dir, "map.out");
      RETURN_IF_ERROR(RunMapTask(c, splits_[t], &buffers[thread], &map_stats_[t]));
      if (!spec_.reducer) RETURN_IF_ERROR(FsRename(c.output_path, JoinPath(staging_, PartName(t))));
      if (spec_.reducer || spec_.tail_reducer) {
        // Keep only the map output: drop spills now, so disk use stays near one copy of the data.
        ASSIGN_OR_RETURN(auto names, ListDir(c.work_dir));
        for (const auto& n : names) {
          if (n != "map.out") RETURN_IF_ERROR(RemoveAll(JoinPath(c.work_dir, n)));
        }
        map_outputs_[t] = JoinPath(c.work_dir, "map.out");
      } else {
        RETURN_IF_ERROR(RemoveAll(c.work_dir));
      }
      progress_.maps_done.fetch_add(1);
      return Status::Ok();
    });
  }

  Status ReducePhase() {
    return ParallelTasks(partitions_, opt_.threads, [&](int r, int) -> Status {
      TaskConfig c = BaseConfig(r, true);
      c.work_dir = TaskDir("r", r);
      RETURN_IF_ERROR(MakeDirs(c.work_dir));
      c.output_path = AttemptOutput("r", r, c.work_dir);
      auto start = std::chrono::steady_clock::now();
      RETURN_IF_ERROR(RunReduceTask(c, map_outputs_, &reduce_stats_[r]));
      result_.reduce_seconds[r] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      // Task commit: the first attempt to rename its part into place wins.
      RETURN_IF_ERROR(FsRename(c.output_path, JoinPath(staging_, PartName(r))));
      RETURN_IF_ERROR(RemoveAll(c.work_dir));
      progress_.reduces_done.fetch_add(1);
      return Status::Ok();
    });
  }

  // The tail reduce of a map-only job: its part follows the map tasks' parts.
  Status TailPhase() {
    int part = static_cast<int>(splits_.size());
    TaskConfig c = BaseConfig(part, true);  // one partition, no partitioner: the job is map-only
    c.tail = true;
    c.work_dir = TaskDir("r", part);
    RETURN_IF_ERROR(MakeDirs(c.work_dir));
    c.output_path = AttemptOutput("r", part, c.work_dir);
    tail_stats_.resize(1);
    auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(RunReduceTask(c, map_outputs_, &tail_stats_[0]));
    result_.reduce_seconds.assign(1, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    RETURN_IF_ERROR(FsRename(c.output_path, JoinPath(staging_, PartName(part))));
    RETURN_IF_ERROR(RemoveAll(c.work_dir));
    progress_.reduces_done.fetch_add(1);
    return Status::Ok();
  }

  void Summarize() {
    auto add_counters = [&](const TaskStats& s) {
      for (const auto& [k, v] : s.counters) result_.counters[k] += v;
      result_.spills += s.spills;
    };
    for (const auto& s : map_stats_) {
      result_.records_in += s.records_in;
      add_counters(s);
    }
    for (const auto& s : tail_stats_) add_counters(s);
    for (const auto& s : reduce_stats_) add_counters(s);
    manifest_.counters = result_.counters;
    // The parts: the reduces', or the maps' and then the tail's.
    std::vector<const TaskStats*> outs;
    for (const auto* tasks : {spec_.reducer ? &reduce_stats_ : &map_stats_, &tail_stats_}) {
      for (const auto& s : *tasks) outs.push_back(&s);
    }
    for (size_t i = 0; i < outs.size(); ++i) {
      const TaskStats& o = *outs[i];
      result_.records_out += o.records_out;
      result_.bytes_out += o.bytes_out;
      manifest_.parts.push_back(
          {PartName(static_cast<int>(i)), static_cast<int32_t>(i), o.records_out, o.bytes_out, o.content_hash});
    }
    result_.bytes_in = input_bytes_;
    uint64_t map_out = 0, groups = 0;
    for (const auto& s : map_stats_) map_out += s.records_out;
    for (const auto& s : spec_.reducer ? reduce_stats_ : tail_stats_) {
      groups += s.groups;
      result_.reduce_records_in.push_back(s.records_in);
    }
    for (const auto& s : map_stats_) result_.tail_bytes += s.tail_bytes;
    if (spec_.reducer) {
      for (const auto& s : map_stats_) result_.shuffle_bytes += s.bytes_out;
    }
    result_.counters["sawmill.shuffle_bytes"] = static_cast<int64_t>(result_.shuffle_bytes);
    result_.counters["sawmill.map_output_records"] = static_cast<int64_t>(map_out);
    if (spec_.reducer || spec_.tail_reducer) result_.counters["sawmill.reduce_groups"] = static_cast<int64_t>(groups);
    if (spec_.tail_reducer) result_.counters["sawmill.tail_bytes"] = static_cast<int64_t>(result_.tail_bytes);
    result_.counters["sawmill.spills"] = static_cast<int64_t>(result_.spills);
  }

  Status Commit(const std::string& out) {
    RETURN_IF_ERROR(FsRemoveAll(JoinPath(staging_, "_temporary")));
    manifest_.job_name = spec_.name;
    manifest_.inputs = opt_.inputs;
    manifest_.num_partitions = spec_.reducer ? partitions_ : static_cast<int32_t>(splits_.size() + tail_stats_.size());
    manifest_.sorted = spec_.reducer != nullptr;
    for (const auto& s : reduce_stats_) manifest_.sorted = manifest_.sorted && s.sorted;
    manifest_.total_order = manifest_.total_order && manifest_.sorted;
    RETURN_IF_ERROR(WriteManifest(JoinPath(staging_, kManifestName), manifest_));
    ASSIGN_OR_RETURN(bool exists, FsExists(out));
    if (exists && !dfs_out_) {
      // --overwrite: swap atomically, so readers see the old or the new output, never neither.
      RETURN_IF_ERROR(RenameExchange(staging_, out));
    } else if (exists) {
      // The store has no exchange: readers may briefly find no output between the two renames.
      std::string old = staging_ + ".old";
      RETURN_IF_ERROR(FsRename(out, old));
      RETURN_IF_ERROR(FsRename(staging_, out));
      staging_ = old;  // removed by Run()
    } else {
      RETURN_IF_ERROR(FsRename(staging_, out));
      staging_.clear();
    }
    return Status::Ok();
  }

  const JobSpec& spec_;
  JobOptions opt_;  // a copy: an automatic --reducers is decided at planning
  JobResult result_;
  std::vector<InputSplit> splits_;
  uint64_t input_bytes_ = 0;
  std::string staging_;
  bool dfs_out_ = false;
  std::string work_root_;  // local: task work dirs
  int partitions_ = 0;
  std::unique_ptr<Partitioner> partitioner_;
  size_t task_memory_ = 0;
  int merge_factor_ = 64;
  Progress progress_;
  std::vector<std::string> map_outputs_;
  std::vector<TaskStats> map_stats_, reduce_stats_, tail_stats_;
  Manifest manifest_;
};

}  // namespace

JobResult RunLocalJob(const JobSpec& spec, const JobOptions& options) {
  if (spec.inputs.empty()) return LocalJob(spec, options).Run();
  JobOptions with_inputs = options;
  with_inputs.inputs = spec.inputs;
  return LocalJob(spec, with_inputs).Run();
}

}  // namespace sawmill
