// Waiting on a condition with a deadline (tests never sleep for correctness).
#pragma once

#include <chrono>
#include <thread>

namespace sawmill::testing {

// Polls `cond` every 2 ms until it holds or `ms` have passed; returns its last value.
template <typename Fn>
bool WaitFor(Fn&& cond, int ms = 8000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

}  // namespace sawmill::testing
