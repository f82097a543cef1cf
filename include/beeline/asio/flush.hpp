// `co_await beeline::flush()`: waiting for the export queue without blocking a thread.
//
// Completion-token based (`void(flush_result)`), so it works with `use_awaitable`, `deferred`, callbacks and
// `use_future`. The wait is a registration with the export worker plus a timer on the caller's executor for
// the deadline, so it never blocks an io_context thread and never outlives its deadline, even when the
// exporter is stuck.
#pragma once

#include <beeline/asio/executor.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace beeline {

namespace detail {

template <class Handler>
struct flush_operation : std::enable_shared_from_this<flush_operation<Handler>> {
  using executor_type = asio::associated_executor_t<Handler, asio::any_io_executor>;

  flush_operation(Handler h, const executor_type& ex) : handler(std::move(h)), executor(ex), timer(ex) {}

  /// Completes once, from the worker (callback) or the deadline timer, on the handler's executor.
  void complete(flush_result r) {
    if (done.exchange(true, std::memory_order_acq_rel)) return;
    asio::post(executor, [self = this->shared_from_this(), r]() mutable {
      self->timer.cancel();
      std::move(self->handler)(r);
    });
  }

  Handler handler;
  executor_type executor;
  asio::steady_timer timer;
  std::atomic<bool> done{false};
};

template <class Handler>
void start_flush(tracer* t, std::chrono::steady_clock::time_point deadline, Handler&& handler) {
  using op_type = flush_operation<std::decay_t<Handler>>;
  const auto ex = asio::get_associated_executor(handler, asio::any_io_executor(asio::system_executor()));
  auto op = std::make_shared<op_type>(std::forward<Handler>(handler), ex);
  if (!t) {
    op->complete({true, 0, 0});
    return;
  }
  // The pending timer owns the operation; the worker holds only a weak reference, so an operation that ended
  // at its deadline (and whose io_context may be gone since) is never touched again.
  op->timer.expires_at(deadline);
  op->timer.async_wait([op](const boost::system::error_code& ec) {
    if (!ec) op->complete({false, 0, 0});
  });
  t->async_flush(deadline, [weak = std::weak_ptr<op_type>(op)](flush_result r) {
    if (auto alive = weak.lock()) alive->complete(r);
  });
}

}  // namespace detail

/// Completes when every span finished before the call on `t` has been exported or definitively dropped, or at
/// `timeout`; reports which (`flush_result`).
template <class Token = asio::use_awaitable_t<>>
auto flush(tracer& t, std::chrono::steady_clock::duration timeout = std::chrono::seconds(5),
           Token&& token = {}) {
  const auto deadline = detail::deadline_after(timeout);
  return asio::async_initiate<Token, void(flush_result)>(
      [tp = &t, deadline](auto handler) { detail::start_flush(tp, deadline, std::move(handler)); }, token);
}

/// `flush` on the global tracer (completes at once when not initialized).
template <class Token = asio::use_awaitable_t<>>
auto flush(std::chrono::steady_clock::duration timeout = std::chrono::seconds(5), Token&& token = {}) {
  const auto deadline = detail::deadline_after(timeout);
  return asio::async_initiate<Token, void(flush_result)>(
      [deadline](auto handler) {
        std::shared_ptr<tracer> t = detail::global_tracer_ref();
        detail::start_flush(t.get(), deadline,
                            [t, h = std::move(handler)](flush_result r) mutable { std::move(h)(r); });
      },
      token);
}

/// Waits for the export queue until an absolute `deadline`, and never longer (Highlight's `waitForFlush`,
/// with the deadline it lacks).
template <class Token = asio::use_awaitable_t<>>
auto wait_for_flush(std::chrono::steady_clock::time_point deadline, Token&& token = {}) {
  const auto now = std::chrono::steady_clock::now();
  return flush(deadline <= now ? std::chrono::steady_clock::duration::zero() : deadline - now,
               std::forward<Token>(token));
}

}  // namespace beeline
