// ScanOnce: sequential full verification of a BlockStore.
#include "dfs/datanode/block_scanner.h"

#include <glog/logging.h>

namespace sawmill::dfs {

ScanResult ScanOnce(const BlockStore& store, const std::function<void(uint64_t id, const Status&)>& on_corrupt) {
  ScanResult result;
  // Malformed-at-Open files are already known bad; report them every pass until they are deleted.
  for (uint64_t id : store.MalformedIds()) {
    Status s = store.Verify(id);
    if (s.code() == StatusCode::kNotFound) continue;
    ++result.corrupt;
    on_corrupt(id, s);
  }
  for (const BlockInfo& b : store.List()) {
    Status s = store.Verify(b.id);
    if (s.ok()) {
      ++result.verified;
    } else if (s.code() == StatusCode::kCorruption) {
      ++result.corrupt;
      on_corrupt(b.id, s);
    } else if (s.code() != StatusCode::kNotFound) {  // kNotFound: deleted since List()
      LOG(WARNING) << "block scanner: " << s.ToString();
      ++result.errors;
    }
  }
  return result;
}

}  // namespace sawmill::dfs
