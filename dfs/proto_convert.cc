#include "dfs/proto_convert.h"

#include <string>

namespace sawmill::dfs {

void SetError(const Status& status, proto::Error::Builder out) {
  out.setCode(static_cast<uint16_t>(status.code()));
  out.setMessage(status.message());
}

Status ToStatus(proto::Error::Reader error) {
  uint16_t code = error.getCode();
  if (code == 0) return Status::Ok();
  auto sc = code <= static_cast<uint16_t>(StatusCode::kInternal) ? static_cast<StatusCode>(code)
                                                                  : StatusCode::kInternal;
  return Status(sc, std::string(error.getMessage().cStr()));
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
