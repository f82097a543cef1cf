// How the current span travels through Boost.Asio: a traced executor per task, and the fork points.
//
// A task (a coroutine spawned with `beeline::spawn`, a callback bound with `bind_current`) owns a context
// slot. `traced_executor<Inner>` carries a reference to that slot next to the executor it wraps, and installs
// the slot around every handler it runs; every resumption of the task therefore sees its own current span, on
// whatever thread runs it. Spans opened inside the task nest on that slot. Wherever work forks (a spawned
// child, the branches of `make_parallel_group` or of `&&`/`||`, a callback), the child needs a slot of its
// own: `fork`, `spawn`, `forked` and `bind_current` make one, whose parent is the span current at the fork.
//
// Wrap the concrete executor (`io_context::executor_type`, a strand, `thread_pool::executor_type`), not an
// `any_io_executor`: the wrapper is then 16 bytes and stays inside `any_io_executor`'s small buffer. `fork`
// unwraps an `any_io_executor` that holds one of those. Put the traced wrapper outside a strand.
#pragma once

#include <beeline/detail/context.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <type_traits>
#include <utility>

namespace beeline {

namespace asio = boost::asio;

/// An executor that runs every handler in one task's context slot, forwarding everything else to `Inner`.
template <class Inner>
class traced_executor {
 public:
  using inner_executor_type = Inner;

  traced_executor(Inner inner, detail::slot_handle slot) noexcept
      : inner_(std::move(inner)), slot_(std::move(slot)) {}
  template <class Other>
  requires(!std::is_same_v<Other, Inner> && std::is_convertible_v<const Other&, Inner>)
      traced_executor(const traced_executor<Other>& o)
  noexcept : inner_(o.get_inner_executor()), slot_(o.slot()) {}

  const Inner& get_inner_executor() const noexcept { return inner_; }
  /// The task's slot (for the library's fork points).
  const detail::slot_handle& slot() const noexcept { return slot_; }

  /// Runs `f` in the task's slot; without a slot (the executor of a `beeline::io_context` itself, not of a
  /// task) `f` runs in whatever context its thread has, as on the inner executor.
  template <class F>
  void execute(F&& f) const {
    if (slot_.empty()) {
      inner_.execute(std::forward<F>(f));
    } else {
      inner_.execute(invoker<std::decay_t<F>>{slot_, std::forward<F>(f)});
    }
  }

  template <class Property>
  requires asio::can_query<const Inner&, const Property&>::value decltype(auto) query(const Property& p) const
      noexcept(asio::is_nothrow_query<const Inner&, const Property&>::value) {
    return asio::query(inner_, p);
  }
  template <class Property>
  requires asio::can_require<const Inner&, const Property&>::value auto require(const Property& p) const {
    using result = std::decay_t<decltype(asio::require(inner_, p))>;
    return traced_executor<result>(asio::require(inner_, p), slot_);
  }
  template <class Property>
  requires asio::can_prefer<const Inner&, const Property&>::value auto prefer(const Property& p) const {
    using result = std::decay_t<decltype(asio::prefer(inner_, p))>;
    return traced_executor<result>(asio::prefer(inner_, p), slot_);
  }

  friend bool operator==(const traced_executor& a, const traced_executor& b) noexcept {
    return a.inner_ == b.inner_ && a.slot_ == b.slot_;
  }
  friend bool operator!=(const traced_executor& a, const traced_executor& b) noexcept { return !(a == b); }

 private:
  template <class F>
  struct invoker {
    detail::slot_handle slot;
    F f;
    void operator()() {
      detail::claim_guard guard(slot);
      std::move(f)();
    }
  };

  Inner inner_;
  detail::slot_handle slot_;
};

namespace detail {

template <class T>
struct is_traced_executor : std::false_type {};
template <class Inner>
struct is_traced_executor<traced_executor<Inner>> : std::true_type {};

/// Calls `fn` with the concrete executor inside an `any_io_executor`, unwrapping a traced one; false if the
/// target is none of the common concrete types.
template <class F>
bool visit_concrete(const asio::any_io_executor& ex, F&& fn) {
  using io_ex = asio::io_context::executor_type;
  using io_ex_tracked =
      std::decay_t<decltype(asio::prefer(std::declval<io_ex>(), asio::execution::outstanding_work.tracked))>;
  using pool_ex = asio::thread_pool::executor_type;
  using pool_ex_tracked = std::decay_t<decltype(asio::prefer(std::declval<pool_ex>(),
                                                             asio::execution::outstanding_work.tracked))>;
  using io_strand = asio::strand<io_ex>;
  using pool_strand = asio::strand<pool_ex>;
  bool done = false;
  const auto try_type = [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (done) return;
    if (const auto* t = ex.target<traced_executor<T>>()) {
      fn(t->get_inner_executor());
      done = true;
    } else if (const auto* c = ex.target<T>()) {
      fn(*c);
      done = true;
    }
  };
  try_type(std::type_identity<io_ex>{});
  try_type(std::type_identity<io_ex_tracked>{});
  try_type(std::type_identity<pool_ex>{});
  try_type(std::type_identity<pool_ex_tracked>{});
  try_type(std::type_identity<io_strand>{});
  try_type(std::type_identity<pool_strand>{});
  return done;
}

/// Whether an `any_io_executor` holds a traced executor (of any task, or of a `beeline::io_context`, or a
/// strand of the latter).
inline bool holds_traced(const asio::any_io_executor& ex) noexcept {
  using io_ex = asio::io_context::executor_type;
  using io_ex_tracked =
      std::decay_t<decltype(asio::prefer(std::declval<io_ex>(), asio::execution::outstanding_work.tracked))>;
  using pool_ex = asio::thread_pool::executor_type;
  using pool_ex_tracked = std::decay_t<decltype(asio::prefer(std::declval<pool_ex>(),
                                                             asio::execution::outstanding_work.tracked))>;
  return ex.target<traced_executor<io_ex>>() || ex.target<traced_executor<io_ex_tracked>>() ||
         ex.target<traced_executor<pool_ex>>() || ex.target<traced_executor<pool_ex_tracked>>() ||
         ex.target<traced_executor<asio::strand<io_ex>>>() ||
         ex.target<traced_executor<asio::strand<pool_ex>>>() ||
         ex.target<traced_executor<asio::any_io_executor>>() ||
         // `make_strand(beeline_ioc)`, as Beast's examples make acceptors and sockets: a strand of the
         // context's slot-less executor (a task forked from it gets `traced_executor<any_io_executor>`, off
         // the small buffer)
         ex.target<asio::strand<traced_executor<io_ex>>>() ||
         ex.target<asio::strand<traced_executor<pool_ex>>>();
}

}  // namespace detail

namespace detail {

/// Wraps `ex` (unwrapping a traced or type-erased one to its concrete executor) with `slot`.
template <class Executor>
auto wrap(const Executor& ex, slot_handle slot) {
  if constexpr (is_traced_executor<Executor>::value) {
    return traced_executor<typename Executor::inner_executor_type>(ex.get_inner_executor(), std::move(slot));
  } else if constexpr (std::is_same_v<Executor, asio::any_io_executor>) {
    asio::any_io_executor out;
    if (!visit_concrete(ex, [&](const auto& concrete) {
          out = traced_executor<std::decay_t<decltype(concrete)>>(concrete, slot);
        }))
      out = traced_executor<asio::any_io_executor>(ex,
                                                   slot);  // unknown type: correct, but off the small buffer
    return out;
  } else {
    return traced_executor<Executor>(ex, std::move(slot));
  }
}

/// A child task's executor holding a *borrowed* slot handle (free to copy), and the owning handle the task's
/// frame must keep for as long as the task runs.
template <class Executor>
auto fork_task(const Executor& ex) {
  slot_handle owner = slot_handle::make_owning(capture_current());
  auto exec = wrap(ex, owner.borrow());
  return std::pair<decltype(exec), slot_handle>(std::move(exec), std::move(owner));
}

}  // namespace detail

/// A new task on `ex`: a traced executor whose slot's parent is the span current now. The executor owns its
/// slot (copies are reference counted); `beeline::spawn` is the cheaper way to start a task.
template <class Executor>
traced_executor<Executor> traced(Executor ex) {
  static_assert(!detail::is_traced_executor<Executor>::value, "already traced: use fork() for a child task");
  return traced_executor<Executor>(std::move(ex),
                                   detail::slot_handle::make_owning(detail::capture_current()));
}

/// The executor for a child task forked from the current one, for `co_spawn` into `make_parallel_group` and
/// the like: same underlying executor, a new slot whose parent is the span current now. Accepts a traced
/// executor, a concrete one, or an `any_io_executor` holding either.
template <class Executor>
auto fork(const Executor& ex) {
  return detail::wrap(ex, detail::slot_handle::make_owning(detail::capture_current()));
}

static_assert(sizeof(traced_executor<asio::io_context::executor_type>) <= 3 * sizeof(void*) &&
                  sizeof(traced_executor<asio::thread_pool::executor_type>) <= 3 * sizeof(void*),
              "a traced executor must fit any_io_executor's small-object buffer");

/// Binds a completion handler to the context current now (a snapshot, like Node's `AsyncResource.bind`): when
/// it runs, spans it starts are children of the span current at this call. Runs on `ex`.
template <class Executor, class Handler>
auto bind_current(const Executor& ex, Handler&& handler) {
  return asio::bind_executor(fork(ex), std::forward<Handler>(handler));
}

}  // namespace beeline
