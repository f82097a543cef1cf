// The awaitable parts of the Highlight SDK: `co_await run_with_headers(headers, work)` and
// `co_await wait_for_flush(names, deadline)`.
//
//   co_await beeline::H::run_with_headers(request, handle(request));     // a span `highlight-ctx` around it
//   co_await beeline::H::wait_for_flush(deadline, "highlight-ctx");      // never past the deadline
//
// `wait_for_flush` follows the completion-token model (`void(wait_for_flush_result)`: `use_awaitable` by
// default, callbacks, `deferred`, `use_future`); it registers with the client and arms a timer on the
// caller's executor, so it never blocks an io_context thread and always completes by its deadline.
#pragma once

#include <beeline/asio/coro.hpp>
#include <beeline/highlight.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace beeline {

namespace highlight {

namespace detail {

template <class Handler>
struct wait_operation : std::enable_shared_from_this<wait_operation<Handler>> {
  using executor_type = asio::associated_executor_t<Handler, asio::any_io_executor>;

  wait_operation(Handler h, const executor_type& ex, client* c, std::shared_ptr<client> keep_alive)
      : handler(std::move(h)), executor(ex), timer(ex), owner(c), keep(std::move(keep_alive)) {}
  // Not completed (its io_context went away first): the client must not call it any more.
  ~wait_operation() {
    if (const std::uint64_t i = id.load(std::memory_order_acquire); i && owner) owner->cancel_wait(i);
  }

  /// Completes once, from the client's thread or the deadline timer, on the handler's executor. The client
  /// calls it through a plain pointer: the completion below (and the destructor) cancel the registration,
  /// which waits for a call in progress, so the operation outlives every such call, and a call from the
  /// client never holds the last reference once it returns.
  void complete(wait_for_flush_result r) {
    std::shared_ptr<wait_operation> self = this->weak_from_this().lock();
    if (!self || done.exchange(true, std::memory_order_acq_rel)) return;
    asio::post(executor, [self = std::move(self), r = std::move(r)]() mutable {
      self->timer.cancel();
      if (const std::uint64_t i = self->id.load(std::memory_order_acquire); i && self->owner)
        self->owner->cancel_wait(i);
      std::move(self->handler)(std::move(r));
    });
  }

  Handler handler;
  executor_type executor;
  asio::steady_timer timer;
  client* owner;
  std::shared_ptr<client> keep;  // `H::wait_for_flush` keeps the process-wide client alive
  std::atomic<std::uint64_t> id{0};
  std::atomic<bool> done{false};
};

template <class Handler>
void start_wait(client* c, std::shared_ptr<client> keep, std::vector<std::string> names,
                std::chrono::steady_clock::time_point deadline, Handler&& handler) {
  using op_type = wait_operation<std::decay_t<Handler>>;
  const auto ex = asio::get_associated_executor(handler, asio::any_io_executor(asio::system_executor()));
  auto op = std::make_shared<op_type>(std::forward<Handler>(handler), ex, c, std::move(keep));
  if (!c) {
    op->complete({});
    return;
  }
  op->id.store(
      c->async_wait_for_flush(std::move(names), deadline,
                              [raw = op.get()](wait_for_flush_result r) { raw->complete(std::move(r)); }),
      std::memory_order_release);
  // The pending timer owns the operation until the deadline.
  op->timer.expires_at(deadline);
  op->timer.async_wait([op](const boost::system::error_code& ec) {
    if (!ec) op->complete({});
  });
}

/// Span names given one by one (anything a `std::string` can be made from).
template <class... Names>
concept span_names = (std::is_constructible_v<std::string, Names> && ...);

}  // namespace detail

/// `runWithHeaders`: runs `aw` in a span `highlight-ctx` continuing the request's trace (see
/// `client::start_with_headers`); value and exception pass through, the exception recorded on the span.
template <class T, class Executor>
asio::awaitable<T, Executor> run_with_headers(client& c, const propagation::header_view& headers,
                                              asio::awaitable<T, Executor> aw) {
  return beeline::detail::run_in_span(c.start_with_headers("highlight-ctx", headers).span, std::move(aw));
}

/// The same with `fn(span&)` returning the awaitable to run inside the span.
template <detail::awaitable_factory F>
auto run_with_headers(client& c, const propagation::header_view& headers, F fn) {
  return beeline::detail::run_in_span(c.start_with_headers("highlight-ctx", headers).span, std::move(fn));
}

/// `waitForFlush` on `c`: completes when a span of each expected name has been exported since the last
/// complete wait (with no names: when what finished before the call has been exported), or at `deadline`.
template <class Token = asio::use_awaitable_t<>>
auto wait_for_flush(client& c, std::vector<std::string> expected_span_names,
                    std::chrono::steady_clock::time_point deadline, Token&& token = {}) {
  return asio::async_initiate<Token, void(wait_for_flush_result)>(
      [cp = &c, deadline](auto handler, std::vector<std::string> names) {
        // The caller keeps its client alive while it waits.
        detail::start_wait(cp, nullptr, std::move(names), deadline, std::move(handler));
      },
      token, std::move(expected_span_names));
}

/// `waitForFlush` on `c` with the span names as separate arguments, awaited: the form for a single `co_await`
/// expression (`co_await wait_for_flush(c, deadline, "a", "b")`), which a braced name list is not.
template <class... Names>
requires detail::span_names<Names...> asio::awaitable<wait_for_flush_result> wait_for_flush(
    client& c, std::chrono::steady_clock::time_point deadline, Names&&... names) {
  return wait_for_flush(c, std::vector<std::string>{std::string(std::forward<Names>(names))...}, deadline,
                        asio::use_awaitable);
}

/// A braced name list does not compile: GCC 12 rejects it inside a `co_await` expression, or destroys the
/// vector made there twice. Pass the names as separate arguments, or a named vector.
template <class Token = asio::use_awaitable_t<>>
void wait_for_flush(client&, std::initializer_list<std::string_view> pass_names_as_separate_arguments,
                    std::chrono::steady_clock::time_point, Token&& = {}) = delete;

}  // namespace highlight

namespace H {

/// `H.runWithHeaders` for awaited work (the work runs without a span before `init`).
template <class T, class Executor>
asio::awaitable<T, Executor> run_with_headers(const propagation::header_view& headers,
                                              asio::awaitable<T, Executor> aw) {
  if (auto c = instance()) return highlight::run_with_headers(*c, headers, std::move(aw));
  return aw;
}

/// The same with `fn(span&)` returning the awaitable.
template <highlight::detail::awaitable_factory F>
auto run_with_headers(const propagation::header_view& headers, F fn) {
  highlight::started_span s = start_with_headers("highlight-ctx", headers);
  return beeline::detail::run_in_span(std::move(s.span), std::move(fn));
}

/// `H.waitForFlush(expectedSpanNames)` with the deadline Node lacks (completes at once before `init`).
template <class Token = asio::use_awaitable_t<>>
auto wait_for_flush(std::vector<std::string> expected_span_names,
                    std::chrono::steady_clock::time_point deadline, Token&& token = {}) {
  return asio::async_initiate<Token, void(highlight::wait_for_flush_result)>(
      [deadline](auto handler, std::vector<std::string> names) {
        std::shared_ptr<highlight::client> c = instance();
        highlight::client* raw = c.get();
        highlight::detail::start_wait(raw, std::move(c), std::move(names), deadline, std::move(handler));
      },
      token, std::move(expected_span_names));
}

/// `H.waitForFlush("a", "b")` with the deadline first and the names as separate arguments, awaited: the form
/// for a single `co_await` expression.
template <class... Names>
requires highlight::detail::span_names<Names...> asio::awaitable<highlight::wait_for_flush_result>
wait_for_flush(std::chrono::steady_clock::time_point deadline, Names&&... names) {
  return wait_for_flush(std::vector<std::string>{std::string(std::forward<Names>(names))...}, deadline,
                        asio::use_awaitable);
}

/// A braced name list does not compile (see `highlight::wait_for_flush`).
template <class Token = asio::use_awaitable_t<>>
void wait_for_flush(std::initializer_list<std::string_view> pass_names_as_separate_arguments,
                    std::chrono::steady_clock::time_point, Token&& = {}) = delete;

}  // namespace H

}  // namespace beeline
