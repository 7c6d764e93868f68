#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace sawmill {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kCorruption: return "CORRUPTION";
    case StatusCode::kIOError: return "IO_ERROR";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

Status ErrnoError(std::string_view what, std::string_view path, int err) {
  StatusCode code = err == ENOENT ? StatusCode::kNotFound
                    : err == EEXIST ? StatusCode::kAlreadyExists
                                    : StatusCode::kIOError;
  const std::string text = err == ENOSPC   ? std::string(kNoSpaceText)
                           : err == EDQUOT ? std::string(kNoSpaceText) + " (disk quota exceeded)"
                                           : std::strerror(err);
  return Status(code, std::string(what) + " " + std::string(path) + ": " + text);
}

bool IsNoSpace(const Status& s) {
  return s.code() == StatusCode::kIOError && s.message().find(kNoSpaceText) != std::string::npos;
}

}  // namespace sawmill
