// The reconnect-once loop of RpcClient (common/rpc_client.h).
#include "common/rpc_client.h"

namespace sawmill {

RpcClient::RpcClient(Transport* transport, std::string address, std::string service)
    : transport_(transport), address_(std::move(address)), service_(std::move(service)) {}

void RpcClient::Close() {
  std::lock_guard<std::mutex> l(conn_mu_);
  if (conn_) conn_->Close();
}

void RpcClient::Drop() {
  std::lock_guard<std::mutex> l(conn_mu_);
  conn_.reset();
}

Result<std::unique_ptr<CapnpReader>> RpcClient::RoundTrip(const std::string& header) {
  std::lock_guard<std::mutex> call(call_mu_);
  Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<Connection> conn;
    bool fresh = false;
    {
      std::lock_guard<std::mutex> l(conn_mu_);
      conn = conn_;
    }
    if (conn == nullptr) {
      auto c = transport_->Connect(address_);
      if (!c.ok()) return c.status().WithContext(service_);
      conn = std::shared_ptr<Connection>(std::move(c).value());
      std::lock_guard<std::mutex> l(conn_mu_);
      conn_ = conn;
      fresh = true;
    }
    Status sent = conn->Send(header);
    Result<Message> reply = sent.ok() ? conn->Receive() : Result<Message>(sent);
    if (reply.ok()) {
      auto parsed = CapnpReader::Parse(reply->header);
      if (!parsed.ok()) {
        Drop();
        return parsed.status().WithContext(service_ + " " + address_ + " response");
      }
      return parsed;
    }
    Drop();
    last = reply.status();
    if (fresh) break;
  }
  return Status(StatusCode::kUnavailable, service_ + " " + address_ + ": " + last.message());
}

}  // namespace sawmill
