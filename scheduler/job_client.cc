// The client side of cluster jobs: reaching the coordinator, following a job, printing its status.
#include "scheduler/job_client.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <capnp/message.h>

#include "common/auth.h"
#include "common/capnp_util.h"
#include "common/rpc_tcp.h"
#include "mapreduce/progress.h"
#include "scheduler/job_state.h"

namespace sawmill::sched {
namespace {

// A program's line: its stages done so far (loops decide at run time how many there will be) and
// the tasks of those running.
void DrawProgramProgress(proto::JobStatus::Reader s, bool final) {
  int done = 0;
  std::string running;
  for (auto st : s.getStages()) {
    const std::string state = Text(st.getState());
    done += state == "succeeded";
    if (state != "running") continue;
    running += " " + Text(st.getKey()) + " maps " + std::to_string(st.getMapsDone()) + "/" +
               std::to_string(st.getMaps()) + " reduces " + std::to_string(st.getReducesDone()) + "/" +
               std::to_string(st.getReduces());
  }
  std::fprintf(stderr, "\r%s stages %d done%s%s %.1fs   ", Text(s.getJobId()).c_str(), done,
               running.empty() ? "" : ", running:", running.c_str(), static_cast<double>(s.getElapsedMs()) / 1000);
  if (final) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

void DrawProgress(proto::JobStatus::Reader s, bool final) {
  if (s.getProgram()) return DrawProgramProgress(s, final);
  double secs = static_cast<double>(s.getElapsedMs()) / 1000;
  double frac_maps = s.getMaps() ? static_cast<double>(s.getMapsDone()) / s.getMaps() : 1;
  double frac_red = s.getReduces() ? static_cast<double>(s.getReducesDone()) / s.getReduces() : 1;
  double frac = s.getReduces() ? 0.7 * frac_maps + 0.3 * frac_red : frac_maps;
  int width = 24, filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(static_cast<size_t>(width), '.');
  char eta[32] = "";
  if (frac > 0.02 && frac < 1) std::snprintf(eta, sizeof eta, " ETA %.0fs", secs / frac - secs);
  std::fprintf(stderr, "\r%s [%s] maps %d/%d reduces %d/%d %s/%s %.1fs%s   ", Text(s.getJobId()).c_str(), bar.c_str(),
               s.getMapsDone(), s.getMaps(), s.getReducesDone(), s.getReduces(),
               FormatBytes(static_cast<double>(s.getBytesRead())).c_str(),
               FormatBytes(static_cast<double>(s.getInputBytes())).c_str(), secs, eta);
  if (final) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

// A program's stages in submission order, one line each, the columns aligned:
//   s2-i3  Join,Map  running  maps 3/4  reduces 1/2  2.1 s
std::string FormatStages(proto::JobStatus::Reader s) {
  struct Line {
    std::string key, operators, state, maps, reduces, seconds;
  };
  std::vector<Line> lines;
  size_t w[5] = {0, 0, 0, 0, 0};
  for (auto st : s.getStages()) {
    Line l;
    l.key = Text(st.getKey());
    for (auto op : st.getOperators()) l.operators += (l.operators.empty() ? "" : ",") + Text(op);
    if (l.operators.empty()) l.operators = "-";
    l.state = Text(st.getState());
    l.maps = "maps " + std::to_string(st.getMapsDone()) + "/" + std::to_string(st.getMaps());
    l.reduces = "reduces " + std::to_string(st.getReducesDone()) + "/" + std::to_string(st.getReduces());
    auto state = ParseCoordinatorJobState(l.state);
    const bool active = state && !Finished(*state);
    const int64_t end = st.getEndMs() > 0 ? st.getEndMs() : active ? s.getElapsedMs() : -1;
    if (end >= 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(std::max<int64_t>(0, end - st.getStartMs())) / 1000);
      l.seconds = buf;
    } else {
      l.seconds = "-";
    }
    const std::string* cols[5] = {&l.key, &l.operators, &l.state, &l.maps, &l.reduces};
    for (int c = 0; c < 5; ++c) w[c] = std::max(w[c], cols[c]->size());
    lines.push_back(std::move(l));
  }
  std::string out = "  stages (" + std::to_string(lines.size()) + ", in submission order):\n";
  for (const Line& l : lines) {
    const std::string* cols[5] = {&l.key, &l.operators, &l.state, &l.maps, &l.reduces};
    out += "  ";
    for (int c = 0; c < 5; ++c) out += "  " + *cols[c] + std::string(w[c] - cols[c]->size(), ' ');
    out += "  " + l.seconds + "\n";
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<CoordinatorConnection>> ConnectCoordinator(const std::string& cluster_dir,
                                                                  ReconnectOptions reconnect) {
  auto c = std::make_unique<CoordinatorConnection>();
  ASSIGN_OR_RETURN(c->config, LoadClusterConfig(cluster_dir));
  if (c->config.coordinator_address.empty()) {
    return NotFound(ClusterConfigPath(cluster_dir) + ": the cluster runs no coordinator");
  }
  ASSIGN_OR_RETURN(auto made,
                   ConnectCoordinatorAt(c->config.coordinator_address, c->config.SecretPath(), std::move(reconnect)));
  made->config = std::move(c->config);
  return made;
}

Result<std::unique_ptr<CoordinatorConnection>> ConnectCoordinatorAt(const std::string& address,
                                                                    const std::string& secret_file,
                                                                    ReconnectOptions reconnect) {
  if (address.empty()) return InvalidArgument("no coordinator address");
  auto c = std::make_unique<CoordinatorConnection>();
  c->config.coordinator_address = address;
  ASSIGN_OR_RETURN(std::string secret, LoadSecret(secret_file));
  // A coordinator stopped (SIGSTOP, a hung host) keeps the connection open but never answers:
  // without a bound a follower would wait forever. Every answer comes within 10 s (a wait is
  // answered at least that often) unless the coordinator is recovering, which holds a stage
  // submission for up to its worker timeout; 60 s leaves room for both. The call then counts as
  // the coordinator being unreachable and is tried again within --reconnect_s.
  c->transport = std::make_unique<TcpTransport>(std::move(secret), /*connect_timeout_ms=*/10000,
                                                /*io_timeout_ms=*/60000);
  c->client = std::make_unique<CoordinatorClient>(c->transport.get(), address, std::move(reconnect));
  return c;
}

Result<std::unique_ptr<CapnpReader>> GetJobStatus(CoordinatorClient& client, const std::string& job_id) {
  capnp::MallocMessageBuilder m;
  m.initRoot<proto::CoordinatorRequest>().setStatus(job_id);
  return client.Call(m);
}

Result<std::unique_ptr<CapnpReader>> WaitForJob(CoordinatorClient& client, const std::string& job_id, bool progress) {
  auto last_draw = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  while (true) {
    // The coordinator holds the answer until the job ends (or the next progress line is due), so
    // its end is heard at once rather than at the next poll.
    capnp::MallocMessageBuilder m;
    auto wait = m.initRoot<proto::CoordinatorRequest>().initWait();
    wait.setJobId(job_id);
    wait.setWaitMs(progress ? 250 : 5000);
    auto reply = client.Call(m);
    if (!reply.ok() && reply.status().code() == StatusCode::kNotFound) {
      return NotFound("the coordinator at " + client.address() + " does not know " + job_id +
                      " (a wrong id, or a restart that lost it): " + reply.status().message());
    }
    if (!reply.ok()) return reply.status();
    bool done = false;
    RETURN_IF_ERROR(CatchCapnp("job status", [&]() -> Status {
      auto s = (*reply)->Root<proto::CoordinatorResponse>().getStatus();
      auto state = ParseCoordinatorJobState(Text(s.getState()));
      if (!state) return InvalidArgument("job " + job_id + " is in an unknown state '" + Text(s.getState()) + "'");
      done = Finished(*state);
      auto now = std::chrono::steady_clock::now();
      if (progress && (done || now - last_draw > std::chrono::milliseconds(250))) {
        DrawProgress(s, done);
        last_draw = now;
      }
      return Status::Ok();
    }));
    if (done) return std::move(reply).value();
  }
}

namespace {

// The first two lines: a program's from its stages (its own one task is its master).
std::string FormatProgramHead(proto::JobStatus::Reader s) {
  int done = 0;
  for (auto st : s.getStages()) done += Text(st.getState()) == "succeeded";
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s %s %s: a dataflow program, %d stages, %d succeeded, %.1f s\n",
                Text(s.getJobId()).c_str(), Text(s.getName()).c_str(), Text(s.getState()).c_str(),
                static_cast<int>(s.getStages().size()), done, static_cast<double>(s.getElapsedMs()) / 1000);
  std::string out = buf;
  std::snprintf(buf, sizeof buf, "  output %s; records out %llu; master attempts failed %d\n",
                Text(s.getOutput()).c_str(), static_cast<unsigned long long>(s.getRecordsOut()), s.getFailedAttempts());
  return out + buf;
}

std::string FormatJobHead(proto::JobStatus::Reader s) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s %s %s: maps %d/%d (%d running), reduces %d/%d (%d running), read %s of %s, %.1f s\n",
                Text(s.getJobId()).c_str(), Text(s.getName()).c_str(), Text(s.getState()).c_str(), s.getMapsDone(),
                s.getMaps(), s.getMapsRunning(), s.getReducesDone(), s.getReduces(), s.getReducesRunning(),
                FormatBytes(static_cast<double>(s.getBytesRead())).c_str(),
                FormatBytes(static_cast<double>(s.getInputBytes())).c_str(), static_cast<double>(s.getElapsedMs()) / 1000);
  std::string out = buf;
  std::snprintf(buf, sizeof buf,
                "  output %s; records in %llu out %llu; data-local maps %d, remote %d; attempts failed %d, killed %d, "
                "speculative %d\n",
                Text(s.getOutput()).c_str(), static_cast<unsigned long long>(s.getRecordsIn()),
                static_cast<unsigned long long>(s.getRecordsOut()), s.getDataLocalMaps(), s.getRemoteMaps(),
                s.getFailedAttempts(), s.getKilledAttempts(), s.getSpeculativeAttempts());
  return out + buf;
}

}  // namespace

std::string FormatJobStatus(proto::JobStatus::Reader s, bool with_attempts) {
  char buf[512];
  std::string out = s.getProgram() ? FormatProgramHead(s) : FormatJobHead(s);
  if (s.getError().size() > 0) out += "  error: " + Text(s.getError()) + "\n";
  for (auto c : s.getCounters()) out += "  counter " + Text(c.getName()) + " = " + std::to_string(c.getValue()) + "\n";
  if (s.getParentJob().size() > 0) {
    out += "  stage " + Text(s.getStageKey()) + " of program " + Text(s.getParentJob()) + "\n";
  }
  if (with_attempts && s.getProgram()) out += FormatStages(s);
  if (with_attempts) {
    if (s.getProgram()) out += "  program master attempts:\n";
    for (auto a : s.getAttempts()) {
      double dur = static_cast<double>((a.getEndMs() ? a.getEndMs() : s.getElapsedMs()) - a.getStartMs()) / 1000;
      std::snprintf(buf, sizeof buf, "  %-24s %-10s %-9s %6.2fs %s%s%s%s\n", Text(a.getAttemptId()).c_str(),
                    Text(a.getHost()).c_str(), Text(a.getState()).c_str(), dur, a.getLocal() ? "local" : "",
                    a.getSpeculative() ? " speculative" : "", a.getError().size() ? " error: " : "",
                    Text(a.getError()).c_str());
      out += buf;
    }
  }
  return out;
}

}  // namespace sawmill::sched
