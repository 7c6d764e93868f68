#include "scheduler/coordinator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "mapreduce/partition_kind.h"
#include "records/manifest.h"
#include "scheduler/attempt_id.h"
#include "scheduler/coordinator.capnp.h"
#include "scheduler/coordinator_client.h"
#include "scheduler/web_ui.h"

namespace sawmill::sched {
namespace {

namespace sp = proto;


int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string PartName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "part-%05d", i);
  return buf;
}

// The part a task writes, as a store path without the scheme.
std::string StorePath(const std::string& path) {
  return IsDfsPath(path) ? path.substr(kDfsScheme.size()) : path;
}

struct TaskResult {
  bool have = false;
  uint64_t records_in = 0, records_out = 0, bytes_out = 0, bytes_in = 0, spills = 0, groups = 0, tail_bytes = 0;
  std::map<std::string, int64_t> counters;
  std::string content_hash;
  bool sorted = false;
};

struct LogEntry {
  std::string host, stderr_tail;
};

}  // namespace

struct Coordinator::Impl {
  struct Worker {
    std::string id, host, address;
    int slots = 1;
    std::set<std::string> running;
    int64_t last_seen_ms = 0;
    uint64_t poll_conversation = 0;
    std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> launches;
    std::vector<std::string> kills, drop_jobs;
    std::map<std::string, uint64_t> sent_version;  // job -> map output version sent
  };
  struct Job {
    std::string id, name, output, staging;
    std::unique_ptr<capnp::MallocMessageBuilder> submission;
    PartitionKind kind = PartitionKind::kNone;  // the submission's partitioning
    std::vector<TaskResult> maps, reduces;
    int64_t submit_unix_ms = 0, submit_mono_ms = 0, end_mono_ms = 0;
    std::string state = "running", error;
    uint64_t map_output_version = 1;
    std::map<std::string, LogEntry> logs;
    bool finished = false;
    std::unique_ptr<capnp::MallocMessageBuilder> record;  // final JobRecord once finished
    sp::JobSubmission::Reader sub() { return submission->getRoot<sp::JobSubmission>().asReader(); }
  };

  CoordinatorOptions opt;
  FileSystem* store;
  Scheduler sched;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::map<std::string, Worker> workers;
  std::map<std::string, std::unique_ptr<Job>> jobs;  // every job this run knows (finished ones keep a record)
  std::vector<std::string> job_order;
  int next_job = 1, next_worker = 1;
  std::atomic<uint64_t> next_conversation{1};
  int64_t started_unix_ms = UnixMs();
  std::thread ticker;

  Impl(CoordinatorOptions o, FileSystem* s) : opt(std::move(o)), store(s) {}

  std::string HistoryDir() const { return JoinPath(opt.dir, "history"); }

  // ---- history ----

  Status LoadHistory() {
    RETURN_IF_ERROR(MakeDirs(HistoryDir()));
    ASSIGN_OR_RETURN(auto names, ListDir(HistoryDir()));
    std::vector<std::pair<int, std::string>> found;
    for (const auto& n : names) {
      if (n.size() < 5 || n.substr(n.size() - 4) != ".job") continue;
      int num = ParseJobNumber(std::string_view(n).substr(0, n.size() - 4));
      if (num < 0) continue;
      found.emplace_back(num, n);
    }
    std::sort(found.begin(), found.end());
    for (const auto& [num, n] : found) {
      next_job = std::max(next_job, num + 1);
      std::string bytes;
      const std::string path = JoinPath(HistoryDir(), n);
      if (Status s = ReadFileToString(path, &bytes); !s.ok()) {
        LOG(WARNING) << "history: " << s.ToString();
        continue;
      }
      auto reader = CapnpReader::Parse(bytes);
      if (!reader.ok()) {
        LOG(WARNING) << "history: " << path << ": " << reader.status().ToString();
        continue;
      }
      auto job = std::make_unique<Job>();
      Status s = CatchCapnp(path, [&]() -> Status {
        auto rec = (*reader)->Root<sp::JobRecord>();
        // Status pages read these texts later, outside any CatchCapnp: a damaged file must
        // fail here, where it is only skipped.
        for (auto t : {rec.getStatus().getJobId(), rec.getStatus().getName(), rec.getStatus().getState(),
                       rec.getStatus().getError(), rec.getStatus().getOutput()}) {
          (void)t;
        }
        for (auto c : rec.getStatus().getCounters()) (void)c.getName();
        for (auto a : rec.getStatus().getAttempts()) {
          for (auto t : {a.getAttemptId(), a.getWorker(), a.getHost(), a.getState(), a.getError()}) (void)t;
        }
        for (auto l : rec.getLogs()) {
          for (auto t : {l.getAttemptId(), l.getHost(), l.getState(), l.getStderr()}) (void)t;
        }
        job->record = std::make_unique<capnp::MallocMessageBuilder>();
        job->record->setRoot(rec);
        auto st = job->record->getRoot<sp::JobRecord>().getStatus();
        job->id = Text(st.getJobId());
        job->state = Text(st.getState());
        if (job->state == "running" || job->state == "committing") {
          st.setState("failed");
          st.setError("the coordinator restarted while the job ran");
          job->state = "failed";
          return WriteRecordFile(*job);
        }
        return Status::Ok();
      });
      if (!s.ok()) {
        LOG(WARNING) << "history: " << s.ToString();
        continue;
      }
      job->finished = true;
      job_order.push_back(job->id);
      jobs[job->id] = std::move(job);
    }
    LOG(INFO) << "history: " << jobs.size() << " jobs; next id " << JobId(next_job);
    return Status::Ok();
  }

  Status WriteRecordFile(Job& job) {
    const std::string path = JoinPath(HistoryDir(), job.id + ".job");
    RETURN_IF_ERROR(WriteStringToFile(path + ".tmp", CapnpToString(*job.record)));
    return Rename(path + ".tmp", path);
  }

  // Snapshot of a live job into job.record (status with attempts, and logs), persisted.
  Status SaveRecord(Job& job) {
    job.record = std::make_unique<capnp::MallocMessageBuilder>();
    auto rec = job.record->initRoot<sp::JobRecord>();
    rec.setStatus(Root(StatusMessage(job, true)));
    FillLogs(job, rec.initLogs(static_cast<unsigned>(job.logs.size())));
    return WriteRecordFile(job);
  }

  // The stderr tails of a live job's attempts, each with its state (one snapshot for all).
  void FillLogs(Job& job, capnp::List<sp::AttemptLog>::Builder logs) {
    std::map<std::string, std::string> states;
    if (auto snap = sched.Snapshot(job.id)) {
      for (const auto& a : snap->attempts) states[a.attempt_id] = AttemptStateName(a.state);
    }
    unsigned i = 0;
    for (const auto& [id, e] : job.logs) {
      auto state = states.find(id);
      logs[i].setAttemptId(id);
      logs[i].setHost(e.host);
      logs[i].setState(state == states.end() ? "unknown" : state->second);
      logs[i].setStderr(e.stderr_tail);
      ++i;
    }
  }

  // ---- status ----

  // The job's status as a message of its own (a finished job's is the recorded one).
  std::unique_ptr<capnp::MallocMessageBuilder> StatusMessage(Job& job, bool with_attempts) {
    auto m = std::make_unique<capnp::MallocMessageBuilder>();
    if (job.finished && job.record) {
      m->setRoot(job.record->getRoot<sp::JobRecord>().getStatus().asReader());
      if (!with_attempts) m->getRoot<sp::JobStatus>().disownAttempts();
    } else {
      FillLive(job, m->initRoot<sp::JobStatus>(), with_attempts);
    }
    return m;
  }
  static sp::JobStatus::Reader Root(const std::unique_ptr<capnp::MallocMessageBuilder>& m) {
    return m->getRoot<sp::JobStatus>().asReader();
  }

  void FillLive(Job& job, sp::JobStatus::Builder st, bool with_attempts) {
    auto sub = job.sub();
    st.setJobId(job.id);
    st.setName(job.name);
    st.setState(job.state);
    st.setError(job.error);
    st.setOutput(job.output);
    st.setSubmitUnixMs(job.submit_unix_ms);
    st.setElapsedMs((job.end_mono_ms ? job.end_mono_ms : MonoMs()) - job.submit_mono_ms);
    st.setInputBytes(sub.getInputBytes());
    auto snap = sched.Snapshot(job.id);
    if (!snap) return;
    if (!snap->error.empty() && job.error.empty()) st.setError(snap->error);
    st.setMaps(snap->maps);
    st.setMapsDone(snap->maps_done);
    st.setMapsRunning(snap->maps_running);
    st.setReduces(snap->reduces);
    st.setReducesDone(snap->reduces_done);
    st.setReducesRunning(snap->reduces_running);
    st.setDataLocalMaps(snap->data_local_maps);
    st.setRemoteMaps(snap->remote_maps);
    st.setFailedAttempts(snap->failed_attempts);
    st.setKilledAttempts(snap->killed_attempts);
    st.setSpeculativeAttempts(snap->speculative_attempts);
    uint64_t bytes_read = 0, records_in = 0, records_out = 0, bytes_out = 0;
    std::map<std::string, int64_t> counters = Counters(job);
    for (const auto& m : job.maps) {
      bytes_read += m.bytes_in;
      records_in += m.records_in;
    }
    for (const auto* tasks : {&job.maps, &job.reduces}) {
      if (tasks == &job.maps ? !MapsWriteParts(job.kind) : job.kind == PartitionKind::kNone) continue;
      for (const auto& t : *tasks) {
        records_out += t.records_out;
        bytes_out += t.bytes_out;
      }
    }
    st.setBytesRead(bytes_read);
    st.setRecordsIn(records_in);
    st.setRecordsOut(records_out);
    st.setBytesOut(bytes_out);
    auto cl = st.initCounters(static_cast<unsigned>(counters.size()));
    unsigned i = 0;
    for (const auto& [k, v] : counters) {
      cl[i].setName(k);
      cl[i].setValue(v);
      ++i;
    }
    if (!with_attempts) return;
    auto al = st.initAttempts(static_cast<unsigned>(snap->attempts.size()));
    for (unsigned k = 0; k < snap->attempts.size(); ++k) {
      const AttemptInfo& a = snap->attempts[k];
      al[k].setAttemptId(a.attempt_id);
      al[k].setReduce(a.reduce);
      al[k].setTask(a.task);
      al[k].setAttempt(a.attempt);
      al[k].setWorker(a.worker);
      al[k].setHost(a.host);
      al[k].setState(AttemptStateName(a.state));
      al[k].setStartMs(a.start_ms - job.submit_mono_ms);
      al[k].setEndMs(a.end_ms ? a.end_ms - job.submit_mono_ms : 0);
      al[k].setLocal(a.local);
      al[k].setSpeculative(a.speculative);
      al[k].setError(a.error);
    }
  }

  std::map<std::string, int64_t> Counters(Job& job) {
    std::map<std::string, int64_t> c;
    uint64_t map_out = 0, groups = 0, spills = 0, shuffle = 0, tail = 0;
    const PartitionKind kind = job.kind;
    bool map_only = kind == PartitionKind::kNone;
    for (const auto& m : job.maps) {
      for (const auto& [k, v] : m.counters) c[k] += v;
      map_out += m.records_out;
      spills += m.spills;
      if (!MapsWriteParts(kind)) shuffle += m.bytes_out;
      tail += m.tail_bytes;
    }
    for (const auto& r : job.reduces) {
      for (const auto& [k, v] : r.counters) c[k] += v;
      groups += r.groups;
      spills += r.spills;
    }
    c["sawmill.map_output_records"] = static_cast<int64_t>(map_out);
    if (!map_only) c["sawmill.reduce_groups"] = static_cast<int64_t>(groups);
    c["sawmill.spills"] = static_cast<int64_t>(spills);
    c["sawmill.shuffle_bytes"] = static_cast<int64_t>(shuffle);
    if (kind == PartitionKind::kTail) c["sawmill.tail_bytes"] = static_cast<int64_t>(tail);
    return c;
  }

  // ---- requests ----

  void Serve(Connection& conn) {
    const uint64_t conversation = next_conversation.fetch_add(1);
    std::string polled_as;  // the worker whose polls this conversation carries
    while (true) {
      auto msg = conn.Receive();
      if (!msg.ok()) break;
      capnp::MallocMessageBuilder reply;
      auto resp = reply.initRoot<sp::CoordinatorResponse>();
      auto reader = CapnpReader::Parse(msg->header);
      Status s = reader.ok() ? CatchCapnp("coordinator request", [&]() -> Status {
        return Dispatch((*reader)->Root<sp::CoordinatorRequest>(), resp, conversation, &polled_as);
      })
                             : reader.status();
      if (!s.ok()) SetError(resp.initError(), s);
      if (!conn.Send(CapnpToString(reply)).ok()) break;
    }
    if (!polled_as.empty()) {
      std::lock_guard<std::mutex> l(mu);
      auto it = workers.find(polled_as);
      // A worker's poll connection closing means the process is gone (SIGKILL closes sockets).
      if (it != workers.end() && it->second.poll_conversation == conversation) {
        LostWorker(polled_as, "worker " + it->second.host + " (" + polled_as + ") disconnected");
      }
    }
  }

  Status Dispatch(sp::CoordinatorRequest::Reader req, sp::CoordinatorResponse::Builder resp, uint64_t conversation,
                  std::string* polled_as) {
    switch (req.which()) {
      case sp::CoordinatorRequest::REGISTER: {
        auto r = req.getRegister();
        std::lock_guard<std::mutex> l(mu);
        Worker w;
        w.id = "w" + std::to_string(next_worker++) + "-" + Text(r.getHost());
        w.host = Text(r.getHost());
        w.address = Text(r.getShuffleAddress());
        w.slots = std::max(1, r.getSlots());
        w.last_seen_ms = MonoMs();
        sched.AddWorker(w.id, w.host, w.slots);
        LOG(INFO) << "worker " << w.id << " registered: host " << w.host << ", shuffle " << w.address << ", "
                  << w.slots << " slots";
        resp.setRegistered(w.id);
        workers[w.id] = std::move(w);
        Schedule();
        return Status::Ok();
      }
      case sp::CoordinatorRequest::POLL: {
        auto p = req.getPoll();
        *polled_as = Text(p.getWorkerId());
        return Poll(*polled_as, p.getWaitMs(), conversation, resp.initOrders());
      }
      case sp::CoordinatorRequest::REPORT:
        resp.setNone();
        return Report(req.getReport());
      case sp::CoordinatorRequest::SUBMIT: {
        std::string id;
        RETURN_IF_ERROR(Submit(req.getSubmit(), &id));
        resp.setSubmitted(id);
        return Status::Ok();
      }
      case sp::CoordinatorRequest::STATUS: {
        std::lock_guard<std::mutex> l(mu);
        auto it = jobs.find(Text(req.getStatus()));
        if (it == jobs.end()) return NotFound("no job " + Text(req.getStatus()));
        resp.setStatus(Root(StatusMessage(*it->second, true)));
        return Status::Ok();
      }
      case sp::CoordinatorRequest::LIST: {
        std::lock_guard<std::mutex> l(mu);
        auto list = resp.initList(static_cast<unsigned>(job_order.size()));
        for (unsigned i = 0; i < job_order.size(); ++i) {
          list.setWithCaveats(i, Root(StatusMessage(*jobs[job_order[i]], false)));
        }
        return Status::Ok();
      }
      case sp::CoordinatorRequest::KILL: {
        std::lock_guard<std::mutex> l(mu);
        const std::string id = Text(req.getKill());
        auto it = jobs.find(id);
        if (it == jobs.end()) return NotFound("no job " + id);
        if (it->second->finished) return InvalidArgument("job " + id + " already " + it->second->state);
        sched.KillJob(id, "killed by a user", MonoMs());
        ReapJobs();
        Schedule();
        resp.setNone();
        return Status::Ok();
      }
      case sp::CoordinatorRequest::LOGS: {
        std::lock_guard<std::mutex> l(mu);
        const std::string id = Text(req.getLogs());
        auto it = jobs.find(id);
        if (it == jobs.end()) return NotFound("no job " + id);
        Job& job = *it->second;
        if (job.finished && job.record) {
          resp.setLogs(job.record->getRoot<sp::JobRecord>().getLogs().asReader());
          return Status::Ok();
        }
        FillLogs(job, resp.initLogs(static_cast<unsigned>(job.logs.size())));
        return Status::Ok();
      }
      case sp::CoordinatorRequest::WORKERS: {
        std::lock_guard<std::mutex> l(mu);
        auto list = resp.initWorkers(static_cast<unsigned>(workers.size()));
        unsigned i = 0;
        for (const auto& [id, w] : workers) {
          list[i].setId(id);
          list[i].setHost(w.host);
          list[i].setShuffleAddress(w.address);
          list[i].setSlots(w.slots);
          list[i].setRunning(static_cast<int32_t>(w.running.size()));
          ++i;
        }
        return Status::Ok();
      }
      default:
        return InvalidArgument("unknown coordinator request");
    }
  }

  // The submission is kept and read again later (launches on the tick thread, commit, status)
  // outside any CatchCapnp: every field is read once here, so that a malformed one (a pointer of
  // the wrong kind, a text without its NUL) fails this request instead of the coordinator.
  static void CheckSubmission(sp::JobSubmission::Reader sub) {
    (void)sub.getName();
    (void)sub.getUser();
    for (auto a : sub.getArgs()) (void)a;
    for (auto in : sub.getInputs()) (void)in;
    for (auto split : sub.getSplits()) {
      (void)split.getPath();
      for (auto h : split.getHosts()) (void)h;
    }
    auto p = sub.getPartitioning();
    (void)p.getKind();
    for (auto point : p.getSplitPoints()) (void)point;
  }

  Status Submit(sp::JobSubmission::Reader sub, std::string* id_out) {
    CheckSubmission(sub);  // throws on a malformed submission: Dispatch's CatchCapnp answers it
    const std::string output = Text(sub.getOutput());
    if (!IsDfsPath(output)) {
      return InvalidArgument("the output of a cluster job must be a dfs:/ path, not " + output);
    }
    const std::string sha = Text(sub.getBinarySha256());
    if (sha.size() != 64) return InvalidArgument("bad binary hash '" + sha + "'");
    if (!store->Stat("/sawmill/binaries/" + sha).ok()) {
      return NotFound("job binary " + sha + " is not in the store (dfs:/sawmill/binaries/); submit uploads it first");
    }
    for (auto in : sub.getInputs()) {
      const std::string path = Text(in);
      if (path.rfind("logs:", 0) == 0) continue;  // a log selection: submit resolved it to segments (the splits)
      if (!IsDfsPath(path)) return InvalidArgument("cluster jobs read dfs:/ paths; input " + path + " is local");
      if (!store->Stat(StorePath(path)).ok()) return NotFound("input " + path + " does not exist");
    }
    std::string out = StorePath(output);
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    if (out == "/" || out.empty()) return InvalidArgument("output " + output + " is the root");
    if (store->Stat(out).ok() && !sub.getOverwrite()) {
      return AlreadyExists("output " + output + " exists (pass --overwrite to replace it)");
    }
    ASSIGN_OR_RETURN(const PartitionKind kind, ParsePartitionKind(Text(sub.getPartitioning().getKind())));
    bool map_only = kind == PartitionKind::kNone;
    int reduces = map_only ? 0 : sub.getPartitioning().getNumPartitions();
    if (!map_only && reduces < 1) return InvalidArgument("a job with a reducer needs at least one partition");
    if (kind == PartitionKind::kTail && reduces != 1) {
      return InvalidArgument("a job with a tail reducer has one tail partition, not " + std::to_string(reduces));
    }
    // Every task costs bookkeeping up front (here and in the Scheduler): a count no cluster
    // runs is a bad request, not an allocation to attempt.
    constexpr size_t kMaxTasks = 100000;
    if (static_cast<size_t>(reduces) > kMaxTasks || sub.getSplits().size() > kMaxTasks) {
      return InvalidArgument("job asks for " + std::to_string(sub.getSplits().size()) + " maps and " +
                             std::to_string(reduces) + " reduces; at most " + std::to_string(kMaxTasks) + " of each");
    }

    std::lock_guard<std::mutex> l(mu);
    auto job = std::make_unique<Job>();
    job->id = JobId(next_job++);
    job->name = Text(sub.getName());
    job->output = "dfs:" + out;
    std::string parent = Dirname(out);
    if (parent.empty()) parent = "/";
    job->staging = JoinPath(parent, "." + Basename(out) + ".staging-" + job->id);
    job->submission = std::make_unique<capnp::MallocMessageBuilder>();
    job->submission->setRoot(sub);
    job->kind = kind;
    job->maps.resize(sub.getSplits().size());
    job->reduces.resize(static_cast<size_t>(reduces));
    job->submit_unix_ms = UnixMs();
    job->submit_mono_ms = MonoMs();
    RETURN_IF_ERROR(store->Mkdirs(JoinPath(job->staging, "_temporary")));
    JobPlan plan;
    plan.job_id = job->id;
    for (auto split : sub.getSplits()) {
      std::vector<std::string> hosts;
      for (auto h : split.getHosts()) hosts.push_back(Text(h));
      plan.map_hosts.push_back(std::move(hosts));
    }
    plan.reduces = reduces;
    plan.options = opt.scheduler;
    if (sub.getMaxAttempts() > 0) plan.options.max_attempts = sub.getMaxAttempts();
    plan.options.speculation = opt.scheduler.speculation && sub.getSpeculation();
    RETURN_IF_ERROR(sched.AddJob(plan, MonoMs()));
    LOG(INFO) << "job " << job->id << " (" << job->name << ") submitted: " << plan.map_hosts.size() << " maps, "
              << reduces << " reduces, output " << job->output;
    *id_out = job->id;
    Job& j = *job;
    job_order.push_back(job->id);
    jobs[job->id] = std::move(job);
    if (Status s = SaveRecord(j); !s.ok()) LOG(WARNING) << "history: " << s.ToString();
    j.record.reset();
    ReapJobs();  // a job with no tasks at all is done at once
    Schedule();
    return Status::Ok();
  }

  Status Poll(const std::string& worker_id, uint32_t wait_ms, uint64_t conversation, sp::Orders::Builder orders) {
    std::unique_lock<std::mutex> l(mu);
    auto it = workers.find(worker_id);
    if (it == workers.end()) {
      orders.setReregister(true);
      return Status::Ok();
    }
    it->second.poll_conversation = conversation;
    it->second.last_seen_ms = MonoMs();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min<uint32_t>(wait_ms, 30000));
    cv.wait_until(l, deadline, [&] {
      auto w = workers.find(worker_id);
      return stopping || w == workers.end() || HasOrders(w->second);
    });
    it = workers.find(worker_id);
    if (it == workers.end()) {
      orders.setReregister(true);
      return Status::Ok();
    }
    Worker& w = it->second;
    w.last_seen_ms = MonoMs();
    auto launch = orders.initLaunch(static_cast<unsigned>(w.launches.size()));
    for (unsigned i = 0; i < w.launches.size(); ++i) launch.setWithCaveats(i, w.launches[i]->getRoot<sp::AttemptLaunch>().asReader());
    w.launches.clear();
    auto kills = orders.initKill(static_cast<unsigned>(w.kills.size()));
    for (unsigned i = 0; i < w.kills.size(); ++i) kills.set(i, w.kills[i]);
    w.kills.clear();
    std::vector<std::string> jobs_to_send = OutputJobsToSend(w);
    auto mo = orders.initMapOutputs(static_cast<unsigned>(jobs_to_send.size()));
    for (unsigned i = 0; i < jobs_to_send.size(); ++i) {
      const std::string& job_id = jobs_to_send[i];
      auto outs = sched.MapOutputs(job_id);
      mo[i].setJobId(job_id);
      auto list = mo[i].initOutputs(static_cast<unsigned>(outs.size()));
      for (unsigned k = 0; k < outs.size(); ++k) {
        list[k].setMap(outs[k].map);
        list[k].setAttemptId(outs[k].attempt_id);
        auto wit = workers.find(outs[k].worker);
        list[k].setAddress(wit == workers.end() ? "" : wit->second.address);
      }
      w.sent_version[job_id] = jobs[job_id]->map_output_version;
    }
    auto drops = orders.initDropJobs(static_cast<unsigned>(w.drop_jobs.size()));
    for (unsigned i = 0; i < w.drop_jobs.size(); ++i) drops.set(i, w.drop_jobs[i]);
    w.drop_jobs.clear();
    return Status::Ok();
  }

  // Jobs with a reduce attempt on `w` whose map outputs changed since `w` last heard of them.
  std::vector<std::string> OutputJobsToSend(Worker& w) {
    std::set<std::string> out;
    for (const auto& a : w.running) {
      AttemptName n;
      if (!ParseAttemptId(a, &n) || !n.reduce) continue;
      auto j = jobs.find(n.job);
      if (j == jobs.end() || j->second->finished) continue;
      if (w.sent_version[n.job] != j->second->map_output_version) out.insert(n.job);
    }
    return {out.begin(), out.end()};
  }

  bool HasOrders(Worker& w) {
    return !w.launches.empty() || !w.kills.empty() || !w.drop_jobs.empty() || !OutputJobsToSend(w).empty();
  }

  Status Report(sp::Report::Reader r) {
    std::lock_guard<std::mutex> l(mu);
    const std::string worker_id = Text(r.getWorkerId());
    auto wit = workers.find(worker_id);
    if (wit == workers.end()) return NotFound("unknown worker " + worker_id + " (register again)");
    Worker& w = wit->second;
    w.last_seen_ms = MonoMs();
    const int64_t now = MonoMs();
    for (auto u : r.getUpdates()) {
      const std::string attempt_id = Text(u.getAttemptId());
      w.running.erase(attempt_id);
      AttemptName n;
      if (!ParseAttemptId(attempt_id, &n)) continue;
      auto jit = jobs.find(n.job);
      if (jit == jobs.end() || jit->second->finished) continue;
      Job& job = *jit->second;
      job.logs[attempt_id] = LogEntry{w.host, Text(u.getStderrTail())};
      auto res = u.getResult();
      if (!res.getOk()) {
        std::string error = Text(res.getError());
        if (error.empty()) error = "failed without saying why";
        sched.AttemptFailed(attempt_id, error + " (on " + w.host + ")", now);
        continue;
      }
      if (!sched.AttemptSucceeded(attempt_id, now)) {
        DiscardAttempt(job, n);
        continue;
      }
      bool map_only = job.kind == PartitionKind::kNone;
      if (n.reduce || MapsWriteParts(job.kind)) {
        int part = PartIndex(job, n.reduce, n.task);
        const std::string from = JoinPath(JoinPath(JoinPath(job.staging, "_temporary"), n.dir), PartName(part));
        const std::string to = JoinPath(job.staging, PartName(part));
        // A tail job reruns a committed map whose tail output was lost with its worker; its part,
        // deterministic, is already in place.
        Status s = !n.reduce && job.kind == PartitionKind::kTail && store->Stat(to).ok() ? Status::Ok() : store->Rename(from, to);
        if (!s.ok()) {
          sched.KillJob(job.id, "committing " + attempt_id + ": " + s.ToString(), now);
          continue;
        }
        DiscardAttempt(job, n);
      }
      auto& results = n.reduce ? job.reduces : job.maps;
      if (n.task < 0 || static_cast<size_t>(n.task) >= results.size()) continue;
      TaskResult& t = results[n.task];
      t.have = true;
      t.records_in = res.getRecordsIn();
      t.records_out = res.getRecordsOut();
      t.bytes_out = res.getBytesOut();
      t.bytes_in = res.getBytesIn();
      t.spills = res.getSpills();
      t.groups = res.getGroups();
      t.content_hash = Text(res.getContentHash());
      t.sorted = res.getSorted();
      t.tail_bytes = res.getTailBytes();
      t.counters.clear();
      for (auto c : res.getCounters()) t.counters[Text(c.getName())] += c.getValue();
      if (!n.reduce && !map_only) ++job.map_output_version;
    }
    for (auto f : r.getFetchFailures()) {
      LOG(WARNING) << Text(f.getReduceAttemptId()) << " could not fetch map " << f.getMap() << ": " << Text(f.getError());
      sched.FetchFailed(Text(f.getReduceAttemptId()), f.getMap(), now, Text(f.getMapAttemptId()));
      AttemptName n;
      if (ParseAttemptId(Text(f.getReduceAttemptId()), &n) && jobs.count(n.job)) ++jobs[n.job]->map_output_version;
    }
    ReapJobs();
    Schedule();
    return Status::Ok();
  }

  // The part an attempt writes: a map's or reduce's own index, but the tail's follows the maps'.
  static int PartIndex(Job& job, bool reduce, int task) {
    bool tail = reduce && job.kind == PartitionKind::kTail;
    return tail ? static_cast<int>(job.sub().getSplits().size()) : task;
  }

  // Removes what a losing or committed attempt left under _temporary (best effort).
  void DiscardAttempt(Job& job, const AttemptName& n) {
    (void)store->Delete(JoinPath(JoinPath(job.staging, "_temporary"), n.dir), true);
  }

  // ---- scheduling ----

  // Hands out work to every live worker with free slots, and kill orders. Under mu.
  void Schedule() {
    const int64_t now = MonoMs();
    for (auto& [id, w] : workers) {
      int free = w.slots - static_cast<int>(w.running.size());
      if (free > 0) {
        for (const Assignment& a : sched.Assign(id, free, now)) {
          auto jit = jobs.find(a.job_id);
          if (jit == jobs.end()) continue;
          w.launches.push_back(BuildLaunch(*jit->second, a));
          w.running.insert(a.attempt_id);
        }
      }
      for (auto& k : sched.TakeKills(id)) {
        // Not sent yet: withdrawing the launch is the kill.
        auto queued = std::find_if(w.launches.begin(), w.launches.end(), [&](const auto& m) {
          return Text(m->template getRoot<sp::AttemptLaunch>().getAttemptId()) == k;
        });
        if (queued != w.launches.end()) {
          w.launches.erase(queued);
          w.running.erase(k);
        } else {
          w.kills.push_back(std::move(k));
        }
      }
    }
    cv.notify_all();
  }

  std::unique_ptr<capnp::MallocMessageBuilder> BuildLaunch(Job& job, const Assignment& a) {
    auto m = std::make_unique<capnp::MallocMessageBuilder>();
    auto l = m->initRoot<sp::AttemptLaunch>();
    auto sub = job.sub();
    l.setJobId(job.id);
    l.setAttemptId(a.attempt_id);
    l.setBinarySha256(sub.getBinarySha256());
    l.setArgs(sub.getArgs());
    l.setMapCount(static_cast<int32_t>(sub.getSplits().size()));
    l.setTimeoutMs(sub.getTaskTimeoutMs() ? sub.getTaskTimeoutMs() : opt.task_timeout_ms);
    l.setMemoryMb(sub.getTaskMemoryMb() ? sub.getTaskMemoryMb() : opt.task_memory_mb);
    auto s = l.initSpec();
    s.setJobId(job.id);
    s.setAttemptId(a.attempt_id);
    s.setReduce(a.reduce);
    s.setTaskIndex(PartIndex(job, a.reduce, a.task));
    s.setAttempt(a.attempt);
    s.setJobSeed(sub.getSeed());
    if (!a.reduce) s.setSplit(sub.getSplits()[static_cast<unsigned>(a.task)]);
    s.setPartitioning(sub.getPartitioning());
    s.setMemoryBytes(sub.getMemoryBytes());
    s.setMergeFactor(sub.getMergeFactor());
    s.setBlockBytes(sub.getBlockBytes());
    s.setOutputReplication(sub.getOutputReplication());
    s.setNamenode(opt.namenode_address);
    if (a.reduce || MapsWriteParts(job.kind)) {
      AttemptName n;
      ParseAttemptId(a.attempt_id, &n);
      s.setOutputPath("dfs:" + JoinPath(JoinPath(JoinPath(job.staging, "_temporary"), n.dir),
                                        PartName(PartIndex(job, a.reduce, a.task))));
    }
    return m;
  }

  void LostWorker(const std::string& id, const std::string& reason) {
    auto it = workers.find(id);
    if (it == workers.end()) return;
    LOG(WARNING) << "lost " << reason;
    sched.RemoveWorker(id, reason, MonoMs());
    for (auto& [jid, job] : jobs) ++job->map_output_version;
    workers.erase(it);
    ReapJobs();
    Schedule();
  }

  // Commits jobs whose tasks are all done and closes failed ones. Under mu.
  void ReapJobs() {
    for (const std::string& id : job_order) {
      Job& job = *jobs[id];
      if (job.finished) continue;
      auto snap = sched.Snapshot(id);
      if (!snap) continue;
      if (snap->state == JobState::kTasksDone) {
        job.state = "committing";
        Status s = CommitJob(job);
        sched.FinishJob(id, s.ok(), s.ok() ? "" : "commit: " + s.ToString(), MonoMs());
        snap = sched.Snapshot(id);
      }
      if (snap->state == JobState::kSucceeded || snap->state == JobState::kFailed) {
        job.state = snap->state == JobState::kSucceeded ? "succeeded" : "failed";
        job.error = snap->error;
        job.end_mono_ms = MonoMs();
        if (job.state == "failed") (void)store->Delete(job.staging, true);
        LOG(INFO) << "job " << id << " " << job.state << (job.error.empty() ? "" : ": " + job.error) << " in "
                  << (job.end_mono_ms - job.submit_mono_ms) << " ms";
        if (Status s = SaveRecord(job); !s.ok()) LOG(WARNING) << "history: " << s.ToString();
        job.finished = true;
        // What status and logs need now lives in job.record; the per-task results go.
        std::vector<TaskResult>().swap(job.maps);
        std::vector<TaskResult>().swap(job.reduces);
        job.logs.clear();
        for (auto& [wid, w] : workers) w.drop_jobs.push_back(id);
        sched.DropJob(id);
      }
    }
  }

  Status CommitJob(Job& job) {
    auto sub = job.sub();
    const PartitionKind kind = job.kind;
    Manifest m;
    m.job_name = job.name;
    for (auto in : sub.getInputs()) m.inputs.push_back(Text(in));
    m.partitioner = PartitionKindName(kind);
    for (auto p : sub.getPartitioning().getSplitPoints()) m.split_points.emplace_back(p.asChars().begin(), p.size());
    std::vector<TaskResult> outs;
    if (MapsWriteParts(kind)) outs = job.maps;
    if (kind != PartitionKind::kNone) outs.insert(outs.end(), job.reduces.begin(), job.reduces.end());
    m.num_partitions = static_cast<int32_t>(outs.size());
    m.sorted = !MapsWriteParts(kind);
    for (size_t i = 0; i < outs.size(); ++i) {
      m.sorted = m.sorted && outs[i].sorted;
      m.parts.push_back({PartName(static_cast<int>(i)), static_cast<int32_t>(i), outs[i].records_out, outs[i].bytes_out,
                         outs[i].content_hash});
    }
    m.total_order = kind == PartitionKind::kRange && m.sorted;
    for (const auto& [k, v] : Counters(job)) {
      if (k.rfind("sawmill.", 0) != 0) m.counters[k] = v;
    }
    RETURN_IF_ERROR(store->Delete(JoinPath(job.staging, "_temporary"), true));
    RETURN_IF_ERROR(WriteManifest("dfs:" + JoinPath(job.staging, kManifestName), m));
    const std::string out = StorePath(job.output);
    if (store->Stat(out).ok()) {
      // The store has no exchange: readers may briefly find no output between the two renames.
      const std::string old = job.staging + ".old";
      RETURN_IF_ERROR(store->Rename(out, old));
      RETURN_IF_ERROR(store->Rename(job.staging, out));
      (void)store->Delete(old, true);
    } else {
      RETURN_IF_ERROR(store->Rename(job.staging, out));
    }
    return Status::Ok();
  }

  void TickLoop() {
    std::unique_lock<std::mutex> l(mu);
    while (!stopping) {
      cv.wait_for(l, std::chrono::milliseconds(opt.tick_ms));
      if (stopping) break;
      const int64_t now = MonoMs();
      sched.Tick(now);
      std::vector<std::string> silent;
      for (auto& [id, w] : workers) {
        if (now - w.last_seen_ms > opt.worker_timeout_ms) silent.push_back(id);
      }
      for (const auto& id : silent) LostWorker(id, "worker " + id + " silent for " + std::to_string(opt.worker_timeout_ms) + " ms");
      ReapJobs();
      Schedule();
    }
  }
};

Coordinator::Coordinator(CoordinatorOptions options, FileSystem* store)
    : impl_(std::make_unique<Impl>(std::move(options), store)) {}

Coordinator::~Coordinator() { Stop(); }

Status Coordinator::Start() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    RETURN_IF_ERROR(impl_->LoadHistory());
  }
  Impl* i = impl_.get();
  i->ticker = std::thread([i] { i->TickLoop(); });
  return Status::Ok();
}

Handler Coordinator::handler() {
  Impl* i = impl_.get();
  return [i](Connection& conn) { i->Serve(conn); };
}

void Coordinator::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->ticker.joinable()) impl_->ticker.join();
}

nlohmann::json Coordinator::ClusterJson() {
  Impl* i = impl_.get();
  std::lock_guard<std::mutex> l(i->mu);
  const int64_t now = MonoMs();
  nlohmann::json doc;
  doc["now_ms"] = UnixMs();
  doc["coordinator"] = {{"address", i->opt.address}, {"started_ms", i->started_unix_ms}};
  doc["workers"] = nlohmann::json::array();
  for (const auto& [id, w] : i->workers) {
    doc["workers"].push_back({{"id", id},
                              {"host", w.host},
                              {"address", w.address},
                              {"slots", w.slots},
                              {"running", w.running.size()},
                              {"last_seen_ms", UnixMs() - (now - w.last_seen_ms)},
                              {"live", true}});
  }
  doc["jobs"] = nlohmann::json::array();
  for (auto it = i->job_order.rbegin(); it != i->job_order.rend(); ++it) {
    doc["jobs"].push_back(JobStatusToJson(Impl::Root(i->StatusMessage(*i->jobs[*it], false)), false));
  }
  return doc;
}

std::optional<nlohmann::json> Coordinator::JobJson(const std::string& job_id) {
  Impl* i = impl_.get();
  std::lock_guard<std::mutex> l(i->mu);
  auto it = i->jobs.find(job_id);
  if (it == i->jobs.end()) return std::nullopt;
  return JobStatusToJson(Impl::Root(i->StatusMessage(*it->second, true)), true);
}

std::optional<nlohmann::json> Coordinator::LogsJson(const std::string& job_id) {
  Impl* i = impl_.get();
  capnp::MallocMessageBuilder m;
  auto req = m.initRoot<sp::CoordinatorRequest>();
  req.setLogs(job_id);
  capnp::MallocMessageBuilder reply;
  auto resp = reply.initRoot<sp::CoordinatorResponse>();
  std::string unused;
  Status s = i->Dispatch(req.asReader(), resp, 0, &unused);
  if (!s.ok()) return std::nullopt;
  return AttemptLogsToJson(resp.getLogs().asReader());
}

}  // namespace sawmill::sched
