// Private: the per-task context slot and the snapshot used by `bind_function_to_trace` and the fork points.
// Templates in the public headers need these types; users should not.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

namespace beeline {
class span;
}

namespace beeline::detail {

struct span_record;
struct trace_state;

/// A weak reference to a live span: valid while the record's generation is unchanged and it is not finished.
/// Records live in type-stable pools, so reading a stale record's generation is safe.
struct span_ref {
  span_record* rec = nullptr;
  std::uint64_t gen = 0;
};

/// The parent a new span attaches to when its task has no open span of its own.
class context_snapshot {
 public:
  context_snapshot() noexcept = default;
  context_snapshot(trace_state* trace, std::uint64_t span_id, span_ref span) noexcept;  // takes a new ref
  context_snapshot(const context_snapshot& o) noexcept;
  context_snapshot(context_snapshot&& o) noexcept;
  context_snapshot& operator=(context_snapshot o) noexcept;
  ~context_snapshot();

  trace_state* trace() const noexcept { return trace_; }
  std::uint64_t span_id() const noexcept { return span_id_; }
  span_ref span() const noexcept { return span_; }
  explicit operator bool() const noexcept { return trace_ != nullptr; }

 private:
  trace_state* trace_ = nullptr;
  std::uint64_t span_id_ = 0;
  span_ref span_;
};

/// The slot of the task running on this thread now (the thread's own slot when no task installed one).
struct slot;
slot& current_slot() noexcept;
/// Makes `s` current on this thread and returns the previous one.
slot* exchange_current_slot(slot* s) noexcept;

/// One logical task's context: a base (inherited at a fork point) and the task's own open spans, innermost
/// last. Only the task that owns a slot touches its stack, so it needs no synchronisation.
struct slot {
  context_snapshot base;
  std::vector<span_ref> stack;
  std::atomic<std::uint32_t> refs{0};  // used by task slots (slot_ref); a thread's own slot is never counted
};

/// A counted reference to a heap-allocated task slot: 8 bytes, so a traced executor wrapping a concrete
/// executor fits `any_io_executor`'s small-object buffer.
class slot_ref {
 public:
  slot_ref() noexcept = default;
  explicit slot_ref(slot* s) noexcept : p_(s) {
    if (p_) p_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  slot_ref(const slot_ref& o) noexcept : slot_ref(o.p_) {}
  slot_ref(slot_ref&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  slot_ref& operator=(slot_ref o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~slot_ref() {
    if (p_ && p_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete_slot(p_);
  }
  slot* get() const noexcept { return p_; }
  friend bool operator==(const slot_ref& a, const slot_ref& b) noexcept { return a.p_ == b.p_; }

 private:
  static void delete_slot(slot* s) noexcept;
  slot* p_ = nullptr;
};

/// A new task slot whose base is `base`: spans the task starts are children of it.
slot_ref make_task_slot(context_snapshot base);

/// Makes `s` the current slot for the lifetime of this object, restoring the previous one after (also when
/// unwinding). What a traced executor wraps around every handler it runs.
class slot_guard {
 public:
  explicit slot_guard(slot* s) noexcept : prev_(exchange_current_slot(s)) {}
  ~slot_guard() { exchange_current_slot(prev_); }
  slot_guard(const slot_guard&) = delete;
  slot_guard& operator=(const slot_guard&) = delete;

 private:
  slot* prev_;
};

/// A snapshot of the current span (or base), for `bind_function_to_trace` and fork points.
context_snapshot capture_current() noexcept;

/// Installs a fresh slot whose base is `base` for the lifetime of this object (LIFO on one thread).
class scoped_slot {
 public:
  explicit scoped_slot(context_snapshot base) noexcept;
  ~scoped_slot();
  scoped_slot(const scoped_slot&) = delete;
  scoped_slot& operator=(const scoped_slot&) = delete;

 private:
  slot slot_;
  slot* prev_;
};

/// Makes a span the innermost open span of the current task for this object's lifetime (the span is not
/// finished). What `instrument` and the awaitable API wrap around awaited work.
class span_scope {
 public:
  explicit span_scope(const beeline::span& s) noexcept;
  ~span_scope();
  span_scope(const span_scope&) = delete;
  span_scope& operator=(const span_scope&) = delete;

 private:
  slot* slot_;
  span_record* rec_;
};

/// Hides the current task's trace for this object's lifetime, restoring it afterwards (on the same slot, even
/// if resumed on another thread).
class hidden_context {
 public:
  hidden_context() noexcept;
  ~hidden_context();
  hidden_context(const hidden_context&) = delete;
  hidden_context& operator=(const hidden_context&) = delete;

 private:
  slot* slot_;
  context_snapshot base_;
  std::vector<span_ref> stack_;
};

}  // namespace beeline::detail
