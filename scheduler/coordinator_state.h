// The coordinator's state behind scheduler/coordinator.h: workers, jobs and their task results,
// under one mutex. Its operations live in coordinator_{service,jobs,workers,history,status}.cc,
// one responsibility each. Internal to the coordinator's files.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/file.h"
#include "common/fs.h"
#include "common/local_fs.h"
#include "mapreduce/partition_kind.h"
#include "scheduler/attempt_id.h"
#include "scheduler/coordinator.capnp.h"
#include "scheduler/coordinator.h"
#include "scheduler/coordinator_journal.h"
#include "scheduler/job_state.h"
#include "scheduler/scheduler.h"

namespace sawmill::sched {

namespace sp = proto;

// Every method below that touches the state is called under mu unless it says otherwise.
struct Coordinator::Impl : public AsyncService {
  static int64_t MonoMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static int64_t UnixMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static std::string PartName(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "part-%05d", i);
    return buf;
  }
  // The part a task writes, as a store path without the scheme.
  static std::string StorePath(const std::string& path) {
    return IsDfsPath(path) ? path.substr(kDfsScheme.size()) : path;
  }
  // Where a (non-program) job's parts wait for its commit: beside its output `out` (a store
  // path without the scheme and without a trailing slash).
  static std::string StagingDir(const std::string& out, const std::string& job_id);

  // Answers finished (Call::Finish) on this thread while the scope lives are sent when it ends:
  // declared before a lock of mu, it ends after the unlock, so that sending an answer (waking a
  // thread, writing a socket) does not lengthen the hold. Nested scopes hand theirs outwards.
  struct AnswersAfterUnlock {
    AnswersAfterUnlock() : outer(active) { active = this; }
    ~AnswersAfterUnlock();
    AnswersAfterUnlock(const AnswersAfterUnlock&) = delete;
    AnswersAfterUnlock& operator=(const AnswersAfterUnlock&) = delete;
    std::vector<std::pair<std::shared_ptr<Exchange>, std::string>> pending;
    AnswersAfterUnlock* const outer;
    static thread_local AnswersAfterUnlock* active;
  };
  // First segment of the messages built per request or task (answers, launches, journal
  // records): under glibc's 1 KiB large-request threshold, in words.
  static constexpr unsigned kSmallMessageWords = 112;
  // A request being answered (OnRequest): its reader and its answer's builder, kept together
  // while the answer waits (a held poll, a report's journal write, a job wait). Answered once.
  struct Call {
    Call() : resp(reply.initRoot<sp::CoordinatorResponse>()) {}
    sp::CoordinatorRequest::Reader req() { return request->Root<sp::CoordinatorRequest>(); }
    // Sends the answer: `s` as its error, or what resp holds.
    void Finish(const Status& s);

    std::shared_ptr<Exchange> exchange;
    std::unique_ptr<CapnpReader> request;
    // Most answers are small: a first segment of 8 KiB (the default) would be zeroed for each, and
    // one of 1 KiB or more takes glibc's large-request path (malloc_consolidate) every time.
    capnp::MallocMessageBuilder reply{kSmallMessageWords};
    sp::CoordinatorResponse::Builder resp;
    // Held (Park): for a worker's orders or a job's end, until its deadline's entry comes due.
    bool parked = false;
    std::string parked_worker, parked_job;
    std::multimap<int64_t, std::weak_ptr<Call>>::iterator deadline;
  };
  // A succeeded attempt's part to move into the staging directory (on the store thread: never
  // under mu, and in order with the job's later removals), with its journal record.
  struct PartMove {
    std::string job, attempt, from, to, attempt_dir, record;
    bool reduce = false;
    int task = 0;
  };

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
  struct Worker {
    std::string id, host, address;
    int slots = 1;
    std::set<std::string> running;  // changed through AddRunning / EraseRunning only
    int masters = 0;                // of `running`: programs' masters, which take no slot
    int64_t last_seen_ms = 0;
    // Its held poll, answered when the worker gets orders (not by every event of the cluster)
    // or at its deadline.
    std::shared_ptr<Call> parked_poll;
    uint64_t poll_conversation = 0;
    std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> launches;
    std::vector<std::string> kills, drop_jobs;
    std::map<std::string, uint64_t> sent_version;  // job -> map output version sent
    // Known from the journal of the coordinator before a restart, and not registered again yet:
    // its map outputs are offered to reduces, but it is given no work (docs/reliability.md).
    bool recovered = false;
  };
  struct Job {
    std::string id, name, output, staging;
    std::unique_ptr<capnp::MallocMessageBuilder> submission;
    PartitionKind kind = PartitionKind::kNone;  // the submission's partitioning
    std::vector<TaskResult> maps, reduces;
    int64_t submit_unix_ms = 0, submit_mono_ms = 0, end_mono_ms = 0;
    CoordinatorJobState state = CoordinatorJobState::kRunning;
    std::string error;
    uint64_t map_output_version = 1;
    std::map<std::string, LogEntry> logs;
    bool finished = false;
    // Attempts of a finished job that were still running on workers when it finished: any may
    // still write a part under `staging` (the store's client makes its parents), so the staging
    // directory is removed again once the last of them has ended (EndLateAttempt).
    std::set<std::string> late_attempts;
    // Once finished: its JobRecord's summary (the status without attempts, no logs) when the
    // history file holds the whole record (`record_on_disk`, read again by FullRecord), else the
    // whole record. Either way a finished job keeps no per-task detail in memory.
    std::unique_ptr<capnp::MallocMessageBuilder> record;
    bool record_on_disk = false;
    // Workers running reduce attempts of this job, with how many: woken when its map outputs
    // change (Poll sends them the new list).
    std::map<std::string, int> reduce_workers;
    // A program (JobSubmission.program): one task, its master; its stages are jobs of their own.
    bool program = false;
    std::vector<std::string> stage_jobs;                  // in submission order
    std::map<std::string, std::string> stage_by_key;      // stage key -> its job
    std::string program_error;                            // the master's verdict on the program
    // A stage of a program (JobSubmission.parentJob).
    std::string parent, stage_key;
    int submissions = 1;
    // Journal records of the committed tasks, (reduce, task) -> record, written again when the
    // journal is compacted; released when the job finishes.
    std::map<std::pair<bool, int>, std::string> task_records;
    // Parts being renamed into the staging directory outside the lock: the job is not committed
    // while any is.
    int part_commits = 0;
    bool committing = false;      // its commit runs on the store thread
    bool commit_started = false;  // recovered: a commit was under way when the coordinator died
    uint64_t accepted_seq = 0;    // its submission's journal record (0: restored, durable)
    sp::JobSubmission::Reader sub() { return submission->getRoot<sp::JobSubmission>().asReader(); }
  };

  CoordinatorOptions opt;
  FileSystem* store;
  Scheduler sched;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::map<std::string, Worker> workers;
  // The workers with a free slot, not recovered (UpdateFree keeps it): Schedule offers work to
  // these only, so a report costs no walk over the whole cluster.
  std::set<std::string> free_workers;
  std::map<std::string, std::unique_ptr<Job>> jobs;  // every job this run knows (finished ones keep a record)
  std::vector<std::string> job_order;
  size_t reap_from = 0;  // job_order before this index: finished (ReapJobs starts here)
  std::map<std::string, std::string> job_by_token;  // JobSubmission.clientToken -> its job
  int next_job = 1, next_worker = 1;
  std::atomic<uint64_t> next_conversation{1};
  std::map<uint64_t, std::string> conversation_worker;  // conversation -> the worker polling on it
  std::vector<std::shared_ptr<Call>> parked_waits;      // job waits held until the job ends
  // Held calls by deadline (mono ms): the timer thread answers each that comes due.
  std::multimap<int64_t, std::weak_ptr<Call>> deadlines;
  std::condition_variable timer_cv;
  std::thread timer;
  // Binaries in the store found to hash to their names: "sha size mtime" (a replaced file is
  // checked again). Guarded by mu.
  std::set<std::string> verified_binaries;
  int64_t started_unix_ms = UnixMs();
  std::thread ticker;
  // Durable state (coordinator_recovery.cc): null when the coordinator has no directory to keep
  // it in (never in a daemon).
  std::unique_ptr<CoordinatorJournal> journal;
  uint32_t epoch = 0;
  // After a restart, no work is handed out until every worker known from the journal has
  // registered again or this time (mono ms) has passed: their running attempts are kept.
  int64_t recovery_until_ms = 0;
  // Store calls run here, outside mu, in order (commits, and removals of what attempts left).
  std::mutex store_mu;
  std::condition_variable store_cv;
  std::deque<std::function<void()>> store_queue;
  bool store_busy = false;  // a store call runs (on the store thread or inline, RunStoreWork)
  bool store_stopping = false;
  bool store_exited = false;  // work posted after this runs on the poster's thread
  std::thread store_thread;
  // The store thread's own (set in StoreLoop): report answers waiting for their commits' journal
  // records, given after each batch of store work with one journal write for the whole batch,
  // by the store thread itself (no hand-off to the journal's thread).
  static thread_local bool on_store_thread;
  // A report's parts to commit (CommitParts). Those of reports served without blocking wait in
  // pending_commits (under store_mu) and are taken together by one store work item
  // (CommitPending): their parts moved, then journaled under one hold of mu.
  struct PendingCommit {
    std::vector<PartMove> moves;
    uint64_t seq = 0;  // the report's own journal records
    std::function<void()> take_orders;
    std::function<void(const Status&)> answer;
  };
  std::vector<PendingCommit> pending_commits;
  std::vector<std::pair<uint64_t, std::function<void(const Status&)>>> store_answers;
  // Requests other than polls, reports and waits, on an event thread that must not block
  // (may_block false): run on a pool of threads that grows while all of them are busy (a
  // program's stage submission may wait for its master's worker to register again, which is
  // another such request), up to kMaxRequestThreads.
  static constexpr size_t kMaxRequestThreads = 64;
  std::mutex request_mu;
  std::condition_variable request_cv;
  std::deque<std::function<void()>> request_queue;
  size_t request_idle = 0;
  bool request_stopping = false;
  std::vector<std::thread> request_threads;

  Impl(CoordinatorOptions o, FileSystem* s) : opt(std::move(o)), store(s) {}

  // ---- requests (coordinator_service.cc) ----

  // AsyncService: polls, reports and waits answer when ready without holding a thread; other
  // requests run at once when the exchange may block, else on the request thread.
  void OnRequest(std::shared_ptr<Exchange> exchange) override;
  // A worker whose poll conversation closed is lost (its process is gone), unless stopping.
  void OnClosed(uint64_t conversation) override;
  // Answers one request other than poll, report and wait, blocking as it needs; takes mu itself.
  Status Dispatch(sp::CoordinatorRequest::Reader req, sp::CoordinatorResponse::Builder resp);
  void AnswerNow(const std::shared_ptr<Call>& call);
  void PostRequestWork(std::function<void()> fn);
  void RequestLoop();
  // Holds `call` until `deadline_ms` (mono) at the latest; Unpark drops its deadline.
  void Park(const std::shared_ptr<Call>& call, int64_t deadline_ms);
  void Unpark(Call& call);
  // The timer thread: answers held calls that come due; takes mu itself.
  void TimerLoop();

  // ---- jobs (coordinator_jobs.cc) ----

  // Checks and accepts a submission; takes mu itself.
  Status Submit(sp::JobSubmission::Reader sub, std::string* id_out);
  // Builds an accepted job, adds it to the scheduler (`restored`: as the journal left it) and to
  // its program when it is a stage.
  Result<Job*> AddJob(sp::JobSubmission::Reader sub, const std::string& id, int64_t submit_unix_ms,
                      const JournalState::Job* restored);
  // Attempt results and fetch failures from a worker; takes mu itself.
  // With `take_orders` (the report asked for its orders), they are taken under the report's last
  // hold of mu: one acquisition less per task. Should the journal then fail, the error answer
  // drops them; that coordinator commits nothing more until it restarts, and its successor
  // reconciles the worker's attempts when it registers again.
  Status Report(sp::Report::Reader r, const std::function<void()>& take_orders);
  // The same answered without blocking: once the parts are moved (store thread) and the journal
  // has the commits; the answer carries the orders when the report asks for them. Takes mu.
  Status ReportAsync(const std::shared_ptr<Call>& call);
  // A report's work under mu: its results applied; the parts to move (then journaled) in
  // `moves`, the journal sequence to wait for in `seq`.
  Status ReportLocked(sp::Report::Reader r, std::vector<PartMove>* moves, uint64_t* seq);
  // Moves the reports' parts (outside mu), then journals their commits, schedules and takes each
  // report's orders under one hold of mu; per report, the journal sequence its answer waits
  // for. On the store thread, or inline through RunStoreWork.
  std::vector<uint64_t> CommitParts(const std::vector<PendingCommit>& batch);
  // Commits every report waiting in pending_commits (on the store thread).
  void CommitPending();
  // A report's answer: its worker's orders into `orders`, or "register again".
  void TakeReportOrders(const std::string& worker_id, sp::Orders::Builder orders);
  static int PartIndex(Job& job, bool reduce, int task);
  void DiscardAttempt(Job& job, const AttemptName& n);
  // `attempt_id` ended (reported, or its worker lost); a finished job's staging directory goes
  // once no late attempt of it may still write there.
  void EndLateAttempt(const std::string& attempt_id);
  void ReapJobs();
  // Starts a finished job's commit on the store thread; it ends in FinishCommit.
  void StartCommit(Job& job);
  void FinishCommit(const std::string& job_id, const Status& s);
  // Copies what an attempt's result says into `t`.
  static void ApplyResult(::sawmill::proto::AttemptResult::Reader res, TaskResult* t);
  // A stage submission of a program that already has a job for that key: its id, else "".
  std::string KnownStage(sp::JobSubmission::Reader sub);
  // A submission whose clientToken made a job already (a repeat): that job, else nullptr.
  Job* KnownSubmission(sp::JobSubmission::Reader sub);
  void EndProgram(Job& job);
  Status CheckMaster(const std::string& program_id, const std::string& master_attempt);
  // Whether dfs:/sawmill/binaries/<sha> is there and hashes to its name (once per file: read
  // without mu); a job whose binary is not the submitted one is refused at submission.
  Status CheckBinary(const std::string& sha);

  // ---- workers (coordinator_workers.cc) ----

  // Answers the poll at once when there are orders (or no wait), else holds it (Park) until
  // there are or wait_ms passed; takes mu itself.
  Status PollAsync(const std::shared_ptr<Call>& call);
  // Answers w's held poll: with its orders, or "register again".
  void AnswerPoll(Worker& w, bool reregister = false);
  std::vector<std::string> OutputJobsToSend(Worker& w);
  bool HasOrders(Worker& w);
  // Moves w's queued launches, kills, map outputs and dropped jobs into `orders`.
  void TakeOrders(Worker& w, sp::Orders::Builder orders);
  void Schedule();
  std::unique_ptr<capnp::MallocMessageBuilder> BuildLaunch(Job& job, const Assignment& a);
  void LostWorker(const std::string& id, const std::string& reason);
  // Adds or removes one of w.running, keeping w.masters and the job's reduce_workers.
  void AddRunning(Worker& w, const std::string& attempt_id);
  bool EraseRunning(Worker& w, const std::string& attempt_id);
  // Puts `w` in free_workers or takes it out; after any change of its slots, running or recovered.
  void UpdateFree(Worker& w);
  // Answers `w`'s held poll if it has orders now (or the coordinator stops).
  void WakePoll(Worker& w);
  // Wakes the polls of the workers running reduces of `job` (its map outputs changed).
  void WakeReduceWorkers(Job& job);
  // Wakes every held poll and every other waiter (jobs ending, stopping, workers lost or back):
  // held polls with orders and waits whose job ended are answered.
  void WakeAll();
  // The tick thread's loop; takes mu itself.
  void TickLoop();

  // ---- durable state and recovery (coordinator_recovery.cc) ----

  // Loads the journal and the history, and takes up the running jobs again.
  Status Recover();
  // Appends a record to the journal: its sequence number for Durable (0 without a journal).
  uint64_t Journal(std::string record);
  // Waits, without mu, until record `seq` is on disk.
  Status Durable(uint64_t seq);
  // Calls `done` once record `seq` is on disk (or cannot be): at once, or from the thread that
  // wrote it. Not under mu.
  void WhenDurable(uint64_t seq, std::function<void(const Status&)> done);
  // The live state as journal records (what compaction writes).
  std::vector<std::string> LiveRecords();
  // Compacts the journal once it has grown large.
  void MaybeCompactJournal();
  // A worker registering again with the id it had: its running attempts are adopted (or killed)
  // and its map outputs checked; false when `previous_id` is not one to give back.
  bool Reregister(const std::string& previous_id, sp::WorkerRegistration::Reader r);
  // Whether handing out work waits for workers to come back after a restart.
  bool Recovering();
  // Loses the workers known from the journal that have not come back once the wait is over
  // (tick thread).
  void EndRecoveryIfDue();
  // Runs `fn` on the store thread (outside mu, in order).
  void PostStoreWork(std::function<void()> fn);
  // Runs `fn` in order with the store work posted before it (outside mu) and returns once it
  // has run: on this thread when no store work is queued or running, which saves two hand-offs
  // between threads per report; else after that work, on the store thread.
  void RunStoreWork(std::function<void()> fn);
  // Runs the queued store work in batches, each followed by FlushStoreAnswers.
  void StoreLoop();
  // Waits (writing them) for the journal records of store_answers, then answers them.
  void FlushStoreAnswers();

  // ---- history (coordinator_history.cc) ----

  std::string HistoryDir() const { return JoinPath(opt.dir, "history"); }
  // Loads the finished jobs' records; a job in `running` (to be taken up from the journal) is
  // skipped, or erased from it when its record says it ended.
  Status LoadHistory(std::set<std::string>* running);
  Status WriteRecordFile(Job& job);
  Status SaveRecord(Job& job);
  // A finished job's record in memory shrinks to its summary once its history file has it all;
  // its submission loses its splits (launches and commits are over).
  void ReleaseDetail(Job& job);
  // A finished job's whole record: from its history file when memory holds the summary only
  // (the summary, with a warning, when that file cannot be read).
  std::unique_ptr<capnp::MallocMessageBuilder> FullRecord(Job& job);
  // The whole record in history/<id>.job (a finished job), or an error naming the file.
  Result<std::unique_ptr<capnp::MallocMessageBuilder>> HistoryRecord(const std::string& id);
  // Forgets the oldest finished jobs (with their stages) beyond opt.max_finished_jobs.
  void ForgetOldJobs();
  void FillLogs(Job& job, capnp::List<sp::AttemptLog>::Builder logs);

  // ---- status (coordinator_status.cc) ----

  std::unique_ptr<capnp::MallocMessageBuilder> StatusMessage(Job& job, bool with_attempts);
  static sp::JobStatus::Reader Root(const std::unique_ptr<capnp::MallocMessageBuilder>& m) {
    return m->getRoot<sp::JobStatus>().asReader();
  }
  void FillLive(Job& job, sp::JobStatus::Builder st, bool with_attempts);
  // A program's stages, from their jobs; attempt times count from the program's submission.
  void FillStages(Job& program, sp::JobStatus::Builder st, bool with_attempts);
  // Answers a wait request: the job's status once it has ended or `wait_ms` passed (held
  // meanwhile); takes mu itself.
  Status WaitAsync(const std::shared_ptr<Call>& call);
  // The job's status (without attempts) into `call`'s answer: from its history when forgotten.
  Status FillWait(Call& call);
  // Answers the held waits whose job has ended (every one when stopping).
  void AnswerWaits();
  // The job's state as its status says it: a finished job's is its record's, which a record
  // from an older coordinator may name otherwise.
  static std::string StateName(const Job& job);
  std::map<std::string, int64_t> Counters(Job& job);
};

}  // namespace sawmill::sched
