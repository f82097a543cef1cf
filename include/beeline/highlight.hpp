// Highlight's backend SDK (`@highlight-run/node`'s `H`) for C++: errors, metrics, logs and spans, sent to
// Highlight (or any OpenTelemetry collector) over OTLP/HTTP JSON with gzip.
//
//   beeline::H::init({.project_id = "abc123", .service_name = "checkout"});
//   auto ids = beeline::H::parse_headers(request);                  // x-highlight-request: session/request
//   beeline::H::consume_error(e, ids.secure_session_id, ids.request_id, {{"url", "/orders"}});
//   beeline::H::record_metric(ids.secure_session_id, "elapsed_ms", 12.5, ids.request_id, {{"user", "zane"}});
//   beeline::H::log("cart loaded", "info", ids.secure_session_id, ids.request_id);
//
// A `highlight::client` owns a tracer of its own (spans to `/v1/traces` through `make_otlp_exporter`) and a
// small bounded pipeline for metrics (`/v1/metrics`, gauge data points) and logs (`/v1/logs`); none of the
// calls blocks or throws on the request path, and what does not fit is dropped and counted. `H::` is the same
// API on one process-wide client. The awaitable parts (`run_with_headers`, `wait_for_flush`) are in
// <beeline/asio/highlight.hpp>; docs/highlight.md lists each Node function's C++ name and the differences.
#pragma once

#include <beeline/beeline.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/propagation.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace beeline::highlight {

/// Highlight's OTLP intake (Node's default `otlpEndpoint`).
inline constexpr std::string_view default_otlp_endpoint = "https://otel.highlight.io:4318";

/// Node's `NodeOptions`, in C++.
struct options {
  std::string project_id;  ///< `projectID`: resource attribute `highlight.project_id`
  std::string otlp_endpoint =
      std::string(default_otlp_endpoint);  ///< `/v1/traces`, `/v1/metrics`, `/v1/logs`
  std::string service_name;                ///< resource `service.name`; default `unknown_service:<program>`
  std::string service_version;             ///< resource `service.version`
  std::string environment;                 ///< resource `deployment.environment`, if not empty
  bool disable_error_source_context = false;       ///< no source lines around each frame of an error
  double error_source_context_cache_size_mb = 10;  ///< source files kept in memory; <= 0: no limit
  bool debug = false;                              ///< log what the SDK does (to `logger`)
  field_list attributes;                           ///< more resource attributes
  /// The transport; gzip on and 5 s timeouts, as Node's exporters.
  http_options http = [] {
    http_options h;
    h.gzip = true;
    h.connect_timeout = std::chrono::milliseconds(5000);
    h.request_timeout = std::chrono::milliseconds(5000);
    return h;
  }();
  /// The OTLP encoding of traces, metrics and logs: protobuf by default, as the OpenTelemetry specification
  /// says; `http_json` for a collector that reads only JSON.
  otlp_protocol protocol = otlp_protocol::http_protobuf;
  /// Metric data points and log records waiting to be sent (each); more are dropped and counted.
  std::size_t signal_queue_capacity = 8192;
  /// How often spans, metrics and logs are sent (Node: every 5 s; `flush` sends at once).
  std::chrono::milliseconds send_interval{1000};
  /// Diagnostics; default: warnings and errors to stderr (and debug lines when `debug`).
  log_hook logger;
};

/// One frame of a stack trace, with its source context once resolved (`linesBefore`, `lineContent`,
/// `linesAfter` in Highlight's frame JSON).
struct stack_frame {
  const void* address = nullptr;
  std::string function;      ///< demangled; empty when unknown
  std::string file;          ///< source file, from debug info; empty when unknown
  int line = 0;              ///< 1-based; 0 when unknown
  std::string line_content;  ///< line `line`, with its "\n"
  std::string lines_before;  ///< up to five lines before it, each with its "\n"
  std::string lines_after;   ///< up to five lines after it
  friend bool operator==(const stack_frame&, const stack_frame&) = default;
};

/// A call stack as return addresses (cheap to capture); resolved to functions, files and lines only when an
/// error is reported. Captured with Boost.Stacktrace.
class stack_trace {
 public:
  stack_trace() = default;
  explicit stack_trace(std::vector<const void*> addresses) : addresses_(std::move(addresses)) {}
  /// The caller's stack, without the innermost `skip` frames of the caller. (Reports leave out the SDK's own
  /// innermost frames, `beeline::highlight::` and `beeline::H::` functions, when resolving.)
  static stack_trace current(std::size_t skip = 0);
  const std::vector<const void*>& addresses() const noexcept { return addresses_; }
  bool empty() const noexcept { return addresses_.empty(); }
  /// Function, file and line of each frame (file and line need debug information).
  std::vector<stack_frame> resolve() const;

 private:
  std::vector<const void*> addresses_;
};

namespace detail {
/// A callable taking the span and returning the awaitable to run in it (the awaitable `run_with_headers` in
/// <beeline/asio/highlight.hpp> takes those).
template <class F>
concept awaitable_factory = !is_awaitable<std::decay_t<F>>::value && std::is_invocable_v<F&, span&> &&
                            is_awaitable<std::invoke_result_t<F&, span&>>::value;
/// Work the synchronous `run_with_headers` runs: a callable that is not an awaitable factory.
template <class F>
concept synchronous_work = !is_awaitable<std::decay_t<F>>::value && !awaitable_factory<F>;
}  // namespace detail

/// The stack an exception was thrown with, for exceptions thrown through `throw_with_trace`.
class traced_exception_base {
 public:
  const stack_trace& trace() const noexcept { return trace_; }

 protected:
  explicit traced_exception_base(stack_trace t) noexcept : trace_(std::move(t)) {}
  ~traced_exception_base() = default;

 private:
  stack_trace trace_;
};

/// `E` with the stack it was thrown from; catch it as `E`.
template <class E>
class traced_exception final : public E, public traced_exception_base {
 public:
  traced_exception(E e, stack_trace t) : E(std::move(e)), traced_exception_base(std::move(t)) {}
};

/// Throws `e` (as a type derived from it) carrying the stack at this call, which `consume_error` reports
/// instead of the stack at the report. The opt-in for throw-site traces; nothing global is changed.
template <class E>
[[noreturn]] void throw_with_trace(E&& e) {
  using type = std::decay_t<E>;
  static_assert(std::is_class_v<type> && !std::is_final_v<type>, "throw_with_trace needs a non-final class");
  throw traced_exception<type>(std::forward<E>(e), stack_trace::current());
}

/// The throw-site stack of `e`, if it was thrown with `throw_with_trace` (or carries a Boost
/// `error_info<struct tag_stacktrace, boost::stacktrace::stacktrace>`, Boost's documented idiom).
std::optional<stack_trace> thrown_trace(const std::exception& e);

/// `parseHeaders`: the session and request ids of `x-highlight-request: <session>/<request>`, from any header
/// container; both empty when the header is missing or malformed.
highlight::request_ids parse_headers(const propagation::header_view& headers);

/// A span continuing a request's trace, and the context to propagate downstream (`startWithHeaders`).
struct started_span {
  beeline::span span;
  trace_context context;  ///< this span's trace id and span id, and the Highlight fields
};

/// What `wait_for_flush` found.
struct wait_for_flush_result {
  bool complete = false;                    ///< every expected span was exported before the deadline
  std::vector<std::string> exported_names;  ///< names of spans exported since the last complete wait
};

/// The client's own counters (its tracer's are `tracer().stats()`).
struct client_stats {
  std::uint64_t errors = 0;            ///< `consume_error` calls recorded
  std::uint64_t metrics_enqueued = 0;  ///< metric data points accepted
  std::uint64_t metrics_dropped = 0;   ///< refused: queue full, shut down, not finite, or failed to send
  std::uint64_t metrics_exported = 0;
  std::uint64_t logs_enqueued = 0;
  std::uint64_t logs_dropped = 0;
  std::uint64_t logs_exported = 0;
  std::uint64_t source_cache_bytes = 0;  ///< source text held by the cache now
  std::uint64_t source_cache_files = 0;  ///< files (readable or not) in the cache now
  std::uint64_t source_file_reads = 0;   ///< files read from disk
  std::uint64_t source_cache_hits = 0;
};

class client_impl;

/// One Highlight SDK instance: a tracer, a metrics and logs pipeline, and the source-context cache. Tests and
/// libraries can make their own; `H::` uses a process-wide one.
class client {
 public:
  /// Throws `std::invalid_argument` for an endpoint that is not an http(s) URL, or an `http.ca_file` (with
  /// an https endpoint) that cannot be read or holds no PEM certificate.
  explicit client(options o);
  /// Shuts down with a 5 second deadline.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// The tracer that sends this client's spans (start traces on it to send them to Highlight).
  beeline::tracer& tracer() noexcept;
  const options& settings() const noexcept;

  /// `consumeError`: a span `highlight.error` (a child of the current span, or a new trace) with an
  /// `exception` event (`exception.type` demangled, `exception.message`, `exception.stacktrace`, and the
  /// frames with source lines as JSON in `exception.source_context`), `highlight.session_id`,
  /// `highlight.trace_id` (the request id) and `metadata` as attributes. The stack is the throw site's for
  /// `throw_with_trace`, else this call's. Never throws.
  void consume_error(const std::exception& e, std::string_view secure_session_id = {},
                     std::string_view request_id = {}, fields metadata = {}) noexcept;
  /// The same for any exception (a non-`std::exception` is reported as its demangled type).
  void consume_error(const std::exception_ptr& e, std::string_view secure_session_id = {},
                     std::string_view request_id = {}, fields metadata = {}) noexcept;
  /// The same with frames given by the caller (resolved already, e.g. from a crash report); their source
  /// context is filled in.
  void consume_error(std::string_view type, std::string_view message, std::vector<stack_frame> frames,
                     std::string_view secure_session_id = {}, std::string_view request_id = {},
                     fields metadata = {}) noexcept;

  /// `recordMetric`: a gauge data point on `/v1/metrics` with the tags, `highlight.session_id` and
  /// `highlight.trace_id` as attributes. Never blocks: a full queue drops it (counted).
  void record_metric(std::string_view secure_session_id, std::string_view name, double value,
                     std::string_view request_id = {}, fields tags = {}) noexcept;
  /// `log`: a log record on `/v1/logs` (severity text `level`, body `message`, `metadata`,
  /// `highlight.session_id`, `highlight.trace_id`), tied to the current span's trace when there is one.
  void log(std::string_view message, std::string_view level, std::string_view secure_session_id = {},
           std::string_view request_id = {}, fields metadata = {}) noexcept;

  /// `startWithHeaders`: a span `name` continuing the request's W3C trace (`traceparent`) if it has one,
  /// else the current trace, else a new one; the ids of `x-highlight-request` go on every span of it that
  /// starts under this one. The span is current in the calling task and not finished. `options` are
  /// OpenTelemetry's span options, as Node's `startWithHeaders(name, headers, options)` takes them: kind,
  /// links, start time, and `root`, which ignores the headers' trace and the current one (the request's
  /// Highlight ids are still attached).
  started_span start_with_headers(std::string_view name, const propagation::header_view& headers,
                                  fields f = {}, const span_options& options = {});
  /// `runWithHeaders` for synchronous code: `fn` (taking `span&` or nothing) runs in a span `highlight-ctx`
  /// (see `start_with_headers`); its value or exception passes through, the exception recorded.
  template <class F>
  decltype(auto) run_with_headers(const propagation::header_view& headers, F&& fn) {
    started_span s = start_with_headers("highlight-ctx", headers);
    return beeline::detail::invoke_in_span(s.span, std::forward<F>(fn));
  }

  /// Calls `done` once (on an internal thread, or inline) when a span of each of `expected_span_names` has
  /// been exported since the last complete wait, or when the deadline passes (`complete` false). With no
  /// names: when everything finished before the call has been exported. Returns an id for `cancel_wait`. The
  /// basis of `co_await wait_for_flush`.
  std::uint64_t async_wait_for_flush(std::vector<std::string> expected_span_names,
                                     std::chrono::steady_clock::time_point deadline,
                                     std::function<void(wait_for_flush_result)> done);
  /// Forgets wait `id` if it has not completed; if its `done` is running on another thread, returns once that
  /// call has returned. `done` is never called after this returns.
  void cancel_wait(std::uint64_t id) noexcept;
  /// The blocking form, for code without an event loop.
  wait_for_flush_result wait_for_flush_sync(std::vector<std::string> expected_span_names,
                                            std::chrono::steady_clock::duration timeout);

  /// `flush`: sends spans, metrics and logs now and waits until they settle, or the timeout.
  flush_result flush(std::chrono::steady_clock::duration timeout = std::chrono::seconds(5));
  /// `stop`: flushes, then stops sending. Idempotent.
  flush_result shutdown(std::chrono::steady_clock::duration timeout = std::chrono::seconds(5));

  client_stats stats() const noexcept;

 private:
  std::unique_ptr<client_impl> impl_;
};

}  // namespace beeline::highlight

/// Node's `H` object: the same calls on one process-wide client.
namespace beeline::H {

/// `H.init`: makes the process-wide client; returns whether this call did. Later calls change nothing (Node's
/// behaviour) and return false. A configuration the client refuses (see `client::client`) is logged as an
/// error (`init failed: <why>`, to `options.logger` or stderr) and leaves the SDK uninitialized, as
/// `beeline::init` does.
bool init(highlight::options options);
/// `init` that also throws what it logged (`std::invalid_argument` for a configuration it cannot honour).
bool init_or_throw(highlight::options options);
/// `H.isInitialized`.
bool is_initialized() noexcept;
/// The process-wide client, kept alive for the caller; null before `init`.
std::shared_ptr<highlight::client> instance() noexcept;
/// `H.stop`: flushes and shuts the client down; `init` may be called again.
flush_result stop(std::chrono::steady_clock::duration timeout = std::chrono::seconds(5));

/// `H.consumeError` (does nothing before `init`).
void consume_error(const std::exception& e, std::string_view secure_session_id = {},
                   std::string_view request_id = {}, fields metadata = {}) noexcept;
void consume_error(const std::exception_ptr& e, std::string_view secure_session_id = {},
                   std::string_view request_id = {}, fields metadata = {}) noexcept;
/// `H.recordMetric`.
void record_metric(std::string_view secure_session_id, std::string_view name, double value,
                   std::string_view request_id = {}, fields tags = {}) noexcept;
/// `H.log`.
void log(std::string_view message, std::string_view level, std::string_view secure_session_id = {},
         std::string_view request_id = {}, fields metadata = {}) noexcept;
/// `H.parseHeaders`.
inline highlight::request_ids parse_headers(const propagation::header_view& headers) {
  return highlight::parse_headers(headers);
}
/// `H.startWithHeaders(name, headers, options)` (an inert span before `init`); see
/// `client::start_with_headers`.
highlight::started_span start_with_headers(std::string_view name, const propagation::header_view& headers,
                                           fields f = {}, const span_options& options = {});
/// `H.runWithHeaders` for synchronous code (`fn` runs without a span before `init`).
template <highlight::detail::synchronous_work F>
decltype(auto) run_with_headers(const propagation::header_view& headers, F&& fn) {
  highlight::started_span s = start_with_headers("highlight-ctx", headers);
  return beeline::detail::invoke_in_span(s.span, std::forward<F>(fn));
}
/// `H.flush` (blocking; `co_await beeline::H::wait_for_flush` is the awaitable form).
flush_result flush(std::chrono::steady_clock::duration timeout = std::chrono::seconds(5));

}  // namespace beeline::H
