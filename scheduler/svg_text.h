// What the coordinator's SVG pictures share (scheduler/stage_dag_svg.h): text made safe for XML
// and cut to a width, the colours of states and of task kinds, and short number formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sawmill::sched {

// `s` as XML character data or a quoted attribute value: invalid UTF-8 and characters XML 1.0
// forbids become U+FFFD, control characters but tab and newline a space, and <>&"' entities. Past `max_chars`
// characters the text is cut and ends in an ellipsis (so it counts max_chars, max_chars >= 1).
std::string SvgText(std::string_view s, size_t max_chars = std::string_view::npos);

// How a state is drawn: fill and stroke colours (CSS hex). Known states: running, committing,
// waiting, succeeded, failed, killed; any other text is drawn as unknown (white, grey).
struct StateColors {
  const char* fill;
  const char* stroke;
};
StateColors ColorsOfState(std::string_view state);
// The states of the legend, in the order a stage goes through them.
inline constexpr const char* kLegendStates[] = {"waiting", "running", "committing", "succeeded", "failed"};

// The colour that tells map attempts from reduce attempts in a timeline.
inline constexpr const char* kMapColor = "#7c3aed";
inline constexpr const char* kReduceColor = "#ea580c";

// A time in ms from a document, kept in [0, 10^15] so that differences of two never overflow.
inline int64_t ClampMs(int64_t ms) { return ms < 0 ? 0 : ms > 1'000'000'000'000'000 ? 1'000'000'000'000'000 : ms; }

// "850 ms", "12.3 s", "4m 05s" for a duration; negative reads as 0.
std::string ShortDuration(int64_t ms);
// "999", "12.3k", "4.5M", "7.8G" for a count.
std::string ShortCount(uint64_t n);

}  // namespace sawmill::sched
