// How a client waits out a service that cannot be reached (a coordinator or namenode being
// restarted): tries again with exponential backoff until a budget (`--reconnect_s`) has passed
// since the first failure, saying once on stderr that it waits and once that the service is back.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace sawmill {

// The default of every client's --reconnect_s, in milliseconds.
inline constexpr int64_t kDefaultReconnectMs = 60000;

struct ReconnectOptions {
  // How long after the first failure a call keeps trying; 0: it fails at once (daemons, whose
  // own loops retry, and tests that expect a dead peer to be reported).
  int64_t budget_ms = 0;
  int64_t first_pause_ms = 100;  // doubled after each failed try ...
  int64_t max_pause_ms = 2000;   // ... up to this
  // Receives the two notices ("... unreachable ...; retrying for up to 60 s", "... is back");
  // empty: they go to stderr as one line each.
  std::function<void(const std::string&)> notify;
};

// The waiting of one call. Not thread-safe (one per call).
class ReconnectWait {
 public:
  // `peer` names the service in notices and errors ("coordinator 127.0.0.1:4000").
  ReconnectWait(const ReconnectOptions& options, std::string peer);

  // After a try that failed because the peer could not be reached (`error`, kUnavailable):
  // sleeps until the next try is due and returns Ok; or, once the budget is spent, returns the
  // error to give up with: `error` itself without a budget, else kUnavailable naming the peer,
  // the time waited and `error`. The first call prints the "unreachable" notice.
  Status Pause(const Status& error);
  // After a try that reached the peer: prints the "back" notice if Pause printed the other.
  void Reached();
  // Whether Pause has been called (the call has waited).
  bool waited() const { return tries_ > 0; }

 private:
  void Notify(const std::string& line) const;

  const ReconnectOptions& options_;
  const std::string peer_;
  std::chrono::steady_clock::time_point first_failure_;
  int64_t next_pause_ms_ = 0;
  int tries_ = 0;
};

}  // namespace sawmill
