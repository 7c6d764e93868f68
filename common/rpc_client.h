// Request/response calls to one service over a connection opened lazily and reopened once when
// it broke since the last call: the loop the coordinator's and the namenode's clients share.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/rpc.h"
#include "common/status.h"

namespace sawmill {

class RpcClient {
 public:
  // `transport` must outlive the client. `service` names the peer in errors ("namenode").
  // Connects lazily.
  RpcClient(Transport* transport, std::string address, std::string service);
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Sends `request` and returns the response, or the error the response carries. `Response` is
  // the schema's response struct (its `error` field an `Error`, see common/capnp_util.h). A
  // connection that broke since the last call (a restarted service) is reopened once; a fresh
  // connection that fails is not retried, and the call is kUnavailable naming the service and
  // its address. A retried mutation may have been applied before the break: the service's answer
  // to the retry says so (e.g. kAlreadyExists). Thread-safe: calls serialize.
  template <typename Response>
  Result<std::unique_ptr<CapnpReader>> Call(capnp::MessageBuilder& request) {
    ASSIGN_OR_RETURN(std::unique_ptr<CapnpReader> reader, RoundTrip(CapnpToString(request)));
    RETURN_IF_ERROR(CatchCapnp(service_ + " response",
                               [&] { return StatusFromError(reader->Root<Response>().getError()); }));
    return reader;
  }

  // Closes the connection (a blocked call returns an error); the next call reconnects.
  void Close();
  const std::string& address() const { return address_; }

 private:
  // Sends `header` and parses the reply, reconnecting once as Call says.
  Result<std::unique_ptr<CapnpReader>> RoundTrip(const std::string& header);
  void Drop();

  Transport* const transport_;
  const std::string address_;
  const std::string service_;
  std::mutex call_mu_;  // one call at a time
  std::mutex conn_mu_;  // guards conn_ itself, so Close() need not wait for a call
  std::shared_ptr<Connection> conn_;
};

}  // namespace sawmill
