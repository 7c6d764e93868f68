#include "scheduler/coordinator_client.h"

namespace sawmill::sched {

Status ToStatus(proto::Error::Reader e) { return StatusFromError(e); }

void SetError(proto::Error::Builder e, const Status& s) { SetErrorFromStatus(s, e); }

CoordinatorClient::CoordinatorClient(Transport* transport, std::string address)
    : transport_(transport), address_(std::move(address)) {}

void CoordinatorClient::Close() {
  std::lock_guard<std::mutex> l(conn_mu_);
  if (conn_) conn_->Close();
}

Result<std::unique_ptr<CapnpReader>> CoordinatorClient::Call(capnp::MallocMessageBuilder& request) {
  const std::string header = CapnpToString(request);
  std::lock_guard<std::mutex> call(mu_);
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
      if (!c.ok()) return c.status().WithContext("coordinator");
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
        std::lock_guard<std::mutex> l(conn_mu_);
        conn_.reset();
        return parsed.status().WithContext("coordinator " + address_ + " response");
      }
      std::unique_ptr<CapnpReader> reader = std::move(parsed).value();
      RETURN_IF_ERROR(CatchCapnp("coordinator response",
                                 [&] { return ToStatus(reader->Root<proto::CoordinatorResponse>().getError()); }));
      return reader;
    }
    {
      std::lock_guard<std::mutex> l(conn_mu_);
      conn_.reset();
    }
    last = reply.status();
    if (fresh) break;
  }
  return Status(StatusCode::kUnavailable, "coordinator " + address_ + ": " + last.message());
}

}  // namespace sawmill::sched
