#include "common/capnp_util.h"

#include <cstring>

namespace sawmill {

std::string CapnpToString(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  kj::ArrayPtr<const char> bytes = words.asChars();
  return std::string(bytes.begin(), bytes.size());
}

Result<std::unique_ptr<CapnpReader>> CapnpReader::Parse(std::string_view bytes) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return InvalidArgument("message of " + std::to_string(bytes.size()) + " bytes is not whole words");
  }
  std::unique_ptr<CapnpReader> r(new CapnpReader());
  r->words_ = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(r->words_.begin(), bytes.data(), bytes.size());
  Status st = CatchCapnp("message", [&] {
    capnp::ReaderOptions limits;
    limits.traversalLimitInWords = 8 << 20;
    limits.nestingLimit = 32;
    r->reader_ = std::make_unique<capnp::FlatArrayMessageReader>(r->words_, limits);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return r;
}

}  // namespace sawmill
