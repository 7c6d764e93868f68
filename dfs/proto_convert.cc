#include "dfs/proto_convert.h"

#include <string>

#include "common/capnp_util.h"

namespace sawmill::dfs {

void SetError(const Status& status, proto::Error::Builder out) {
  SetErrorFromStatus(status, out);
}

Status ToStatus(proto::Error::Reader error) {
  return StatusFromError(error);
}

void SetBlock(const BlockInfo& block, proto::Block::Builder out) {
  out.setId(block.id);
  out.setGeneration(block.generation);
  out.setLength(block.length);
}

BlockInfo ToBlockInfo(proto::Block::Reader block) {
  return BlockInfo{block.getId(), block.getGeneration(), block.getLength()};
}

}  // namespace sawmill::dfs
