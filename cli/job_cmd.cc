// `sawmill job --cluster D submit|status|list|kill|logs|wait`: jobs on a cluster's coordinator.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/capnp_util.h"
#include "common/subprocess.h"
#include "scheduler/job_client.h"
#include "scheduler/job_state.h"

namespace sawmill {
namespace {

namespace sp = sched::proto;

constexpr char kUsage[] = R"(Usage:
  sawmill job --cluster D [--reconnect_s S] COMMAND ...
      --reconnect_s S: how long a coordinator that cannot be reached (being restarted) is
      retried, with backoff, before the command gives up (default 60; 0: at once); also given
      to the job binary of submit
  sawmill job --cluster D submit BINARY [--wait] [JOB FLAGS...]
      Runs BINARY --cluster D JOB FLAGS: the job binary uploads itself (once per content, by
      SHA-256) and submits; prints the job id (with --wait: follows it and exits 1 if it fails).
  sawmill job --cluster D status JOB     state, progress, counters and every attempt; for a
      dataflow program, its stages in order (operators, state, maps and reduces done, seconds)
  sawmill job --cluster D list           every job the coordinator knows, newest last
  sawmill job --cluster D kill JOB       fails a running job; its attempts are killed
  sawmill job --cluster D logs JOB [--attempt ID]
      the stderr each attempt left (the last 64 KiB of it)
  sawmill job --cluster D wait JOB       follows the job until it ends (a progress line on a
      terminal), prints its status; exits 0 if it succeeded, 1 if not
)";


int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

// --reconnect_s as a budget; false (printed) when it is not a number of seconds.
bool ParseReconnect(std::string_view text, ReconnectOptions* out) {
  auto s = ParseNumber<int64_t>(text, "--reconnect_s", 0, 7 * 24 * 3600);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.status().message().c_str());
    return false;
  }
  out->budget_ms = *s * 1000;
  return true;
}

// `wait JOB`: follows the job to its end and prints how it ended.
int WaitCommand(sched::CoordinatorClient& client, const std::string& job_id) {
  auto final = sched::WaitForJob(client, job_id, ::isatty(2));
  if (!final.ok()) return Fail(final.status().WithContext("following " + job_id));
  bool succeeded = false;
  Status s = CatchCapnp("coordinator response", [&] {
    auto status = (*final)->Root<sp::CoordinatorResponse>().getStatus();
    std::fputs(sched::FormatJobStatus(status, false).c_str(), stdout);
    succeeded = sched::ParseCoordinatorJobState(Text(status.getState())) == sched::CoordinatorJobState::kSucceeded;
    return Status::Ok();
  });
  if (!s.ok()) return Fail(s);
  return succeeded ? 0 : 1;
}

}  // namespace

int JobCommand(int argc, char** argv) {
  // `submit` hands everything after the binary to it untouched.
  std::string cluster, reconnect_flag;
  ReconnectOptions reconnect;
  reconnect.budget_ms = kDefaultReconnectMs;
  int i = 2;
  std::vector<std::string> rest;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h" || a == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--cluster" && i + 1 < argc) {
      cluster = argv[++i];
    } else if (a.rfind("--cluster=", 0) == 0) {
      cluster = a.substr(10);
    } else if (a == "--reconnect_s" && i + 1 < argc) {
      reconnect_flag = argv[++i];
    } else if (a.rfind("--reconnect_s=", 0) == 0) {
      reconnect_flag = a.substr(14);
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "error: unknown flag %s for sawmill job (before the command: --cluster, --reconnect_s)\n",
                   a.c_str());
      return 2;
    } else {
      break;
    }
  }
  if (i >= argc) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string sub = argv[i++];
  // A submitted binary's own flags are its business: only `submit --help` itself is ours.
  if (sub == "submit" ? i < argc && (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h"))
                      : WantsHelp(argc, argv, i)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // Flags may follow the verb, except submit's: what follows the binary is the binary's.
  if (cluster.empty() && sub == "submit") {
    std::fprintf(stderr, "error: sawmill job submit needs --cluster D before submit\n%s", kUsage);
    return 2;
  }
  if (sub == "submit") {
    if (i >= argc) {
      std::fprintf(stderr, "error: submit needs the job binary\n");
      return 2;
    }
    std::vector<std::string> args = {argv[i], "--cluster", cluster};
    if (!reconnect_flag.empty()) args.insert(args.end(), {"--reconnect_s", reconnect_flag});
    for (int k = i + 1; k < argc; ++k) args.push_back(argv[k]);
    Status s = ExecReplacing(args);
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 2;
  }
  Args args;
  if (!Args::Parse(argc, argv, i, &args)) return 2;
  if (!args.OnlyFlags({"attempt", "reconnect_s", "cluster"})) return 2;
  if (args.Has("cluster")) cluster = args.Get("cluster", "");
  if (cluster.empty()) {
    std::fprintf(stderr, "error: sawmill job needs --cluster D\n%s", kUsage);
    return 2;
  }
  if (args.Has("reconnect_s")) reconnect_flag = args.Get("reconnect_s", "");
  if (!reconnect_flag.empty() && !ParseReconnect(reconnect_flag, &reconnect)) return 2;
  auto conn = sched::ConnectCoordinator(cluster, reconnect);
  if (!conn.ok()) return Fail(conn.status());
  capnp::MallocMessageBuilder m;
  auto req = m.initRoot<sp::CoordinatorRequest>();
  auto need_job = [&]() -> bool {
    if (args.positional.size() != 1) {
      std::fprintf(stderr, "error: %s needs one job id\n", sub.c_str());
      return false;
    }
    return true;
  };
  if (sub == "status") {
    if (!need_job()) return 2;
    req.setStatus(args.positional[0]);
  } else if (sub == "list") {
    req.setList();
  } else if (sub == "kill") {
    if (!need_job()) return 2;
    req.setKill(args.positional[0]);
  } else if (sub == "logs") {
    if (!need_job()) return 2;
    req.setLogs(args.positional[0]);
  } else if (sub == "wait") {
    if (!need_job()) return 2;
    return WaitCommand(*(*conn)->client, args.positional[0]);
  } else {
    std::fprintf(stderr, "error: unknown job command '%s'\n%s", sub.c_str(), kUsage);
    return 2;
  }
  auto reply = (*conn)->client->Call(m);
  if (!reply.ok()) return Fail(reply.status());
  Status s = CatchCapnp("coordinator response", [&]() -> Status {
    auto resp = (*reply)->Root<sp::CoordinatorResponse>();
    if (sub == "status") {
      std::fputs(sched::FormatJobStatus(resp.getStatus(), true).c_str(), stdout);
    } else if (sub == "list") {
      for (auto j : resp.getList()) std::fputs(sched::FormatJobStatus(j, false).c_str(), stdout);
    } else if (sub == "kill") {
      std::printf("%s killed\n", args.positional[0].c_str());
    } else {
      const std::string only = args.Get("attempt", "");
      for (auto l : resp.getLogs()) {
        if (!only.empty() && Text(l.getAttemptId()) != only) continue;
        std::printf("==> %s on %s (%s) <==\n%s", Text(l.getAttemptId()).c_str(), Text(l.getHost()).c_str(),
                    Text(l.getState()).c_str(), Text(l.getStderr()).c_str());
        if (l.getStderr().size() && Text(l.getStderr()).back() != '\n') std::printf("\n");
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return Fail(s);
  return 0;
}

}  // namespace sawmill
