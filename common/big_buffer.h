// A large byte region reserved once and reused: anonymous mmap with transparent huge pages,
// because page faults cost ~10 us each on our machines and sort buffers touch gigabytes.
// Only the pages actually written count toward RSS.
#pragma once

#include <cstddef>

namespace sawmill {

class BigBuffer {
 public:
  BigBuffer() = default;
  explicit BigBuffer(size_t capacity);
  ~BigBuffer();
  BigBuffer(BigBuffer&& o) noexcept;
  BigBuffer& operator=(BigBuffer&& o) noexcept;
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;

  char* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace sawmill
