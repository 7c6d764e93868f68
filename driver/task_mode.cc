// Task mode (driver/task_mode.h): one attempt, from its spec file to its result file.
#include "driver/task_mode.h"

#include "driver/attempt_result.h"

#include <cstdio>
#include <exception>

#include <capnp/message.h>

#include "common/auth.h"
#include "common/capnp_util.h"
#include "common/fault_point.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "dfs/client/connect_dfs.h"
#include "mapreduce/attempt.capnp.h"
#include "mapreduce/job_plan.h"
#include "mapreduce/task.h"

namespace sawmill {
namespace {

Status WriteResult(const std::string& path, const Status& status, const TaskStats& stats, uint64_t bytes_in) {
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<proto::AttemptResult>();
  r.setOk(status.ok());
  r.setError(status.ok() ? "" : status.ToString());
  r.setRecordsIn(stats.records_in);
  r.setRecordsOut(stats.records_out);
  r.setBytesOut(stats.bytes_out);
  r.setBytesIn(bytes_in);
  r.setSpills(stats.spills);
  r.setGroups(stats.groups);
  r.setContentHash(stats.content_hash);
  r.setSorted(stats.sorted);
  r.setTailBytes(stats.tail_bytes);
  SetResultCounters(r, stats.counters);
  return WriteResultFile(path, message);
}

// Everything the attempt needs, read out of the spec before any user code runs.
struct Attempt {
  bool reduce = false;
  TaskConfig config;
  PartitionPlan plan;
  InputSplit split;
  std::vector<std::string> map_outputs;
  uint64_t job_seed = 0;
  std::string namenode, secret_file, host, result_path;
};

Status ParseSpec(const std::string& spec_path, Attempt* a) {
  std::string bytes;
  RETURN_IF_ERROR(ReadFileToString(spec_path, &bytes));
  ASSIGN_OR_RETURN(auto reader, CapnpReader::Parse(bytes));
  return CatchCapnp("attempt spec " + spec_path, [&]() -> Status {
    auto s = reader->Root<proto::AttemptSpec>();
    a->reduce = s.getReduce();
    a->job_seed = s.getJobSeed();
    auto p = s.getPartitioning();
    ASSIGN_OR_RETURN(a->plan.kind, ParsePartitionKind(Text(p.getKind())));
    a->plan.num_partitions = p.getNumPartitions();
    for (auto point : p.getSplitPoints()) a->plan.split_points.emplace_back(point.asChars().begin(), point.size());
    auto split = s.getSplit();
    a->split.path = Text(split.getPath());
    a->split.offset = split.getOffset();
    a->split.length = split.getLength();
    a->split.bytes = split.getBytes();
    a->split.input_index = split.getInputIndex();
    a->split.log_filter = split.getLogFilter();
    a->split.min_offset = split.getMinOffset();
    a->split.max_offset = split.getMaxOffset();
    a->split.min_time_ms = split.getMinTimeMs();
    a->split.max_time_ms = split.getMaxTimeMs();
    for (auto m : s.getMapOutputs()) a->map_outputs.push_back(Text(m));
    TaskConfig& c = a->config;
    c.task_index = s.getTaskIndex();
    c.num_partitions = std::max(a->plan.num_partitions, 1);
    c.seed = TaskSeed(a->job_seed, a->reduce, c.task_index);
    c.work_dir = Text(s.getWorkDir());
    c.cache_dir = Text(s.getCacheDir());
    c.output_path = Text(s.getOutputPath());
    c.tail_output_path = Text(s.getTailOutputPath());
    c.tail = a->reduce && a->plan.kind == PartitionKind::kTail;
    c.memory_bytes = s.getMemoryBytes();
    c.merge_factor = s.getMergeFactor();
    c.block_bytes = s.getBlockBytes();
    c.output_replication = s.getOutputReplication();
    a->namenode = Text(s.getNamenode());
    a->secret_file = Text(s.getSecretFile());
    a->host = Text(s.getHost());
    a->result_path = Text(s.getResultPath());
    if (a->split.input_index < 0) return InvalidArgument(spec_path + ": negative split inputIndex");
    if (a->result_path.empty()) return InvalidArgument(spec_path + ": no resultPath");
    if (c.work_dir.empty() || c.output_path.empty()) return InvalidArgument(spec_path + ": no workDir or outputPath");
    if (c.memory_bytes == 0 || c.merge_factor < 2 || c.block_bytes == 0) {
      return InvalidArgument(spec_path + ": bad memoryBytes, mergeFactor or blockBytes");
    }
    return Status::Ok();
  });
}

Status RunAttempt(const Attempt& a, const JobSpec& spec, MapBuffers* buffers, TaskStats* stats, Progress* progress) {
  TaskConfig c = a.config;
  c.progress = progress;
  ASSIGN_OR_RETURN(auto partitioner, MakePartitioner(spec, a.plan));
  c.partitioner = partitioner.get();
  if (spec.reducer && MapsWriteParts(a.plan.kind)) {
    return InvalidArgument("job " + spec.name + " has a reducer but the attempt no partitioning");
  }
  if (!spec.reducer && (a.plan.kind == PartitionKind::kTail) != static_cast<bool>(spec.tail_reducer)) {
    return InvalidArgument("job " + spec.name + (spec.tail_reducer ? " has" : " has no") + " tail reducer, unlike the attempt");
  }
  RETURN_IF_ERROR(MakeDirs(c.work_dir));
  Status s = a.reduce ? RunReduceTask(c, a.map_outputs, stats) : RunMapTask(c, a.split, buffers, stats);
  // Spills and merge runs are scratch; only the output stays. A failed map's output on this
  // worker's disk is scratch too (the worker drops it): on a full disk, its room is what the
  // attempt's result file needs, to say what failed.
  Status cleanup = RemoveAll(c.work_dir);
  if (!s.ok() && !a.reduce) {
    const std::string& local = a.plan.kind == PartitionKind::kTail ? c.tail_output_path
                               : MapsWriteParts(a.plan.kind)      ? std::string()
                                                                  : c.output_path;
    if (!local.empty()) (void)RemoveAll(local);
  }
  return s.ok() ? cleanup : s;
}

// Where the store is: a connection is kept while these stay the same.
std::string StoreKey(const Attempt& a, const std::string& secret) {
  return a.namenode + '\n' + a.host + '\n' + secret;
}

}  // namespace

struct TaskRunner::Warm {
  std::shared_ptr<dfs::DfsConnection> store;
  std::string store_key;
  MapBuffers buffers;
  size_t buffers_memory = 0;  // the memory_bytes the buffers were made for
};

TaskRunner::TaskRunner() : warm_(std::make_unique<Warm>()) {}
TaskRunner::~TaskRunner() = default;

int TaskRunner::Run(const TaskSpecFactory& make_spec, const std::string& spec_path) {
  Attempt a;
  Status s = ParseSpec(spec_path, &a);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 1;
  }
  if (!a.namenode.empty()) {
    auto secret = LoadSecret(a.secret_file);
    if (!secret.ok()) {
      s = secret.status();
    } else if (std::string key = StoreKey(a, *secret); !warm_->store || warm_->store_key != key) {
      dfs::DfsClient::Options options;
      options.client_host = a.host;
      // A namenode restart of a few seconds is waited out rather than failing the attempt.
      options.reconnect.budget_ms = kDefaultReconnectMs;
      warm_->store = dfs::ConnectDfsAt(a.namenode, *secret, options);
      warm_->store_key = std::move(key);
    }
    // The registry shares the connection, transport included (common/local_fs.h); this runner
    // keeps it for the next attempt.
    if (s.ok()) SetDfs(std::shared_ptr<FileSystem>(warm_->store, warm_->store->client.get()));
  }
  TaskStats stats;
  Progress progress;
  {
    // The spec is made once the store is reachable: a job may read its inputs' manifests then.
    JobSpec spec;
    if (s.ok()) {
      Result<JobSpec> made = make_spec();
      if (made.ok()) {
        spec = std::move(made).value();
      } else {
        s = made.status().WithContext("making the job spec");
      }
    }
    a.config.spec = &spec;
    // A map reuses the buffers of the one before (made for the same memory budget); a reduce
    // gets their memory back, as the local runner's reduces do.
    if (a.reduce || warm_->buffers_memory != a.config.memory_bytes) {
      warm_->buffers = MapBuffers();
      warm_->buffers_memory = a.config.memory_bytes;
    }
    if (s.ok()) s = RunAttempt(a, spec, &warm_->buffers, &stats, &progress);
  }
  // The output is written and not yet reported: the attempt's directory names it.
  if (s.ok()) s = FaultPoint("task.attempt.before_report", std::string_view(spec_path).substr(0, spec_path.rfind('/')));
  SetDfs(nullptr);
  if (!s.ok()) std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  Status w = WriteResult(a.result_path, s, stats, progress.bytes_read.load());
  if (!w.ok()) {
    std::fprintf(stderr, "error: writing the attempt result: %s\n", w.ToString().c_str());
    return 1;
  }
  return s.ok() ? 0 : 1;
}

int RunTaskMode(const TaskSpecFactory& make_spec, const std::string& spec_path) {
  TaskRunner runner;
  return runner.Run(make_spec, spec_path);
}

}  // namespace sawmill
