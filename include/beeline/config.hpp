// Configuration of a tracer: identity, sampling, hooks, the exporter and the limits that keep tracing
// bounded.
#pragma once

#include <beeline/event.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/propagation.hpp>
#include <beeline/sampler.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace beeline {

class exporter;

/// What a sampler decides for one event.
struct sampler_decision {
  bool keep = true;               ///< send the event
  std::uint32_t sample_rate = 1;  ///< the Honeycomb sample rate the event is sent with
};

/// Decides per finished span (on the export worker thread), like the Beeline's `samplerHook`. A hook that
/// decides on the trace id alone keeps traces whole.
using sampler_hook = std::function<sampler_decision(const event&)>;
/// Edits or drops (`event::drop`) a kept event before it is exported, like the Beeline's `presendHook`.
using presend_hook = std::function<void(event&)>;

enum class log_level { debug, info, warning, error };
/// Receives the tracer's own diagnostics.
using log_hook = std::function<void(log_level, std::string_view)>;

/// Everything a tracer needs. Defaults follow the Node Beeline and libhoney where they exist. `init` fills
/// what the config leaves unset from the environment (`OTEL_*`, `HONEYCOMB_*`); a `tracer` constructed
/// directly does not.
struct config {
  /// Honeycomb API key. Empty, with no exporter given: spans go to JSON lines (see `jsonl_path`).
  std::string write_key;
  /// Dataset; with a non-classic key the service name is the dataset (the Beeline's rule,
  /// docs/configuration.md).
  std::string dataset;
  /// `service_name` / `service.name` on every event; default `unknown_service:<program name>`.
  std::string service_name;
  /// Honeycomb API host, an http(s) URL; default https://api.honeycomb.io. Anything else (no scheme, another
  /// scheme, no host, a bad port) makes `init` fail.
  std::string api_host;
  /// The transport of the Honeycomb exporter made from `write_key`: `ca_file` (a file that cannot be read
  /// or holds no PEM certificate makes `init` fail), timeouts, retries, `gzip`, extra headers.
  http_options http;

  /// Keep one trace in `sample_rate` (deterministic by trace id, as the Beeline does). Values below 1 mean 1.
  double sample_rate = 1;
  /// Replaces the deterministic sampler when set.
  sampler_hook sampler;
  /// An OpenTelemetry sampler (`OTEL_TRACES_SAMPLER`), decided once when a trace starts: replaces
  /// `sample_rate`, and sets the W3C sampled flag propagated downstream. A `sampler` hook still runs after
  /// it, on the spans it kept.
  std::optional<otel_sampler> trace_sampler;
  presend_hook presend;

  /// Reads an incoming request's trace context (the Beeline's `httpTraceParserHook`). Unset:
  /// `X-Honeycomb-Trace` if present, else W3C `traceparent`/`tracestate`, with the dataset read only for
  /// classic keys. Ready-made: `honeycomb::parser_hook`, `w3c::parser_hook`, `aws::parser_hook`,
  /// `xray::parser_hook`.
  propagation::parser_hook http_trace_parser_hook;
  /// Makes an outgoing request's headers (the Beeline's `httpTracePropagationHook`). Unset:
  /// `X-Honeycomb-Trace`, with the dataset for classic keys. Ready-made: `honeycomb::`, `w3c::`, `aws::`,
  /// `xray::propagation_hook`.
  propagation::propagation_hook http_trace_propagation_hook;

  /// Where events go. Null: to Honeycomb when `write_key` is set, else (with `init`) what the `OTEL_*`
  /// environment chooses, else JSON lines to `jsonl_path` (docs/configuration.md, "The environment").
  std::shared_ptr<beeline::exporter> exporter;
  /// File for the default JSON-lines exporter (appended to); "" or "-" is stdout. A file that cannot be
  /// opened for appending makes `init` fail.
  std::string jsonl_path;

  /// Finished spans waiting for export, shared out among the threads that finish spans (each thread's ring
  /// doubles while this allows; a thread past it still gets a ring of 64). A full ring drops new spans and
  /// counts them.
  std::size_t queue_capacity = 16384;
  /// Spans per export batch.
  std::size_t batch_size = 50;
  /// The worker collects what every thread finished this often, sooner for a flush or when a thread's ring
  /// is half full and cannot grow.
  std::chrono::milliseconds send_interval{100};

  /// Fields per span beyond this are refused and counted.
  std::size_t max_fields_per_span = 512;
  /// String values longer than this are cut (at a UTF-8 boundary) and counted (`truncated_values`). Values
  /// only: keys have `max_key_bytes`. Honeycomb's own limit is 64 KiB.
  std::size_t max_value_bytes = 64 * 1024;
  /// Keys longer than this are cut (at a UTF-8 boundary) and counted (`truncated_keys`). The keys the tracer
  /// writes (`name`, `service_name`, `trace.trace_id`, `duration_ms`, ...) are never cut. A key that cutting
  /// would make empty, equal to one of those, or equal to the key of another field of the span (set with a
  /// different key) is refused and counted (`dropped_fields`): one field never silently replaces another.
  std::size_t max_key_bytes = 256;
  /// Text (keys and string values, replaced values included) one span may hold; past it values are cut or
  /// refused and counted. Honeycomb's own limit for a whole event is 1 MB.
  std::size_t max_span_bytes = 1024 * 1024;

  /// `meta.local_hostname`; default gethostname().
  std::string local_hostname;
  /// Diagnostics; default: warnings and errors to stderr.
  log_hook logger;
  /// Repeated diagnostics of one kind (export failures by reason, export attempts that failed, spans dropped
  /// for a full queue) are logged in full the first time, then summed up with counts at most once per
  /// interval.
  std::chrono::milliseconds log_interval{10000};
};

/// Whether a Honeycomb key is a classic key (libhoney's rule: empty, 32 hex, or a 64-char `hc?ic_` key).
bool is_classic_key(std::string_view write_key) noexcept;

}  // namespace beeline
