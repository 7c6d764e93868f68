// The coordinator service's wiring: the Coordinator's lifecycle, and each conversation's
// CoordinatorRequests dispatched to the state's operations, errors answered as Error.
#include "scheduler/coordinator.h"

#include <pthread.h>

#include <algorithm>

#include <glog/logging.h>

#include "common/capnp_util.h"
#include "scheduler/coordinator_client.h"
#include "scheduler/coordinator_state.h"

namespace sawmill::sched {

thread_local Coordinator::Impl::AnswersAfterUnlock* Coordinator::Impl::AnswersAfterUnlock::active = nullptr;

Coordinator::Impl::AnswersAfterUnlock::~AnswersAfterUnlock() {
  active = outer;
  if (outer != nullptr) {  // the outer scope sends them, after its own unlock
    for (auto& a : pending) outer->pending.push_back(std::move(a));
    return;
  }
  for (auto& [exchange, header] : pending) exchange->Answer(std::move(header));
}

void Coordinator::Impl::Call::Finish(const Status& s) {
  if (!s.ok()) SetError(resp.initError(), s);
  std::string header = CapnpToString(reply);
  if (AnswersAfterUnlock::active != nullptr) {
    AnswersAfterUnlock::active->pending.emplace_back(exchange, std::move(header));
  } else {
    exchange->Answer(std::move(header));
  }
}

void Coordinator::Impl::OnRequest(std::shared_ptr<Exchange> exchange) {
  auto call = std::make_shared<Call>();
  call->exchange = std::move(exchange);
  auto reader = CapnpReader::Parse(call->exchange->request().header);
  if (!reader.ok()) return call->Finish(reader.status());
  call->request = std::move(reader).value();
  sp::CoordinatorRequest::Which which = sp::CoordinatorRequest::REGISTER;
  Status s = CatchCapnp("coordinator request", [&] {
    which = call->req().which();
    return Status::Ok();
  });
  if (!s.ok()) return call->Finish(s);
  // Each of these answers `call` itself, at once or later; an error is answered here (it comes
  // from reading the request, before anything changed).
  switch (which) {
    case sp::CoordinatorRequest::POLL:
      s = CatchCapnp("poll", [&] { return PollAsync(call); });
      break;
    case sp::CoordinatorRequest::REPORT:
      s = CatchCapnp("report", [&] { return ReportAsync(call); });
      break;
    case sp::CoordinatorRequest::WAIT:
      s = CatchCapnp("wait", [&] { return WaitAsync(call); });
      break;
    default:
      if (call->exchange->may_block()) {
        AnswerNow(call);
      } else {
        PostRequestWork([this, call] { AnswerNow(call); });
      }
      return;
  }
  if (!s.ok()) call->Finish(s);
}

void Coordinator::Impl::AnswerNow(const std::shared_ptr<Call>& call) {
  call->Finish(CatchCapnp("coordinator request", [&] { return Dispatch(call->req(), call->resp); }));
}

void Coordinator::Impl::OnClosed(uint64_t conversation) {
  AnswersAfterUnlock answers;  // sent once mu is released
  std::lock_guard<std::mutex> l(mu);
  auto c = conversation_worker.find(conversation);
  if (c == conversation_worker.end()) return;
  const std::string id = c->second;
  conversation_worker.erase(c);
  auto it = workers.find(id);
  if (it == workers.end()) return;
  Worker& w = it->second;
  if (w.parked_poll && w.parked_poll->exchange->conversation() == conversation) {
    Unpark(*w.parked_poll);  // its answer would reach no one
    w.parked_poll.reset();
  }
  // A worker's poll connection closing means the process is gone (SIGKILL closes sockets),
  // unless this coordinator is stopping: then the workers are kept for the next one.
  if (!stopping && w.poll_conversation == conversation) {
    LostWorker(id, "worker " + w.host + " (" + id + ") disconnected");
  }
}

void Coordinator::Impl::PostRequestWork(std::function<void()> fn) {
  std::unique_lock<std::mutex> l(request_mu);
  if (request_stopping) {  // the pool is gone: answered here (a stopped coordinator answers at once)
    l.unlock();
    fn();
    return;
  }
  request_queue.push_back(std::move(fn));
  if (request_idle >= request_queue.size() || request_threads.size() >= kMaxRequestThreads) {
    request_cv.notify_one();
    return;
  }
  request_threads.emplace_back([this] {
    pthread_setname_np(pthread_self(), "coord-requests");
    RequestLoop();
  });
}

void Coordinator::Impl::RequestLoop() {
  std::unique_lock<std::mutex> l(request_mu);
  while (true) {
    ++request_idle;
    request_cv.wait(l, [&] { return request_stopping || !request_queue.empty(); });
    --request_idle;
    if (request_queue.empty()) return;
    auto fn = std::move(request_queue.front());
    request_queue.pop_front();
    l.unlock();
    fn();
    l.lock();
  }
}

void Coordinator::Impl::Park(const std::shared_ptr<Call>& call, int64_t deadline_ms) {
  call->parked = true;
  call->deadline = deadlines.emplace(deadline_ms, call);
  if (call->deadline == deadlines.begin()) timer_cv.notify_one();  // sooner than it sleeps
}

void Coordinator::Impl::Unpark(Call& call) {
  if (!call.parked) return;
  deadlines.erase(call.deadline);
  call.parked = false;
}

void Coordinator::Impl::TimerLoop() {
  std::unique_lock<std::mutex> l(mu);
  while (!stopping) {
    if (deadlines.empty()) {
      timer_cv.wait(l);
      continue;
    }
    const int64_t due = deadlines.begin()->first, now = MonoMs();
    if (due > now) {
      timer_cv.wait_for(l, std::chrono::milliseconds(due - now));
      continue;
    }
    {
      // Every call due now, answered (woken) once mu is released.
      AnswersAfterUnlock answers;
      while (!deadlines.empty() && deadlines.begin()->first <= now) {
        std::shared_ptr<Call> call = deadlines.begin()->second.lock();
        deadlines.erase(deadlines.begin());
        if (!call) continue;
        call->parked = false;
        if (!call->parked_job.empty()) {
          parked_waits.erase(std::remove(parked_waits.begin(), parked_waits.end(), call), parked_waits.end());
          call->Finish(CatchCapnp("wait", [&] { return FillWait(*call); }));
          continue;
        }
        auto w = workers.find(call->parked_worker);
        if (w != workers.end() && w->second.parked_poll == call) {
          AnswerPoll(w->second);
        } else {
          call->resp.initOrders();
          call->Finish(Status::Ok());
        }
      }
      l.unlock();
    }
    l.lock();
  }
}

Status Coordinator::Impl::Dispatch(sp::CoordinatorRequest::Reader req, sp::CoordinatorResponse::Builder resp) {
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

Status Coordinator::Impl::WaitAsync(const std::shared_ptr<Call>& call) {
  auto w = call->req().getWait();
  const std::string job_id = Text(w.getJobId());
  // Bounded: a client that asks for more still hears back at least every 10 s.
  const uint32_t wait_ms = std::min<uint32_t>(w.getWaitMs(), 10000);
  AnswersAfterUnlock answers;  // sent once mu is released
  std::lock_guard<std::mutex> l(mu);
  call->parked_job = job_id;
  auto it = jobs.find(job_id);
  if (it == jobs.end() || it->second->finished || stopping || wait_ms == 0) {
    call->Finish(FillWait(*call));
    return Status::Ok();
  }
  parked_waits.push_back(call);
  Park(call, MonoMs() + wait_ms);
  return Status::Ok();
}

Status Coordinator::Impl::FillWait(Call& call) {
  auto it = jobs.find(call.parked_job);
  if (it == jobs.end()) {  // forgotten: it ended long ago
    ASSIGN_OR_RETURN(auto record, HistoryRecord(call.parked_job));
    call.resp.setStatus(record->getRoot<sp::JobRecord>().getStatus().asReader());
    call.resp.getStatus().disownAttempts();
    return Status::Ok();
  }
  // Followers read counts and counters, never the attempt list: not built under this lock at
  // every answer (a program's would hold every stage's attempts).
  call.resp.setStatus(Root(StatusMessage(*it->second, false)));
  return Status::Ok();
}

void Coordinator::Impl::AnswerWaits() {
  std::vector<std::shared_ptr<Call>> held;
  for (auto& call : parked_waits) {
    auto it = jobs.find(call->parked_job);
    if (stopping || it == jobs.end() || it->second->finished) {
      Unpark(*call);
      call->Finish(CatchCapnp("wait", [&] { return FillWait(*call); }));
    } else {
      held.push_back(std::move(call));
    }
  }
  parked_waits.swap(held);
}

Coordinator::Coordinator(CoordinatorOptions options, FileSystem* store)
    : impl_(std::make_unique<Impl>(std::move(options), store)) {}

Coordinator::~Coordinator() { Stop(); }

Status Coordinator::Start() {
  Impl* i = impl_.get();
  i->store_thread = std::thread([i] {
    pthread_setname_np(pthread_self(), "coord-store");
    i->StoreLoop();
  });
  i->timer = std::thread([i] {
    pthread_setname_np(pthread_self(), "coord-timer");
    i->TimerLoop();
  });
  {
    std::lock_guard<std::mutex> l(i->mu);
    RETURN_IF_ERROR(i->Recover());
  }
  i->ticker = std::thread([i] {
    pthread_setname_np(pthread_self(), "coord-tick");
    i->TickLoop();
  });
  return Status::Ok();
}

Handler Coordinator::handler() {
  Impl* i = impl_.get();
  return [i](Connection& conn) { ServeConversation(*i, conn, i->next_conversation.fetch_add(1)); };
}

AsyncService* Coordinator::service() { return impl_.get(); }

void Coordinator::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
    impl_->WakeAll();  // answers every held poll and wait
    impl_->timer_cv.notify_all();
  }
  if (impl_->ticker.joinable()) impl_->ticker.join();
  if (impl_->timer.joinable()) impl_->timer.join();
  {
    std::lock_guard<std::mutex> l(impl_->request_mu);
    impl_->request_stopping = true;
  }
  impl_->request_cv.notify_all();
  std::vector<std::thread> request_threads;
  {
    std::lock_guard<std::mutex> l(impl_->request_mu);
    request_threads.swap(impl_->request_threads);
  }
  for (auto& t : request_threads) t.join();
  {
    std::lock_guard<std::mutex> l(impl_->store_mu);
    impl_->store_stopping = true;
  }
  impl_->store_cv.notify_all();
  if (impl_->store_thread.joinable()) impl_->store_thread.join();
  impl_->journal.reset();
}

}  // namespace sawmill::sched
