// Private: how an event maps onto an OTLP span, apart from any encoding. The JSON encoding (otlp_json.hpp)
// and the protobuf one (otlp_proto.hpp) both read a span's kind, status, attributes, ids and resource from
// here, so the two put the same span on the wire.
#pragma once

#include <beeline/event.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/value.hpp>

#include "core/json.hpp"

#include <array>
#include <span>
#include <string>
#include <string_view>

namespace beeline::detail {

/// The OTLP SpanKind for a `span.kind` field value (server, client, producer, consumer, in any case;
/// anything else: internal).
int otlp_span_kind(std::string_view kind) noexcept;
/// The span's OTLP SpanKind: its `span.kind` field when that is a string, else internal (1).
int otlp_span_kind_of(const event& ev) noexcept;

/// A span's OTLP Status.
struct otlp_status {
  int code = 0;              ///< 0 unset, 1 ok, 2 error
  std::string_view message;  ///< points into the event; empty for none
};
/// Explicit `status_code` (0 to 2, an integer) and `status_message` fields first; else an `error` field that
/// is not null gives code 2 with `error_detail` (or the error itself, when a string) as the message.
otlp_status otlp_status_of(const event& ev) noexcept;

/// True for a field that is not sent as a span attribute: it is the span's name, kind or status, or belongs
/// to the resource (service name, beeline version, host name).
inline bool is_otlp_reserved_field(std::string_view key) noexcept {
  // Called for every field: dispatch on the length so most keys cost one comparison or none.
  switch (key.size()) {
    case 4:
      return key == "name";
    case 9:
      return key == "span.kind";
    case 11:
      return key == "status_code";
    case 12:
      return key == "service_name" || key == "service.name";
    case 14:
      return key == "status_message";
    case 19:
      return key == "meta.local_hostname";
    case 20:
      return key == "meta.beeline_version";
    default:
      return false;
  }
}

/// A Beeline HTTP field under its OpenTelemetry name (`request.method` -> `http.request.method`, ...), its
/// value converted where the convention wants another form (`HTTP/1.1` -> `1.1`); an empty key for a field
/// the convention has no name for.
struct otel_field {
  std::string_view key;
  field_value value;
};
otel_field otel_http_field(std::string_view key, field_value v) noexcept;

/// What the OTLP mapping decides once per span, before its attributes are written.
struct otlp_span_plan {
  attribute_names names = attribute_names::otel;
  int kind = 1;        ///< the OTLP SpanKind (otlp_span_kind_of)
  otlp_status status;  ///< as otlp_status_of says
  bool http = false;   ///< the span has `request.method` (the HTTP instrumentation's, or a user's)
  /// The span's name on the wire: `name` as given, or `METHOD` / `METHOD route` for an HTTP span under
  /// the instrumentation's default name when OpenTelemetry names are on.
  std::string_view name;
  std::string_view route;  ///< appended to `name` after a space when not empty
  /// An `exception` event to add: the span has an `error` and no `exception` event of its own.
  bool exception_event = false;
  std::string_view exception_type, exception_message, exception_stacktrace;
};
otlp_span_plan plan_otlp_span(const event& ev, attribute_names names) noexcept;

/// Calls `add(key, field_value)` for each of the span's attributes under the plan's names, in field order
/// (a translated field's OpenTelemetry name first, then its Beeline name with `both`).
template <class Add>
void for_each_otlp_attribute(const event& ev, const otlp_span_plan& plan, Add&& add) {
  const bool translate = plan.http && plan.names != attribute_names::beeline;
  for (std::size_t i = 0; i < ev.field_count(); ++i) {
    const field f = ev.field_at(i);
    if (is_otlp_reserved_field(f.key)) continue;
    if (translate) {
      if (const otel_field o = otel_http_field(f.key, f.value); !o.key.empty()) {
        add(o.key, o.value);
        if (plan.names == attribute_names::otel) continue;
      }
    }
    add(f.key, f.value);
  }
}

/// Calls `add(key, field_value)` for each attribute of the plan's `exception` event.
template <class Add>
void for_each_exception_attribute(const otlp_span_plan& plan, Add&& add) {
  add(std::string_view("exception.type"), field_value(plan.exception_type));
  if (!plan.exception_message.empty())
    add(std::string_view("exception.message"), field_value(plan.exception_message));
  if (!plan.exception_stacktrace.empty())
    add(std::string_view("exception.stacktrace"), field_value(plan.exception_stacktrace));
}

/// OTLP ids are 16 bytes (trace) and 8 bytes (span). Hex ids (ours) are decoded as they are; an upstream id
/// in another form is mapped: an X-Ray root (1-<8 hex>-<24 hex>) to its 32 digits, anything else to a hash
/// of it (stable, so every span of the trace gets the same id).
using otlp_trace_id = std::array<char, 16>;
using otlp_span_id = std::array<char, 8>;
otlp_trace_id otlp_trace_id_of(std::string_view id) noexcept;
otlp_span_id otlp_span_id_of(std::string_view id) noexcept;
/// Appends bytes as lowercase hex digits (the JSON encoding of an id), to a std::string or a text_buffer.
template <class Out>
void append_lower_hex(Out& out, std::span<const char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  char* d = extend(out, 2 * bytes.size());
  for (const char b : bytes) {
    const auto v = static_cast<unsigned char>(b);
    *d++ = digits[v >> 4];
    *d++ = digits[v & 15];
  }
}

/// Calls `add(key, field_value)` for each resource attribute, in order: service.name, telemetry.sdk.*, then
/// service.version and host.name when given, then `extra`.
template <class Add>
void for_each_otlp_resource_attribute(std::string_view service_name, std::string_view service_version,
                                      const field_list& extra, std::string_view host_name, Add&& add) {
  add(std::string_view("service.name"), field_value(service_name));
  add(std::string_view("telemetry.sdk.language"), field_value("cpp"));
  add(std::string_view("telemetry.sdk.name"), field_value("beeline-cpp"));
  add(std::string_view("telemetry.sdk.version"), field_value(BEELINE_VERSION_STRING));
  if (!service_version.empty()) add(std::string_view("service.version"), field_value(service_version));
  if (!host_name.empty()) add(std::string_view("host.name"), field_value(host_name));
  for (const owned_field& f : extra)
    add(std::string_view(f.key), f.value.view());
}

}  // namespace beeline::detail
