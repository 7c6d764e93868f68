// The worker's warm executors (worker/executor.h), idle between attempts: an attempt takes an
// idle one of its key or starts one, and gives it back when it ended cleanly. The executors of a
// job go when the job is dropped, all of them when the worker stops, and any after an idle
// timeout. Beside them, one spare per binary that started as an executor here (a process of it
// that no job was handed yet): a new executor of that binary starts from it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "worker/executor.h"

namespace sawmill::worker {

// Which attempts one executor may serve: those of one job (the seam for programs: a program's
// id once attempts name the program their stage belongs to), with the same binary, arguments and
// address-space limit.
struct ExecutorKey {
  std::string job_id;  // the launch's executorGroup: the job, or the program whose stage it is
  std::string binary_sha256;
  std::vector<std::string> args;
  uint64_t memory_mb = 0;
  auto operator<=>(const ExecutorKey&) const = default;
};

class ExecutorPool {
 public:
  explicit ExecutorPool(int64_t idle_ms) : idle_ms_(idle_ms) {}
  ~ExecutorPool() { Clear(); }
  ExecutorPool(const ExecutorPool&) = delete;
  ExecutorPool& operator=(const ExecutorPool&) = delete;

  // An idle executor of `key` that still runs, or nullptr. Executors found dead are dropped.
  std::unique_ptr<Executor> Take(const ExecutorKey& key);
  // Keeps `e` idle for the next attempt of `key`: call only after an attempt it answered with
  // exit code 0. Destroyed instead when it died, its job was dropped or the pool was cleared.
  void Give(const ExecutorKey& key, std::unique_ptr<Executor> e);
  // Destroys the idle executors of `job_id`; later Gives of that job destroy theirs.
  void DropJob(const std::string& job_id);
  // Destroys executors and spares idle for longer than the idle timeout (the spare's binary is
  // not wanted again until its next WantSpare), and those that died idle.
  void CloseIdle();
  // Destroys every idle executor and spare; later Gives destroy theirs.
  void Clear();

  // Keys whose binary did not start as an executor: their attempts run as processes of their own.
  // The binary gets no spare either (one it has is destroyed).
  bool Refused(const ExecutorKey& key);
  void Refuse(const ExecutorKey& key);

  // ---- spares (Executor::StartSpare), one per binary SHA-256 ----
  // Notes that an executor of binary `sha` started: it is to have a spare (SparesWanted).
  void WantSpare(const std::string& sha);
  // The binaries that are to have a spare and have none.
  std::vector<std::string> SparesWanted();
  // Keeps `spare` as binary `sha`'s; destroyed when it has one, gets none or the pool was cleared.
  void GiveSpare(const std::string& sha, std::unique_ptr<Executor> spare);
  // The spare of `sha` if it still runs (the caller hands it a start), or nullptr. A dead spare is
  // dropped: one that was killed is replaced later, one that exited (a binary that knows no
  // spares) means the binary gets none again.
  std::unique_ptr<Executor> TakeSpare(const std::string& sha);
  // Destroys the spare of `sha`, wanted again only after its next WantSpare.
  void DropSpare(const std::string& sha);

  size_t idle_count();
  size_t spare_count();
  // A name for the next executor's log file (executor-N.log).
  std::string NextLogName();

 private:
  using Clock = std::chrono::steady_clock;
  struct Idle {
    ExecutorKey key;
    std::unique_ptr<Executor> executor;
    Clock::time_point since;
  };
  // Reaps a spare found dead; its binary gets no spare again when it exited by itself. With mu_.
  void BuryDeadSpareLocked(const std::string& sha, Executor* spare);

  const int64_t idle_ms_;
  std::mutex mu_;
  std::vector<Idle> idle_;  // oldest first
  std::set<std::string> dropped_jobs_;
  std::set<ExecutorKey> refused_;
  std::map<std::string, Idle> spares_;  // sha -> its spare (key unused)
  std::set<std::string> wanted_;        // binaries to have a spare
  std::set<std::string> spareless_;     // binaries that get no spare
  bool cleared_ = false;
  uint64_t started_ = 0;
};

}  // namespace sawmill::worker
