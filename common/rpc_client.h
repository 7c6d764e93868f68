// Request/response calls to one service over a connection opened lazily and reopened when it
// broke, waiting out a service that is down (common/reconnect.h): the loop the coordinator's and
// the namenode's clients share.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/reconnect.h"
#include "common/rpc.h"
#include "common/status.h"

namespace sawmill {

// Whether a request may be sent again after a try whose answer was lost.
enum class CallKind {
  kIdempotent,  // a read, or a change that a second application leaves as the first did
  kMutation,    // sent again only when the failed try cannot have reached the service
};

// How a call ended, for callers that act on it (DfsClient reads back a lost rename, waits for
// datanodes that a restarted namenode has not heard from yet).
enum class CallOutcome {
  kAnswered,    // the service answered (the call's error, if any, is its answer)
  kUnanswered,  // a mutation was sent and its answer lost: it may have been applied
  kUnreached,   // the service could not be reached, or gave garbage
};

class RpcClient {
 public:
  // `transport` must outlive the client. `service` names the peer in errors ("namenode").
  // Connects lazily. `reconnect` says how long calls wait out an unreachable service.
  RpcClient(Transport* transport, std::string address, std::string service, ReconnectOptions reconnect = {});
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Sends `request` and returns the response, or the error the response carries. `Response` is
  // the schema's response struct (its `error` field an `Error`, see common/capnp_util.h); an
  // error the service answers with is returned as it is, never retried.
  //
  // Failures to reach the service (kUnavailable from the transport: refused, reset, closed
  // mid-call, timed out):
  //  - an idle connection the service closed (it died or restarted) is dropped before sending;
  //  - a connection that looked alive but broke during the call is reopened at once, once; a
  //    mutation whose request went out is sent again this way only without a reconnect budget
  //    (daemons, whose services answer a repeat as such, e.g. kAlreadyExists);
  //  - then, while the reconnect budget lasts, a failed connect or send (nothing reached the
  //    service) is tried again with backoff, for either kind; a request sent whose answer was
  //    lost is tried again only when kIdempotent;
  //  - otherwise the call is kUnavailable naming the service and its address (a mutation whose
  //    answer was lost says that it may have been applied).
  // *outcome, when given, says which of these happened.
  // Thread-safe: calls serialize. Close() ends a call's waiting.
  template <typename Response>
  Result<std::unique_ptr<CapnpReader>> Call(capnp::MessageBuilder& request, CallKind kind = CallKind::kMutation,
                                            CallOutcome* outcome = nullptr) {
    CallOutcome ignored;
    if (outcome == nullptr) outcome = &ignored;
    *outcome = CallOutcome::kUnreached;
    ASSIGN_OR_RETURN(std::unique_ptr<CapnpReader> reader, RoundTrip(CapnpToString(request), kind, outcome));
    *outcome = CallOutcome::kAnswered;
    RETURN_IF_ERROR(CatchCapnp(service_ + " response",
                               [&] { return StatusFromError(reader->Root<Response>().getError()); }));
    return reader;
  }

  // Closes the connection (a blocked call returns an error); the next call reconnects.
  void Close();
  const std::string& address() const { return address_; }

 private:
  // Sends `header` and parses the reply, reconnecting as Call says.
  // Sets *outcome to kUnanswered for a mutation whose answer was lost.
  Result<std::unique_ptr<CapnpReader>> RoundTrip(const std::string& header, CallKind kind, CallOutcome* outcome);
  void Drop();

  Transport* const transport_;
  const std::string address_;
  const std::string service_;
  const ReconnectOptions reconnect_;
  std::atomic<uint64_t> closes_{0};  // Close() calls: a call that saw one stops waiting
  std::mutex call_mu_;  // one call at a time
  std::mutex conn_mu_;  // guards conn_ itself, so Close() need not wait for a call
  std::shared_ptr<Connection> conn_;
};

}  // namespace sawmill
