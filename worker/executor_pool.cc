// The worker's idle warm executors and spares (worker/executor_pool.h). Live executors are
// destroyed (SIGKILL, reap) outside the lock.
#include "worker/executor_pool.h"

#include <sys/wait.h>

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
    auto fresh = [&](const Idle& i) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(now - i.since).count() <
             idle_ms_;
    };
    auto keep = std::stable_partition(
        idle_.begin(), idle_.end(), [&](const Idle& i) { return fresh(i) && i.executor->alive(); });
    std::move(keep, idle_.end(), std::back_inserter(gone));
    idle_.erase(keep, idle_.end());
    for (auto it = spares_.begin(); it != spares_.end();) {
      if (!it->second.executor->alive()) {
        BuryDeadSpareLocked(it->first, it->second.executor.get());
      } else if (!fresh(it->second)) {
        wanted_.erase(it->first);  // its binary was not used for a while
      } else {
        ++it;
        continue;
      }
      gone.push_back(std::move(it->second));
      it = spares_.erase(it);
    }
  }
}

void ExecutorPool::Clear() {
  std::vector<Idle> gone;
  {
    std::lock_guard<std::mutex> l(mu_);
    cleared_ = true;
    gone.swap(idle_);
    for (auto& [sha, spare] : spares_) gone.push_back(std::move(spare));
    spares_.clear();
  }
}

bool ExecutorPool::Refused(const ExecutorKey& key) {
  std::lock_guard<std::mutex> l(mu_);
  return refused_.count(key) > 0;
}

void ExecutorPool::Refuse(const ExecutorKey& key) {
  std::unique_ptr<Executor> gone;
  std::lock_guard<std::mutex> l(mu_);
  refused_.insert(key);
  spareless_.insert(key.binary_sha256);
  if (auto it = spares_.find(key.binary_sha256); it != spares_.end()) {
    gone = std::move(it->second.executor);
    spares_.erase(it);
  }
}

void ExecutorPool::WantSpare(const std::string& sha) {
  std::lock_guard<std::mutex> l(mu_);
  if (!spareless_.count(sha)) wanted_.insert(sha);
}

std::vector<std::string> ExecutorPool::SparesWanted() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  if (cleared_) return out;
  for (const auto& sha : wanted_) {
    if (!spares_.count(sha) && !spareless_.count(sha)) out.push_back(sha);
  }
  return out;
}

void ExecutorPool::GiveSpare(const std::string& sha, std::unique_ptr<Executor> spare) {
  std::lock_guard<std::mutex> l(mu_);
  if (!cleared_ && !spareless_.count(sha) && !spares_.count(sha))
    spares_[sha] = Idle{ExecutorKey{}, std::move(spare), Clock::now()};
  // else `spare` is destroyed on return, after the lock.
}

std::unique_ptr<Executor> ExecutorPool::TakeSpare(const std::string& sha) {
  std::unique_ptr<Executor> spare;
  std::lock_guard<std::mutex> l(mu_);
  auto it = spares_.find(sha);
  if (it == spares_.end()) return nullptr;
  spare = std::move(it->second.executor);
  spares_.erase(it);
  if (spare->alive()) return spare;
  BuryDeadSpareLocked(sha, spare.get());
  return nullptr;
}

void ExecutorPool::DropSpare(const std::string& sha) {
  std::unique_ptr<Executor> gone;
  std::lock_guard<std::mutex> l(mu_);
  wanted_.erase(sha);
  auto it = spares_.find(sha);
  if (it == spares_.end()) return;
  gone = std::move(it->second.executor);
  spares_.erase(it);
}

void ExecutorPool::BuryDeadSpareLocked(const std::string& sha, Executor* spare) {
  // Dead, so the reap does not wait. A spare that exited by itself was a binary that knows no
  // --executor_spare (built before spares); one killed by a signal is replaced.
  int status = spare->End();
  if (WIFEXITED(status)) spareless_.insert(sha);
}

size_t ExecutorPool::idle_count() {
  std::lock_guard<std::mutex> l(mu_);
  return idle_.size();
}

size_t ExecutorPool::spare_count() {
  std::lock_guard<std::mutex> l(mu_);
  return spares_.size();
}

std::string ExecutorPool::NextLogName() {
  std::lock_guard<std::mutex> l(mu_);
  return "executor-" + std::to_string(++started_) + ".log";
}

}  // namespace sawmill::worker
