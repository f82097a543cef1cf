// Spans and timers: the RAII handles the Beeline API returns.
#pragma once

#include <beeline/trace_context.hpp>
#include <beeline/value.hpp>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace beeline {

namespace detail {
struct span_record;
struct span_access;
}  // namespace detail

/// OpenTelemetry's SpanKind. A span's kind is its `span.kind` field (`server`, `client`, ...), which the OTLP
/// exporter sends as the span's kind; `unset` leaves the field alone (OTLP: internal).
enum class span_kind { unset, internal, server, client, producer, consumer };

/// The `span.kind` value of a kind (`"server"`, ...); empty for `unset`.
constexpr std::string_view to_string(span_kind k) noexcept {
  switch (k) {
    case span_kind::internal:
      return "internal";
    case span_kind::server:
      return "server";
    case span_kind::client:
      return "client";
    case span_kind::producer:
      return "producer";
    case span_kind::consumer:
      return "consumer";
    case span_kind::unset:
      break;
  }
  return {};
}

/// A link a span is started with (see `span::add_link`). The views are read during the start call only.
struct span_link {
  std::string_view trace_id;
  std::string_view span_id;
  std::span<const field> attributes = {};
};

/// How a span starts, as OpenTelemetry's `SpanOptions` (and Highlight's `startWithHeaders` options) say it:
/// `start_span(name, fields, {.kind = span_kind::client})`. Read during the start call only.
struct span_options {
  /// Sets the `span.kind` field (after the span's fields, so it wins over one of them).
  span_kind kind = span_kind::unset;
  /// Links added when the span starts, in order (as `add_link`; a link without both ids is skipped).
  std::span<const span_link> links = {};
  /// When the span started, if not now (a wall-clock time; its duration runs from there to `finish`).
  std::optional<std::chrono::system_clock::time_point> start_time;
  /// Start a new trace, ignoring the current span (and, for `start_trace` and Highlight's
  /// `start_with_headers`, the upstream context): the span is the root of a trace of its own.
  bool root = false;
};

/// An open span. Move-only; finished (and sent) by `finish()`, by `finish_span`/`finish_trace`, or by its
/// destructor, whichever comes first. A default-constructed or inert span (started with no active trace or no
/// tracer) accepts every call and does nothing. A span is mutated by one thread at a time.
class span {
 public:
  span() noexcept = default;
  span(span&& o) noexcept : rec_(o.rec_) { o.rec_ = nullptr; }
  span& operator=(span&& o) noexcept;
  span(const span&) = delete;
  span& operator=(const span&) = delete;
  ~span() {
    if (rec_) finish();
  }

  /// Whether this handle refers to an open span.
  bool valid() const noexcept { return rec_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }

  /// Adds fields to this span with their keys as given (the Beeline's `span.addContext`).
  span& add_context(fields f);
  /// Adds fields from an array or vector, in order (the same as `add_field` for each, in one call).
  span& add_context(std::span<const field> f);
  /// Adds one field.
  span& add_field(std::string_view key, field_value v);
  /// Removes a field from this span.
  span& remove_context(std::string_view key);
  /// Records an exception: fields `error` (the demangled type) and `error_detail` (`what()`).
  span& record_exception(const std::exception_ptr& e);
  /// Adds a span event at this moment (OpenTelemetry's span event; Honeycomb shows it as an annotation on the
  /// span, `meta.annotation_type: span_event`). Events per span are bounded like fields.
  span& add_event(std::string_view name, fields f = {});
  /// Links this span to another span, of this trace or another (`meta.annotation_type: link` in Honeycomb,
  /// a span link in OTLP).
  span& add_link(std::string_view trace_id, std::string_view span_id, fields f = {});
  /// Links to the span a propagated context names (its `trace_id` and `parent_id`).
  span& add_link(const trace_context& linked, fields f = {}) {
    return add_link(linked.trace_id, linked.parent_id, f);
  }

  /// Ends the span and hands it to the export queue. Never blocks.
  void finish() noexcept;

  /// 32 lowercase hex, or the upstream id verbatim; empty for an inert span.
  std::string trace_id() const;
  /// 16 lowercase hex; empty for an inert span.
  std::string span_id() const;

 private:
  friend struct detail::span_access;
  explicit span(detail::span_record* rec) noexcept : rec_(rec) {}
  detail::span_record* rec_ = nullptr;
};

/// A named stopwatch, not tied to any span (the Beeline's `startTimer`).
class timer {
 public:
  explicit timer(std::string_view name) : name_(name), start_(std::chrono::steady_clock::now()) {}
  std::string_view name() const noexcept { return name_; }
  std::chrono::steady_clock::time_point start() const noexcept { return start_; }

 private:
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace beeline
