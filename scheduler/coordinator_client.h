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
  // `transport` must outlive the client. Connects lazily.
  CoordinatorClient(Transport* transport, std::string address);

  // Sends one CoordinatorRequest and returns the CoordinatorResponse, or the error it carries.
  // A connection broken since the last call is reopened once. Thread-safe (calls serialize).
  Result<std::unique_ptr<CapnpReader>> Call(capnp::MallocMessageBuilder& request);
  // Closes the connection (a blocked Call returns an error); the next Call reconnects.
  void Close();
  const std::string& address() const { return rpc_.address(); }

 private:
  RpcClient rpc_;
};

// Error <-> Status.
Status ToStatus(proto::Error::Reader e);
void SetError(proto::Error::Builder e, const Status& s);

}  // namespace sawmill::sched
