#include "driver/attempt_result.h"

#include "common/capnp_util.h"
#include "common/file.h"

namespace sawmill {

Status WriteResultFile(const std::string& path, capnp::MallocMessageBuilder& message) {
  const std::string tmp = path + ".tmp";
  RETURN_IF_ERROR(WriteStringToFile(tmp, CapnpToString(message)));
  return Rename(tmp, path);
}

}  // namespace sawmill
