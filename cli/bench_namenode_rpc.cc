// `sawmill bench namenode-rpc`: a running namenode's operation rates over the network, from
// several client threads each with a connection of its own (as Hadoop's NNThroughputBenchmark
// does): what a namenode serves to many clients at once, sync and RPC costs included.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli/args.h"
#include "cli/bench_namenode_rpc.h"
#include "common/auth.h"
#include "dfs/client/connect_dfs.h"

namespace sawmill {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Runs op(thread, i) for i in [0, per_thread) on each thread's client; the first error stops it.
Status RunPhase(const char* what, std::vector<std::unique_ptr<dfs::DfsConnection>>& clients, uint64_t per_thread,
                const std::function<Status(dfs::DfsClient&, size_t, uint64_t)>& op) {
  std::vector<Status> errors(clients.size());
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (size_t t = 0; t < clients.size(); ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < per_thread; ++i) {
        Status s = op(*clients[t]->client, t, i);
        if (!s.ok()) {
          errors[t] = s;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double secs = Seconds(start);
  for (const Status& s : errors) {
    if (!s.ok()) return Status(s.code(), std::string(what) + ": " + s.message());
  }
  const uint64_t n = per_thread * clients.size();
  std::printf("  %-12s %9llu in %8.3f s  %9.0f ops/s  %8.1f us/op per thread\n", what,
              static_cast<unsigned long long>(n), secs, n / secs, secs * 1e6 / static_cast<double>(per_thread));
  std::fflush(stdout);
  return Status::Ok();
}

}  // namespace

int BenchNamenodeRpc(const Args& args) {
  const std::string cluster = args.Get("cluster", "");
  if (cluster.empty()) {
    std::fprintf(stderr, "sawmill bench namenode-rpc: --cluster is required (see --help)\n");
    return 2;
  }
  uint64_t files = 0;
  int threads = 0;
  if (!args.GetNumber<uint64_t>("files", 20000, &files, 1, uint64_t{1} << 32) ||
      !args.GetNumber("threads", 4, &threads, 1, 256)) {
    return 2;
  }
  const uint64_t per_thread = (files + threads - 1) / threads;
  std::vector<std::unique_ptr<dfs::DfsConnection>> clients;
  for (int t = 0; t < threads; ++t) {
    auto c = dfs::ConnectDfs(cluster);
    if (!c.ok()) {
      std::fprintf(stderr, "error: %s\n", c.status().message().c_str());
      return 1;
    }
    clients.push_back(std::move(*c));
  }
  // Each run works under a directory of its own, so that runs against the same store do not meet.
  const std::string root = "/bench-namenode-rpc-" + RandomHex(4);
  auto dir = [&](size_t t) { return root + "/t" + std::to_string(t); };
  auto file = [&](size_t t, uint64_t i) { return dir(t) + "/f" + std::to_string(i); };
  std::printf("sawmill bench namenode-rpc: %llu empty files from %d client threads (a connection each) under %s\n",
              static_cast<unsigned long long>(per_thread * threads), threads, root.c_str());
  auto phases = [&]() -> Status {
    RETURN_IF_ERROR(RunPhase("mkdirs", clients, 1, [&](dfs::DfsClient& c, size_t t, uint64_t) {
      return c.Mkdirs(dir(t));
    }));
    // Create + Close: the namenode's create and complete, each journaled and synced.
    RETURN_IF_ERROR(RunPhase("create", clients, per_thread, [&](dfs::DfsClient& c, size_t t, uint64_t i) -> Status {
      ASSIGN_OR_RETURN(auto out, c.Create(file(t, i)));
      return out->Close();
    }));
    RETURN_IF_ERROR(RunPhase("stat", clients, per_thread, [&](dfs::DfsClient& c, size_t t, uint64_t i) {
      return c.Stat(file(t, i)).status();
    }));
    RETURN_IF_ERROR(RunPhase("locations", clients, per_thread, [&](dfs::DfsClient& c, size_t t, uint64_t i) {
      return c.GetBlockLocations(file(t, i)).status();
    }));
    RETURN_IF_ERROR(RunPhase("list", clients, 10, [&](dfs::DfsClient& c, size_t t, uint64_t) {
      return c.List(dir(t)).status();
    }));
    RETURN_IF_ERROR(RunPhase("rename", clients, per_thread, [&](dfs::DfsClient& c, size_t t, uint64_t i) {
      return c.Rename(file(t, i), file(t, i) + ".r");
    }));
    RETURN_IF_ERROR(RunPhase("delete", clients, per_thread, [&](dfs::DfsClient& c, size_t t, uint64_t i) {
      return c.Delete(file(t, i) + ".r", false);
    }));
    return Status::Ok();
  };
  Status s = phases();
  Status cleanup = clients[0]->client->Delete(root, true);
  if (!s.ok() || !cleanup.ok()) {
    std::fprintf(stderr, "error: %s\n", (!s.ok() ? s : cleanup).message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sawmill
