// The coordinator's web pages and JSON endpoints: documents built from the protocol's JobStatus
// and AttemptLog, and a router that renders them (served by common/http_server.h).
//   GET /                      HTML: workers and jobs (newest first) with progress bars
//   GET /job/<id>              HTML: one job: stages, locality, counters, attempts
//   GET /job/<id>/logs         HTML: each attempt's stderr tail
//   GET /api/cluster           the cluster document (below), application/json
//   GET /api/jobs/<id>         JobStatusToJson(status, true)
//   GET /api/jobs/<id>/logs    AttemptLogsToJson(logs)
// Unknown jobs and paths are 404, methods other than GET and HEAD 405.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <capnp/list.h>
#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "scheduler/coordinator.capnp.h"

namespace sawmill::sched {

// {"job_id", "name", "state", "error", "output", "submit_unix_ms", "elapsed_ms", "maps",
//  "maps_done", "maps_running", "reduces", "reduces_done", "reduces_running", "input_bytes",
//  "bytes_read", "data_local_maps", "remote_maps", "failed_attempts", "killed_attempts",
//  "speculative_attempts", "records_in", "records_out", "bytes_out",
//  "counters": {name: value, ...}}
// and, with_attempts, "attempts": [{"attempt_id", "reduce", "task", "attempt", "worker", "host",
//  "state", "start_ms", "end_ms", "local", "speculative", "error", "duration_ms"}], where
// duration_ms is end_ms - start_ms, or elapsed_ms - start_ms while the attempt runs (start_ms and
// end_ms count from the job's submission). Strings are copied as they are (escaping is the
// renderer's business); a counter named twice keeps its last value.
nlohmann::json JobStatusToJson(proto::JobStatus::Reader s, bool with_attempts);

// [{"attempt_id", "host", "state", "stderr"}], in the list's order.
nlohmann::json AttemptLogsToJson(capnp::List<proto::AttemptLog>::Reader logs);

// Where the router gets its documents; called on the HTTP server's thread.
struct UiData {
  // {"now_ms", "coordinator": {"address", "started_ms"},
  //  "workers": [{"id", "host", "address", "slots", "running", "last_seen_ms", "live"}],
  //  "jobs": [JobStatusToJson(status, false), ...]}; times in ms since the epoch.
  std::function<nlohmann::json()> cluster;
  // JobStatusToJson(status, true), or nullopt for an unknown job.
  std::function<std::optional<nlohmann::json>(const std::string& job_id)> job;
  // AttemptLogsToJson(logs), or nullopt for an unknown job.
  std::function<std::optional<nlohmann::json>(const std::string& job_id)> logs;
};

// Answers one request (an HttpRoute once `data` is bound). Never throws: a document that does
// not have the shape above, or a throwing callback, answers 500. Job ids come URL-decoded from
// one path segment; every string from a document is HTML-escaped in the pages.
HttpResponse RouteCoordinatorUi(const std::string& method, const std::string& target, const UiData& data);

}  // namespace sawmill::sched
