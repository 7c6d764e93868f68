#include "mapreduce/progress.h"

#include <chrono>
#include <cstdio>
#include <string>

namespace sawmill {

std::string FormatBytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

ProgressLine::ProgressLine(const Progress* progress, int maps, int reduces, uint64_t input_bytes, bool enabled)
    : progress_(progress), maps_(maps), reduces_(reduces), input_bytes_(input_bytes), enabled_(enabled),
      start_(std::chrono::steady_clock::now()) {
  if (enabled_) thread_ = std::thread([this] { Loop(); });
}

ProgressLine::~ProgressLine() {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // Leave the final state on screen, like a finished download bar.
  Draw(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void ProgressLine::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!cv_.wait_for(l, std::chrono::milliseconds(200), [this] { return stop_; })) {
    Draw(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
}

void ProgressLine::Draw(double seconds) {
  double bytes = static_cast<double>(progress_->bytes_read.load(std::memory_order_relaxed));
  int maps = progress_->maps_done.load(), reduces = progress_->reduces_done.load();
  double pct = input_bytes_ ? 100.0 * bytes / static_cast<double>(input_bytes_) : 100.0;
  if (pct > 100) pct = 100;
  std::string line = "\r\033[Kmap " + std::to_string(maps) + "/" + std::to_string(maps_);
  if (reduces_ > 0) line += "  reduce " + std::to_string(reduces) + "/" + std::to_string(reduces_);
  char buf[96];
  std::snprintf(buf, sizeof buf, "  %3.0f%%  %s read  %s/s  %.1fs", pct, FormatBytes(bytes).c_str(),
                FormatBytes(seconds > 0 ? bytes / seconds : 0).c_str(), seconds);
  line += buf;
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace sawmill
