// A large byte region reserved once and reused: anonymous mmap with transparent huge pages,
// because page faults cost ~10 us each on our machines and sort buffers touch gigabytes.
// Only the pages actually written count toward RSS.
#pragma once

#include <cstddef>
#include <vector>

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

// Blocks for HugePageAllocator: from 1 MiB on, an anonymous mapping with transparent huge pages;
// smaller ones from operator new.
void* AllocateMaybeHuge(size_t bytes);
void FreeMaybeHuge(void* p, size_t bytes);

// For large vectors that are filled once per task and reused (a map task's lists, their sort's
// scratch): each 2 MiB they grow into is one page fault instead of 512.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(AllocateMaybeHuge(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { FreeMaybeHuge(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const { return true; }
};

// Keeps glibc's malloc from handing freed memory back to the kernel between tasks: blocks up to
// 32 MiB come from its heaps (not a fresh mapping each), and a heap's free top is kept up to
// 256 MiB. Otherwise each task's large vectors (a side input, a batch of rows) fault all their
// pages in again: PageRank 10 M edges 5.0 -> 4.1 s. Job binaries call it first thing; a
// MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ in the environment wins.
void TuneMallocForTasks();

template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace sawmill
