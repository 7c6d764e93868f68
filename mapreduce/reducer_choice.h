// How many reduce tasks a job runs when --reducers is not given: one per slot that will run it,
// but none with less than about 64 MiB of the job's input (docs/local-runtime.md).
#pragma once

#include <cstdint>
#include <string>

namespace sawmill {

// Below this much input per reduce task, another reduce costs more (a task, a merge, a part
// file, a thinner shuffle) than its share of the work saves.
inline constexpr uint64_t kMinReduceInputBytes = uint64_t{64} << 20;

struct ReducerChoice {
  int reducers = 0;          // the reduce tasks the job runs (0: not decided, or map-only)
  bool automatic = false;    // chosen by ChooseReducers: --reducers was not given
  int slots = 0;             // automatic: the slots that run the job (threads, or live workers' slots)
  uint64_t input_bytes = 0;  // automatic: the job's input bytes at planning
};

// requested > 0: exactly that many (an explicit --reducers, 1 included). requested == 0:
// max(1, min(slots, ceil(input_bytes / kMinReduceInputBytes))), so the same slots and input
// always give the same count.
ReducerChoice ChooseReducers(int requested, int slots, uint64_t input_bytes);

// What an automatic choice was made from, e.g. "2threads/1.0GiB" (`slot_word`: "threads"
// locally, "slots" on a cluster).
std::string AutoReducersBasis(const ReducerChoice& c, const char* slot_word);

// The summary line's fields: " reducers=3", or " reducers=2 reducers_auto=2threads/1.0GiB".
// "" when c.reducers is 0 (map-only jobs).
std::string ReducerSummaryFields(const ReducerChoice& c, const char* slot_word);

}  // namespace sawmill
