#include "mapreduce/reducer_choice.h"

#include <algorithm>
#include <cstdio>

namespace sawmill {

ReducerChoice ChooseReducers(int requested, int slots, uint64_t input_bytes) {
  ReducerChoice c;
  if (requested > 0) {
    c.reducers = requested;
    return c;
  }
  c.automatic = true;
  c.slots = std::max(slots, 0);
  c.input_bytes = input_bytes;
  uint64_t by_input = input_bytes / kMinReduceInputBytes + (input_bytes % kMinReduceInputBytes != 0 ? 1 : 0);
  c.reducers = static_cast<int>(std::max<uint64_t>(1, std::min<uint64_t>(static_cast<uint64_t>(c.slots), by_input)));
  return c;
}

namespace {

// Binary units, as the 64 MiB cap is written.
std::string Size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double b = static_cast<double>(bytes);
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", b, units[u]);
  return buf;
}

}  // namespace

std::string AutoReducersBasis(const ReducerChoice& c, const char* slot_word) {
  return std::to_string(c.slots) + slot_word + "/" + Size(c.input_bytes);
}

std::string ReducerSummaryFields(const ReducerChoice& c, const char* slot_word) {
  if (c.reducers <= 0) return "";
  std::string out = " reducers=" + std::to_string(c.reducers);
  if (c.automatic) out += " reducers_auto=" + AutoReducersBasis(c, slot_word);
  return out;
}

}  // namespace sawmill
