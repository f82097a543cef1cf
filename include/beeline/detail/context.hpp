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

  // Task slots only (a thread's own slot never uses these). Task slots live in a type-stable pool, so a
  // handle to a recycled slot is detected by its generation, never by touching freed memory.
  std::uint32_t pool_index = 0;
  std::atomic<std::uint32_t> pool_next{0};
  std::atomic<std::uint32_t> generation{0};      // 31 bits used
  std::atomic<std::uint32_t> owners{0};          // owning handles alive; the slot dies at zero
  std::atomic<const void*> claimed_by{nullptr};  // the thread running a handler in this slot now
  std::atomic<bool> dead{false};                 // owners reached zero; recycle when unclaimed
};

/// Names a task slot. An *owning* handle keeps the slot alive (its copies count, atomically); a *borrowed*
/// handle is a plain (pointer, generation) pair whose copies cost nothing, valid while an owner lives. The
/// library's fork points put borrowed handles in the executors Asio copies around, and keep one owning handle
/// in the task's own frame, so a resumption costs no reference counting.
class slot_handle {
 public:
  slot_handle() noexcept = default;
  slot_handle(const slot_handle& o) noexcept : word_(o.word_) {
    if (owning()) add_owner(word_);
  }
  slot_handle(slot_handle&& o) noexcept : word_(o.word_) { o.word_ = 0; }
  slot_handle& operator=(slot_handle o) noexcept {
    std::swap(word_, o.word_);
    return *this;
  }
  ~slot_handle() {
    if (owning()) release_owner(word_);
  }

  /// A new task slot whose base is `base`, owned by the returned handle.
  static slot_handle make_owning(context_snapshot base);
  /// A borrowed handle to the same slot.
  slot_handle borrow() const noexcept {
    slot_handle h;
    h.word_ = word_ & ~owning_bit;
    return h;
  }

  /// The slot, or null for an empty handle (whether the task is still alive is the claim's business).
  slot* raw() const noexcept;
  /// The slot's generation when this handle was made (31 bits).
  std::uint32_t generation() const noexcept { return static_cast<std::uint32_t>(word_ >> 32) & 0x7fffffffu; }
  bool owning() const noexcept { return (word_ & owning_bit) != 0; }
  /// No slot: an untraced executor (`beeline::io_context::get_executor()`), or the slot pool was exhausted.
  bool empty() const noexcept { return word_ == 0; }
  friend bool operator==(const slot_handle& a, const slot_handle& b) noexcept {
    return (a.word_ & ~owning_bit) == (b.word_ & ~owning_bit);
  }

 private:
  // One word, so a traced executor stays within any_io_executor's small buffer even around a 16-byte
  // executor: bit 63 owning, bits 32..62 generation, bits 0..31 pool index + 1 (0: empty).
  static constexpr std::uint64_t owning_bit = std::uint64_t{1} << 63;
  static void add_owner(std::uint64_t word) noexcept;
  static void release_owner(std::uint64_t word) noexcept;
  std::uint64_t word_ = 0;
};

/// Runs a handler in a task's slot: claims the slot for this thread (one compare-exchange), checks it is
/// still the same task (generation), makes it current, and undoes all of that on destruction. A slot claimed
/// by another thread is waited for (the previous step of the task is still returning, or two handlers of one
/// task run at once, which this serialises): the slot is never mutated by two threads. A task that has ended
/// gives the handler a fresh empty slot.
class claim_guard {
 public:
  explicit claim_guard(const slot_handle& h) noexcept;
  ~claim_guard();
  claim_guard(const claim_guard&) = delete;
  claim_guard& operator=(const claim_guard&) = delete;

 private:
  void* thread_ = nullptr;    // this thread's context: the guard lives within one handler on one thread
  slot* claimed_ = nullptr;   // the slot this guard claimed (and must unclaim), if any
  slot* prev_ = nullptr;      // the slot current before
  slot* fallback_ = nullptr;  // a private slot when the task's could not be used
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
