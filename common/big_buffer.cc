#include "common/big_buffer.h"

#include <sys/mman.h>

#include <utility>

#include <glog/logging.h>

namespace sawmill {

BigBuffer::BigBuffer(size_t capacity) : capacity_(capacity) {
  if (capacity == 0) return;
  void* p = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  PCHECK(p != MAP_FAILED) << "mmap of " << capacity << " bytes";
  ::madvise(p, capacity, MADV_HUGEPAGE);
  data_ = static_cast<char*>(p);
}

BigBuffer::~BigBuffer() {
  if (data_) ::munmap(data_, capacity_);
}

BigBuffer::BigBuffer(BigBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), capacity_(std::exchange(o.capacity_, 0)) {}

BigBuffer& BigBuffer::operator=(BigBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, capacity_);
    data_ = std::exchange(o.data_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
  }
  return *this;
}

}  // namespace sawmill
