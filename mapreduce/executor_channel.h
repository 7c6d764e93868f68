// Messages between a worker and a warm executor (mapreduce/executor.capnp) over a blocking
// stream socket: a u32 little-endian length, then the bytes.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sawmill {

// The reserved first (and only) argument of a spare executor: `JOB --executor_spare`
// (driver/executor_spare.h), started by a worker before a job needs it.
inline constexpr char kExecutorSpareArg[] = "--executor_spare";

// The largest message either side accepts (a request carries the task flags, e.g. a join plan).
inline constexpr size_t kMaxExecutorMessage = 64 << 20;

// Writes one message whole (EINTR and short writes retried; no SIGPIPE when the peer is gone).
Status SendExecutorMessage(int fd, std::string_view bytes);

// Reads one message. kUnavailable when the peer closed the socket before a message began, kIOError
// when it closed or failed within one, kInvalidArgument for an oversized length.
Result<std::string> ReceiveExecutorMessage(int fd);

}  // namespace sawmill
