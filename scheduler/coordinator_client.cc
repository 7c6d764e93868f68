// CoordinatorClient: coordinator calls over the RPC layer's reconnecting client.
#include "scheduler/coordinator_client.h"

namespace sawmill::sched {

Status ToStatus(proto::Error::Reader e) { return StatusFromError(e); }

void SetError(proto::Error::Builder e, const Status& s) { SetErrorFromStatus(s, e); }

CallKind RequestKind(proto::CoordinatorRequest::Reader request) {
  switch (request.which()) {
    case proto::CoordinatorRequest::STATUS:
    case proto::CoordinatorRequest::LIST:
    case proto::CoordinatorRequest::LOGS:
    case proto::CoordinatorRequest::WORKERS:
    case proto::CoordinatorRequest::WAIT:
      return CallKind::kIdempotent;
    case proto::CoordinatorRequest::SUBMIT: {
      auto sub = request.getSubmit();
      // A stage's key, or a client's token, makes a repeat answer the job the first one made.
      const bool stage = sub.getParentJob().size() > 0 && sub.hasStage() && sub.getStage().getKey().size() > 0;
      return stage || sub.getClientToken().size() > 0 ? CallKind::kIdempotent : CallKind::kMutation;
    }
    default:
      return CallKind::kMutation;
  }
}

CoordinatorClient::CoordinatorClient(Transport* transport, std::string address, ReconnectOptions reconnect)
    : rpc_(transport, std::move(address), "coordinator", std::move(reconnect)) {}

void CoordinatorClient::Close() { rpc_.Close(); }

Result<std::unique_ptr<CapnpReader>> CoordinatorClient::Call(capnp::MallocMessageBuilder& request) {
  CallKind kind = CallKind::kMutation;
  RETURN_IF_ERROR(CatchCapnp("coordinator request", [&] {
    kind = RequestKind(request.getRoot<proto::CoordinatorRequest>().asReader());
    return Status::Ok();
  }));
  return rpc_.Call<proto::CoordinatorResponse>(request, kind);
}

}  // namespace sawmill::sched
