// A tracer: one configured pipeline from finished spans to an exporter, with its own export worker thread.
//
// Most programs configure the global tracer with `beeline::init` and use the free functions in
// <beeline/beeline.hpp>. Libraries and tests can build their own `tracer`; spans started inside one of its
// traces go to it, whatever the global tracer is.
#pragma once

#include <beeline/config.hpp>
#include <beeline/span.hpp>
#include <beeline/stats.hpp>
#include <beeline/trace_context.hpp>
#include <beeline/value.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <string_view>
#include <type_traits>

namespace beeline {

namespace detail {
class tracer_core;
struct tracer_access;
}  // namespace detail

/// Owns the export queue and worker. Must outlive the spans of its traces' being *started*; spans finished
/// after the tracer shut down are counted and dropped, never a crash.
class tracer {
 public:
  /// Throws `std::invalid_argument` for a configuration it cannot honour (no exporter given, and a bad
  /// `api_host`, an unusable `http.ca_file` or a `jsonl_path` that cannot be opened), saying why.
  explicit tracer(config cfg);
  /// Shuts down with a 5 second deadline.
  ~tracer();
  tracer(const tracer&) = delete;
  tracer& operator=(const tracer&) = delete;

  /// Starts a new trace: its root span becomes the current span of the calling task.
  span start_trace(std::string_view name, fields f = {});
  /// Continues an upstream trace: same trace id, the root's parent is `upstream.parent_id`, the upstream
  /// trace fields apply (unprefixed) to every span of the trace.
  span start_trace(std::string_view name, fields f, const trace_context& upstream);
  /// Starts a new trace with span options (kind, links, start time; `root` changes nothing here).
  span start_trace(std::string_view name, fields f, const span_options& options);
  /// Continues an upstream trace with span options; with `options.root`, `upstream` is ignored and a new
  /// trace starts.
  span start_trace(std::string_view name, fields f, const trace_context& upstream,
                   const span_options& options);

  /// Runs `fn` (with `span&` or no argument) inside a new trace; its value or exception passes through, and
  /// an exception is recorded on the root span.
  template <class F>
  decltype(auto) with_trace(std::string_view name, fields f, F&& fn);

  /// Waits until every span finished before the call has been exported or dropped, or `timeout` passed.
  flush_result flush_sync(std::chrono::steady_clock::duration timeout);
  /// The same, with an absolute deadline.
  flush_result flush_sync(std::chrono::steady_clock::time_point deadline) {
    const auto now = std::chrono::steady_clock::now();
    return flush_sync(deadline <= now ? std::chrono::steady_clock::duration::zero() : deadline - now);
  }
  /// Calls `done` once every span finished before this call has been exported or dropped, or when the worker
  /// passes `deadline`. `done` runs on the export worker thread (or inline when nothing is pending) and must
  /// not block. The building block of `co_await beeline::flush()`.
  void async_flush(std::chrono::steady_clock::time_point deadline, std::function<void(flush_result)> done);
  /// Flushes with `timeout`, then stops the worker and calls the exporter's `shutdown`. Idempotent.
  flush_result shutdown(std::chrono::steady_clock::duration timeout = std::chrono::seconds(5));

  /// The trace context of an incoming request's headers (any container: a Beast request, a map), through the
  /// configured parser hook; nullopt starts a new trace. A hook that throws is logged and gives nullopt.
  std::optional<trace_context> parse_trace_context(const propagation::header_view& headers) const;
  /// The headers an outgoing request carries for `ctx`, through the configured propagation hook (a hook that
  /// throws is logged and falls back to `X-Honeycomb-Trace`, as in the Beeline).
  propagation::header_list propagation_headers(const trace_context& ctx) const;
  /// Whether the Honeycomb header carries the dataset: with a classic write key only (the Beeline's rule).
  bool propagates_dataset() const noexcept;

  /// The counters so far.
  beeline::stats stats() const noexcept;
  /// The dataset events are sent to, after the Beeline's classic/non-classic key rules.
  std::string_view dataset() const noexcept;
  std::string_view service_name() const noexcept;

 private:
  friend struct detail::tracer_access;
  detail::tracer_core* core_;
};

namespace detail {
/// now + `timeout`, saturating instead of overflowing (a "wait forever" timeout stays far in the future).
inline std::chrono::steady_clock::time_point deadline_after(
    std::chrono::steady_clock::duration timeout) noexcept {
  const auto now = std::chrono::steady_clock::now();
  if (timeout <= std::chrono::steady_clock::duration::zero()) return now;
  if (timeout >= std::chrono::steady_clock::time_point::max() - now)
    return std::chrono::steady_clock::time_point::max();
  return now + timeout;
}

/// Runs `fn` with the span if it accepts one; records an escaping exception on the span and rethrows.
template <class F>
decltype(auto) invoke_in_span(span& s, F&& fn) {
  try {
    if constexpr (std::is_invocable_v<F, span&>) {
      return std::invoke(std::forward<F>(fn), s);
    } else {
      return std::invoke(std::forward<F>(fn));
    }
  } catch (...) {
    s.record_exception(std::current_exception());
    throw;
  }
}
}  // namespace detail

template <class F>
decltype(auto) tracer::with_trace(std::string_view name, fields f, F&& fn) {
  span root = start_trace(name, f);
  return detail::invoke_in_span(root, std::forward<F>(fn));
}

}  // namespace beeline
