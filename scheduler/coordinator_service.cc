// The coordinator service's wiring: the Coordinator's lifecycle, and each conversation's
// CoordinatorRequests dispatched to the state's operations, errors answered as Error.
#include "scheduler/coordinator.h"

#include <algorithm>

#include <glog/logging.h>

#include "common/capnp_util.h"
#include "scheduler/coordinator_client.h"
#include "scheduler/coordinator_state.h"

namespace sawmill::sched {

void Coordinator::Impl::Serve(Connection& conn) {
  const uint64_t conversation = next_conversation.fetch_add(1);
  std::string polled_as;  // the worker whose polls this conversation carries
  while (true) {
    auto msg = conn.Receive();
    if (!msg.ok()) break;
    capnp::MallocMessageBuilder reply;
    auto resp = reply.initRoot<sp::CoordinatorResponse>();
    auto reader = CapnpReader::Parse(msg->header);
    Status s = reader.ok() ? CatchCapnp("coordinator request", [&]() -> Status {
      return Dispatch((*reader)->Root<sp::CoordinatorRequest>(), resp, conversation, &polled_as);
    })
                           : reader.status();
    if (!s.ok()) SetError(resp.initError(), s);
    if (!conn.Send(CapnpToString(reply)).ok()) break;
  }
  if (!polled_as.empty()) {
    std::lock_guard<std::mutex> l(mu);
    auto it = workers.find(polled_as);
    // A worker's poll connection closing means the process is gone (SIGKILL closes sockets),
    // unless this coordinator is stopping: then the workers are kept for the next one.
    if (!stopping && it != workers.end() && it->second.poll_conversation == conversation) {
      LostWorker(polled_as, "worker " + it->second.host + " (" + polled_as + ") disconnected");
    }
  }
}

Status Coordinator::Impl::Dispatch(sp::CoordinatorRequest::Reader req, sp::CoordinatorResponse::Builder resp,
                                   uint64_t conversation, std::string* polled_as) {
  switch (req.which()) {
    case sp::CoordinatorRequest::REGISTER: {
      auto r = req.getRegister();
      uint64_t seq = 0;
      {
        std::lock_guard<std::mutex> l(mu);
        const std::string previous = Text(r.getPreviousId());
        if (!previous.empty() && Reregister(previous, r)) {
          Worker& w = workers[previous];
          UpdateFree(w);
          seq = Journal(JournalWorkerRecord({w.id, w.host, w.address, w.slots}));
          resp.setRegistered(previous);
          WakeAll();  // map outputs changed; a master it runs may submit its stages now
        } else {
          Worker w;
          w.id = "w" + std::to_string(next_worker++) + "-" + Text(r.getHost());
          w.host = Text(r.getHost());
          w.address = Text(r.getShuffleAddress());
          w.slots = std::max(1, r.getSlots());
          w.last_seen_ms = MonoMs();
          sched.AddWorker(w.id, w.host, w.slots);
          LOG(INFO) << "worker " << w.id << " registered: host " << w.host << ", shuffle " << w.address << ", "
                    << w.slots << " slots" << (previous.empty() ? "" : " (it was " + previous + ")");
          resp.setRegistered(w.id);
          seq = Journal(JournalWorkerRecord({w.id, w.host, w.address, w.slots}));
          const std::string id = w.id;
          UpdateFree(workers[id] = std::move(w));
        }
        Schedule();
      }
      return Durable(seq);
    }
    case sp::CoordinatorRequest::POLL: {
      auto p = req.getPoll();
      *polled_as = Text(p.getWorkerId());
      return Poll(*polled_as, p.getWaitMs(), conversation, resp.initOrders());
    }
    case sp::CoordinatorRequest::REPORT:
      resp.setNone();
      return Report(req.getReport());
    case sp::CoordinatorRequest::SUBMIT: {
      std::string id;
      RETURN_IF_ERROR(Submit(req.getSubmit(), &id));
      resp.setSubmitted(id);
      return Status::Ok();
    }
    case sp::CoordinatorRequest::STATUS: {
      std::lock_guard<std::mutex> l(mu);
      auto it = jobs.find(Text(req.getStatus()));
      if (it == jobs.end()) {  // forgotten (ForgetOldJobs): its history file has it
        ASSIGN_OR_RETURN(auto record, HistoryRecord(Text(req.getStatus())));
        resp.setStatus(record->getRoot<sp::JobRecord>().getStatus().asReader());
        return Status::Ok();
      }
      resp.setStatus(Root(StatusMessage(*it->second, true)));
      return Status::Ok();
    }
    case sp::CoordinatorRequest::LIST: {
      std::lock_guard<std::mutex> l(mu);
      // A program's stages are listed in its status, not as jobs of their own.
      std::vector<Job*> listed;
      for (const auto& id : job_order) {
        if (jobs[id]->parent.empty()) listed.push_back(jobs[id].get());
      }
      auto list = resp.initList(static_cast<unsigned>(listed.size()));
      for (unsigned i = 0; i < listed.size(); ++i) list.setWithCaveats(i, Root(StatusMessage(*listed[i], false)));
      return Status::Ok();
    }
    case sp::CoordinatorRequest::KILL: {
      std::lock_guard<std::mutex> l(mu);
      const std::string id = Text(req.getKill());
      auto it = jobs.find(id);
      if (it == jobs.end()) return NotFound("no job " + id);
      if (it->second->finished) return InvalidArgument("job " + id + " already " + StateName(*it->second));
      sched.KillJob(id, "killed by a user", MonoMs());
      ReapJobs();
      Schedule();
      resp.setNone();
      return Status::Ok();
    }
    case sp::CoordinatorRequest::LOGS: {
      std::lock_guard<std::mutex> l(mu);
      const std::string id = Text(req.getLogs());
      auto it = jobs.find(id);
      if (it == jobs.end()) {
        ASSIGN_OR_RETURN(auto record, HistoryRecord(id));
        resp.setLogs(record->getRoot<sp::JobRecord>().getLogs().asReader());
        return Status::Ok();
      }
      Job& job = *it->second;
      if (job.finished && job.record) {
        resp.setLogs(FullRecord(job)->getRoot<sp::JobRecord>().getLogs().asReader());
        return Status::Ok();
      }
      FillLogs(job, resp.initLogs(static_cast<unsigned>(job.logs.size())));
      return Status::Ok();
    }
    case sp::CoordinatorRequest::WAIT:
      return WaitJob(Text(req.getWait().getJobId()), req.getWait().getWaitMs(), resp);
    case sp::CoordinatorRequest::WORKERS: {
      std::lock_guard<std::mutex> l(mu);
      auto list = resp.initWorkers(static_cast<unsigned>(workers.size()));
      unsigned i = 0;
      for (const auto& [id, w] : workers) {
        list[i].setId(id);
        list[i].setHost(w.host);
        list[i].setShuffleAddress(w.address);
        list[i].setSlots(w.slots);
        list[i].setRunning(static_cast<int32_t>(w.running.size()));
        ++i;
      }
      return Status::Ok();
    }
    default:
      return InvalidArgument("unknown coordinator request");
  }
}

Status Coordinator::Impl::WaitJob(const std::string& job_id, uint32_t wait_ms, sp::CoordinatorResponse::Builder resp) {
  // Bounded: a client that asks for more still hears back at least every 10 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min<uint32_t>(wait_ms, 10000));
  std::unique_lock<std::mutex> l(mu);
  for (;;) {
    auto it = jobs.find(job_id);
    if (it == jobs.end()) {  // forgotten: it ended long ago
      ASSIGN_OR_RETURN(auto record, HistoryRecord(job_id));
      resp.setStatus(record->getRoot<sp::JobRecord>().getStatus().asReader());
      resp.getStatus().disownAttempts();
      return Status::Ok();
    }
    if (it->second->finished || stopping || std::chrono::steady_clock::now() >= deadline) {
      // Followers read counts and counters, never the attempt list: not built under this lock at
      // every answer (a program's would hold every stage's attempts).
      resp.setStatus(Root(StatusMessage(*it->second, false)));
      return Status::Ok();
    }
    cv.wait_until(l, deadline);
  }
}

Coordinator::Coordinator(CoordinatorOptions options, FileSystem* store)
    : impl_(std::make_unique<Impl>(std::move(options), store)) {}

Coordinator::~Coordinator() { Stop(); }

Status Coordinator::Start() {
  Impl* i = impl_.get();
  i->store_thread = std::thread([i] { i->StoreLoop(); });
  {
    std::lock_guard<std::mutex> l(i->mu);
    RETURN_IF_ERROR(i->Recover());
  }
  i->ticker = std::thread([i] { i->TickLoop(); });
  return Status::Ok();
}

Handler Coordinator::handler() {
  Impl* i = impl_.get();
  return [i](Connection& conn) { i->Serve(conn); };
}

void Coordinator::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
    impl_->WakeAll();
  }
  if (impl_->ticker.joinable()) impl_->ticker.join();
  {
    std::lock_guard<std::mutex> l(impl_->store_mu);
    impl_->store_stopping = true;
  }
  impl_->store_cv.notify_all();
  if (impl_->store_thread.joinable()) impl_->store_thread.join();
  impl_->journal.reset();
}

}  // namespace sawmill::sched
