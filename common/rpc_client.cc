// The reconnecting loop of RpcClient (common/rpc_client.h).
#include "common/rpc_client.h"

namespace sawmill {

RpcClient::RpcClient(Transport* transport, std::string address, std::string service, ReconnectOptions reconnect)
    : transport_(transport),
      address_(std::move(address)),
      service_(std::move(service)),
      reconnect_(std::move(reconnect)) {}

void RpcClient::Close() {
  ++closes_;
  std::lock_guard<std::mutex> l(conn_mu_);
  if (conn_) conn_->Close();
}

void RpcClient::Drop() {
  std::lock_guard<std::mutex> l(conn_mu_);
  conn_.reset();
}

Result<std::unique_ptr<CapnpReader>> RpcClient::RoundTrip(const std::string& header, CallKind kind,
                                                          CallOutcome* outcome) {
  std::lock_guard<std::mutex> call(call_mu_);
  const uint64_t closes = closes_.load();
  ReconnectWait wait(reconnect_, service_ + " " + address_);
  bool reopened = false;  // the one immediate retry of a connection that broke since the last call
  while (true) {
    std::shared_ptr<Connection> conn;
    {
      std::lock_guard<std::mutex> l(conn_mu_);
      conn = conn_;
    }
    if (conn != nullptr && conn->PeerClosed()) {
      // The service closed it while it was idle (it died or restarted): nothing was sent on it.
      Drop();
      conn = nullptr;
    }
    const bool fresh = conn == nullptr;
    Status failed;
    bool maybe_applied = false;  // the request was sent; its answer was lost
    if (fresh) {
      auto c = transport_->Connect(address_);
      if (c.ok()) {
        conn = std::shared_ptr<Connection>(std::move(c).value());
        std::lock_guard<std::mutex> l(conn_mu_);
        conn_ = conn;
      } else if (c.status().code() != StatusCode::kUnavailable) {
        return c.status().WithContext(service_);  // e.g. a wrong secret: an answer, not an outage
      } else {
        failed = c.status().WithContext(service_);
      }
    }
    if (conn != nullptr) {
      Status sent = conn->Send(header);
      Result<Message> reply = sent.ok() ? conn->Receive() : Result<Message>(sent);
      if (reply.ok()) {
        wait.Reached();
        auto parsed = CapnpReader::Parse(reply->header);
        if (!parsed.ok()) {
          Drop();
          return parsed.status().WithContext(service_ + " " + address_ + " response");
        }
        return parsed;
      }
      Drop();
      failed = Status(StatusCode::kUnavailable, service_ + " " + address_ + ": " + reply.status().message());
      maybe_applied = sent.ok();
    }
    if (closes_.load() != closes) return failed;  // Close() interrupted the call
    // A connection that broke although it looked alive: reopened at once, once. A mutation
    // that may have reached the service is sent again only by clients without a reconnect
    // budget (daemons, as before budgets existed: the service's answer to a repeat says so).
    if (!fresh && !reopened && (!maybe_applied || kind == CallKind::kIdempotent || reconnect_.budget_ms <= 0)) {
      reopened = true;
      continue;
    }
    if (maybe_applied && kind == CallKind::kMutation) {
      *outcome = CallOutcome::kUnanswered;
      if (reconnect_.budget_ms <= 0) return failed;
      return Status(StatusCode::kUnavailable,
                    failed.message() + " (the request was sent and may have been applied: not sent again)");
    }
    RETURN_IF_ERROR(wait.Pause(failed));
    if (closes_.load() != closes) return failed;
  }
}

}  // namespace sawmill
