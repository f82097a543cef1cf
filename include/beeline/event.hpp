// A finished span as the sampler hook, the presend hook and the exporters see it.
//
// Events are handed out on the export worker thread only; an `event` is a view into the tracer's record and
// is valid until the hook or `export_batch` call returns.
#pragma once

#include <beeline/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beeline {

class event;

namespace detail {
struct span_record;
/// Private: an event's record, for the library's encoders.
const span_record& record_of(const event& ev) noexcept;
}  // namespace detail

/// A span event or a link of a finished span (see `span::add_event`, `span::add_link`).
class annotation_view {
 public:
  annotation_view(const detail::span_record* rec, std::size_t index) noexcept : rec_(rec), index_(index) {}
  bool is_link() const noexcept;
  /// The span event's name (empty for a link).
  std::string_view name() const noexcept;
  /// When the span event happened (the span's start for a link).
  std::chrono::system_clock::time_point timestamp() const noexcept;
  /// The linked span (links only).
  std::string_view linked_trace_id() const noexcept;
  std::string_view linked_span_id() const noexcept;
  std::size_t field_count() const noexcept;
  field field_at(std::size_t i) const noexcept;

 private:
  const detail::span_record* rec_;
  std::size_t index_;
};

/// A finished span: its identity, timing, and fields (the span's own, the trace-level ones, and the tracer's
/// global `service_name`, `service.name` and `meta.*` fields). The reserved keys `trace.trace_id`,
/// `trace.span_id`, `trace.parent_id`, `meta.span_type` and `duration_ms` are read with `get` but are owned
/// by the tracer: `set` and `remove` on them are ignored.
class event {
 public:
  explicit event(detail::span_record* rec) noexcept : rec_(rec) {}

  std::string_view name() const noexcept;
  std::string_view trace_id() const noexcept;
  std::string_view span_id() const noexcept;
  /// The parent span id; empty for a root span that did not continue an upstream trace.
  std::string_view parent_id() const noexcept;
  /// `root`, `subroot` (a root continuing an upstream trace), `mid` (has children) or `leaf`.
  std::string_view span_type() const noexcept;
  std::string_view dataset() const noexcept;
  /// Wall-clock start of the span.
  std::chrono::system_clock::time_point timestamp() const noexcept;
  std::chrono::nanoseconds duration() const noexcept;

  /// The value of a field (reserved keys included), or nullopt.
  std::optional<field_value> get(std::string_view key) const noexcept;
  /// Adds or replaces a field (subject to the tracer's limits).
  void set(std::string_view key, field_value v);
  /// Removes a field; returns whether it was there.
  bool remove(std::string_view key) noexcept;
  /// The number of non-reserved fields, and each of them in insertion order.
  std::size_t field_count() const noexcept;
  field field_at(std::size_t i) const noexcept;
  /// `field_at(i).key`, without reading the value.
  std::string_view key_at(std::size_t i) const noexcept;

  /// Its span events and links, in the order they were added.
  std::size_t annotation_count() const noexcept;
  annotation_view annotation_at(std::size_t i) const noexcept { return {rec_, i}; }
  /// Honeycomb's sample rate: this event stands for `sample_rate` events.
  std::uint32_t sample_rate() const noexcept;
  void set_sample_rate(std::uint32_t rate) noexcept;
  /// Presend hook: do not send this event (counted in `stats::dropped_presend`).
  void drop() noexcept;
  bool dropped() const noexcept;

 private:
  friend void append_event_json(const event& ev, std::string& out, bool with_dataset);
  friend void append_annotation_json(const event& ev, std::size_t i, std::string& out, bool with_dataset);
  friend const detail::span_record& detail::record_of(const event& ev) noexcept;
  detail::span_record* rec_;
};

}  // namespace beeline
