// The Beeline API for Boost.Asio coroutines: the traced co_spawn, forks for parallel work, and spans around
// awaited work.
//
//   co_await beeline::start_async_span("fetch", beeline::field{"url", url}, fetch(url));  // a child span
//   beeline::spawn(ex, handle(session), asio::detached);         // a child task with its own slot
//   co_await (beeline::forked(a()) && beeline::forked(b()));     // each branch its own slot
//
// `asio::co_spawn` on a traced executor (a task's `this_coro::executor`, a `beeline::io_context`'s, or an
// `any_io_executor` holding one) starts a new task as `spawn` does; the overloads are at the end of this
// file.
#pragma once

#include <beeline/asio/executor.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <cstddef>
#include <exception>
#include <string_view>
#include <tuple>
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

namespace detail {

/// Asio's own `co_spawn`, never the traced overloads at the end of this header: naming the executor type
/// explicitly leaves none of them viable.
template <class Executor, class Work, class Token>
auto asio_co_spawn(const Executor& ex, Work&& work, Token&& token) {
  return asio::co_spawn<Executor>(ex, std::forward<Work>(work), std::forward<Token>(token));
}

/// A new task on `ex` with a slot of its own whose parent is the span current now.
template <class Executor, class T, class AwaitableExecutor, class Token>
auto spawn_task(const Executor& ex, asio::awaitable<T, AwaitableExecutor> aw, Token&& token) {
  auto [exec, owner] = fork_task(ex);
  return asio_co_spawn(exec, owned(std::move(owner), std::move(aw)), std::forward<Token>(token));
}

/// The same for a function returning the awaitable (kept alive by Asio for as long as the task runs).
template <class Executor, class F, class Token>
auto spawn_task_fn(const Executor& ex, F&& f, Token&& token) {
  auto [exec, owner] = fork_task(ex);
  return asio_co_spawn(
      exec,
      [owner = std::move(owner), f = std::forward<F>(f)]() mutable { return owned(std::move(owner), f()); },
      std::forward<Token>(token));
}

/// `co_spawn` on an `any_io_executor`: a new task if it holds a traced executor, Asio's behaviour otherwise.
/// Both paths return the same type (a traced `any_io_executor` and the same awaitable type).
template <class T, class AwaitableExecutor, class Token>
auto spawn_any(const asio::any_io_executor& ex, asio::awaitable<T, AwaitableExecutor> aw, Token&& token) {
  if (holds_traced(ex)) return spawn_task(ex, std::move(aw), std::forward<Token>(token));
  return asio_co_spawn(ex, std::move(aw), std::forward<Token>(token));
}

template <class F, class Token>
auto spawn_any_fn(const asio::any_io_executor& ex, F&& f, Token&& token) {
  asio::any_io_executor exec = ex;
  slot_handle owner;
  if (holds_traced(ex)) std::tie(exec, owner) = fork_task(ex);
  return asio_co_spawn(
      exec,
      [owner = std::move(owner), f = std::forward<F>(f)]() mutable {
        return owner.empty() ? f() : owned(std::move(owner), f());
      },
      std::forward<Token>(token));
}

}  // namespace detail

/// The traced `co_spawn`: runs `aw` as a new task on `ex` whose spans are children of the span current now.
/// `asio::co_spawn` does the same when given a traced executor or a `beeline::io_context`.
template <class Executor, class T, class AwaitableExecutor, class Token>
auto spawn(const Executor& ex, asio::awaitable<T, AwaitableExecutor> aw, Token&& token) {
  return detail::spawn_task(ex, std::move(aw), std::forward<Token>(token));
}

/// The traced `co_spawn` of a function returning an awaitable (the function object is kept alive by Asio).
template <class Executor, class F, class Token>
requires(!is_awaitable<std::decay_t<F>>::value) auto spawn(const Executor& ex, F&& f, Token&& token) {
  return detail::spawn_task_fn(ex, std::forward<F>(f), std::forward<Token>(token));
}

/// Runs `aw` as a child task with its own slot and waits for it: the branch form for `&&`, `||` and any other
/// place where awaitables run concurrently in one coroutine.
template <class T, class Executor>
asio::awaitable<T, Executor> forked(asio::awaitable<T, Executor> aw) {
  const Executor ex = co_await asio::this_coro::executor;
  if constexpr (std::is_void_v<T>) {
    co_await detail::spawn_task(ex, std::move(aw), asio::use_awaitable_t<Executor>{});
  } else {
    co_return co_await detail::spawn_task(ex, std::move(aw), asio::use_awaitable_t<Executor>{});
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

namespace detail {

template <class... Args, std::size_t... I>
constexpr bool leading_fields(std::index_sequence<I...>) {
  return (std::is_convertible_v<std::tuple_element_t<I, std::tuple<Args...>>, field> && ...);
}

/// Arguments `field..., work`: any number of `beeline::field`s, then the work.
template <class... Args>
concept fields_then_work =
    sizeof...(Args) >= 1 && leading_fields<Args...>(std::make_index_sequence<sizeof...(Args) - 1>{});

template <class... Args>
using last_t = std::decay_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>;

/// `fields_then_work` whose work is an awaitable.
template <class... Args>
concept fields_then_awaitable = fields_then_work<Args...> && is_awaitable<last_t<Args...>>::value;

/// Starts a span with `start(fields)` from the leading fields of `args` and runs the last argument (an
/// awaitable, or a function of the span returning one) inside it. The braced list is made here, in a plain
/// function, never inside the caller's `co_await` expression.
template <class Start, class... Args>
auto run_with_fields(Start start, Args&&... args) {
  constexpr std::size_t n = sizeof...(Args) - 1;
  auto refs = std::forward_as_tuple(std::forward<Args>(args)...);  // the work keeps its value category
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return run_in_span(start({field(std::get<I>(refs))...}), std::get<n>(std::move(refs)));
  }
  (std::make_index_sequence<n>{});
}

}  // namespace detail

/// `startAsyncSpan`: a child of the current span that covers the awaited work and is finished when it
/// completes; the work's result or exception passes through (the exception recorded on the span, a
/// cancellation marked `cancelled`). The work is the last argument, an awaitable or a function `fn(span&)`
/// returning one; fields come before it as `beeline::field`s, so the whole call fits in one `co_await`:
/// `co_await start_async_span("fetch", field{"url", url}, fetch(url))`. The span starts at this call, so
/// await the result right away.
template <class... Args>
requires detail::fields_then_work<Args...>
auto start_async_span(std::string_view name, Args&&... args) {
  return detail::run_with_fields([name](fields f) { return start_span(name, f); },
                                 std::forward<Args>(args)...);
}

/// `withSpan` for awaited work: the same as `start_async_span`, for an awaitable.
template <class... Args>
requires detail::fields_then_awaitable<Args...>
auto with_span(std::string_view name, Args&&... args) {
  return detail::run_with_fields([name](fields f) { return start_span(name, f); },
                                 std::forward<Args>(args)...);
}

/// `withTrace` for awaited work: a new trace (on the global tracer) whose root covers the awaitable, which is
/// the last argument (after any `beeline::field`s).
template <class... Args>
requires detail::fields_then_awaitable<Args...>
auto with_trace(std::string_view name, Args&&... args) {
  return detail::run_with_fields([name](fields f) { return start_trace(name, f); },
                                 std::forward<Args>(args)...);
}

/// `withTrace` on a given tracer.
template <class... Args>
requires detail::fields_then_awaitable<Args...>
auto with_trace(tracer& t, std::string_view name, Args&&... args) {
  return detail::run_with_fields([&t, name](fields f) { return t.start_trace(name, f); },
                                 std::forward<Args>(args)...);
}

/// `start_async_span` with span options (kind, links, start time, root; see `span_options`) before the
/// fields: `co_await start_async_span("fetch", opts, field{"url", url}, fetch(url))`, `opts` a variable
/// made before the statement.
template <class... Args>
requires detail::fields_then_work<Args...>
auto start_async_span(std::string_view name, const span_options& options, Args&&... args) {
  return detail::run_with_fields([name, &options](fields f) { return start_span(name, f, options); },
                                 std::forward<Args>(args)...);
}

/// `with_span` for awaited work, with span options.
template <class... Args>
requires detail::fields_then_awaitable<Args...>
auto with_span(std::string_view name, const span_options& options, Args&&... args) {
  return detail::run_with_fields([name, &options](fields f) { return start_span(name, f, options); },
                                 std::forward<Args>(args)...);
}

/// `with_trace` for awaited work, with span options.
template <class... Args>
requires detail::fields_then_awaitable<Args...>
auto with_trace(std::string_view name, const span_options& options, Args&&... args) {
  return detail::run_with_fields([name, &options](fields f) { return start_trace(name, f, options); },
                                 std::forward<Args>(args)...);
}

/// `with_trace` on a given tracer, with span options.
template <class... Args>
requires detail::fields_then_awaitable<Args...>
auto with_trace(tracer& t, std::string_view name, const span_options& options, Args&&... args) {
  return detail::run_with_fields([&t, name, &options](fields f) { return t.start_trace(name, f, options); },
                                 std::forward<Args>(args)...);
}

// A braced field list (`{{"k", v}}`, even `{}`) in the awaitable forms does not compile: GCC 12 rejects a
// braced list inside a `co_await` expression, or destroys temporaries made there twice, and which form a
// caller's statement is cannot be told here. Pass `beeline::field{"k", v}` arguments before the work, or
// none. (The parameter's name is what the compiler's "declared here" note shows.)
template <class Work>
void start_async_span(std::string_view, fields pass_fields_as_beeline_field_arguments, Work&&) = delete;
template <class T, class Executor>
void with_span(std::string_view, fields pass_fields_as_beeline_field_arguments,
               asio::awaitable<T, Executor>) = delete;
template <class T, class Executor>
void with_trace(std::string_view, fields pass_fields_as_beeline_field_arguments,
                asio::awaitable<T, Executor>) = delete;
template <class T, class Executor>
void with_trace(tracer&, std::string_view, fields pass_fields_as_beeline_field_arguments,
                asio::awaitable<T, Executor>) = delete;

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

// `asio::co_spawn` on a traced executor starts a new task, exactly like `beeline::spawn`: a plain copy of an
// executor cannot tell two tasks apart, so the task's slot is made here. These overloads are more specialised
// than Asio's (their first parameter is), so partial ordering picks them for every completion token. An
// `any_io_executor` is checked at run time and keeps Asio's behaviour unless it holds a traced executor.
namespace boost::asio {

template <class Inner, class T, class AwaitableExecutor,
          class Token = default_completion_token_t<beeline::traced_executor<Inner>>>
auto co_spawn(const beeline::traced_executor<Inner>& ex, awaitable<T, AwaitableExecutor> a,
              Token&& token = Token()) {
  return beeline::detail::spawn_task(ex, std::move(a), std::forward<Token>(token));
}

template <class Inner, class AwaitableExecutor,
          class Token = default_completion_token_t<beeline::traced_executor<Inner>>>
auto co_spawn(const beeline::traced_executor<Inner>& ex, awaitable<void, AwaitableExecutor> a,
              Token&& token = Token()) {
  return beeline::detail::spawn_task(ex, std::move(a), std::forward<Token>(token));
}

template <class Inner, class F, class Token = default_completion_token_t<beeline::traced_executor<Inner>>>
requires(!beeline::is_awaitable<std::decay_t<F>>::value) auto co_spawn(
    const beeline::traced_executor<Inner>& ex, F&& f, Token&& token = Token()) {
  return beeline::detail::spawn_task_fn(ex, std::forward<F>(f), std::forward<Token>(token));
}

// A strand of a slot-less traced executor (`make_strand(beeline_ioc)`): the task's traced wrapper goes around
// the strand, whose own traced executor then passes handlers through untouched.
template <class Inner, class T, class AwaitableExecutor,
          class Token = default_completion_token_t<strand<beeline::traced_executor<Inner>>>>
auto co_spawn(const strand<beeline::traced_executor<Inner>>& ex, awaitable<T, AwaitableExecutor> a,
              Token&& token = Token()) {
  return beeline::detail::spawn_task(ex, std::move(a), std::forward<Token>(token));
}

template <class Inner, class AwaitableExecutor,
          class Token = default_completion_token_t<strand<beeline::traced_executor<Inner>>>>
auto co_spawn(const strand<beeline::traced_executor<Inner>>& ex, awaitable<void, AwaitableExecutor> a,
              Token&& token = Token()) {
  return beeline::detail::spawn_task(ex, std::move(a), std::forward<Token>(token));
}

template <class Inner, class F,
          class Token = default_completion_token_t<strand<beeline::traced_executor<Inner>>>>
requires(!beeline::is_awaitable<std::decay_t<F>>::value) auto co_spawn(
    const strand<beeline::traced_executor<Inner>>& ex, F&& f, Token&& token = Token()) {
  return beeline::detail::spawn_task_fn(ex, std::forward<F>(f), std::forward<Token>(token));
}

template <class T, class AwaitableExecutor, class Token = default_completion_token_t<any_io_executor>>
auto co_spawn(const any_io_executor& ex, awaitable<T, AwaitableExecutor> a, Token&& token = Token()) {
  return beeline::detail::spawn_any(ex, std::move(a), std::forward<Token>(token));
}

template <class AwaitableExecutor, class Token = default_completion_token_t<any_io_executor>>
auto co_spawn(const any_io_executor& ex, awaitable<void, AwaitableExecutor> a, Token&& token = Token()) {
  return beeline::detail::spawn_any(ex, std::move(a), std::forward<Token>(token));
}

template <class F, class Token = default_completion_token_t<any_io_executor>>
requires(!beeline::is_awaitable<std::decay_t<F>>::value) auto co_spawn(const any_io_executor& ex, F&& f,
                                                                       Token&& token = Token()) {
  return beeline::detail::spawn_any_fn(ex, std::forward<F>(f), std::forward<Token>(token));
}

}  // namespace boost::asio
