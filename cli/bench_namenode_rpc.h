// `sawmill bench namenode-rpc --cluster D [--files N] [--threads T]`: a running namenode's
// operation rates from T client threads over the network (cli/bench_namenode_rpc.cc).
#pragma once

#include "cli/args.h"

namespace sawmill {

// Exit code: 0, 1 on an error (printed), 2 on bad flags.
int BenchNamenodeRpc(const Args& args);

}  // namespace sawmill
