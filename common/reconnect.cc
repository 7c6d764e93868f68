// ReconnectWait: the backoff and the notices of a call that waits out an unreachable service.
#include "common/reconnect.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace sawmill {
namespace {

std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ms % 1000 == 0 ? "%.0f" : "%.1f", static_cast<double>(ms) / 1000);
  return buf;
}

}  // namespace

ReconnectWait::ReconnectWait(const ReconnectOptions& options, std::string peer)
    : options_(options),
      peer_(std::move(peer)),
      next_pause_ms_(std::max<int64_t>(1, options.first_pause_ms)) {}

void ReconnectWait::Notify(const std::string& line) const {
  if (options_.notify) {
    options_.notify(line);
    return;
  }
  // On a terminal, a progress line drawn with \r may be on the last line: start a new one.
  std::fprintf(stderr, "%s%s\n", ::isatty(2) ? "\n" : "", line.c_str());
  std::fflush(stderr);
}

Status ReconnectWait::Pause(const Status& error) {
  if (options_.budget_ms <= 0) return error;
  const auto now = std::chrono::steady_clock::now();
  if (tries_ == 0) {
    first_failure_ = now;
    Notify(peer_ + " unreachable (" + error.message() + "); retrying for up to " +
           Seconds(options_.budget_ms) + " s");
  }
  ++tries_;
  const auto deadline = first_failure_ + std::chrono::milliseconds(options_.budget_ms);
  if (now >= deadline) {
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - first_failure_).count();
    return Status(StatusCode::kUnavailable, peer_ + " unreachable for " + Seconds(waited) + " s (" +
                                                std::to_string(tries_) + " tries, --reconnect_s " +
                                                Seconds(options_.budget_ms) +
                                                "): " + error.message());
  }
  const auto pause = std::min<std::chrono::steady_clock::duration>(
      std::chrono::milliseconds(next_pause_ms_), deadline - now);
  std::this_thread::sleep_for(pause);
  next_pause_ms_ = std::min(next_pause_ms_ * 2, std::max<int64_t>(1, options_.max_pause_ms));
  return Status::Ok();
}

void ReconnectWait::Reached() {
  if (tries_ == 0 || options_.budget_ms <= 0) return;
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - first_failure_)
                          .count();
  Notify(peer_ + " is back after " + Seconds(waited) + " s");
  tries_ = 0;
}

}  // namespace sawmill
