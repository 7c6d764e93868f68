// Test doubles for a worker's side of the coordinator protocol (scheduler/coordinator.capnp): a
// store that is down, and a coordinator endpoint that hands the worker orders one poll at a time
// and records the attempt results it reports. Shared by tests/worker/worker_orders_test.cc and
// tests/fuzz/orders_fuzz.cc.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "common/capnp_util.h"
#include "common/fs.h"
#include "common/rpc.h"
#include "common/status.h"
#include "scheduler/coordinator.capnp.h"
#include "worker/worker.h"

namespace sawmill::testing {

// The id the fake coordinator registers every worker as.
inline constexpr char kFakeWorkerId[] = "w1-fuzzhost";

// A store that is down: every call fails (launched attempts fail at fetching their binary).
class FailingFs : public FileSystem {
 public:
  Result<std::unique_ptr<ReadableFile>> OpenRead(const std::string& p) override { return Err(p); }
  Result<std::unique_ptr<AppendableFile>> Create(const std::string& p) override { return Err(p); }
  Status Rename(const std::string& s, const std::string&) override { return Err(s); }
  Status Delete(const std::string& p, bool) override { return Err(p); }
  Status Mkdirs(const std::string& p) override { return Err(p); }
  Result<FileInfo> Stat(const std::string& p) override { return Err(p); }
  Result<std::vector<FileInfo>> List(const std::string& p) override { return Err(p); }
  Result<std::vector<BlockLocation>> GetBlockLocations(const std::string& p) override { return Err(p); }

 private:
  static Status Err(const std::string& p) { return Status(StatusCode::kIOError, "store down: " + p); }
};

// A worker in `dir` (host "fuzzhost") for a FakeCoordinator served at `coordinator`: it polls
// every 5 ms, with one fetch thread.
inline worker::WorkerOptions FakeWorkerOptions(const std::string& dir,
                                               const std::string& coordinator) {
  worker::WorkerOptions o;
  o.dir = dir;
  o.host = "fuzzhost";
  o.coordinator_address = coordinator;
  o.shuffle_address = "fuzzhost:1";
  o.poll_ms = 5;
  o.fetch_threads = 1;
  return o;
}

// A CoordinatorResponse with empty orders: the answer to a poll when nothing is queued.
inline std::string EmptyOrders() {
  capnp::MallocMessageBuilder m;
  m.initRoot<sched::proto::CoordinatorResponse>().initOrders();
  return CapnpToString(m);
}

// A coordinator endpoint: answers register with kFakeWorkerId, each poll with the next queued
// orders (held up to 5 ms, as the coordinator holds polls, then empty orders), and a report with
// `none`, after recording its attempt results. A request that does not parse is counted and ends
// the conversation.
class FakeCoordinator {
 public:
  using Duration = std::chrono::milliseconds;

  // What a worker reported for an attempt (the last report about it).
  struct Reported {
    bool ok = false;
    std::string error;
  };

  // With `record_reports` false, reports are answered but not kept (WaitForReport never returns
  // one): for a long fuzz run.
  explicit FakeCoordinator(bool record_reports = true) : record_reports_(record_reports) {}

  // Serves one conversation: the Handler of an InProcessNetwork service.
  void Serve(Connection& conn) {
    namespace sp = sched::proto;
    const std::string empty = EmptyOrders();
    while (true) {
      auto msg = conn.Receive();
      if (!msg.ok()) return;
      capnp::MallocMessageBuilder reply;
      auto resp = reply.initRoot<sp::CoordinatorResponse>();
      std::string answer;
      auto req = CapnpReader::Parse(msg->header);
      Status s = !req.ok() ? req.status() : CatchCapnp("request", [&]() -> Status {
        auto r = (*req)->Root<sp::CoordinatorRequest>();
        if (r.isRegister()) {
          resp.setRegistered(kFakeWorkerId);
        } else if (r.isPoll()) {
          std::unique_lock<std::mutex> l(mu_);
          cv_.wait_for(l, Duration(5), [&] { return !queue_.empty(); });
          answer = empty;
          if (!queue_.empty()) {
            answer = std::move(queue_.front());
            queue_.pop_front();
          }
          ++polls_;
          cv_.notify_all();
        } else {
          if (r.isReport()) Record(r.getReport());
          resp.setNone();
        }
        return Status::Ok();
      });
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu_);
        ++malformed_requests_;
        return;
      }
      if (!conn.Send(answer.empty() ? CapnpToString(reply) : answer).ok()) return;
    }
  }

  // Queues orders (a CoordinatorResponse) and waits until the worker has carried them out: it
  // polled for them and once more after. False when that took longer than `timeout`.
  bool Give(capnp::MallocMessageBuilder& orders_response, Duration timeout = Duration(8000)) {
    return GiveRaw(CapnpToString(orders_response), timeout);
  }
  // The same with the response's bytes as they are (malformed ones included).
  bool GiveRaw(std::string header, Duration timeout = Duration(8000)) {
    std::unique_lock<std::mutex> l(mu_);
    queue_.push_back(std::move(header));
    const uint64_t before = polls_;
    cv_.notify_all();
    return cv_.wait_for(l, timeout, [&] { return queue_.empty() && polls_ >= before + 2; });
  }

  // What the worker reported for `attempt_id`, once it has (nullopt after `timeout`).
  std::optional<Reported> WaitForReport(const std::string& attempt_id, Duration timeout) {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, timeout, [&] { return reports_.count(attempt_id) > 0; })) return std::nullopt;
    return reports_[attempt_id];
  }

  // Requests that did not parse as a CoordinatorRequest: a worker sends none.
  int malformed_requests() {
    std::lock_guard<std::mutex> l(mu_);
    return malformed_requests_;
  }

 private:
  void Record(sched::proto::Report::Reader report) {
    std::lock_guard<std::mutex> l(mu_);
    if (!record_reports_) return;
    for (auto u : report.getUpdates()) {
      reports_[Text(u.getAttemptId())] = Reported{u.getResult().getOk(), Text(u.getResult().getError())};
    }
    cv_.notify_all();
  }

  const bool record_reports_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // orders for the next polls
  uint64_t polls_ = 0;
  std::map<std::string, Reported> reports_;  // by attempt id
  int malformed_requests_ = 0;
};

}  // namespace sawmill::testing
