// Conversions between the wire protocol (dfs/protocol.capnp) and in-memory types, shared by the
// namenode, the datanodes and the client.
#pragma once

#include "common/status.h"
#include "dfs/block_info.h"
#include "dfs/protocol.capnp.h"

namespace sawmill::dfs {

void SetError(const Status& status, proto::Error::Builder out);
// Ok when code is 0; an unknown code reads as kInternal. The message is kept as sent.
Status ToStatus(proto::Error::Reader error);

void SetBlock(const BlockInfo& block, proto::Block::Builder out);
BlockInfo ToBlockInfo(proto::Block::Reader block);

}  // namespace sawmill::dfs
