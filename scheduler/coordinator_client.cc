// CoordinatorClient: coordinator calls over the RPC layer's reconnecting client.
#include "scheduler/coordinator_client.h"

namespace sawmill::sched {

Status ToStatus(proto::Error::Reader e) { return StatusFromError(e); }

void SetError(proto::Error::Builder e, const Status& s) { SetErrorFromStatus(s, e); }

CoordinatorClient::CoordinatorClient(Transport* transport, std::string address)
    : rpc_(transport, std::move(address), "coordinator") {}

void CoordinatorClient::Close() { rpc_.Close(); }

Result<std::unique_ptr<CapnpReader>> CoordinatorClient::Call(capnp::MallocMessageBuilder& request) {
  return rpc_.Call<proto::CoordinatorResponse>(request);
}

}  // namespace sawmill::sched
