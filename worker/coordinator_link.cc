// The worker's conversation with the coordinator: registering (again, when it is forgotten),
// long-polling for orders and carrying them out, and reporting finished attempts and failed
// fetches in order, kept for the next try when a report does not get through.
#include <unistd.h>

#include <algorithm>

#include <capnp/message.h>
#include <glog/logging.h>

#include "common/capnp_util.h"
#include "worker/worker_impl.h"

namespace sawmill::worker {

namespace sp = sched::proto;

Status Worker::Impl::Register() {
  capnp::MallocMessageBuilder m;
  auto r = m.initRoot<sp::CoordinatorRequest>().initRegister();
  r.setHost(opt.host);
  r.setShuffleAddress(opt.shuffle_address);
  r.setSlots(opt.slots);
  r.setPid(::getpid());
  std::string previous;
  {
    // What a restarted coordinator needs to keep this worker's work: its attempts (those whose
    // results wait to be reported too) and the map outputs it serves.
    std::lock_guard<std::mutex> l(mu);
    previous = previous_worker_id;
    r.setPreviousId(previous);
    std::set<std::string> running;
    for (const auto& [id, run] : runs) running.insert(id);
    for (const auto& u : updates) running.insert(u.attempt_id);
    auto list = r.initRunning(static_cast<unsigned>(running.size()));
    unsigned i = 0;
    for (const auto& id : running) list.set(i++, id);
    auto outs = r.initMapOutputs(static_cast<unsigned>(map_outputs.size()));
    i = 0;
    for (const auto& [key, path] : map_outputs) outs.set(i++, key.second);
  }
  ASSIGN_OR_RETURN(auto reply, poll_client.Call(m));
  std::string id;
  RETURN_IF_ERROR(CatchCapnp("register response", [&]() -> Status {
    auto resp = reply->Root<sp::CoordinatorResponse>();
    if (!resp.isRegistered()) return InvalidArgument("coordinator answered register with something else");
    id = Text(resp.getRegistered());
    return Status::Ok();
  }));
  std::lock_guard<std::mutex> l(mu);
  worker_id = id;
  previous_worker_id.clear();
  if (!previous.empty() && id != previous) {
    // Not taken back: the coordinator forgot those attempts (it runs their tasks elsewhere).
    LOG(WARNING) << "the coordinator did not give back id " << previous << ": killing this worker's attempts";
    for (auto& [aid, run] : runs) KillLocked(run.get());
    updates.clear();
  }
  LOG(INFO) << "registered with coordinator " << opt.coordinator_address << " as " << id
            << (previous == id ? " again" : "");
  return Status::Ok();
}

void Worker::Impl::PollLoop() {
  int backoff_ms = 50;
  while (!Stopping()) {
    std::string id;
    {
      std::lock_guard<std::mutex> l(mu);
      id = worker_id;
    }
    if (id.empty()) {
      Status s = Register();
      if (!s.ok()) {
        LOG_EVERY_N(WARNING, 20) << "registering: " << s.ToString();
        SleepUnlessStopping(backoff_ms);
        backoff_ms = std::min(backoff_ms * 2, 2000);
      } else {
        backoff_ms = 50;
        cv.notify_all();
      }
      continue;
    }
    capnp::MallocMessageBuilder m;
    auto p = m.initRoot<sp::CoordinatorRequest>().initPoll();
    p.setWorkerId(id);
    p.setWaitMs(opt.poll_ms);
    auto reply = poll_client.Call(m);
    if (!reply.ok()) {
      if (!Stopping()) {
        LOG_EVERY_N(WARNING, 20) << "poll: " << reply.status().ToString();
      }
      SleepUnlessStopping(backoff_ms);
      backoff_ms = std::min(backoff_ms * 2, 2000);
      continue;
    }
    backoff_ms = 50;
    Status s = CatchCapnp("orders", [&]() -> Status {
      auto resp = (*reply)->Root<sp::CoordinatorResponse>();
      if (!resp.isOrders()) return InvalidArgument("coordinator answered poll with something else");
      Execute(resp.getOrders());
      return Status::Ok();
    });
    if (!s.ok()) LOG(WARNING) << s.ToString();
    ScheduleFetches();
    Reap();
    executors.CloseIdle();
    StartSpares();
  }
}

void Worker::Impl::Execute(sp::Orders::Reader orders) {
  if (orders.getReregister()) {
    LOG(WARNING) << "the coordinator does not know this worker (it restarted?): registering again";
    std::lock_guard<std::mutex> l(mu);
    ForgetIdLocked(worker_id);
    return;
  }
  for (auto jm : orders.getMapOutputs()) {
    std::lock_guard<std::mutex> l(mu);
    auto& locs = locations[Text(jm.getJobId())];
    locs.clear();
    for (auto o : jm.getOutputs()) locs[o.getMap()] = Location{Text(o.getAttemptId()), Text(o.getAddress())};
  }
  // Launches first: a kill in the same orders may be for one of them.
  for (auto launch : orders.getLaunch()) Launch(launch);
  for (auto id : orders.getKill()) {
    std::lock_guard<std::mutex> l(mu);
    auto it = runs.find(Text(id));
    if (it != runs.end()) KillLocked(it->second.get());
  }
  for (auto job : orders.getDropJobs()) DropJob(Text(job));
}

void Worker::Impl::ForgetIdLocked(const std::string& id) {
  if (id.empty() || worker_id != id) return;  // already registering, or registered again
  previous_worker_id = id;
  worker_id.clear();
}

void Worker::Impl::ReportLoop() {
  while (true) {
    std::vector<Update> ups;
    std::vector<FetchFailureNote> ffs;
    std::string id;
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return stopping || (!worker_id.empty() && (!updates.empty() || !fetch_failures.empty())); });
      if (stopping) return;
      ups.swap(updates);
      ffs.swap(fetch_failures);
      id = worker_id;
    }
    capnp::MallocMessageBuilder m;
    auto r = m.initRoot<sp::CoordinatorRequest>().initReport();
    r.setWorkerId(id);
    auto list = r.initUpdates(static_cast<unsigned>(ups.size()));
    for (unsigned i = 0; i < ups.size(); ++i) {
      list[i].setAttemptId(ups[i].attempt_id);
      list[i].setStderrTail(ups[i].stderr_tail);
      list[i].setSeconds(ups[i].seconds);
      auto res = CapnpReader::Parse(ups[i].result);
      if (res.ok()) (void)CatchCapnp("result", [&] {
        list[i].setResult((*res)->Root<proto::AttemptResult>());
        return Status::Ok();
      });
    }
    auto fl = r.initFetchFailures(static_cast<unsigned>(ffs.size()));
    for (unsigned i = 0; i < ffs.size(); ++i) {
      fl[i].setReduceAttemptId(ffs[i].reduce_attempt_id);
      fl[i].setMap(ffs[i].map);
      fl[i].setMapAttemptId(ffs[i].map_attempt_id);
      fl[i].setError(ffs[i].error);
    }
    auto reply = report_client.Call(m);
    if (!reply.ok()) {
      if (Stopping()) return;
      LOG_EVERY_N(WARNING, 20) << "report: " << reply.status().ToString();
      {
        // Keep them for the next try (in order, before anything newer).
        std::lock_guard<std::mutex> l(mu);
        updates.insert(updates.begin(), ups.begin(), ups.end());
        fetch_failures.insert(fetch_failures.begin(), ffs.begin(), ffs.end());
        if (reply.status().code() == StatusCode::kNotFound) {
          // An unknown worker: register again; the results go to a coordinator that gives the id
          // back, and are void otherwise (Register).
          ForgetIdLocked(id);
          continue;
        }
      }
      SleepUnlessStopping(100);
    }
  }
}

}  // namespace sawmill::worker
