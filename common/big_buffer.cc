#include "common/big_buffer.h"

#include <sys/mman.h>

#include <malloc.h>

#include <cstdlib>
#include <new>
#include <utility>

#include <glog/logging.h>

namespace sawmill {

namespace {
constexpr size_t kHugeFrom = size_t{1} << 20;
size_t MappedBytes(size_t bytes) { return (bytes + (size_t{2} << 20) - 1) & ~((size_t{2} << 20) - 1); }
// An anonymous mapping of `bytes` (pages reserved, not committed) on transparent huge pages;
// null if it cannot be had.
void* MapHuge(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  ::madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}
}  // namespace

BigBuffer::BigBuffer(size_t capacity) : capacity_(capacity) {
  if (capacity == 0) return;
  void* p = MapHuge(capacity);
  PCHECK(p != nullptr) << "mmap of " << capacity << " bytes";
  data_ = static_cast<char*>(p);
}

void* AllocateMaybeHuge(size_t bytes) {
  if (bytes < kHugeFrom) return ::operator new(bytes);
  void* p = MapHuge(MappedBytes(bytes));
  if (!p) throw std::bad_alloc();
  return p;
}

void FreeMaybeHuge(void* p, size_t bytes) {
  if (bytes < kHugeFrom) {
    ::operator delete(p);
  } else {
    ::munmap(p, MappedBytes(bytes));
  }
}

void TuneMallocForTasks() {
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_")) ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  if (!std::getenv("MALLOC_TRIM_THRESHOLD_")) ::mallopt(M_TRIM_THRESHOLD, 256 << 20);
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
