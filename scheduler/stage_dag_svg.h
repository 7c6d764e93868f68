// Pictures of a dataflow program for the coordinator's job page: its stage DAG and a task
// timeline per stage, as SVG drawn from the job document's "stages" (scheduler/web_ui.h).
// Pure functions of their arguments: no I/O, no clock.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace sawmill::sched {

struct StageDagOptions {
  // The picture is at most this wide (or one column, if a column is wider): columns past it wrap
  // into a new row of columns below, read left to right and top to bottom like text.
  int max_width = 1280;
  // When set, a stage's box links to link_prefix + its URL-encoded job_id (e.g. "/job/").
  std::string link_prefix;
  // The program's elapsed time (ms since its submission): a running stage's duration ends here.
  int64_t now_ms = 0;
};

// A standalone <svg> element (well-formed XML) of a program's stages, the JSON array of
// JobStatusToJson's "stages": a box per stage naming its key, state, fused operators, task
// progress, duration and records out, filled by state (a legend names the colours); columns by
// DAG depth (a stage's column is one past its inputs', and a loop iteration's stage "K-iN" comes
// after "K-i<N-1>"), stages of one column stacked in submission order. An arrow per input edge,
// labelled with its kind (shuffle solid, broadcast dashed, read dotted), runs from the producing
// stage, or from a small "input" node when `from` is "" (a key that no stage has gets a node
// named after it). Arrows run through the gaps between columns and the channels between rows, so
// no arrow crosses a box and no two boxes overlap. Every text from the document is escaped and
// cut to its box (the whole of it in a tooltip). Entries that are not objects are skipped.
std::string StageDagSvg(const nlohmann::json& stages, const StageDagOptions& options = {});

// A standalone <svg> element of one stage's attempts (a "stages" entry with its "attempts"): a
// row per attempt, maps before reduces, each by task and attempt number, with a bar from start_ms
// to end_ms (to now_ms while it runs: times count from the program's submission) filled by state,
// a map or reduce tag before it, and a labelled time axis in seconds since the submission.
std::string StageTimelineSvg(const nlohmann::json& stage, int64_t now_ms, int width = 900);

}  // namespace sawmill::sched
