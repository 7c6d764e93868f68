// A progress line on stderr for long local runs (maps and reduces done, bytes read, rate),
// redrawn a few times a second while a job runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "mapreduce/task.h"

namespace sawmill {

class ProgressLine {
 public:
  ProgressLine(const Progress* progress, int maps, int reduces, uint64_t input_bytes, bool enabled);
  ~ProgressLine();  // stops, draws the final state and ends the line

 private:
  void Loop();
  void Draw(double seconds);

  const Progress* progress_;
  int maps_, reduces_;
  uint64_t input_bytes_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Human-readable byte count ("12.3 MB").
std::string FormatBytes(double bytes);

}  // namespace sawmill
