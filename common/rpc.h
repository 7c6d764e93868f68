// The transport seam every daemon and client talks through: authenticated, ordered, full-duplex
// conversations of Messages (a Cap'n Proto header plus bulk body bytes, see common/frame.h).
// Services are Handlers that run one whole conversation; the TCP transport (common/rpc_tcp.h)
// and the in-process one (below, for tests without sockets) both drive them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"

namespace sawmill {

// Bodies above this are refused by the receiver before anything is allocated for them; bulk
// data travels as a sequence of packets well below it.
inline constexpr uint64_t kMaxMessageBody = 32 << 20;

struct Message {
  std::string header;  // one Cap'n Proto message (see common/capnp_util.h)
  std::string body;    // bulk bytes, possibly empty
};

// One end of a conversation. Send and Receive may run concurrently on two threads (one sender,
// one receiver); two concurrent Sends or two concurrent Receives are not allowed.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Status Send(std::string_view header, std::string_view body = {}) = 0;
  // Send with the body taken from bytes [offset, offset + length) of the regular file `fd`: over
  // TCP with sendfile(2), so the bytes go from the page cache to the socket without a copy
  // through this process. A file shorter than that is kIOError, and the connection is closed
  // (the frame cannot be completed); connection failures are kUnavailable as for Send.
  virtual Status SendFile(std::string_view header, int fd, uint64_t offset, uint64_t length) = 0;
  // kUnavailable ("connection closed") at end of stream; any garbage or oversized frame is an
  // error too, after which the connection is useless.
  virtual Result<Message> Receive() = 0;
  // Receive into *m, reusing its strings' memory: a loop receiving bulk packets into one Message
  // allocates its body once and does not zero-fill it again. *m is unspecified after an error.
  virtual Status ReceiveInto(Message* m) {
    Result<Message> r = Receive();
    if (!r.ok()) return r.status();
    *m = std::move(r).value();
    return Status::Ok();
  }
  // Shuts both directions: a Receive blocked in another thread returns an error.
  virtual void Close() = 0;
  // Between request/response rounds: whether the other end has closed (or sent something
  // unasked), so that a request sent now would meet a dead peer; it does not block. Clients
  // check it before reusing an idle connection (common/rpc_client.h).
  virtual bool PeerClosed() { return false; }
  // "host:port" of the other end (or a test name), for error messages.
  virtual const std::string& peer() const = 0;
};

// Runs one conversation: typically a loop of Receive request / Send response until Receive fails.
using Handler = std::function<void(Connection&)>;

// One request of a conversation served by an AsyncService: answered exactly once, at once or
// later, from any thread. The conversation's next request comes after the answer.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Message& request() const = 0;
  // Unique per conversation for the life of the service.
  virtual uint64_t conversation() const = 0;
  // True when OnRequest runs on a thread of the conversation's own (ServeConversation), which
  // may block until the answer; false on an event thread that serves every conversation and
  // must not block (InProcessNetwork::ListenAsync).
  virtual bool may_block() const = 0;
  virtual void Answer(std::string header, std::string body = {}) = 0;
};

// A service that needs no thread per conversation: a request may wait (a held poll) without
// holding a thread, and answers come from whichever thread has them ready.
class AsyncService {
 public:
  virtual ~AsyncService() = default;
  virtual void OnRequest(std::shared_ptr<Exchange> exchange) = 0;
  // The conversation ended (its peer closed or the network stopped). A request of it still
  // unanswered may be answered, to no one.
  virtual void OnClosed(uint64_t conversation) = 0;
};

// Runs one conversation of `service` on this thread, as a Handler does: each request goes to
// OnRequest (may_block: true), its answer is awaited and sent; OnClosed once it ends.
// `conversation` must be unique among the service's.
void ServeConversation(AsyncService& service, Connection& conn, uint64_t conversation);

class Transport {
 public:
  virtual ~Transport() = default;
  // Opens an authenticated connection to `address` ("host:port"); errors name the address.
  virtual Result<std::unique_ptr<Connection>> Connect(const std::string& address) = 0;
};

// Services registered by name, each conversation run on its own thread against a pair of
// in-memory queues: for unit tests of services and clients without sockets. Destroying the
// network closes every open connection and joins the service threads.
class InProcessNetwork : public Transport {
 public:
  InProcessNetwork() = default;
  ~InProcessNetwork() override;
  InProcessNetwork(const InProcessNetwork&) = delete;
  InProcessNetwork& operator=(const InProcessNetwork&) = delete;

  void Listen(const std::string& address, Handler handler);
  // Serves `service` at `address` from one event thread (its requests and closes, in arrival
  // order): a thousand held conversations cost no thread each. `service` must outlive Stop.
  void ListenAsync(const std::string& address, AsyncService* service);
  // Later Connects to `address` fail with kUnavailable, like a dead process; open conversations
  // are closed.
  void Stop(const std::string& address);
  Result<std::unique_ptr<Connection>> Connect(const std::string& address) override;

  struct Pipe;       // one connection's queues (defined in rpc_inproc.cc)
  struct EventLoop;  // an async service's event thread and queue

 private:
  struct Service {
    Handler handler;
    std::shared_ptr<EventLoop> loop;  // ListenAsync
    std::vector<std::weak_ptr<Pipe>> pipes;
  };
  std::mutex mu_;
  std::map<std::string, Service> services_;
  std::vector<std::thread> threads_;
};

}  // namespace sawmill
