// A reduce attempt's inputs: queueing fetches of map output segments as their locations
// arrive, the fetcher threads that copy them through the shuffle, and the wait before the
// attempt starts. Segments of maps that ran on this worker are read in place, once verified: a
// damaged map output is a fetch failure wherever the reduce runs, so the coordinator reruns it.
// A segment that cannot be written because this worker's disk is full fails the reduce attempt
// instead (the map output is fine; the coordinator retries the reduce on another worker).
#include <chrono>
#include <cstdio>
#include <utility>

#include <glog/logging.h>

#include "common/file.h"
#include "records/block_verifier.h"
#include "worker/shuffle_client.h"
#include "worker/worker_impl.h"

namespace sawmill::worker {

namespace sp = sched::proto;

namespace {

// The key in Run::failed (map index -> (attempt, when)) under which a reduce whose own disk
// filled keeps the error instead of an attempt id: no map has a negative index.
constexpr int kOwnDiskFull = -1;

bool OwnDiskFull(const decltype(Worker::Impl::Run::failed)& failed) {
  return failed.count(kOwnDiskFull) > 0;
}

}  // namespace

Status Worker::Impl::AwaitSegments(Run* r) {
  const auto start = Clock::now();
  ScheduleFetches();
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return stopping || r->kill || r->missing == 0 || OwnDiskFull(r->failed); });
  if (stopping || r->kill) return Aborted("killed while fetching map outputs");
  if (OwnDiskFull(r->failed)) return IOError(r->failed[kOwnDiskFull].first);
  LOG(INFO) << "attempt " << r->attempt_id << " holds its " << r->segments.size() << " segments after "
            << std::chrono::duration<double>(Clock::now() - start).count() << " s (" << r->memory_bytes
            << " bytes of them in memory)";
  return Status::Ok();
}

void Worker::Impl::ScheduleFetches() {
  std::lock_guard<std::mutex> l(mu);
  auto now = Clock::now();
  for (auto& [id, run] : runs) {
    Run* r = run.get();
    if (!r->reduce || r->done || r->kill || r->missing == 0 || OwnDiskFull(r->failed)) continue;
    auto locs = locations.find(r->job_id);
    if (locs == locations.end()) continue;
    auto spec = r->launch->getRoot<sp::AttemptLaunch>().getSpec();
    // A tail reduce's task index is its part's; the map tasks' tail outputs have one partition.
    int partition = r->kind == PartitionKind::kTail ? 0 : spec.getTaskIndex();
    for (const auto& [m, loc] : locs->second) {
      if (m < 0 || static_cast<size_t>(m) >= r->segments.size() || !r->segments[m].empty() || r->fetching.count(m)) {
        continue;
      }
      auto f = r->failed.find(m);
      if (f != r->failed.end() && f->second.first == loc.attempt_id && now - f->second.second < std::chrono::seconds(2)) {
        continue;  // the coordinator was told; wait for a rerun (or retry later)
      }
      r->fetching.insert(m);
      auto local = map_outputs.find({r->job_id, loc.attempt_id});
      if (local != map_outputs.end()) {
        // First in line: a check of a few pages in the page cache, which a reduce beside its
        // maps should not wait behind other workers' transfers for.
        fetch_queue.push_front(Fetch{r->attempt_id, m, loc, partition, r->job_id, "", "", local->second});
        continue;
      }
      char name[32];
      std::snprintf(name, sizeof name, "map-%05d", m);
      fetch_queue.push_back(Fetch{r->attempt_id, m, loc, partition, r->job_id, JoinPath(JoinPath(r->dir, "segments"), name),
                                  r->memory_dir.empty() ? "" : JoinPath(r->memory_dir, name), ""});
    }
  }
  cv.notify_all();
}

void Worker::Impl::FetchLoop() {
  // Kept while fetches keep coming (a reduce's, from the same few workers), closed when none wait.
  ShuffleConnections connections(transport);
  std::vector<Fetch> batch;
  std::vector<SegmentRequest> requests;
  std::vector<uint64_t> reserved;
  while (true) {
    batch.clear();
    {
      std::unique_lock<std::mutex> l(mu);
      if (fetch_queue.empty() && connections.kept() > 0) {
        l.unlock();
        connections.Clear();
        l.lock();
      }
      cv.wait(l, [&] { return stopping || !fetch_queue.empty(); });
      if (stopping) return;
      // The queued fetches from the same worker as the first, up to a batch: one round trip (or
      // the queued checks of segments read in place).
      batch.push_back(std::move(fetch_queue.front()));
      fetch_queue.pop_front();
      for (auto it = fetch_queue.begin(); it != fetch_queue.end() && batch.size() < kFetchBatch;) {
        if (it->from.address != batch.front().from.address || it->in_place.empty() != batch.front().in_place.empty()) {
          ++it;
          continue;
        }
        batch.push_back(std::move(*it));
        it = fetch_queue.erase(it);
      }
    }
    if (!batch.front().in_place.empty()) {
      for (const Fetch& f : batch) FetchDone(f, VerifyInPlace(f), f.in_place, 0);
      continue;
    }
    // A segment that fits what is left of the memory budget goes there: no file on disk to make
    // (on ext4 a new file costs more than the copy of a small segment), and the reduce reads it
    // from memory. The budget is held until the reduce ends (ReleaseSegmentMemoryLocked).
    requests.assign(batch.size(), SegmentRequest());
    reserved.assign(batch.size(), 0);
    for (size_t k = 0; k < batch.size(); ++k) {
      const Fetch& f = batch[k];
      requests[k].job_id = f.job_id;
      requests[k].attempt_id = f.from.attempt_id;
      requests[k].partition = f.partition;
      requests[k].place = [this, &f, held = &reserved[k]](uint64_t bytes) -> std::string {
        shuffle_memory.Release(std::exchange(*held, 0));  // a retry chooses again
        if (f.memory_dest.empty() || !shuffle_memory.Reserve(bytes)) return f.dest;
        *held = bytes;
        return f.memory_dest;
      };
    }
    connections.FetchAll(batch.front().from.address, &requests);
    for (size_t k = 0; k < batch.size(); ++k) {
      if (!requests[k].status.ok()) shuffle_memory.Release(std::exchange(reserved[k], 0));
      FetchDone(batch[k], requests[k].status, requests[k].stats.path, reserved[k]);
    }
  }
}

Status Worker::Impl::VerifyInPlace(const Fetch& f) {
  return VerifyPartitionBlocks(f.in_place, f.partition)
      .WithContext("reading partition " + std::to_string(f.partition) + " of map attempt " + f.from.attempt_id +
                   " (job " + f.job_id + ") in place");
}

void Worker::Impl::FetchDone(const Fetch& f, const Status& s, const std::string& path, uint64_t reserved) {
  std::unique_lock<std::mutex> l(mu);
  auto it = runs.find(f.attempt_id);
  Run* r = it == runs.end() ? nullptr : it->second.get();
  if (r == nullptr || r->done) {
    // The reduce ended while this copy was under way; its memory folder is gone or going.
    l.unlock();
    if (reserved > 0) {
      (void)RemoveAll(path);
      shuffle_memory.Release(reserved);
    }
    return;
  }
  r->fetching.erase(f.map);
  r->memory_bytes += reserved;  // a duplicate too: its file stays in the folder until the end
  if (s.ok()) {
    if (r->segments[f.map].empty()) {
      r->segments[f.map] = path;
      --r->missing;
    }
  } else if (IsNoSpace(s)) {
    // Not the map's fault: no fetch failure to report, and no other segment is worth fetching.
    LOG(WARNING) << "attempt " << f.attempt_id << " fails: its disk is full: " << s.ToString();
    r->failed.emplace(kOwnDiskFull, std::make_pair(s.message(), Clock::now()));
  } else {
    LOG(WARNING) << "fetching map " << f.map << " (" << f.from.attempt_id << ") from " << f.from.address << " for "
                 << f.attempt_id << ": " << s.ToString();
    r->failed[f.map] = {f.from.attempt_id, Clock::now()};
    fetch_failures.push_back({f.attempt_id, f.map, f.from.attempt_id, s.ToString()});
  }
  cv.notify_all();
}

std::string Worker::Impl::ReleaseSegmentMemoryLocked(Run* r) {
  shuffle_memory.Release(std::exchange(r->memory_bytes, 0));
  return std::exchange(r->memory_dir, "");
}

}  // namespace sawmill::worker
