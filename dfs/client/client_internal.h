// Pieces shared by the client's files (not part of its interface): protocol conversions and the
// constructors of the reader and writer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/fs.h"
#include "dfs/client/dfs_client.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs {

DatanodeDescriptor ToDatanodeDescriptor(proto::DatanodeInfo::Reader in);
void SetDatanodeInfo(const DatanodeDescriptor& d, proto::DatanodeInfo::Builder out);
DfsFileStatus ToDfsFileStatus(proto::FileStatus::Reader in);

// A connection to the datanode's data service: over its Unix socket when it runs on this
// machine and has one (no loopback TCP stack to cross), else, or when that connect fails, over
// TCP to its address.
Result<std::unique_ptr<Connection>> ConnectDatanode(Transport* transport, const DatanodeDescriptor& d);

// A file being written; `path` is normalized and was created (under construction) by `client`.
std::unique_ptr<DfsOutputFile> NewDfsWriter(DfsClient* client, std::string path, uint64_t block_size);

// A closed file's reader over the locations fetched at open.
std::unique_ptr<ReadableFile> NewDfsReader(DfsClient* client, DfsFileStatus status,
                                           std::vector<DfsLocatedBlock> blocks);

}  // namespace sawmill::dfs
