// Private: the shared state behind a `tracer`: pools, the threads' rings, the worker thread and the counters.
//
// Reference counted: the `tracer` holds one reference and every live trace holds one, so a span finished
// after its tracer shut down still has valid memory to land in (it is counted and dropped).
#pragma once

#include <beeline/config.hpp>
#include <beeline/exporter.hpp>
#include <beeline/stats.hpp>
#include <beeline/trace_context.hpp>

#include "api/thread_collector.hpp"
#include "core/object_pool.hpp"
#include "core/span_record.hpp"
#include "core/tick_clock.hpp"
#include "export/bounded_queue.hpp"
#include "export/log_limiter.hpp"
#include "export/wake_signal.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace beeline::detail {

struct counters {
  std::atomic<std::uint64_t> exported{0};
  std::atomic<std::uint64_t> dropped_queue_full{0};
  std::atomic<std::uint64_t> dropped_sampler{0};
  std::atomic<std::uint64_t> dropped_presend{0};
  std::atomic<std::uint64_t> dropped_hook_error{0};
  std::atomic<std::uint64_t> dropped_exporter{0};
  std::atomic<std::uint64_t> dropped_after_shutdown{0};
  std::atomic<std::uint64_t> truncated_values{0};
  std::atomic<std::uint64_t> truncated_keys{0};
  std::atomic<std::uint64_t> dropped_fields{0};
  std::atomic<std::uint64_t> invalid_json_values{0};
  std::atomic<std::uint64_t> invalid_utf8_values{0};
  std::atomic<std::uint64_t> spans_outside_trace{0};
  std::atomic<std::uint64_t> context_outside_span{0};
  std::atomic<std::uint64_t> spans_not_started{0};
  std::atomic<std::uint64_t> out_of_order_finishes{0};
};

class tracer_core final : private beeline::export_listener {
 public:
  explicit tracer_core(config cfg);
  ~tracer_core();

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // ---- application threads ----
  /// A new trace (own ids, or continuing `upstream`), holding one reference for the caller. Null if out of
  /// memory.
  trace_state* new_trace(const trace_context* upstream) noexcept;
  /// A new open span of `trace` (takes its own trace reference). Null if out of memory.
  span_record* new_record(trace_state* trace, std::uint64_t parent_id, bool is_root) noexcept;
  /// Ends a span and puts it in this thread's ring for the worker. Never blocks, and makes no system call
  /// unless the ring crosses its high-water mark while the worker sleeps.
  void finish(span_record* rec) noexcept;
  /// Adds or replaces a field with this tracer's limits.
  void set(span_record& rec, std::string_view key, field_value v) noexcept;
  void set(span_record& rec, std::span<const field> f) noexcept;
  /// A span's name and its fields at its start.
  void set_start(span_record& rec, std::string_view name, std::span<const field> f) noexcept {
    set_named_fields(rec, name, f, limits_, field_counters_);
  }
  bool remove(span_record& rec, std::string_view key) noexcept { return remove_field(rec, key, limits_); }
  /// Adds a span event (now) or a link, with this tracer's limits.
  void annotate(span_record& rec, bool is_link, std::string_view name, std::string_view trace_id,
                std::string_view span_id, std::span<const field> f) noexcept {
    add_annotation(rec, is_link, name, is_link ? 0 : ticks_now(), trace_id, span_id, f, limits_,
                   field_counters_);
  }
  /// Wall-clock nanoseconds of a tick reading (the worker's calibration).
  std::int64_t wall_ns(std::uint64_t ticks) const noexcept {
    return ticks_to_steady_ns(ticks) + wall_offset_ns();
  }
  /// The index of a field, looked up as `set` stored its key; -1 if absent.
  std::ptrdiff_t find(const span_record& rec, std::string_view key) const noexcept {
    return rec.find(truncate_utf8(key, limits_.max_value_bytes));
  }
  /// Merges fields into the trace-level context (copy on write).
  void add_trace_fields(trace_state& trace, fields f, std::string_view prefix);

  /// Drops `n` references to `t`; the last recycles it and drops its reference to this tracer, or, with
  /// `deferred_core_refs`, counts it there for the caller to drop (the worker, which never holds the last).
  void release_trace(trace_state* t, std::uint32_t n = 1,
                     std::uint32_t* deferred_core_refs = nullptr) noexcept;

  /// The owner thread has ended: hands its free records and trace states back and leaves the collector to
  /// the worker.
  static void detach_thread(thread_collector* c) noexcept;

  // ---- control ----
  flush_result flush(std::chrono::steady_clock::duration timeout);
  /// Calls `done` once every span finished before this call was exported or dropped, or at `deadline` if the
  /// worker is alive to see it (callers that must not wait longer add their own timer). `done` runs on the
  /// worker thread, or inline when there is nothing to wait for; it must not block.
  void async_flush(std::chrono::steady_clock::time_point deadline, std::function<void(flush_result)> done);
  flush_result shutdown(std::chrono::steady_clock::duration timeout);
  beeline::stats snapshot() const noexcept;

  void log(log_level level, std::string_view message) const noexcept;

  const config& settings() const noexcept { return cfg_; }
  const std::string& dataset() const noexcept { return dataset_; }
  const std::string& service_name() const noexcept { return service_name_; }
  /// The tracer's own fields on every event. Copied into a record only when hooks run (so they can see and
  /// edit them); otherwise the encoder writes them, which keeps the worker's per-span work small.
  std::array<field, 4> global_fields() const noexcept {
    return {{{"service_name", service_name_},
             {"service.name", service_name_},
             {"meta.local_hostname", hostname_},
             {"meta.beeline_version", BEELINE_VERSION_STRING}}};
  }
  counters& count() noexcept { return counters_; }
  /// Counts a span finished while a span started after it on the same slot is still open; the first one is
  /// also logged, with its usual cause and the fix.
  void note_out_of_order_finish() noexcept;
  /// Counts an `add_context` with no span of the task's own to add to; the first one is also logged.
  void note_context_outside_span() noexcept;
  std::int64_t wall_offset_ns() const noexcept { return wall_offset_ns_.load(std::memory_order_relaxed); }

 private:
  void run_worker();
  /// One collection pass: takes what every ring and the overflow queue hold now, exports it, and publishes
  /// the pass for flush waiters.
  void run_pass(std::vector<span_record*>& all, std::vector<span_record*>& batch, std::vector<event>& events);
  /// Whether every span finished so far has been processed (every ring and the overflow queue are empty).
  bool nothing_pending() const noexcept;
  /// This thread's collector for this tracer, made on first use; null when none can be had (out of memory,
  /// or the thread is exiting): the caller uses the overflow queue.
  thread_collector* collector() noexcept;
  thread_collector* make_collector() noexcept;
  /// Adds a chain of cleared records (first ... last, n of them) to what `c`'s thread takes back; false if
  /// the thread has ended or holds enough (the caller gives them to the shared pool).
  bool give_records(thread_collector& c, span_record* first, span_record* last, std::uint32_t n) noexcept;
  /// Frees the collectors whose thread has ended and whose ring is drained (worker, under collectors_mutex_).
  void retire_collectors() noexcept;
  /// After shutdown: counts what `c`'s ring still holds as dropped and recycles it.
  void drain_after_stop(thread_collector& c) noexcept;
  /// A free record or trace state from the thread's cache, refilled from the shared pool in bulk.
  span_record* take_record(thread_collector& c) noexcept;
  trace_state* take_trace(thread_collector& c) noexcept;
  /// A record cleared by its owner thread goes to that thread's cache (spilled to the pool in bulk).
  void give_record(thread_collector& c, span_record* rec) noexcept;
  /// Doubles `c`'s ring if the queue capacity has room left for it.
  bool grow_ring(thread_collector& c) noexcept;
  /// Allocates a larger ring for `c` ahead of its thread's need, when it holds `held` spans at a pass
  /// (worker, under collectors_mutex_).
  void prepare_ring(thread_collector& c, std::uint64_t held) noexcept;
  /// Asks the worker to come before its send interval (a ring crossed its high-water mark).
  void request_work() noexcept;
  void finish_overflow(span_record* rec) noexcept;
  /// Completes flush waiters that are done or past their deadline (all of them when `final`).
  void complete_waiters(bool final);
  std::chrono::steady_clock::time_point earliest_waiter_deadline();
  void process(std::vector<span_record*>& batch, std::vector<event>& events);
  /// Runs a user hook; false (counted, logged) if it threw.
  template <class F>
  bool call_hook(std::string_view which, F&& call) noexcept;
  void finalize(span_record& rec);
  void recycle(span_record* rec) noexcept;
  void recycle_to(thread_collector* c, span_record* rec) noexcept;
  void recycle_chain(std::vector<span_record*>& recs) noexcept;
  /// Counts what the spans in `recs` held and gives each record the storage most spans need (worker).
  void size_records(std::vector<span_record*>& recs) noexcept;
  /// Gives the free records in the pool the storage most spans need, once that changes or the pool grows,
  /// and keeps a chunk of free records ahead of threads that had to grow it (worker, after a pass).
  void prepare_pool() noexcept;
  /// Gives a new chunk of records the storage most spans need, from one allocation for the whole chunk
  /// (worker or a thread growing the pool).
  void prepare_chunk(span_record* chunk, std::size_t n) noexcept;
  /// `prepare_chunk` as the pool's callback for a new chunk.
  auto chunk_preparer() noexcept {
    return [this](span_record* chunk, std::size_t n) noexcept { prepare_chunk(chunk, n); };
  }
  void calibrate_clock() noexcept;

  config cfg_;
  std::string dataset_;
  std::string service_name_;
  std::string hostname_;
  field_limits limits_;
  field_limits finalize_limits_;  // room for the trace-level fields on top of the span's own
  field_limits global_limits_;    // the tracer's own fields: never refused, never cut
  field_counters field_counters_;

  std::atomic<std::uint32_t> refs_{1};
  counters counters_;
  // Each misuse warning is logged once per tracer (the counters keep counting): a misuse on a request path
  // repeats on every request, and the log must not grow with traffic.
  std::atomic<bool> out_of_order_logged_{false};
  std::atomic<bool> context_outside_span_logged_{false};
  // The storage lent to the records of each chunk (`prepare_chunk`); freed after the records are gone.
  std::mutex chunk_storage_mutex_;
  std::vector<std::unique_ptr<std::byte[]>> chunk_storage_;  // guarded by chunk_storage_mutex_
  // `size_fields_` and `size_text_` as the worker last published them, for a thread that grows the pool.
  std::atomic<std::uint32_t> chunk_fields_{0};
  std::atomic<std::uint32_t> chunk_text_{0};
  object_pool<span_record> records_;
  object_pool<trace_state> traces_;
  // Spans finished where no thread collector can be had (a thread past its thread-local destructors, or out
  // of memory): the shared queue of the old design, small, drained in every pass.
  bounded_queue<span_record*> overflow_;
  std::atomic<std::size_t> overflow_processed_{0};

  // Per-thread rings. The registry is locked when a thread makes its collector, when the worker starts a
  // pass, for `stats()`, and at shutdown: never per span.
  const std::uint64_t id_;  // tells this tracer's collectors apart in a thread's table (never reused)
  mutable std::mutex collectors_mutex_;
  std::vector<thread_collector*> collectors_;  // guarded by collectors_mutex_
  std::size_t ring_budget_left_ = 0;           // guarded: queue capacity not yet taken by a ring
  // `ring_budget_left_ == 0`, readable without the lock: a thread whose ring is full then drops the span
  // without taking the registry lock (no lock and no system call per span under overload). Written under the
  // lock whenever the budget changes, which is rare.
  std::atomic<bool> ring_budget_gone_{false};
  std::uint64_t retired_enqueued_ = 0;  // guarded: spans pushed into collectors since retired
  std::size_t min_ring_ = 0;
  std::uint64_t fast_ticks_ = 0;  // a thread that finishes `rate_mark` spans within this many ticks is fast
  struct pass_ring {
    thread_collector* c;
    std::uint64_t head, tail;  // the ring positions this pass took
    std::size_t first;         // where they start in the pass's list
  };
  std::vector<pass_ring> pass_rings_;  // worker only
  // Record storage (worker only). Spans counted by the power-of-two class of their field count and of their
  // text bytes; every record is given, before a thread reuses it, the capacity that holds all but about one
  // span in a thousand of those seen (`size_fields_`, `size_text_`; 0 while the inline storage does), so a
  // span in steady state never calls the heap, and a rare large span does not make every record large.
  static constexpr std::size_t size_classes = 24;
  std::array<std::uint64_t, size_classes> field_classes_{};
  std::array<std::uint64_t, size_classes> text_classes_{};
  std::uint64_t sized_spans_ = 0;
  std::size_t size_fields_ = 0;
  std::size_t size_text_ = 0;
  std::size_t prepared_capacity_ = 0;  // the pool's capacity, and the sizes, when `prepare_pool` last ran
  std::size_t prepared_fields_ = 0;
  std::size_t prepared_text_ = 0;
  std::atomic<bool> work_requested_{false};
  std::atomic<std::int64_t> wall_offset_ns_{0};

  // Worker coordination. Producers touch only `worker_sleeping_` and, once per batch, `wake_`; the mutex and
  // condition variable serve flush callers waiting for the worker.
  wake_signal wake_;
  std::atomic<bool> worker_sleeping_{false};
  // Passes: a flush waits for a pass that started after it was registered (both under waiters_mutex_).
  std::uint64_t pass_started_ = 0;  // guarded by waiters_mutex_
  std::atomic<std::uint64_t> pass_done_{0};
  std::atomic<std::uint64_t> flush_pass_{0};
  std::atomic<bool> stop_{false};
  std::chrono::steady_clock::time_point
      stop_deadline_{};  // written before stop_ is set, read after it is seen
  std::mutex worker_exit_mutex_;
  std::condition_variable worker_exit_cv_;
  bool worker_exited_ = false;  // guarded by worker_exit_mutex_
  std::atomic<bool> stopped_{false};
  struct flush_waiter {
    std::uint64_t target;  // the pass that must be done (0: nothing was pending)
    std::chrono::steady_clock::time_point deadline;
    beeline::stats before;
    std::function<void(flush_result)> done;
    // Once the worker has passed `target`: the asynchronous batches that must settle first (0: not yet
    // known).
    std::uint64_t batches_needed = 0;
  };
  // Asynchronous exporters: batches accepted (worker thread only writes) and settled (in acceptance order).
  std::atomic<std::uint64_t> batches_submitted_{0};
  std::atomic<std::uint64_t> batches_settled_{0};
  void settled(std::size_t exported, std::size_t failed, std::string_view error) noexcept override;
  void attempt_failed(std::string_view error) noexcept override;
  /// Logs (rate-limited) the events an exporter failed to deliver.
  void log_export_failure(std::size_t failed, std::size_t total, std::string_view error) noexcept;
  /// Logs (rate-limited) the spans dropped for a full queue since the last call. Producers only count them.
  void log_queue_drops() noexcept;
  // Repeated failures are summed up, not logged one by one (see log_limiter).
  log_limiter log_limiter_{cfg_.log_interval};
  log_limiter::sink log_sink_ = [this](log_level level, std::string_view message) { log(level, message); };
  std::atomic<std::uint64_t> queue_drops_logged_{0};  // dropped_queue_full as of the last queue-drop line
  std::mutex waiters_mutex_;
  std::vector<flush_waiter> waiters_;  // guarded by waiters_mutex_
  bool waiters_closed_ = false;        // guarded by waiters_mutex_: the worker has exited
  std::atomic<std::size_t> waiter_count_{0};
  std::thread worker_;
};

/// The headers an outgoing request carries for `ctx`, through `core`'s propagation hook (a hook that throws
/// is logged and falls back to `X-Honeycomb-Trace`, as in the Beeline).
propagation::header_list propagation_headers_of(const tracer_core& core, const trace_context& ctx);

}  // namespace beeline::detail
