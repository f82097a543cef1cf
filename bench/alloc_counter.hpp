// Counts heap calls on every thread: `malloc`, `calloc`, `realloc` and the aligned allocators are interposed
// (this program's definitions win over the C library's, for the library's code too), so growth of a plain
// buffer is seen as well as `operator new`, which calls `malloc`. Include from exactly one translation unit
// of a benchmark program.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace bench {
/// Heap calls so far (malloc, calloc, realloc, aligned allocations; operator new through malloc), on every
/// thread.
inline std::atomic<std::uint64_t> allocations{0};
}  // namespace bench

// The C library's own entry points, which the definitions below forward to.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void free(void* p) noexcept {
  __libc_free(p);
}
void* memalign(std::size_t alignment, std::size_t n) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  return memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  void* p = memalign(alignment, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
