// The worker's idle warm executors (worker/executor_pool.h). Executors are destroyed (SIGKILL,
// reap) outside the lock.
#include "worker/executor_pool.h"

#include <algorithm>
#include <utility>

namespace sawmill::worker {

std::unique_ptr<Executor> ExecutorPool::Take(const ExecutorKey& key) {
  std::vector<std::unique_ptr<Executor>> dead;
  std::unique_ptr<Executor> found;
  {
    std::lock_guard<std::mutex> l(mu_);
    // The most recently used first: its caches are the warmest, and the oldest may time out.
    for (auto it = idle_.end(); it != idle_.begin();) {
      --it;
      if (it->key != key) continue;
      std::unique_ptr<Executor> e = std::move(it->executor);
      it = idle_.erase(it);
      if (e->alive()) {
        found = std::move(e);
        break;
      }
      dead.push_back(std::move(e));  // died between attempts (its pidfd says so)
    }
  }
  return found;
}

void ExecutorPool::Give(const ExecutorKey& key, std::unique_ptr<Executor> e) {
  if (!e || !e->alive()) return;
  std::lock_guard<std::mutex> l(mu_);
  if (!cleared_ && !dropped_jobs_.count(key.job_id))
    idle_.push_back(Idle{key, std::move(e), Clock::now()});
  // else `e` is destroyed on return; the lock goes first (destroyed in reverse order).
}

void ExecutorPool::DropJob(const std::string& job_id) {
  std::vector<Idle> gone;
  {
    std::lock_guard<std::mutex> l(mu_);
    dropped_jobs_.insert(job_id);
    auto keep = std::stable_partition(idle_.begin(), idle_.end(),
                                      [&](const Idle& i) { return i.key.job_id != job_id; });
    std::move(keep, idle_.end(), std::back_inserter(gone));
    idle_.erase(keep, idle_.end());
  }
}

void ExecutorPool::CloseIdle() {
  std::vector<Idle> gone;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto now = Clock::now();
    auto keep = std::stable_partition(idle_.begin(), idle_.end(), [&](const Idle& i) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(now - i.since).count() <
                 idle_ms_ &&
             i.executor->alive();
    });
    std::move(keep, idle_.end(), std::back_inserter(gone));
    idle_.erase(keep, idle_.end());
  }
}

void ExecutorPool::Clear() {
  std::vector<Idle> gone;
  {
    std::lock_guard<std::mutex> l(mu_);
    cleared_ = true;
    gone.swap(idle_);
  }
}

bool ExecutorPool::Refused(const ExecutorKey& key) {
  std::lock_guard<std::mutex> l(mu_);
  return refused_.count(key) > 0;
}

void ExecutorPool::Refuse(const ExecutorKey& key) {
  std::lock_guard<std::mutex> l(mu_);
  refused_.insert(key);
}

size_t ExecutorPool::idle_count() {
  std::lock_guard<std::mutex> l(mu_);
  return idle_.size();
}

std::string ExecutorPool::NextLogName() {
  std::lock_guard<std::mutex> l(mu_);
  return "executor-" + std::to_string(++started_) + ".log";
}

}  // namespace sawmill::worker
