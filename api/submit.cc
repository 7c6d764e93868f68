#include "api/submit.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include <capnp/message.h>

#include "common/file.h"
#include "common/local_fs.h"
#include "common/sha256.h"
#include "dfs/client/connect_dfs.h"
#include "mapreduce/input_split.h"
#include "mapreduce/job_plan.h"
#include "mapreduce/record_file.h"
#include "scheduler/job_client.h"

namespace sawmill {
namespace {

namespace sp = sched::proto;

std::string Text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

int Reject(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 2;
}

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

// The running binary, in the store at /sawmill/binaries/<sha256> (uploaded once per content).
Result<std::string> UploadSelf(FileSystem* store) {
  const std::string self = "/proc/self/exe";
  ASSIGN_OR_RETURN(std::string sha, Sha256FileHex(self));
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

}  // namespace

int SubmitJob(const JobSpec& spec, const JobOptions& options_in, const SubmitOptions& submit) {
  JobOptions options = options_in;
  if (!spec.inputs.empty()) options.inputs = spec.inputs;
  if (!spec.has_mapper()) return Reject(InvalidArgument("job " + spec.name + " has no mapper"));
  if (options.inputs.empty()) return Reject(InvalidArgument("no --input given"));
  if (options.output.empty()) return Reject(InvalidArgument("no --output given"));
  if (spec.reducer && options.reducers < 1) return Reject(InvalidArgument("--reducers must be at least 1"));
  for (const auto& in : options.inputs) {
    if (!IsDfsPath(in)) return Reject(InvalidArgument("cluster jobs read dfs:/ paths; --input " + in + " is local"));
  }
  if (!IsDfsPath(options.output)) {
    return Reject(InvalidArgument("cluster jobs write dfs:/ paths; --output " + options.output + " is local"));
  }
  auto dfs = dfs::ConnectDfs(submit.cluster_dir);
  if (!dfs.ok()) return Reject(dfs.status());
  FileSystem* store = (*dfs)->client.get();
  SetDfs(std::shared_ptr<FileSystem>(store, [](FileSystem*) {}));
  struct Unset {
    ~Unset() { SetDfs(nullptr); }
  } unset;
  auto coord = sched::ConnectCoordinator(submit.cluster_dir);
  if (!coord.ok()) return Reject(coord.status());

  auto splits = ComputeJobSplits(spec, options.inputs, options.split_bytes);
  if (!splits.ok()) return Reject(splits.status());
  auto plan = PlanPartitioning(spec, options);
  if (!plan.ok()) return Reject(plan.status());
  TaskBudget budget = ComputeTaskBudget(options);
  auto sha = UploadSelf(store);
  if (!sha.ok()) {
    std::fprintf(stderr, "error: uploading the job binary: %s\n", sha.status().message().c_str());
    return 1;
  }

  capnp::MallocMessageBuilder m;
  auto sub = m.initRoot<sp::CoordinatorRequest>().initSubmit();
  sub.setName(spec.name);
  sub.setBinarySha256(*sha);
  std::vector<std::string> task_args = submit.task_args;
  task_args.insert(task_args.end(), spec.task_flags.begin(), spec.task_flags.end());
  auto args = sub.initArgs(static_cast<unsigned>(task_args.size()));
  for (unsigned i = 0; i < task_args.size(); ++i) args.set(i, task_args[i]);
  auto inputs = sub.initInputs(static_cast<unsigned>(options.inputs.size()));
  for (unsigned i = 0; i < options.inputs.size(); ++i) inputs.set(i, options.inputs[i]);
  sub.setOutput(options.output);
  sub.setOverwrite(options.overwrite);
  SplitHosts hosts(store);
  auto sl = sub.initSplits(static_cast<unsigned>(splits->size()));
  uint64_t input_bytes = 0;
  for (unsigned i = 0; i < splits->size(); ++i) {
    const InputSplit& s = (*splits)[i];
    sl[i].setPath(s.path);
    sl[i].setOffset(s.offset);
    sl[i].setLength(s.length);
    sl[i].setBytes(s.bytes);
    sl[i].setInputIndex(s.input_index);
    input_bytes += s.bytes;
    auto h = hosts.Of(s, spec.FormatOf(s.input_index));
    if (!h.ok()) return Reject(h.status());
    auto hl = sl[i].initHosts(static_cast<unsigned>(h->size()));
    for (unsigned k = 0; k < h->size(); ++k) hl.set(k, (*h)[k]);
  }
  auto part = sub.initPartitioning();
  part.setKind(plan->kind);
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
  const char* user = std::getenv("USER");
  sub.setUser(user ? user : "");

  auto reply = (*coord)->client->Call(m);
  if (!reply.ok()) return Reject(reply.status());
  std::string job_id;
  (void)CatchCapnp("submit response", [&] {
    job_id = Text((*reply)->Root<sp::CoordinatorResponse>().getSubmitted());
    return Status::Ok();
  });
  std::printf("submitted %s: %s, %zu maps, %d reduces; http://%s/job/%s\n", job_id.c_str(), spec.name.c_str(),
              splits->size(), plan->num_partitions, (*coord)->config.coordinator_http.c_str(), job_id.c_str());
  std::fflush(stdout);
  if (!submit.wait) return 0;
  auto final = sched::WaitForJob(*(*coord)->client, job_id, submit.progress);
  if (!final.ok()) {
    std::fprintf(stderr, "error: following %s: %s\n", job_id.c_str(), final.status().message().c_str());
    return 1;
  }
  int code = 1;
  (void)CatchCapnp("job status", [&] {
    auto s = (*final)->Root<sp::CoordinatorResponse>().getStatus();
    bool ok = Text(s.getState()) == "succeeded";
    code = ok ? 0 : 1;
    if (!ok) std::fprintf(stderr, "error: %s failed: %s\n", job_id.c_str(), Text(s.getError()).c_str());
    std::string user_counters;
    int64_t shuffle_bytes = 0;
    std::string tail;  // jobs with a tail reducer: what their map tasks sent it
    for (auto c : s.getCounters()) {
      std::string name = Text(c.getName());
      if (name == "sawmill.shuffle_bytes") shuffle_bytes = c.getValue();
      if (name == "sawmill.tail_bytes") tail = " tail_bytes=" + std::to_string(c.getValue());
      if (name.rfind("sawmill.", 0) != 0) user_counters += " " + name + "=" + std::to_string(c.getValue());
    }
    if (!user_counters.empty()) std::printf("counters:%s\n", user_counters.c_str());
    double secs = static_cast<double>(s.getElapsedMs()) / 1000;
    std::printf("summary job=%s id=%s status=%s records_in=%llu records_out=%llu bytes_in=%llu bytes_out=%llu maps=%d "
                "reduces=%d seconds=%.3f mb_per_s=%.1f data_local_maps=%d failed_attempts=%d shuffle_bytes=%lld%s\n",
                spec.name.c_str(), job_id.c_str(), ok ? "ok" : "failed",
                static_cast<unsigned long long>(s.getRecordsIn()), static_cast<unsigned long long>(s.getRecordsOut()),
                static_cast<unsigned long long>(s.getInputBytes()), static_cast<unsigned long long>(s.getBytesOut()),
                s.getMaps(), s.getReduces(), secs,
                secs > 0 ? static_cast<double>(s.getInputBytes()) / 1e6 / secs : 0.0, s.getDataLocalMaps(),
                s.getFailedAttempts(), static_cast<long long>(shuffle_bytes), tail.c_str());
    return Status::Ok();
  });
  std::fflush(stdout);
  return code;
}

}  // namespace sawmill
