// The coordinator's web pages and JSON endpoints: documents built from the protocol's JobStatus
// and AttemptLog, and a router that renders them (served by common/http_server.h).
//   GET /                      HTML: workers and jobs (newest first) with progress bars; a
//                              program is one row, its tasks summed over its stages
//   GET /job/<id>              HTML: one job: stages, locality, counters, attempts; for a program
//                              its stage DAG (SVG), its stages and a task timeline per stage
//                              (scheduler/stage_dag_svg.h); for a stage, a link to its program
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
// end_ms count from the job's submission). Besides, for programs and their stages:
//  "program" (a dataflow program: its attempts are its program master's), "parent_job" and
//  "stage_key" (a stage: its program's job id and its key there; "" otherwise), and
//  "stages": [{"key", "job_id", "state", "operators": [name, ...], "inputs": [{"from", "kind"}],
//  "maps", "maps_done", "maps_running", "reduces", "reduces_done", "reduces_running", "start_ms",
//  "end_ms", "records_out", "bytes_out", "submissions"}] in submission order ([] for any other
//  job; "from" is "" for the program's input, "kind" shuffle, broadcast or read; start_ms and
//  end_ms count from the program's submission, end_ms is 0 while the stage runs), each, with
//  attempts, with its "attempts" in the shape above (times and durations from the program's
//  submission and elapsed_ms). Strings are copied as they are (escaping is the renderer's
//  business); a counter named twice keeps its last value.
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
