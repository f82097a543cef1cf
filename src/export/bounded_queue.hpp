// Private: a bounded multi-producer queue: the tracer's overflow path, for spans finished where a thread has
// no ring of its own (src/api/thread_collector.hpp).
//
// Dmitry Vyukov's bounded MPMC design: one CAS per push, a sequence number per cell, no locks, and a full
// queue is reported at once instead of waiting. Positions only grow: the worker takes what was reserved when
// its pass started.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace beeline::detail {

template <class T>
class bounded_queue {
 public:
  explicit bounded_queue(std::size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1), cells_(new cell[mask_ + 1]) {
    for (std::size_t i = 0; i <= mask_; ++i)
      cells_[i].seq.store(i, std::memory_order_relaxed);
  }

  /// Enqueues `v`, or returns false at once when the queue is full.
  bool try_push(T v) noexcept {
    std::size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = cells_[pos & mask_];
      const std::size_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (diff == 0) {
        // seq_cst: a producer that re-checks "stopped" after pushing must not miss the worker's last drain.
        if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                               std::memory_order_relaxed)) {
          c.value = v;
          c.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = enqueue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Dequeues into `out`; false when empty (or the next element is still being written).
  bool try_pop(T& out) noexcept {
    std::size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = cells_[pos & mask_];
      const std::size_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
      if (diff == 0) {
        if (dequeue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = c.value;
          c.seq.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = dequeue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Positions reserved by producers so far (every successful push, ever).
  std::size_t enqueue_position() const noexcept { return enqueue_pos_.load(std::memory_order_acquire); }
  /// Positions consumed so far.
  std::size_t dequeue_position() const noexcept { return dequeue_pos_.load(std::memory_order_acquire); }
  std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  struct cell {
    std::atomic<std::size_t> seq;
    T value;
  };
  const std::size_t mask_;
  std::unique_ptr<cell[]> cells_;
  alignas(64) std::atomic<std::size_t> enqueue_pos_{0};
  alignas(64) std::atomic<std::size_t> dequeue_pos_{0};
};

}  // namespace beeline::detail
