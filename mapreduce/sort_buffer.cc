#include "mapreduce/sort_buffer.h"

#include <algorithm>

#include "common/coding.h"

namespace sawmill {

SortBuffer::SortBuffer(size_t capacity)
    : buf_(std::min<size_t>(capacity, size_t{4} << 30) & ~size_t{15}),
      capacity_(buf_.capacity()), index_begin_(capacity_) {}

bool SortBuffer::Add(uint32_t partition, std::string_view key, std::string_view value) {
  size_t need = RecordBytes(key, value);
  size_t record_at = (data_end_ + 3) & ~size_t{3};
  if (record_at + need + sizeof(Entry) > index_begin_) return false;
  char* p = buf_.data() + record_at;
  uint32_t klen = static_cast<uint32_t>(key.size()), vlen = static_cast<uint32_t>(value.size());
  std::memcpy(p, &klen, 4);
  std::memcpy(p + 4, &vlen, 4);
  std::memcpy(p + 8, key.data(), key.size());
  std::memcpy(p + 8 + key.size(), value.data(), value.size());
  data_end_ = record_at + need;
  index_begin_ -= sizeof(Entry);
  *reinterpret_cast<Entry*>(buf_.data() + index_begin_) =
      Entry{KeyPrefix(key), partition, static_cast<uint32_t>(record_at)};
  return true;
}

void SortBuffer::Sort() {
  Entry* b = entries();
  Entry* e = b + size();
  std::sort(b, e, [this](const Entry& x, const Entry& y) {
    if (x.partition != y.partition) return x.partition < y.partition;
    if (x.prefix != y.prefix) return x.prefix < y.prefix;
    std::string_view kx = key(x), ky = key(y);
    if (kx.size() > 8 && ky.size() > 8) {
      int c = std::memcmp(kx.data() + 8, ky.data() + 8, std::min(kx.size(), ky.size()) - 8);
      if (c != 0) return c < 0;
    }
    if (kx.size() != ky.size()) return kx.size() < ky.size();
    return x.offset < y.offset;
  });
}

}  // namespace sawmill
