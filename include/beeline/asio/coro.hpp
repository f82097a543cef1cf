// The Beeline API for Boost.Asio coroutines: the traced co_spawn, forks for parallel work, and spans around
// awaited work.
//
//   co_await beeline::start_async_span("fetch", {{"url", url}}, fetch(url));   // a child span covering
//   fetch() beeline::spawn(ex, handle(session), asio::detached);                       // a child task with
//   its own slot co_await (beeline::forked(a()) && beeline::forked(b()));                   // each branch
//   its own slot
//
// `co_spawn` on `co_await this_coro::executor` runs the child in the parent's slot: spans of the two
// interleave and parents come out wrong. Use `spawn`, or `fork(ex)` with `co_spawn`.
#pragma once

#include <beeline/asio/executor.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <string_view>
#include <type_traits>
#include <utility>

namespace beeline {

template <class T, class Executor>
struct is_awaitable<asio::awaitable<T, Executor>> : std::true_type {};

namespace detail {

/// Runs `aw` while this frame holds the task's owning slot handle: the slot lives exactly as long as the
/// task.
template <class T, class Executor>
asio::awaitable<T, Executor> owned(slot_handle owner, asio::awaitable<T, Executor> aw) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(aw);
  } else {
    co_return co_await std::move(aw);
  }
}

}  // namespace detail

/// The traced `co_spawn`: runs `aw` as a new task on `ex` whose spans are children of the span current now.
template <class Executor, class T, class AwaitableExecutor, class Token>
auto spawn(const Executor& ex, asio::awaitable<T, AwaitableExecutor> aw, Token&& token) {
  auto [exec, owner] = detail::fork_task(ex);
  return asio::co_spawn(std::move(exec), detail::owned(std::move(owner), std::move(aw)),
                        std::forward<Token>(token));
}

/// The traced `co_spawn` of a function returning an awaitable (the function object is kept alive by Asio).
template <class Executor, class F, class Token>
requires(!is_awaitable<std::decay_t<F>>::value) auto spawn(const Executor& ex, F&& f, Token&& token) {
  auto [exec, owner] = detail::fork_task(ex);
  return asio::co_spawn(
      std::move(exec),
      [owner = std::move(owner), f = std::forward<F>(f)]() mutable {
        return detail::owned(std::move(owner), f());
      },
      std::forward<Token>(token));
}

/// Runs `aw` as a child task with its own slot and waits for it: the branch form for `&&`, `||` and any other
/// place where awaitables run concurrently in one coroutine.
template <class T, class Executor>
asio::awaitable<T, Executor> forked(asio::awaitable<T, Executor> aw) {
  const Executor ex = co_await asio::this_coro::executor;
  auto [exec, owner] = detail::fork_task(ex);
  if constexpr (std::is_void_v<T>) {
    co_await asio::co_spawn(std::move(exec), detail::owned(std::move(owner), std::move(aw)),
                            asio::use_awaitable_t<Executor>{});
  } else {
    co_return co_await asio::co_spawn(std::move(exec), detail::owned(std::move(owner), std::move(aw)),
                                      asio::use_awaitable_t<Executor>{});
  }
}

namespace detail {

/// Marks a span `cancelled` if the awaiting frame is destroyed before the work completed (cancellation by
/// `||`, a destroyed io_context), so the span is still finished once, and visibly so.
struct completion_mark {
  span& s;
  bool completed = false;
  ~completion_mark() {
    if (!completed) s.add_field("cancelled", true);
  }
};

inline void record_failure(span& s, const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& err) {
    if (err.code() == asio::error::operation_aborted) s.add_field("cancelled", true);
  } catch (...) {
  }
  s.record_exception(e);
}

/// Awaits `make(s)` with `s` as the current span, then finishes `s` (with the exception recorded if one
/// escapes). `s` lives in this frame, so `make` may hand it to the work it creates.
template <class Make>
auto run_in_span(span s, Make make) -> decltype(make(s)) {
  using T = typename decltype(make(s))::value_type;
  completion_mark mark{s};
  try {
    if constexpr (std::is_void_v<T>) {
      co_await make(s);
      mark.completed = true;
    } else {
      T result = co_await make(s);
      mark.completed = true;
      co_return result;
    }
  } catch (...) {
    mark.completed = true;
    record_failure(s, std::current_exception());
    throw;
  }
}

/// `run_in_span` for an awaitable made already.
template <class T, class Executor>
asio::awaitable<T, Executor> run_in_span(span s, asio::awaitable<T, Executor> aw) {
  return run_in_span(std::move(s), [aw = std::move(aw)](span&) mutable { return std::move(aw); });
}

}  // namespace detail

/// `startAsyncSpan`: a child of the current span that covers the awaited work and is finished when it
/// completes; the work's result or exception passes through (the exception recorded on the span, a
/// cancellation marked `cancelled`). The span starts at this call, so await the result right away.
template <class T, class Executor>
asio::awaitable<T, Executor> start_async_span(std::string_view name, fields f,
                                              asio::awaitable<T, Executor> aw) {
  return detail::run_in_span(start_span(name, f), std::move(aw));
}

/// `startAsyncSpan(fields, spanFn)`: `fn(span&)` returns the awaitable to run inside the span.
template <class F>
requires(!is_awaitable<std::decay_t<F>>::value) auto start_async_span(std::string_view name, fields f, F fn) {
  return detail::run_in_span(start_span(name, f), std::move(fn));
}

/// `withSpan` for awaited work: the same as `start_async_span`.
template <class T, class Executor>
asio::awaitable<T, Executor> with_span(std::string_view name, fields f, asio::awaitable<T, Executor> aw) {
  return detail::run_in_span(start_span(name, f), std::move(aw));
}

/// `withTrace` for awaited work: a new trace (on the global tracer) whose root covers `aw`.
template <class T, class Executor>
asio::awaitable<T, Executor> with_trace(std::string_view name, fields f, asio::awaitable<T, Executor> aw) {
  return detail::run_in_span(start_trace(name, f), std::move(aw));
}

/// `withTrace` on a given tracer.
template <class T, class Executor>
asio::awaitable<T, Executor> with_trace(tracer& t, std::string_view name, fields f,
                                        asio::awaitable<T, Executor> aw) {
  return detail::run_in_span(t.start_trace(name, f), std::move(aw));
}

/// Awaits `aw` with `s` as the current span (like Rust's `future.instrument(span)`); `s` is not finished.
template <class T, class Executor>
asio::awaitable<T, Executor> instrument(asio::awaitable<T, Executor> aw, const span& s) {
  detail::span_scope scope(s);
  co_return co_await std::move(aw);
}

/// `runWithoutTrace` for awaited work: no trace is current while `aw` runs; restored afterwards.
template <class T, class Executor>
asio::awaitable<T, Executor> run_without_trace(asio::awaitable<T, Executor> aw) {
  detail::hidden_context hide;
  co_return co_await std::move(aw);
}

}  // namespace beeline
