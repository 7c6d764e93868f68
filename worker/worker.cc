// The worker's lifecycle: its state and shuffle server, the service threads (poll, report,
// fetchers) and an orderly stop. What the threads do is in coordinator_link.cc, attempts.cc
// and segment_fetches.cc (worker/worker_impl.h).
#include "worker/worker.h"

#include <algorithm>
#include <chrono>

#include <glog/logging.h>

#include "common/file.h"
#include "worker/worker_impl.h"

namespace sawmill::worker {

Worker::Impl::Impl(WorkerOptions o, Transport* t, FileSystem* s)
    : opt(std::move(o)), transport(t), store(s), poll_client(t, opt.coordinator_address),
      report_client(t, opt.coordinator_address), binaries(BinaryCacheOptions{JoinPath(opt.dir, "binaries"), s}),
      executors(opt.executor_idle_ms), shuffle_memory(opt.shuffle_memory_dir, opt.shuffle_memory_bytes) {
  shuffle = std::make_unique<ShuffleServer>(
      [this](const std::string& job, const std::string& attempt) -> Result<std::string> {
        std::lock_guard<std::mutex> l(mu);
        auto it = map_outputs.find({job, attempt});
        if (it == map_outputs.end()) return NotFound("no map output of " + attempt + " on " + opt.host);
        return it->second;
      });
}

bool Worker::Impl::Stopping() {
  std::lock_guard<std::mutex> l(mu);
  return stopping;
}

void Worker::Impl::SleepUnlessStopping(int ms) {
  std::unique_lock<std::mutex> l(mu);
  cv.wait_for(l, std::chrono::milliseconds(ms), [&] { return stopping; });
}

Worker::Worker(WorkerOptions options, Transport* transport, FileSystem* store)
    : impl_(std::make_unique<Impl>(std::move(options), transport, store)) {}

Worker::~Worker() { Stop(); }

Handler Worker::shuffle_handler() { return impl_->shuffle->handler(); }

void Worker::Start() {
  Impl* i = impl_.get();
  // A folder that cannot be made leaves every segment on disk.
  Status opened = i->shuffle_memory.Open();
  if (!opened.ok()) LOG(WARNING) << "shuffle memory off: " << opened.ToString();
  i->poll_thread = std::thread([i] { i->PollLoop(); });
  i->report_thread = std::thread([i] { i->ReportLoop(); });
  for (int k = 0; k < std::max(1, i->opt.fetch_threads); ++k) i->fetchers.emplace_back([i] { i->FetchLoop(); });
}

void Worker::Stop() {
  Impl* i = impl_.get();
  {
    std::lock_guard<std::mutex> l(i->mu);
    if (i->stopping) return;
    i->stopping = true;
    for (auto& [id, r] : i->runs) i->KillLocked(r.get());
  }
  i->cv.notify_all();
  i->poll_client.Close();
  i->report_client.Close();
  if (i->poll_thread.joinable()) i->poll_thread.join();
  if (i->report_thread.joinable()) i->report_thread.join();
  for (auto& t : i->fetchers) t.join();
  i->fetchers.clear();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(i->mu);
    for (auto& [id, r] : i->runs) threads.push_back(std::move(r->thread));
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  i->executors.Clear();
  i->shuffle_memory.Close();
}

}  // namespace sawmill::worker
