// Private: what one application thread keeps for one tracer, so that finishing a span writes only memory that
// thread owns.
//
// A `thread_collector` holds the thread's finished spans in a single-producer ring read by the export worker,
// and the thread's caches of free records and trace states. The ring's tail lives on a cache line only the
// owner writes; the worker's head, and the chain of records the worker gives back, live on lines only the
// worker writes (the owner reads them when its ring seems full and when its cache runs dry). The collector is
// shared by the thread and the tracer (two references): it outlives its thread until the worker has drained
// it, and outlives its tracer in the thread's table until the thread notices the tracer is gone.
#pragma once

#include "core/span_record.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace beeline::detail {

class tracer_core;

struct thread_collector {
  thread_collector(tracer_core* owner, std::size_t capacity, std::size_t budget_taken)
      : core(owner),
        mask(capacity - 1),
        limit(capacity),
        budget(budget_taken),
        cells(new span_record*[capacity]) {}

  std::size_t capacity() const noexcept { return mask + 1; }

  // ---- the owner thread writes these; the worker reads only `tail` ----
  alignas(64) std::atomic<std::uint64_t> tail{0};  // records pushed, ever
  // True from just before `finish` publishes a record until its last use of the tracer: once published, the
  // record (and with it the trace's reference to the tracer) belongs to the worker, so a tracer being
  // destroyed waits for this to be false before it frees what `finish` still reads.
  std::atomic<bool> in_finish{false};
  std::uint64_t head_seen = 0;  // `head` as last read by the owner
  std::uint64_t woke_at = 0;    // `tail` when the owner last asked the worker to come
  std::uint64_t mark_tail = 0;  // `tail` and the tick clock at the last rate mark
  std::uint64_t mark_ticks = 0;
  std::uint32_t free_records = 0;  // local free list: pool index + 1, linked by pool_next
  std::uint32_t free_record_count = 0;
  std::uint32_t free_traces = 0;  // the same for trace states
  std::uint32_t free_trace_count = 0;

  // ---- the consumer writes these (the worker; after shutdown, whoever drains under `consume`) ----
  alignas(64) std::atomic<std::uint64_t> head{0};  // records processed, ever
  // Records given back by the worker: count << 32 | (first pool index + 1), the chain linked by pool_next.
  // The worker adds chains in front (compare-exchange); the owner takes it whole (exchange with 0).
  std::atomic<std::uint64_t> returned{0};
  std::mutex consume;  // after shutdown: the shutting-down thread and a late producer drain one at a time

  // ---- lifetime ----
  alignas(64) std::mutex life;
  bool core_alive = true;                  // guarded by `life`: false once the tracer's core is gone
  std::atomic<bool> thread_exited{false};  // the owner thread has ended; the worker frees it once drained
  std::atomic<std::uint32_t> refs{2};      // the thread's table and the tracer's registry
  tracer_core* const core;
  // The ring. The owner replaces it with one twice as large (`tracer_core::grow_ring`) under the tracer's
  // registry lock, under which the worker reads it.
  std::uint64_t mask;
  std::uint64_t limit;  // spans the ring may hold (at most its capacity): what the queue capacity granted
  std::size_t budget;   // the part of the tracer's queue capacity this ring took (less beyond it)
  std::unique_ptr<span_record*[]> cells;
  // A larger ring the worker allocated ahead (under the registry lock) for `grow_ring` to take, so a thread
  // whose ring must grow does not call the heap; null when none is ready.
  std::unique_ptr<span_record*[]> spare;
  std::uint64_t spare_capacity = 0;

  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

}  // namespace beeline::detail
