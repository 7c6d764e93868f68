#include "driver/submit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>

#include <capnp/message.h>

#include "common/auth.h"
#include "common/capnp_util.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "common/sha256.h"
#include "dfs/client/connect_dfs.h"
#include "logs/log_archive.h"
#include "mapreduce/input_split.h"
#include "mapreduce/job_plan.h"
#include "mapreduce/reducer_choice.h"
#include "records/record_file.h"
#include "scheduler/job_client.h"
#include "scheduler/job_state.h"
#include "scheduler/plan_version.h"

namespace sawmill {
namespace {

namespace sp = sched::proto;



std::string StorePath(const std::string& p) { return IsDfsPath(p) ? p.substr(kDfsScheme.size()) : p; }

// Hosts holding the block where a split starts (its byte offset; for record files the offset of
// its first block). Cached per file.
class SplitHosts {
 public:
  explicit SplitHosts(FileSystem* store) : store_(store) {}

  Result<std::vector<std::string>> Of(const InputSplit& split, InputFormat format) {
    auto& locs = locations_[split.path];
    if (!loaded_[split.path]) {
      ASSIGN_OR_RETURN(locs, store_->GetBlockLocations(StorePath(split.path)));
      loaded_[split.path] = true;
    }
    uint64_t offset = split.offset;
    if (format == InputFormat::kRecordFile) {
      auto& reader = readers_[split.path];
      if (!reader) {
        ASSIGN_OR_RETURN(reader, RecordFileReader::Open(split.path));
      }
      const auto& blocks = reader->blocks();
      offset = split.offset < blocks.size() ? blocks[split.offset].offset : 0;
    }
    for (const auto& l : locs) {
      if (offset >= l.offset && offset < l.offset + l.length) return l.hosts;
    }
    return std::vector<std::string>{};
  }

 private:
  FileSystem* store_;
  std::map<std::string, std::vector<BlockLocation>> locations_;
  std::map<std::string, bool> loaded_;
  std::map<std::string, std::unique_ptr<RecordFileReader>> readers_;
};

// The running binary's SHA-256, hashed once per process (a program master submits many stages).
// Hashing a binary of megabytes costs every submission milliseconds: the hash is also kept in
// the user's cache ($HOME/.cache/sawmill/sha256/), under the binary's device, inode, size and
// modification time, so a binary is hashed once per build.
std::string ShaCachePath() {
  const char* home = std::getenv("HOME");
  struct stat st;
  if (!home || !*home || ::stat("/proc/self/exe", &st) != 0) return "";
  return JoinPath(home, ".cache/sawmill/sha256/" + std::to_string(st.st_dev) + "-" + std::to_string(st.st_ino) + "-" +
                            std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) + "." +
                            std::to_string(st.st_mtim.tv_nsec));
}

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Result<std::string> SelfSha256() {
  static std::mutex mu;
  static std::string sha;
  std::lock_guard<std::mutex> l(mu);
  if (!sha.empty()) return sha;
  const std::string cached = ShaCachePath();
  std::string text;
  if (!cached.empty() && ReadFileToString(cached, &text).ok() && IsSha256Hex(text)) {
    sha = text;
    return sha;
  }
  ASSIGN_OR_RETURN(sha, Sha256FileHex("/proc/self/exe"));
  if (!cached.empty() && MakeDirs(Dirname(cached)).ok()) {
    const std::string tmp = cached + ".tmp-" + std::to_string(::getpid());
    if (WriteStringToFile(tmp, sha).ok()) (void)Rename(tmp, cached);
  }
  return sha;
}

// The running binary, in the store at /sawmill/binaries/<sha256> (uploaded once per content).
Result<std::string> UploadSelf(FileSystem* store) {
  const std::string self = "/proc/self/exe";
  ASSIGN_OR_RETURN(std::string sha, SelfSha256());
  const std::string path = "/sawmill/binaries/" + sha;
  if (store->Stat(path).ok()) return sha;
  RETURN_IF_ERROR(store->Mkdirs("/sawmill/binaries"));
  const std::string tmp = "/sawmill/binaries/." + sha + ".upload-" + std::to_string(::getpid());
  std::string bytes;
  RETURN_IF_ERROR(ReadFileToString(self, &bytes));
  {
    ASSIGN_OR_RETURN(auto out, store->Create(tmp));
    RETURN_IF_ERROR(out->Append(bytes));
    RETURN_IF_ERROR(out->Close());
  }
  Status s = store->Rename(tmp, path);
  if (!s.ok()) {
    (void)store->Delete(tmp, false);
    if (!store->Stat(path).ok()) return s;  // else another submitter won the race
  }
  return sha;
}


// What SubmitJob prints once the coordinator accepted the job.
struct Submitted {
  std::string job_id;
  size_t maps = 0;
  int reduces = 0;
  std::string coordinator_http;
  ReducerChoice reducers;
};

// One job on the cluster: its JobResult and what SubmitJob's summary line adds to it.
struct ClusterRun {
  JobResult result;
  std::string job_id;            // "" when never submitted
  Status follow = Status::Ok();  // not ok: following the submitted job failed, its outcome is unknown
  int data_local_maps = 0;
  int failed_attempts = 0;
};

// A connection to the coordinator of the cluster directory, or at the address with the secret
// file, lent for one submission: connections are kept per process and coordinator and reused (a
// program master submits stage after stage, some at once, and each new connection costs the
// coordinator a thread and a handshake), one caller at a time each (a follower long-polls).
class Coordinator {
 public:
  static Result<Coordinator> Lease(const SubmitOptions& submit) {
    Coordinator c;
    c.key_ = submit.cluster_dir.empty() ? "@" + submit.coordinator_address : submit.cluster_dir;
    {
      std::lock_guard<std::mutex> l(Mu());
      auto& idle = Idle()[c.key_];
      if (!idle.empty()) {
        c.conn_ = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    auto made = submit.cluster_dir.empty()
                    ? sched::ConnectCoordinatorAt(submit.coordinator_address, submit.secret_file, submit.reconnect)
                    : sched::ConnectCoordinator(submit.cluster_dir, submit.reconnect);
    if (!made.ok()) return made.status();
    c.conn_ = std::move(made).value();
    return c;
  }
  Coordinator(Coordinator&&) = default;
  ~Coordinator() {
    if (!conn_) return;
    std::lock_guard<std::mutex> l(Mu());
    Idle()[key_].push_back(std::move(conn_));
  }
  sched::CoordinatorConnection* operator->() const { return conn_.get(); }

 private:
  Coordinator() = default;
  static std::mutex& Mu() {
    static std::mutex mu;
    return mu;
  }
  // Never destroyed: connections outlive static destruction at exit (their transport's threads).
  static std::map<std::string, std::vector<std::unique_ptr<sched::CoordinatorConnection>>>& Idle() {
    static auto* idle = new std::map<std::string, std::vector<std::unique_ptr<sched::CoordinatorConnection>>>;
    return *idle;
  }
  std::string key_;
  std::unique_ptr<sched::CoordinatorConnection> conn_;
};

// The store dfs: paths resolve to while a submission is planned: the caller's when one is
// registered (left as it is), else a connection of its own, registered until it goes (the
// registry shares it).
class PlanningStore {
 public:
  Status Open(const SubmitOptions& submit) {
    if (auto registered = ResolvePath(std::string(kDfsScheme) + "/"); registered.ok()) {
      store_ = registered->fs;
      return Status::Ok();
    }
    if (submit.cluster_dir.empty()) return Internal("no store connection is registered");
    dfs::DfsClient::Options options;
    options.reconnect = submit.reconnect;
    ASSIGN_OR_RETURN(own_, dfs::ConnectDfs(submit.cluster_dir, std::move(options)));
    store_ = std::shared_ptr<FileSystem>(own_, own_->client.get());
    SetDfs(store_);
    return Status::Ok();
  }
  ~PlanningStore() {
    if (own_) SetDfs(nullptr);
  }
  FileSystem* get() const { return store_.get(); }

 private:
  std::shared_ptr<dfs::DfsConnection> own_;
  std::shared_ptr<FileSystem> store_;
};

// The slots of the workers the coordinator has now (it drops lost ones from its list): what
// runs a job whose --reducers was not given.
Result<int> LiveSlots(const Coordinator& coord) {
  capnp::MallocMessageBuilder m;
  m.initRoot<sp::CoordinatorRequest>().setWorkers();
  ASSIGN_OR_RETURN(auto reply, coord->client->Call(m));
  int slots = 0;
  RETURN_IF_ERROR(CatchCapnp("workers", [&] {
    for (auto w : reply->Root<sp::CoordinatorResponse>().getWorkers()) slots += std::max(0, w.getSlots());
    return Status::Ok();
  }));
  return slots;
}

void SetTexts(capnp::List<capnp::Text>::Builder list, const std::vector<std::string>& texts) {
  for (unsigned i = 0; i < texts.size(); ++i) list.set(i, texts[i]);
}

// JobSubmission.clientToken: 128 random bits in hex, so that the coordinator answers a repeat of
// this submission (sent again after a lost answer) with the job the first one made.
std::string SubmissionToken() { return RandomHex(16); }

// The job id a submission was answered with; an error for an answer without one.
Result<std::string> SubmittedJobId(CapnpReader& reply) {
  std::string id;
  RETURN_IF_ERROR(CatchCapnp("submit response", [&] {
    id = Text(reply.Root<sp::CoordinatorResponse>().getSubmitted());
    return Status::Ok();
  }));
  if (id.empty()) return Internal("the coordinator answered the submission without a job id");
  return id;
}

ClusterRun Rejected(const Status& s) {
  ClusterRun run;
  run.result.exit_code = 2;
  run.result.error = s.message();
  return run;
}

// The final JobStatus as a JobResult (as RunClusterJob documents it).
void FillResult(sp::JobStatus::Reader s, ClusterRun* run) {
  JobResult& r = run->result;
  r.ok = sched::ParseCoordinatorJobState(Text(s.getState())) == sched::CoordinatorJobState::kSucceeded;
  r.exit_code = r.ok ? 0 : 1;
  r.error = r.ok ? "" : run->job_id + " failed: " + Text(s.getError());
  r.records_in = s.getRecordsIn();
  r.records_out = s.getRecordsOut();
  r.bytes_in = s.getInputBytes();
  r.bytes_out = s.getBytesOut();
  r.map_tasks = s.getMaps();
  r.reduce_tasks = s.getReduces();
  r.seconds = static_cast<double>(s.getElapsedMs()) / 1000;
  for (auto c : s.getCounters()) r.counters[Text(c.getName())] = c.getValue();
  auto counter = [&](const char* name) -> uint64_t {
    auto it = r.counters.find(name);
    return it == r.counters.end() ? 0 : static_cast<uint64_t>(it->second);
  };
  r.spills = counter("sawmill.spills");
  r.shuffle_bytes = counter("sawmill.shuffle_bytes");
  r.tail_bytes = counter("sawmill.tail_bytes");
  run->data_local_maps = s.getDataLocalMaps();
  run->failed_attempts = s.getFailedAttempts();
}

// Plans, uploads and submits the job, calls `on_submitted` (if set) once the coordinator took
// it, then, with `wait`, follows it to its end. Without wait a submitted job's result is ok.
ClusterRun RunOnCluster(const JobSpec& spec, const JobOptions& options_in, const SubmitOptions& submit, bool wait,
                        const std::function<void(const Submitted&)>& on_submitted) {
  JobOptions options = options_in;
  if (!spec.inputs.empty()) options.inputs = spec.inputs;
  if (!spec.has_mapper()) return Rejected(InvalidArgument("job " + spec.name + " has no mapper"));
  if (options.inputs.empty()) return Rejected(InvalidArgument("no --input given"));
  if (options.output.empty()) return Rejected(InvalidArgument("no --output given"));
  if (spec.reducer && options.reducers < 0) {
    return Rejected(InvalidArgument("--reducers must be at least 1 (or 0: one per live worker slot, by input size)"));
  }
  for (const auto& in : options.inputs) {
    if (!IsDfsPath(in) && !logs::IsLogInput(in)) {
      return Rejected(InvalidArgument("cluster jobs read dfs:/ paths or logs: selections; --input " + in + " is local"));
    }
  }
  if (!IsDfsPath(options.output)) {
    return Rejected(InvalidArgument("cluster jobs write dfs:/ paths; --output " + options.output + " is local"));
  }
  // The store dfs: paths resolve to while the job is planned (splits, manifests, samples).
  PlanningStore store;
  if (Status s = store.Open(submit); !s.ok()) return Rejected(s);
  auto coord = Coordinator::Lease(submit);
  if (!coord.ok()) return Rejected(coord.status());

  auto splits = ComputeJobSplits(spec, options.inputs, options.split_bytes);
  if (!splits.ok()) return Rejected(splits.status());
  uint64_t input_bytes = 0;
  for (const auto& s : *splits) input_bytes += s.bytes;
  ReducerChoice reducers;
  if (spec.reducer) {
    int slots = 0;
    if (options.reducers == 0) {
      auto live = LiveSlots(*coord);
      if (!live.ok()) return Rejected(live.status().WithContext("asking the coordinator for its workers' slots"));
      slots = *live;
    }
    reducers = ChooseReducers(options.reducers, slots, input_bytes);
    options.reducers = reducers.reducers;
  }
  auto plan = PlanPartitioning(spec, options);
  if (!plan.ok()) return Rejected(plan.status());
  TaskBudget budget = ComputeTaskBudget(options);
  auto sha = UploadSelf(store.get());
  if (!sha.ok()) {
    ClusterRun run;
    run.result.error = "uploading the job binary: " + sha.status().message();
    return run;
  }

  capnp::MallocMessageBuilder m;
  auto sub = m.initRoot<sp::CoordinatorRequest>().initSubmit();
  sub.setName(spec.name);
  sub.setBinarySha256(*sha);
  auto args = sub.initArgs(static_cast<unsigned>(submit.task_args.size()));
  for (unsigned i = 0; i < submit.task_args.size(); ++i) args.set(i, submit.task_args[i]);
  auto flags = sub.initTaskFlags(static_cast<unsigned>(spec.task_flags.size()));
  for (unsigned i = 0; i < spec.task_flags.size(); ++i) flags.set(i, spec.task_flags[i]);
  auto inputs = sub.initInputs(static_cast<unsigned>(options.inputs.size()));
  for (unsigned i = 0; i < options.inputs.size(); ++i) inputs.set(i, options.inputs[i]);
  sub.setOutput(options.output);
  sub.setOverwrite(options.overwrite);
  SplitHosts hosts(store.get());
  auto sl = sub.initSplits(static_cast<unsigned>(splits->size()));
  for (unsigned i = 0; i < splits->size(); ++i) {
    const InputSplit& s = (*splits)[i];
    sl[i].setPath(s.path);
    sl[i].setOffset(s.offset);
    sl[i].setLength(s.length);
    sl[i].setBytes(s.bytes);
    sl[i].setInputIndex(s.input_index);
    sl[i].setLogFilter(s.log_filter);
    sl[i].setMinOffset(s.min_offset);
    sl[i].setMaxOffset(s.max_offset);
    sl[i].setMinTimeMs(s.min_time_ms);
    sl[i].setMaxTimeMs(s.max_time_ms);
    auto h = hosts.Of(s, SplitFormat(spec, s));
    if (!h.ok()) return Rejected(h.status());
    auto hl = sl[i].initHosts(static_cast<unsigned>(h->size()));
    for (unsigned k = 0; k < h->size(); ++k) hl.set(k, (*h)[k]);
  }
  auto part = sub.initPartitioning();
  part.setKind(std::string(PartitionKindName(plan->kind)));
  part.setNumPartitions(plan->num_partitions);
  auto points = part.initSplitPoints(static_cast<unsigned>(plan->split_points.size()));
  for (unsigned i = 0; i < plan->split_points.size(); ++i) {
    const std::string& p = plan->split_points[i];
    points.set(i, capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(p.data()), p.size()));
  }
  sub.setSeed(options.seed);
  sub.setMemoryBytes(budget.memory_bytes);
  sub.setMergeFactor(budget.merge_factor);
  sub.setBlockBytes(options.block_kb << 10);
  sub.setMaxAttempts(submit.max_attempts);
  sub.setTaskTimeoutMs(submit.task_timeout_ms);
  sub.setTaskMemoryMb(submit.task_memory_mb);
  sub.setSpeculation(submit.speculation);
  sub.setInputBytes(input_bytes);
  sub.setOutputReplication(spec.output_replication);
  sub.setReducersAuto(reducers.automatic);
  if (submit.parent_job.empty()) sub.setClientToken(SubmissionToken());
  if (!submit.parent_job.empty()) {
    sub.setParentJob(submit.parent_job);
    sub.setMasterAttempt(submit.master_attempt);
    sub.setPlanVersion(sched::kProgramPlanVersion);
    auto stage = sub.initStage();
    stage.setKey(submit.stage.key);
    SetTexts(stage.initOperators(static_cast<unsigned>(submit.stage.operators.size())), submit.stage.operators);
    auto edges = stage.initInputs(static_cast<unsigned>(submit.stage.inputs.size()));
    for (unsigned i = 0; i < submit.stage.inputs.size(); ++i) {
      edges[i].setFrom(submit.stage.inputs[i].from);
      edges[i].setKind(submit.stage.inputs[i].kind);
    }
  }
  const char* user = std::getenv("USER");
  sub.setUser(user ? user : "");

  auto reply = (*coord)->client->Call(m);
  if (!reply.ok()) return Rejected(reply.status());
  ClusterRun run;
  auto id = SubmittedJobId(**reply);
  if (!id.ok()) {
    run.follow = id.status();
    run.result.error = run.follow.message();
    return run;
  }
  run.job_id = std::move(id).value();
  if (on_submitted) {
    on_submitted(
        Submitted{run.job_id, splits->size(), plan->num_partitions, (*coord)->config.coordinator_http, reducers});
  }
  run.result.reducers = reducers;
  if (!wait) {
    run.result.ok = true;
    run.result.exit_code = 0;
    return run;
  }
  auto final = sched::WaitForJob(*(*coord)->client, run.job_id, submit.progress);
  Status read = final.status();
  if (read.ok()) {
    read = CatchCapnp("job status", [&] {
      FillResult((*final)->Root<sp::CoordinatorResponse>().getStatus(), &run);
      return Status::Ok();
    });
  }
  if (!read.ok()) {
    run.follow = read;
    run.result = JobResult{};
    run.result.error = "following " + run.job_id + ": " + read.message();
  }
  run.result.reducers = reducers;
  return run;
}

}  // namespace

Result<JobResult> RunClusterJob(const JobSpec& spec, const JobOptions& options, const SubmitOptions& submit,
                                std::string* job_id) {
  ClusterRun run = RunOnCluster(spec, options, submit, /*wait=*/true, nullptr);
  if (job_id != nullptr) *job_id = run.job_id;
  if (!run.follow.ok()) return Status(run.follow.code(), run.result.error);
  return std::move(run.result);
}

Result<JobResult> RejoinClusterStage(const SubmitOptions& submit) {
  ASSIGN_OR_RETURN(auto coord, Coordinator::Lease(submit));
  capnp::MallocMessageBuilder m;
  auto sub = m.initRoot<sp::CoordinatorRequest>().initSubmit();
  sub.setParentJob(submit.parent_job);
  sub.setMasterAttempt(submit.master_attempt);
  sub.setPlanVersion(sched::kProgramPlanVersion);
  sub.initStage().setKey(submit.stage.key);
  sub.initPartitioning().setKind(std::string(PartitionKindName(PartitionKind::kNone)));
  ASSIGN_OR_RETURN(auto reply, coord->client->Call(m));
  ClusterRun run;
  ASSIGN_OR_RETURN(run.job_id, SubmittedJobId(*reply));
  ASSIGN_OR_RETURN(auto final, sched::WaitForJob(*coord->client, run.job_id, submit.progress));
  RETURN_IF_ERROR(CatchCapnp("job status", [&] {
    FillResult(final->Root<sp::CoordinatorResponse>().getStatus(), &run);
    return Status::Ok();
  }));
  return std::move(run.result);
}

int SubmitJob(const JobSpec& spec, const JobOptions& options, const SubmitOptions& submit) {
  ClusterRun run = RunOnCluster(spec, options, submit, submit.wait, [&](const Submitted& s) {
    std::string chosen = s.reducers.automatic ? " (auto: " + AutoReducersBasis(s.reducers, "slots") + ")" : "";
    std::printf("submitted %s: %s, %zu maps, %d reduces%s; http://%s/job/%s\n", s.job_id.c_str(), spec.name.c_str(),
                s.maps, s.reduces, chosen.c_str(), s.coordinator_http.c_str(), s.job_id.c_str());
    std::fflush(stdout);
  });
  const JobResult& r = run.result;
  if (!run.follow.ok() || run.job_id.empty()) {
    std::fprintf(stderr, "error: %s\n", r.error.c_str());
    return run.follow.ok() ? r.exit_code : 1;
  }
  if (!submit.wait) return 0;
  if (!r.ok) std::fprintf(stderr, "error: %s\n", r.error.c_str());
  std::string user_counters;
  for (const auto& [name, value] : r.counters) {
    if (name.rfind("sawmill.", 0) != 0) user_counters += " " + name + "=" + std::to_string(value);
  }
  if (!user_counters.empty()) std::printf("counters:%s\n", user_counters.c_str());
  // Jobs with a tail reducer: what their map tasks sent it.
  std::string tail = ReducerSummaryFields(r.reducers, "slots");
  if (r.counters.count("sawmill.tail_bytes")) tail += " tail_bytes=" + std::to_string(r.tail_bytes);
  // A shuffle that recovered from map outputs it could not fetch or verify says so.
  for (const std::string name : {"fetch_failures", "map_reruns"}) {
    auto it = r.counters.find("sawmill." + name);
    if (it != r.counters.end() && it->second != 0) tail += " " + name + "=" + std::to_string(it->second);
  }
  std::printf("summary job=%s id=%s status=%s records_in=%llu records_out=%llu bytes_in=%llu bytes_out=%llu maps=%d "
              "reduces=%d seconds=%.3f mb_per_s=%.1f data_local_maps=%d failed_attempts=%d shuffle_bytes=%lld%s\n",
              spec.name.c_str(), run.job_id.c_str(), r.ok ? "ok" : "failed", static_cast<unsigned long long>(r.records_in),
              static_cast<unsigned long long>(r.records_out), static_cast<unsigned long long>(r.bytes_in),
              static_cast<unsigned long long>(r.bytes_out), r.map_tasks, r.reduce_tasks, r.seconds,
              r.seconds > 0 ? static_cast<double>(r.bytes_in) / 1e6 / r.seconds : 0.0, run.data_local_maps,
              run.failed_attempts, static_cast<long long>(r.shuffle_bytes), tail.c_str());
  std::fflush(stdout);
  return r.exit_code;
}

Result<SubmittedProgram> SubmitProgram(const ProgramSubmission& program, const SubmitOptions& submit) {
  PlanningStore store;
  RETURN_IF_ERROR(store.Open(submit));
  ASSIGN_OR_RETURN(auto coord, Coordinator::Lease(submit));
  auto sha = UploadSelf(store.get());
  if (!sha.ok()) return sha.status().WithContext("uploading the program's binary");
  capnp::MallocMessageBuilder m;
  auto sub = m.initRoot<sp::CoordinatorRequest>().initSubmit();
  sub.setName(program.name);
  sub.setBinarySha256(*sha);
  sub.setProgram(true);
  sub.setClientToken(SubmissionToken());
  sub.setPlanVersion(sched::kProgramPlanVersion);
  SetTexts(sub.initArgs(static_cast<unsigned>(submit.task_args.size())), submit.task_args);
  SetTexts(sub.initTaskFlags(static_cast<unsigned>(program.task_flags.size())), program.task_flags);
  SetTexts(sub.initInputs(static_cast<unsigned>(program.inputs.size())), program.inputs);
  sub.setOutput(program.output);
  sub.setScratchDir(program.scratch_dir);
  sub.initPartitioning().setKind(std::string(PartitionKindName(PartitionKind::kNone)));
  sub.setMaxAttempts(submit.max_attempts);
  sub.setTaskMemoryMb(submit.task_memory_mb);
  const char* user = std::getenv("USER");
  sub.setUser(user ? user : "");
  ASSIGN_OR_RETURN(auto reply, coord->client->Call(m));
  SubmittedProgram out;
  ASSIGN_OR_RETURN(out.job_id, SubmittedJobId(*reply));
  out.coordinator_http = coord->config.coordinator_http;
  return out;
}

Result<std::unique_ptr<CapnpReader>> FollowJob(const std::string& job_id, const SubmitOptions& submit) {
  ASSIGN_OR_RETURN(auto coord, Coordinator::Lease(submit));
  return sched::WaitForJob(*coord->client, job_id, submit.progress);
}

}  // namespace sawmill
