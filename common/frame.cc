#include "common/frame.h"

#include <algorithm>

#include "common/coding.h"

namespace sawmill {

void EncodeFrame(std::string_view header, uint64_t body_len, std::string* out) {
  PutFixed32(out, kFrameMagic);
  PutFixed32(out, static_cast<uint32_t>(header.size()));
  PutFixed64(out, body_len);
  out->append(header);
}

void FrameDecoder::Compact() {
  if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

Result<std::optional<FramePrefix>> FrameDecoder::Next(std::string* header) {
  if (body_remaining_ > 0) return Internal("FrameDecoder::Next called inside a frame body");
  if (buf_.size() - pos_ < kFramePrefixSize) return std::optional<FramePrefix>();
  const char* p = buf_.data() + pos_;
  if (DecodeFixed32(p) != kFrameMagic) return InvalidArgument("not a Sawmill frame (bad magic)");
  FramePrefix f{DecodeFixed32(p + 4), DecodeFixed64(p + 8)};
  if (f.header_len > kMaxFrameHeader) {
    return InvalidArgument("frame header of " + std::to_string(f.header_len) + " bytes exceeds the limit");
  }
  if (buf_.size() - pos_ - kFramePrefixSize < f.header_len) return std::optional<FramePrefix>();
  header->assign(p + kFramePrefixSize, f.header_len);
  pos_ += kFramePrefixSize + f.header_len;
  body_remaining_ = f.body_len;
  Compact();
  return std::optional<FramePrefix>(f);
}

std::string_view FrameDecoder::TakeBody(size_t max) {
  size_t n = static_cast<size_t>(std::min<uint64_t>({body_remaining_, buf_.size() - pos_, max}));
  std::string_view out(buf_.data() + pos_, n);
  pos_ += n;
  body_remaining_ -= n;
  // Compacting would invalidate `out`; it happens on the next Next().
  return out;
}

}  // namespace sawmill
