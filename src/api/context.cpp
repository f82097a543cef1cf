#include "api/context.hpp"

#include "api/tracer_core.hpp"
#include "core/fence.hpp"
#include "core/object_pool.hpp"

#include <thread>

namespace beeline::detail {
namespace {

struct thread_context {
  slot own;
  slot* current = &own;
  thread_context() { own.stack.reserve(16); }
};

thread_context& this_thread_context() noexcept {
  thread_local thread_context ctx;
  return ctx;
}

bool is_live(const span_ref& r) noexcept {
  const std::uint64_t st = r.rec->state.load(std::memory_order_acquire);
  return generation_of(st) == r.gen && (st & record_finished) == 0;
}

}  // namespace

// Thread-local access stays out of line (never inlined into coroutines, where a cached TLS address can go
// stale after a resumption on another thread).
[[gnu::noinline]] slot& current_slot() noexcept {
  return *this_thread_context().current;
}

[[gnu::noinline]] slot* exchange_current_slot(slot* s) noexcept {
  thread_context& ctx = this_thread_context();
  slot* prev = ctx.current;
  ctx.current = s ? s : &ctx.own;
  return prev;
}

span_record* live_top(slot& s) noexcept {
  while (!s.stack.empty()) {
    if (is_live(s.stack.back())) return s.stack.back().rec;
    s.stack.pop_back();
  }
  return nullptr;
}

trace_state* current_trace(slot& s) noexcept {
  if (span_record* top = live_top(s)) return top->trace;
  return s.base.trace();
}

void push_span(slot& s, span_record* rec) noexcept {
  try {
    s.stack.push_back({rec, generation_of(rec->state.load(std::memory_order_relaxed))});
  } catch (...) {
    // Out of memory: the span still works and is exported, it just does not become current.
  }
}

context_snapshot capture_current() noexcept {
  slot& s = current_slot();
  if (span_record* top = live_top(s))
    return context_snapshot(top->trace, top->span_id,
                            span_ref{top, generation_of(top->state.load(std::memory_order_relaxed))});
  return s.base;
}

context_snapshot::context_snapshot(trace_state* trace, std::uint64_t span_id, span_ref span) noexcept
    : trace_(trace), span_id_(span_id), span_(span) {
  if (trace_) trace_->refs.fetch_add(1, std::memory_order_relaxed);
}

context_snapshot::context_snapshot(const context_snapshot& o) noexcept
    : trace_(o.trace_), span_id_(o.span_id_), span_(o.span_) {
  if (trace_) trace_->refs.fetch_add(1, std::memory_order_relaxed);
}

context_snapshot::context_snapshot(context_snapshot&& o) noexcept
    : trace_(std::exchange(o.trace_, nullptr)), span_id_(o.span_id_), span_(o.span_) {}

context_snapshot& context_snapshot::operator=(context_snapshot o) noexcept {
  std::swap(trace_, o.trace_);
  std::swap(span_id_, o.span_id_);
  std::swap(span_, o.span_);
  return *this;
}

context_snapshot::~context_snapshot() {
  if (trace_) trace_->core->release_trace(trace_);
}

namespace {

// Task slots: type-stable, recycled, never freed while the process runs (a stale handle reads a live object).
// Never destroyed either: a static object of the program that holds an executor or a slot handle may be
// destroyed after this pool would be, and its handle must still find a slot (found by valgrind in
// context_bench, whose static handles outlived a function-local static pool).
object_pool<slot, 64, 65536>& slot_pool() noexcept {
  static auto* pool = new object_pool<slot, 64, 65536>;
  return *pool;
}

const void* this_thread_token() noexcept {
  return &this_thread_context();
}

// Recycling a slot is a Dekker handshake between the last owner (marks it dead, then looks whether a handler
// is in it) and the handler leaving it (unclaims, then looks whether it died); one of the two must see the
// other. That needs a StoreLoad fence on both sides, and on the handler side it would be paid on every
// resumption. So the fence is asymmetric: the handler side only stops the compiler, and the rare owner side,
// when it sees the slot claimed by another thread, forces a full barrier on every running thread of the
// process with membarrier(2) (src/core/fence.hpp). Where the kernel refuses membarrier, `asymmetric_fences`
// is false and the handler side falls back to a seq_cst store (always correct, ~7 ns slower per resumption).

// Returns a dead slot to the pool if nobody runs a handler in it; otherwise the claimant does it on unclaim.
void try_recycle(slot* s) noexcept {
  const void* expected = nullptr;
  if (!s->claimed_by.compare_exchange_strong(expected, this_thread_token(), std::memory_order_acquire))
    return;
  if (s->dead.exchange(false, std::memory_order_acq_rel)) {
    s->base = context_snapshot{};
    s->stack.clear();
    s->claimed_by.store(nullptr, std::memory_order_release);
    slot_pool().push(s);
    return;
  }
  s->claimed_by.store(nullptr, std::memory_order_release);
}

}  // namespace

std::size_t slot_pool_capacity() noexcept {
  return slot_pool().capacity();
}

slot_handle slot_handle::make_owning(context_snapshot base) {
  slot* s = slot_pool().pop();
  if (!s) return {};  // out of memory or slots: the task runs without a context of its own
  s->base = std::move(base);
  s->owners.store(1, std::memory_order_relaxed);
  slot_handle h;
  const std::uint64_t gen = s->generation.load(std::memory_order_acquire) & 0x7fffffffu;
  h.word_ = owning_bit | (gen << 32) | (std::uint64_t{s->pool_index} + 1);
  return h;
}

slot* slot_handle::raw() const noexcept {
  const auto index = static_cast<std::uint32_t>(word_ & 0xffffffffu);
  return index ? slot_pool().at(index - 1) : nullptr;
}

void slot_handle::add_owner(std::uint64_t word) noexcept {
  slot_handle h;
  h.word_ = word & ~owning_bit;
  if (slot* s = h.raw()) s->owners.fetch_add(1, std::memory_order_relaxed);
}

void slot_handle::release_owner(std::uint64_t word) noexcept {
  slot_handle h;
  h.word_ = word & ~owning_bit;
  slot* s = h.raw();
  if (!s || s->owners.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // New handlers now see a different generation and stay out; the slot is recycled once no handler is in it.
  s->generation.store((s->generation.load(std::memory_order_relaxed) + 1) & 0x7fffffffu,
                      std::memory_order_release);
  // Pairs with the unclaim-then-check in ~claim_guard, so one of the two sides always recycles.
  s->dead.store(true, std::memory_order_seq_cst);
  const void* holder = s->claimed_by.load(std::memory_order_seq_cst);
  // Claimed by this thread: the guard that holds it is further up this stack and checks `dead` when it
  // unclaims, in program order. Claimed by another thread: that thread may have unclaimed and read `dead`
  // before our store became visible to it; the heavy fence orders it, and the recheck in try_recycle then
  // sees it unclaimed. (Without membarrier the handler side is seq_cst and no fence is needed here.)
  if (holder == this_thread_token()) return;
  if (holder != nullptr && asymmetric_fences.load(std::memory_order_relaxed)) heavy_fence();
  try_recycle(s);
}

claim_guard::claim_guard(const slot_handle& h) noexcept {
  // One thread-local lookup per handler: the token, and the current-slot cell restored by the destructor.
  thread_context& ctx = this_thread_context();
  thread_ = &ctx;
  slot* s = h.raw();
  // A handle to an ended task must not wait behind (or block) whichever task now uses the recycled slot.
  if (s && (s->generation.load(std::memory_order_acquire) & 0x7fffffffu) != h.generation()) s = nullptr;
  if (s) {
    const void* me = &ctx;
    // A task resumed on this thread can find its slot still claimed by the thread that ran its previous step:
    // that thread is returning from the handler in which the coroutine suspended. Wait for it; the same holds
    // (for longer) when two handlers of one task really run at once, which this then serialises.
    for (unsigned spins = 0;; ++spins) {
      const void* expected = nullptr;
      if (s->claimed_by.compare_exchange_weak(expected, me, std::memory_order_acquire)) {
        claimed_ = s;
        break;
      }
      if (expected == me) break;  // a handler of this task dispatched inline from another one: already ours
      if (spins < 64) {
        __builtin_ia32_pause();
      } else {
        std::this_thread::yield();
      }
    }
    if ((s->generation.load(std::memory_order_acquire) & 0x7fffffffu) != h.generation())
      s = nullptr;  // ended
  }
  if (!s) {
    try {
      fallback_ = new slot;
    } catch (...) {
      fallback_ = nullptr;
    }
  }
  prev_ = ctx.current;
  slot* next = s ? s : fallback_;
  ctx.current = next ? next : &ctx.own;
}

claim_guard::~claim_guard() {
  static_cast<thread_context*>(thread_)->current = prev_;
  delete fallback_;
  if (claimed_) {
    if (asymmetric_fences.load(std::memory_order_relaxed)) {
      claimed_->claimed_by.store(nullptr, std::memory_order_release);
      std::atomic_signal_fence(std::memory_order_seq_cst);  // the owner side's membarrier is the other half
    } else {
      claimed_->claimed_by.store(nullptr, std::memory_order_seq_cst);
    }
    if (claimed_->dead.load(std::memory_order_seq_cst)) try_recycle(claimed_);
  }
}

span_scope::span_scope(const beeline::span& s) noexcept
    : slot_(&current_slot()), rec_(span_access::record(s)) {
  if (rec_) push_span(*slot_, rec_);
}

span_scope::~span_scope() {
  // Resumed in another context (an untraced executor moved the coroutine to another thread): that slot is not
  // ours to edit; the stale entry in ours is popped lazily once the span ends.
  if (!rec_ || &current_slot() != slot_) return;
  // Remove exactly our entry (spans opened inside the scope and still open stay where they are).
  const std::uint64_t gen = generation_of(rec_->state.load(std::memory_order_relaxed));
  for (std::size_t i = slot_->stack.size(); i-- > 0;) {
    if (slot_->stack[i].rec == rec_ && slot_->stack[i].gen == gen) {
      slot_->stack.erase(slot_->stack.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
}

hidden_context::hidden_context() noexcept : slot_(&current_slot()) {
  base_ = std::move(slot_->base);
  slot_->base = context_snapshot{};
  stack_.swap(slot_->stack);
}

hidden_context::~hidden_context() {
  if (&current_slot() != slot_) return;  // resumed elsewhere: never write into another thread's slot
  slot_->base = std::move(base_);
  slot_->stack.swap(stack_);
}

scoped_slot::scoped_slot(context_snapshot base) noexcept {
  slot_.base = std::move(base);
  prev_ = exchange_current_slot(&slot_);
}

scoped_slot::~scoped_slot() {
  exchange_current_slot(prev_);
}

}  // namespace beeline::detail
