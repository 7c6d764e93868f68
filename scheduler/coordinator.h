// The coordinator service: accepts jobs, hands their task attempts to workers (scheduling
// decisions are the Scheduler's), commits task outputs and jobs in the file store, and keeps
// the history of finished jobs in its directory. Protocol: scheduler/coordinator.capnp; design:
// docs/distributed.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/rpc.h"
#include "scheduler/scheduler.h"

namespace sawmill::sched {

struct CoordinatorOptions {
  std::string dir;                    // history/<job>.status (Cap'n Proto JobStatus), next_job_id
  std::string address;                // as advertised (for the status page)
  std::string namenode_address;       // handed to tasks
  int64_t worker_timeout_ms = 10000;  // a worker silent this long is lost
  int64_t tick_ms = 200;              // speculation, timeouts, delay scheduling
  uint64_t task_timeout_ms = 3600000; // default per attempt
  uint64_t task_memory_mb = 0;        // default address-space limit per attempt (0: none)
  // Finished jobs kept in memory (the job list, with their programs' stages); older ones are
  // forgotten there and answered from history/<job>.job when asked for by id, so that memory does
  // not grow with the jobs that have run (YARN keeps 1,000 completed applications the same way).
  size_t max_finished_jobs = 1000;
  SchedulerOptions scheduler;
};

class Coordinator {
 public:
  // `store` must outlive the coordinator.
  Coordinator(CoordinatorOptions options, FileSystem* store);
  ~Coordinator();  // Stop()s
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Loads the history (jobs that were running when it stopped are recorded as failed).
  Status Start();
  // Serves one CoordinatorRequest conversation on its thread (the TCP transport's model).
  Handler handler();
  // The same service without a thread per conversation (InProcessNetwork::ListenAsync): held
  // polls and reports waiting for the journal hold no thread.
  AsyncService* service();
  // Stops the tick thread and releases polls. Idempotent.
  void Stop();

  // Documents for the web page (scheduler/web_ui.h).
  nlohmann::json ClusterJson();
  std::optional<nlohmann::json> JobJson(const std::string& job_id);
  std::optional<nlohmann::json> LogsJson(const std::string& job_id);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sawmill::sched
