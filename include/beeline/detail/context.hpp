// Private: the per-task context slot and the snapshot used by `bind_function_to_trace` and the fork points.
// Templates in the public headers need these types; users should not.
#pragma once

#include <cstdint>
#include <vector>

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

/// One logical task's context: a base (inherited at a fork point) and the task's own open spans, innermost
/// last. Only the task that owns a slot touches its stack, so it needs no synchronisation.
struct slot {
  context_snapshot base;
  std::vector<span_ref> stack;
};

/// The slot of the task running on this thread now (the thread's own slot when no task installed one).
slot& current_slot() noexcept;
/// Makes `s` current on this thread and returns the previous one.
slot* exchange_current_slot(slot* s) noexcept;
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

}  // namespace beeline::detail
