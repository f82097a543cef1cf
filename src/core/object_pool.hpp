// Private: a lock-free pool of type-stable objects.
//
// Objects are allocated in chunks and never freed while the pool lives, so a stale pointer to a pooled object
// always points at an object of the right type; span records rely on this for their generation-checked weak
// references. The free list is a Treiber stack of 32-bit indices with a 32-bit ABA tag in one 64-bit word.
// T must have `std::uint32_t pool_index` and `std::atomic<std::uint32_t> pool_next`.
#pragma once

#include "core/prefetch.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace beeline::detail {

template <class T, std::size_t ChunkSize = 256, std::size_t MaxChunks = 4096>
class object_pool {
 public:
  static constexpr std::size_t chunk_size = ChunkSize;

  object_pool() = default;
  object_pool(const object_pool&) = delete;
  object_pool& operator=(const object_pool&) = delete;
  ~object_pool() {
    const auto n = std::min<std::size_t>(chunk_count_.load(std::memory_order_acquire), MaxChunks);
    for (std::size_t c = 0; c < n; ++c)
      delete[] chunks_[c].load(std::memory_order_acquire);
  }

  /// A free object, or a new one; null only when MaxChunks * ChunkSize objects are all in use. A new chunk is
  /// given to `prepare(chunk, ChunkSize)` before any of its objects is used.
  template <class F>
  T* pop(F&& prepare) noexcept {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    while (head & index_mask) {
      T* obj = at(static_cast<std::uint32_t>(head & index_mask) - 1);
      const std::uint64_t next = obj->pool_next.load(std::memory_order_relaxed);
      const std::uint64_t new_head = (((head >> 32) + 1) << 32) | next;
      if (head_.compare_exchange_weak(head, new_head, std::memory_order_acq_rel, std::memory_order_acquire)) {
        if (next) {
          // The next free object was most likely given back by the export worker, on another core: ask for
          // its first lines for writing now, so the next pop (the next span) does not wait for them.
          const char* n = reinterpret_cast<const char*>(at(static_cast<std::uint32_t>(next) - 1));
          for (std::size_t line = 0; line < std::min<std::size_t>(sizeof(T), 256); line += 64)
            prefetch_for_write(n + line);
        }
        return obj;
      }
    }
    return grow(prepare);
  }
  T* pop() noexcept {
    return pop([](T*, std::size_t) noexcept {});
  }

  /// A free object, or null when none is free (never allocates).
  T* try_pop() noexcept {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    while (head & index_mask) {
      T* obj = at(static_cast<std::uint32_t>(head & index_mask) - 1);
      const std::uint64_t next = obj->pool_next.load(std::memory_order_relaxed);
      const std::uint64_t new_head = (((head >> 32) + 1) << 32) | next;
      if (head_.compare_exchange_weak(head, new_head, std::memory_order_acq_rel, std::memory_order_acquire))
        return obj;
    }
    return nullptr;
  }

  /// Allocates one more chunk, calls `prepare(chunk, ChunkSize)` and makes its objects all free; false if
  /// the pool is at its limit or the heap refused.
  template <class F>
  bool add_chunk(F&& prepare) noexcept {
    T* chunk = new_chunk();
    if (!chunk) return false;
    prepare(chunk, ChunkSize);
    for (std::size_t i = 1; i < ChunkSize; ++i)
      link(&chunk[i - 1], &chunk[i]);
    push_chain(&chunk[0], &chunk[ChunkSize - 1]);
    return true;
  }

  /// Returns an object to the pool.
  void push(T* obj) noexcept { push_chain(obj, obj); }

  /// Returns a chain of objects already linked through `pool_next` (first ... last) in one operation.
  void push_chain(T* first, T* last) noexcept {
    std::uint64_t head = head_.load(std::memory_order_relaxed);
    std::uint64_t new_head;
    do {
      last->pool_next.store(static_cast<std::uint32_t>(head & index_mask), std::memory_order_relaxed);
      new_head = (((head >> 32) + 1) << 32) | (std::uint64_t{first->pool_index} + 1);
    } while (
        !head_.compare_exchange_weak(head, new_head, std::memory_order_release, std::memory_order_relaxed));
  }

  /// Links `obj` after `prev` for a later `push_chain`.
  static void link(T* prev, T* obj) noexcept {
    prev->pool_next.store(obj->pool_index + 1, std::memory_order_relaxed);
  }

  /// The object with this index (as stored in its `pool_index`); valid for any index handed out so far.
  T* at(std::uint32_t index) const noexcept {
    return &chunks_[index / ChunkSize].load(std::memory_order_acquire)[index % ChunkSize];
  }

  /// Objects allocated so far (in use or free).
  std::size_t capacity() const noexcept {
    return std::min<std::size_t>(chunk_count_.load(std::memory_order_relaxed), MaxChunks) * ChunkSize;
  }

 private:
  static constexpr std::uint64_t index_mask = 0xffffffffu;

  // A new chunk, its objects numbered and not yet free; null at the limit or when the heap refused.
  T* new_chunk() noexcept {
    const std::size_t c = chunk_count_.fetch_add(1, std::memory_order_acq_rel);
    if (c >= MaxChunks) return nullptr;
    T* chunk = new (std::nothrow) T[ChunkSize];
    if (!chunk) return nullptr;
    for (std::size_t i = 0; i < ChunkSize; ++i)
      chunk[i].pool_index = static_cast<std::uint32_t>(c * ChunkSize + i);
    chunks_[c].store(chunk, std::memory_order_release);
    return chunk;
  }

  template <class F>
  T* grow(F& prepare) noexcept {
    T* chunk = new_chunk();
    if (!chunk) return nullptr;
    prepare(chunk, ChunkSize);
    if constexpr (ChunkSize > 1) {
      for (std::size_t i = 2; i < ChunkSize; ++i)
        link(&chunk[i - 1], &chunk[i]);
      push_chain(&chunk[1], &chunk[ChunkSize - 1]);
    }
    return &chunk[0];
  }

  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::size_t> chunk_count_{0};
  std::array<std::atomic<T*>, MaxChunks> chunks_{};
};

}  // namespace beeline::detail
