// The worker service: registers with the coordinator, long-polls it for orders, runs task
// attempts in warm executors of the job binary (or each as a child process of its own in task
// mode), fetches the map output segments a
// reduce attempt needs before starting it, reports results, and serves its own map outputs to
// other workers' reducers (the shuffle server). Protocol: scheduler/coordinator.capnp.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/rpc.h"
#include "common/status.h"

namespace sawmill::worker {

struct WorkerOptions {
  std::string dir;                  // jobs/<job>/<attempt>/, binaries/<sha256>
  std::string host;                 // placement host (locality)
  std::string coordinator_address;
  std::string namenode_address;     // handed to tasks
  std::string secret_file;          // handed to tasks (absolute)
  std::string shuffle_address;      // advertised "ip:port" of this worker's shuffle server
  int slots = 2;
  uint32_t poll_ms = 1000;          // how long the coordinator may hold a poll
  int fetch_threads = 4;
  // Fetched segments go to this directory on a memory file system (worker/shuffle_memory.h) while
  // they fit in shuffle_memory_bytes, the rest to the attempt's directory; "" or 0: all to disk.
  // Cleared at Start and Stop.
  std::string shuffle_memory_dir;
  uint64_t shuffle_memory_bytes = 0;
  size_t stderr_tail_bytes = 64 << 10;
  // Attempts run in warm executors (worker/executor.h), kept per job, instead of a process each.
  bool warm_executors = true;
  int64_t executor_idle_ms = 60000;  // an idle executor is closed after this long
};

class Worker {
 public:
  // `transport` reaches the coordinator and other workers; `store` is the file store job
  // binaries are fetched from. Both must outlive the Worker.
  Worker(WorkerOptions options, Transport* transport, FileSystem* store);
  ~Worker();  // Stop()s
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Serves shuffle fetches of this worker's finished map outputs.
  Handler shuffle_handler();

  // Starts registering (retried until the coordinator answers) and the service threads.
  void Start();
  // Kills running attempts and every executor, and joins every thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sawmill::worker
