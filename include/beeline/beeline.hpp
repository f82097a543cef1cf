// The Honeycomb Beeline API for C++: traces, spans, context fields, timers and flushing.
//
// Configure once with `beeline::init`, then start traces and spans anywhere; the current span is found
// implicitly, as in the Node Beeline. Each function's Node counterpart is named in its comment and in the
// API table of docs/api.md. Every function is safe to call before `init` or outside a trace: it does nothing.
#pragma once

#include <beeline/config.hpp>
#include <beeline/detail/context.hpp>
#include <beeline/exporter.hpp>
#include <beeline/span.hpp>
#include <beeline/stats.hpp>
#include <beeline/trace_context.hpp>
#include <beeline/tracer.hpp>
#include <beeline/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace beeline {

/// Whether `T` is an awaitable the coroutine overloads (in <beeline/asio/coro.hpp>) handle; the callable
/// overloads here step aside for those.
template <class T>
struct is_awaitable : std::false_type {};

/// The library version, as sent in `meta.beeline_version`.
std::string_view version() noexcept;

/// Configures the global tracer (the Beeline's `require("honeycomb-beeline")(opts)`). Empty `write_key`,
/// `dataset` and `api_host` are taken from HONEYCOMB_WRITEKEY, HONEYCOMB_DATASET and HONEYCOMB_API_HOST.
/// Returns whether this call configured it. Only the first call configures; later calls log a warning and
/// change nothing. A configuration that cannot be honoured (a bad `api_host`, an unusable `http.ca_file`, a
/// `jsonl_path` that cannot be opened) is logged as an error (`init failed: <why>`, to `cfg.logger` or
/// stderr) and leaves the library uninitialized: spans never go anywhere the user did not ask for.
bool init(config cfg);
/// `init` that also throws what it logged (`std::invalid_argument` for a configuration it cannot honour).
bool init_or_throw(config cfg);
/// Completes `cfg` from the environment as `init` does (docs/configuration.md lists the variables): a value
/// the config leaves unset is taken from `OTEL_*` or `HONEYCOMB_*`, so a program that builds its own
/// `tracer`s is configured like one that calls `init`. A malformed value is logged (to `cfg.logger`, else
/// stderr) and ignored. Returns false when `OTEL_SDK_DISABLED=true`: the caller should not export (for
/// example, give the tracer `make_discard_exporter()`). Throws `std::invalid_argument` where `init` fails for
/// the same reason.
bool apply_environment(config& cfg);
/// Whether `init` has configured the global tracer (and `shutdown` has not been called since).
bool is_initialized() noexcept;
/// Flushes the global tracer with a deadline, stops it, and allows `init` again.
flush_result shutdown(std::chrono::steady_clock::duration timeout = std::chrono::seconds(5));
/// The global tracer, or null.
tracer* global_tracer() noexcept;
namespace detail {
/// The global tracer kept alive for the caller (null when not initialized): for operations that outlive the
/// call.
std::shared_ptr<tracer> global_tracer_ref() noexcept;
}  // namespace detail

/// `startTrace`: starts a trace on the global tracer; the root span becomes current.
span start_trace(std::string_view name, fields f = {});
/// `startTrace(fields, traceId, parentSpanId, dataset, traceContext)`: continues an upstream trace.
span start_trace(std::string_view name, fields f, const trace_context& upstream);
/// `startTrace` with OpenTelemetry's span options (kind, links, start time); see `span_options`.
span start_trace(std::string_view name, fields f, const span_options& options);
/// Continues an upstream trace with span options (`options.root` ignores `upstream`: a new trace).
span start_trace(std::string_view name, fields f, const trace_context& upstream, const span_options& options);
/// `finishTrace`: finishes the root span and clears the trace from the current task.
void finish_trace(span& root) noexcept;
/// `withTrace`: runs `fn` (taking `span&` or nothing) in a new trace; value and exception pass through.
template <class F>
requires(!is_awaitable<std::decay_t<F>>::value) decltype(auto)
    with_trace(std::string_view name, fields f, F&& fn);

/// `startSpan`: a child of the current span, which it replaces as current. Inert outside a trace.
span start_span(std::string_view name, fields f = {});
/// `startSpan` with OpenTelemetry's span options: kind, links, start time, and `root`, which starts a new
/// trace (on the tracer of the current trace, else the global tracer) instead of a child of the current span.
span start_span(std::string_view name, fields f, const span_options& options);
/// `finishSpan`: finishes the span; its parent becomes current again.
void finish_span(span& s) noexcept;
/// `withSpan`: runs `fn` (taking `span&` or nothing) in a child span; value and exception pass through, and
/// an exception is recorded on the span (`error`, `error_detail`).
template <class F>
requires(!is_awaitable<std::decay_t<F>>::value) decltype(auto)
    with_span(std::string_view name, fields f, F&& fn);

/// `addContext` / `customContext.add`: adds fields to the current span, keys as given.
void add_context(fields f);
/// Adds one field to the current span.
void add_field(std::string_view key, field_value v);
/// `removeContext`: removes a field from the current span.
void remove_context(std::string_view key);
/// `addTraceContext`: adds fields, keys prefixed `app.`, to every span of the current trace that finishes
/// from now on, and to outgoing propagation.
void add_trace_context(fields f);

/// `startTimer`.
timer start_timer(std::string_view name);
/// `finishTimer`: adds `<name>_ms` (fractional milliseconds) to the current span.
void finish_timer(const timer& t);
/// `withTimer`: times `fn` into `<name>_ms` on the current span, even if it throws; its value passes through.
template <class F>
decltype(auto) with_timer(std::string_view name, F&& fn);

/// `bindFunctionToTrace`: returns a callable that runs `fn` with the context current now (the span current
/// now is the parent of spans `fn` starts), wherever and whenever it is called.
template <class F>
auto bind_function_to_trace(F&& fn);
/// `runWithoutTrace`: runs `fn` with no current trace; the context is restored afterwards.
template <class F>
requires(!is_awaitable<std::decay_t<F>>::value) decltype(auto) run_without_trace(F&& fn);

/// `traceActive`.
bool trace_active() noexcept;
/// `getTraceContext`: the current trace as propagation sees it (trace id, current span id, dataset,
/// trace-level fields), or nullopt outside a trace.
std::optional<trace_context> get_trace_context();

/// The trace context of an incoming request's headers through the configured parser hook (see
/// `config::http_trace_parser_hook`); pass it to `start_trace` to continue the upstream trace. Works on any
/// header container: a Beast request or `http::fields`, a map, a vector of pairs.
std::optional<trace_context> parse_trace_context(const propagation::header_view& headers);
/// The headers an outgoing request should carry for the current span, through the propagation hook of the
/// tracer the current trace belongs to; empty outside a trace.
propagation::header_list propagation_headers();

/// `flush` for synchronous code: waits until every span finished before the call was exported or dropped, or
/// the timeout passed. Returns at once when not initialized.
flush_result flush_sync(std::chrono::steady_clock::duration timeout);
/// The same, with an absolute deadline.
inline flush_result flush_sync(std::chrono::steady_clock::time_point deadline) {
  const auto now = std::chrono::steady_clock::now();
  return flush_sync(deadline <= now ? std::chrono::steady_clock::duration::zero() : deadline - now);
}
/// The global tracer's counters. After `shutdown`, and until the next `init`, the counters of the tracer it
/// stopped: the final outcome of every span (spans finished after the shutdown are counted too). All zero
/// before the first `init`.
stats get_stats() noexcept;

// ---- templates ----

template <class F>
requires(!is_awaitable<std::decay_t<F>>::value) decltype(auto)
    with_trace(std::string_view name, fields f, F&& fn) {
  span root = start_trace(name, f);
  return detail::invoke_in_span(root, std::forward<F>(fn));
}

template <class F>
requires(!is_awaitable<std::decay_t<F>>::value) decltype(auto)
    with_span(std::string_view name, fields f, F&& fn) {
  span s = start_span(name, f);
  return detail::invoke_in_span(s, std::forward<F>(fn));
}

template <class F>
decltype(auto) with_timer(std::string_view name, F&& fn) {
  struct finisher {
    timer t;
    ~finisher() { finish_timer(t); }
  } guard{timer(name)};
  return std::invoke(std::forward<F>(fn));
}

template <class F>
auto bind_function_to_trace(F&& fn) {
  return [snapshot = detail::capture_current(),
          fn = std::forward<F>(fn)](auto&&... args) mutable -> decltype(auto) {
    detail::scoped_slot scope(snapshot);
    return std::invoke(fn, std::forward<decltype(args)>(args)...);
  };
}

template <class F>
requires(!is_awaitable<std::decay_t<F>>::value) decltype(auto) run_without_trace(F&& fn) {
  detail::scoped_slot scope{detail::context_snapshot{}};
  return std::invoke(std::forward<F>(fn));
}

}  // namespace beeline
