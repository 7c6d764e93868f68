// `sawmill job --cluster D submit|status|list|kill|logs`: jobs on a cluster's coordinator.
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

namespace sawmill {
namespace {

namespace sp = sched::proto;

constexpr char kUsage[] = R"(Usage:
  sawmill job --cluster D submit BINARY [--wait] [JOB FLAGS...]
      Runs BINARY --cluster D JOB FLAGS: the job binary uploads itself (once per content, by
      SHA-256) and submits; prints the job id (with --wait: follows it and exits 1 if it fails).
  sawmill job --cluster D status JOB     state, progress, counters and every attempt; for a
      dataflow program, its stages in order (operators, state, maps and reduces done, seconds)
  sawmill job --cluster D list           every job the coordinator knows, newest last
  sawmill job --cluster D kill JOB       fails a running job; its attempts are killed
  sawmill job --cluster D logs JOB [--attempt ID]
      the stderr each attempt left (the last 64 KiB of it)
)";


int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int JobCommand(int argc, char** argv) {
  // `submit` hands everything after the binary to it untouched.
  std::string cluster;
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
    } else {
      break;
    }
  }
  if (i >= argc) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string sub = argv[i++];
  if (cluster.empty()) {
    std::fprintf(stderr, "error: sawmill job needs --cluster D before the command\n%s", kUsage);
    return 2;
  }
  if (sub == "submit") {
    if (i >= argc) {
      std::fprintf(stderr, "error: submit needs the job binary\n");
      return 2;
    }
    std::vector<std::string> args = {argv[i], "--cluster", cluster};
    for (int k = i + 1; k < argc; ++k) args.push_back(argv[k]);
    Status s = ExecReplacing(args);
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 2;
  }
  Args args;
  if (!Args::Parse(argc, argv, i, &args)) return 2;
  if (!args.OnlyFlags({"attempt"})) return 2;
  auto conn = sched::ConnectCoordinator(cluster);
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
