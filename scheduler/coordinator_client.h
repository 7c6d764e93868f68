// A connection to the coordinator for request/response calls (scheduler/coordinator.capnp),
// used by workers, `sawmill job` and job binaries submitting themselves.
#pragma once

#include <memory>
#include <string>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/rpc.h"
#include "common/rpc_client.h"
#include "common/status.h"
#include "scheduler/coordinator.capnp.h"

namespace sawmill::sched {

class CoordinatorClient {
 public:
  // `transport` must outlive the client. Connects lazily. `reconnect`: how long calls wait out
  // an unreachable coordinator (common/reconnect.h; workers keep 0, their loops retry).
  CoordinatorClient(Transport* transport, std::string address, ReconnectOptions reconnect = {});

  // Sends one CoordinatorRequest and returns the CoordinatorResponse, or the error it carries.
  // An unreachable coordinator is retried as common/rpc_client.h says, with the request's kind
  // from RequestKind. Thread-safe (calls serialize).
  Result<std::unique_ptr<CapnpReader>> Call(capnp::MallocMessageBuilder& request);
  // Closes the connection (a blocked Call returns an error); the next Call reconnects.
  void Close();
  const std::string& address() const { return rpc_.address(); }

 private:
  RpcClient rpc_;
};

// Whether a request may be sent again after its answer was lost: reads (status, wait, list,
// logs, workers) and a program's stage submissions (a stage key its program has is answered
// with the stage's job, see KnownStage in coordinator_jobs.cc) may; a job's submission (a second
// job), kill, and the workers' register and report may not.
CallKind RequestKind(proto::CoordinatorRequest::Reader request);

// Error <-> Status.
Status ToStatus(proto::Error::Reader e);
void SetError(proto::Error::Builder e, const Status& s);

}  // namespace sawmill::sched
