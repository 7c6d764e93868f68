// Framing of every connection: a 16-byte prefix, a Cap'n Proto header message, then `body`
// bulk bytes (block or shuffle data) that follow on the same connection without being copied
// into the message. Decoding is incremental and rejects garbage before allocating for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sawmill {

inline constexpr uint32_t kFrameMagic = 0x31465753;  // "SWF1" little-endian
inline constexpr size_t kFramePrefixSize = 16;
inline constexpr uint32_t kMaxFrameHeader = 16 << 20;

// Prefix layout: u32 magic, u32 header length, u64 body length (all little-endian).
struct FramePrefix {
  uint32_t header_len = 0;
  uint64_t body_len = 0;
};

// Appends the prefix and header; the caller then sends body_len bytes of body.
void EncodeFrame(std::string_view header, uint64_t body_len, std::string* out);

// Feed bytes as they arrive; Next() yields each frame's header once complete, then the body
// bytes are handed out by TakeBody() until the frame's body is consumed.
class FrameDecoder {
 public:
  void Feed(std::string_view bytes) { buf_.append(bytes); }
  // A complete header, nullopt when more bytes are needed, or an error for garbage (bad magic,
  // oversized header): the connection must then be closed.
  Result<std::optional<FramePrefix>> Next(std::string* header);
  // Up to `max` bytes of the current frame's body that have arrived.
  std::string_view TakeBody(size_t max);
  uint64_t body_remaining() const { return body_remaining_; }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  void Compact();
  std::string buf_;
  size_t pos_ = 0;
  uint64_t body_remaining_ = 0;
};

}  // namespace sawmill
