#include "api/context.hpp"

#include "api/tracer_core.hpp"

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

void slot_ref::delete_slot(slot* s) noexcept {
  delete s;
}

slot_ref make_task_slot(context_snapshot base) {
  auto* s = new slot;
  s->base = std::move(base);
  return slot_ref(s);
}

span_scope::span_scope(const beeline::span& s) noexcept
    : slot_(&current_slot()), rec_(span_access::record(s)) {
  if (rec_) push_span(*slot_, rec_);
}

span_scope::~span_scope() {
  if (!rec_) return;
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
