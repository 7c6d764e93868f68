// The store the log, dataset and pipeline commands work on: --store DIR (a local directory, local
// mode) or --cluster D (that cluster's file store, dfs:/, connected for the command's life).
#pragma once

#include <memory>
#include <string>

#include "cli/args.h"
#include "common/reconnect.h"
#include "common/status.h"
#include "dfs/client/connect_dfs.h"

namespace sawmill {

struct StoreArgs {
  std::string root;                        // "dfs:/" or the local directory
  std::unique_ptr<dfs::ScopedDfs> store;   // set with --cluster
};

// The store client of `sawmill logs` and `sawmill dataset` with --cluster: like every client,
// it waits out a namenode restart (kDefaultReconnectMs, as --reconnect_s's default).
inline dfs::DfsClient::Options CommandStoreOptions() {
  dfs::DfsClient::Options o;
  o.reconnect.budget_ms = kDefaultReconnectMs;
  return o;
}

// kInvalidArgument when neither flag is given. `options`: the store client's (with --cluster).
inline Result<StoreArgs> OpenStore(const Args& args, dfs::DfsClient::Options options = CommandStoreOptions()) {
  StoreArgs s;
  if (args.Has("cluster")) {
    ASSIGN_OR_RETURN(s.store, dfs::ScopedDfs::Connect(args.Get("cluster", ""), std::move(options)));
    s.root = "dfs:/";
  } else if (args.Has("store")) {
    s.root = args.Get("store", "");
  } else {
    return InvalidArgument("give --store DIR (local) or --cluster D");
  }
  return s;
}

}  // namespace sawmill
