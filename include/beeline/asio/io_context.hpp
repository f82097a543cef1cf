// Execution contexts traced by construction: `beeline::io_context` and `beeline::thread_pool` are
// `asio::io_context` and `asio::thread_pool` whose `get_executor()` returns a traced executor, so plain Asio
// code keeps every task's spans apart with no other change:
//
//   beeline::io_context ioc;
//   asio::co_spawn(ioc, handle(), asio::detached);               // a task with its own slot
//   tcp::acceptor acceptor(ioc, endpoint);                        // its executor is traced too
//   asio::co_spawn(acceptor.get_executor(), session(std::move(sock)), asio::detached);   // likewise
//   asio::co_spawn(co_await asio::this_coro::executor, child(), asio::detached);         // a child task
//
// The context's own executor has no slot: a handler posted to it directly runs in its thread's context, as on
// Asio's. Every `co_spawn` on it (or on an `any_io_executor`, socket or timer made from it, or on a task's
// `this_coro::executor`) makes a new slot whose parent is the span current at the call, as `beeline::spawn`
// does. Code that takes an `asio::io_context&` (not a template) sees the base class and its untraced
// executor: give it `ioc.get_executor()` where it accepts an executor.
#pragma once

#include <beeline/asio/coro.hpp>
#include <beeline/asio/executor.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <utility>

namespace beeline {

/// `asio::io_context` whose executor is traced: `co_spawn` on it starts a task with its own context slot.
class io_context : public asio::io_context {
 public:
  using executor_type = traced_executor<asio::io_context::executor_type>;

  io_context() = default;
  /// `concurrency_hint` as for `asio::io_context`.
  explicit io_context(int concurrency_hint) : asio::io_context(concurrency_hint) {}

  /// The traced executor (no slot of its own: tasks spawned on it get theirs).
  executor_type get_executor() noexcept { return executor_type(asio::io_context::get_executor(), {}); }
};

/// `asio::thread_pool` whose executor is traced: `co_spawn` on it starts a task with its own context slot.
class thread_pool : public asio::thread_pool {
 public:
  using executor_type = traced_executor<asio::thread_pool::executor_type>;

  thread_pool() = default;
  /// `num_threads` threads, as for `asio::thread_pool`.
  explicit thread_pool(std::size_t num_threads) : asio::thread_pool(num_threads) {}

  /// The traced executor (no slot of its own: tasks spawned on it get theirs).
  executor_type get_executor() noexcept { return executor_type(asio::thread_pool::get_executor(), {}); }
  executor_type executor() noexcept { return get_executor(); }
};

}  // namespace beeline

// `co_spawn(ioc, ...)` on the traced contexts: Asio's own overload for an execution context would call
// `co_spawn` on the executor without seeing the overloads in coro.hpp, so these take the context first.
namespace boost::asio {

template <class T, class AwaitableExecutor,
          class Token = default_completion_token_t<beeline::io_context::executor_type>>
auto co_spawn(beeline::io_context& ctx, awaitable<T, AwaitableExecutor> a, Token&& token = Token()) {
  return beeline::detail::spawn_task(ctx.get_executor(), std::move(a), std::forward<Token>(token));
}

template <class AwaitableExecutor,
          class Token = default_completion_token_t<beeline::io_context::executor_type>>
auto co_spawn(beeline::io_context& ctx, awaitable<void, AwaitableExecutor> a, Token&& token = Token()) {
  return beeline::detail::spawn_task(ctx.get_executor(), std::move(a), std::forward<Token>(token));
}

template <class F, class Token = default_completion_token_t<beeline::io_context::executor_type>>
requires(!beeline::is_awaitable<std::decay_t<F>>::value) auto co_spawn(beeline::io_context& ctx, F&& f,
                                                                       Token&& token = Token()) {
  return beeline::detail::spawn_task_fn(ctx.get_executor(), std::forward<F>(f), std::forward<Token>(token));
}

template <class T, class AwaitableExecutor,
          class Token = default_completion_token_t<beeline::thread_pool::executor_type>>
auto co_spawn(beeline::thread_pool& ctx, awaitable<T, AwaitableExecutor> a, Token&& token = Token()) {
  return beeline::detail::spawn_task(ctx.get_executor(), std::move(a), std::forward<Token>(token));
}

template <class AwaitableExecutor,
          class Token = default_completion_token_t<beeline::thread_pool::executor_type>>
auto co_spawn(beeline::thread_pool& ctx, awaitable<void, AwaitableExecutor> a, Token&& token = Token()) {
  return beeline::detail::spawn_task(ctx.get_executor(), std::move(a), std::forward<Token>(token));
}

template <class F, class Token = default_completion_token_t<beeline::thread_pool::executor_type>>
requires(!beeline::is_awaitable<std::decay_t<F>>::value) auto co_spawn(beeline::thread_pool& ctx, F&& f,
                                                                       Token&& token = Token()) {
  return beeline::detail::spawn_task_fn(ctx.get_executor(), std::forward<F>(f), std::forward<Token>(token));
}

}  // namespace boost::asio
