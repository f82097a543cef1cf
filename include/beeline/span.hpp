// Spans and timers: the RAII handles the Beeline API returns.
#pragma once

#include <beeline/trace_context.hpp>
#include <beeline/value.hpp>

#include <chrono>
#include <span>
#include <string>
#include <string_view>

namespace beeline {

namespace detail {
struct span_record;
struct span_access;
}  // namespace detail

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
