// The worker's warm executors (worker/executor.h), idle between attempts: an attempt takes an
// idle one of its key or starts one, and gives it back when it ended cleanly. The executors of a
// job go when the job is dropped, all of them when the worker stops, and any after an idle
// timeout.
#pragma once

#include <chrono>
#include <cstdint>
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
  // Destroys executors idle for longer than the idle timeout, and those that died idle.
  void CloseIdle();
  // Destroys every idle executor; later Gives destroy theirs.
  void Clear();

  // Keys whose binary did not start as an executor: their attempts run as processes of their own.
  bool Refused(const ExecutorKey& key);
  void Refuse(const ExecutorKey& key);

  size_t idle_count();
  // A name for the next executor's log file (executor-N.log).
  std::string NextLogName();

 private:
  using Clock = std::chrono::steady_clock;
  struct Idle {
    ExecutorKey key;
    std::unique_ptr<Executor> executor;
    Clock::time_point since;
  };

  const int64_t idle_ms_;
  std::mutex mu_;
  std::vector<Idle> idle_;  // oldest first
  std::set<std::string> dropped_jobs_;
  std::set<ExecutorKey> refused_;
  bool cleared_ = false;
  uint64_t started_ = 0;
};

}  // namespace sawmill::worker
