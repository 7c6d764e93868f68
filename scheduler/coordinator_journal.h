// The coordinator's journal: durable records of its workers, accepted jobs and committed tasks
// (scheduler/coordinator.capnp JournalRecord in common/journal.h files), so that a restarted
// coordinator goes on with the jobs it was running (docs/reliability.md). Records are added under
// the coordinator's lock and made durable after it is released (group commit, so no fsync runs
// under it): by the first caller that waits for one, which writes every record pending, or by
// the journal's thread within a few milliseconds for records nobody waits for.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <capnp/message.h>

#include "common/journal.h"
#include "common/status.h"
#include "scheduler/coordinator.capnp.h"

namespace sawmill::sched {

// What a journal says, replayed in order (later records win).
struct JournalState {
  struct Worker {
    std::string id, host, address;
    int slots = 1;
  };
  struct Task {
    std::string attempt_id, worker;
    std::shared_ptr<capnp::MallocMessageBuilder> result;  // an Attempt.AttemptResult
  };
  struct Job {
    std::string id;
    std::shared_ptr<capnp::MallocMessageBuilder> submission;  // a JobSubmission
    int64_t submit_unix_ms = 0;
    std::map<std::pair<bool, int>, Task> tasks;  // (reduce, task) -> its last committed attempt
    bool commit_started = false;
    bool finished = false;
  };
  uint32_t epoch = 0;  // coordinators started on the directory before this one
  int next_job = 1, next_worker = 1;
  std::map<std::string, Worker> workers;  // registered and not lost
  std::vector<Job> jobs;                  // in acceptance order
  JournalReadResult read;
};

// Encoders of the journal's records, one per kind.
std::string JournalStartRecord(uint32_t epoch, int next_job, int next_worker);
std::string JournalWorkerRecord(const JournalState::Worker& w);
std::string JournalWorkerLostRecord(const std::string& id);
std::string JournalJobRecord(const std::string& id, proto::JobSubmission::Reader sub, int64_t submit_unix_ms);
std::string JournalTaskRecord(const std::string& attempt_id, const std::string& worker,
                              ::sawmill::proto::AttemptResult::Reader result);
std::string JournalCommitStartedRecord(const std::string& job_id);
std::string JournalFinishedRecord(const std::string& job_id);

// Replays the journal at `path` (absent: an empty state); a torn or corrupt tail is dropped and
// cut off (JournalState::read says what was dropped). A record that parses but makes no sense
// (a task of an unknown job) is skipped with a warning.
Result<JournalState> LoadCoordinatorJournal(const std::string& path);

class CoordinatorJournal {
 public:
  // Replaces the journal at `path` by one holding `records` (written to a new file, synced and
  // renamed over it) and appends to it from then on.
  static Result<std::unique_ptr<CoordinatorJournal>> Create(const std::string& path,
                                                           const std::vector<std::string>& records);
  ~CoordinatorJournal();
  CoordinatorJournal(const CoordinatorJournal&) = delete;
  CoordinatorJournal& operator=(const CoordinatorJournal&) = delete;

  // Queues a record; its sequence number, for WaitDurable. Never blocks on I/O.
  uint64_t Append(std::string record);
  // Blocks until record `seq` is on disk, writing and syncing what is pending itself when no one
  // else is; the journal's write error when it cannot be (then every later record fails too:
  // what follows a failed write is unknown).
  Status WaitDurable(uint64_t seq);
  // Calls `done` once record `seq` is on disk (or cannot be), without blocking: at once when it
  // is, else from whichever thread writes it (the journal's, woken for it).
  void WhenDurable(uint64_t seq, std::function<void(const Status&)> done);
  // Rewrites the journal as `records` (the live state, including everything appended so far),
  // like Create, in the journal's thread; records appended later go to the new file.
  void Compact(std::vector<std::string> records);
  // Bytes of records in the current file (compaction is due when it grows large).
  uint64_t size() const;

 private:
  static constexpr int kLingerMs = 5;  // before the thread writes records nobody waits for

  CoordinatorJournal(std::string path, std::unique_ptr<JournalWriter> writer);
  void Loop();
  // Writes the compaction due and the pending records, and syncs; mu_ is held by `l` on entry
  // and on return, released while writing. One writer at a time (writing_).
  void WriteLocked(std::unique_lock<std::mutex>& l);
  // Calls the WhenDurable callbacks whose records are durable (all of them once writing failed),
  // releasing mu_ meanwhile.
  void RunCallbacksLocked(std::unique_lock<std::mutex>& l);

  const std::string path_;
  mutable std::mutex mu_;
  std::condition_variable cv_, durable_cv_;
  std::unique_ptr<JournalWriter> writer_;  // the writer's while writing_
  std::vector<std::string> pending_;
  std::vector<std::pair<uint64_t, std::function<void(const Status&)>>> callbacks_;
  std::unique_ptr<std::vector<std::string>> compact_;  // a rewrite to do before pending_
  uint64_t appended_ = 0, durable_ = 0;
  uint64_t size_ = 0;
  Status failed_;
  bool stop_ = false;
  bool writing_ = false;  // a batch is being written (by a waiter or the thread)
  bool armed_ = false;    // records were appended since the thread last found none pending
  std::thread thread_;
};

}  // namespace sawmill::sched
