// Cap'n Proto messages as bytes for frame headers, and the checked way back: a reader over
// untrusted bytes with traversal limits whose field accesses are guarded by CatchCapnp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <capnp/blob.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "common/status.h"

namespace sawmill {

// A Text field as an owned string, copied by size.
inline std::string Text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

// The flat-array serialization of `message`.
std::string CapnpToString(capnp::MessageBuilder& message);

// Owns an aligned copy of received header bytes and reads them as one Cap'n Proto message.
// Accessing a malformed message throws kj::Exception: wrap reads in CatchCapnp.
class CapnpReader {
 public:
  // kInvalidArgument when the length is not a whole number of words or the segment table is bad.
  static Result<std::unique_ptr<CapnpReader>> Parse(std::string_view bytes);
  template <typename T>
  typename T::Reader Root() {
    return reader_->getRoot<T>();
  }

 private:
  CapnpReader() = default;
  kj::Array<capnp::word> words_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
};

// Runs `fn` (returning Status), turning a kj::Exception from a malformed message into
// kInvalidArgument("malformed <what>: ...").
template <typename Fn>
Status CatchCapnp(std::string_view what, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const kj::Exception& e) {
    return InvalidArgument("malformed " + std::string(what) + ": " + std::string(e.getDescription().cStr()));
  }
}

// Status <-> an `Error` struct of any of our schemas (`code :UInt16` = StatusCode, 0 = ok, and
// `message :Text`). An unknown code from a peer reads as kInternal.
template <typename ErrorBuilder>
void SetErrorFromStatus(const Status& status, ErrorBuilder out) {
  out.setCode(static_cast<uint16_t>(status.code()));
  out.setMessage(status.message());
}
template <typename ErrorReader>
Status StatusFromError(ErrorReader error) {
  uint16_t code = error.getCode();
  if (code == 0) return Status::Ok();
  auto sc = code <= static_cast<uint16_t>(StatusCode::kInternal) ? static_cast<StatusCode>(code) : StatusCode::kInternal;
  return Status(sc, std::string(error.getMessage().cStr()));
}

}  // namespace sawmill
