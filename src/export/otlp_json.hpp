// Private: the OTLP/HTTP JSON encoding of spans (ExportTraceServiceRequest), shared by the OTLP exporter and
// its tests. What a span maps to (kind, status, attributes, ids) is otlp_model.hpp's, as for the protobuf
// encoding.
#pragma once

#include <beeline/event.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/value.hpp>

#include "core/json.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace beeline::detail {

/// Appends a field value as an OTLP AnyValue; false (nothing appended) for null and invalid JSON. For
/// `Out` = std::string or text_buffer.
template <class Out>
bool append_otlp_value(Out& out, field_value v);
/// Appends one span object, its HTTP fields named as `names` says (otlp_model.hpp).
template <class Out>
void append_otlp_span(Out& out, const event& ev, attribute_names names = attribute_names::otel);
extern template bool append_otlp_value(std::string&, field_value);
extern template bool append_otlp_value(text_buffer&, field_value);
extern template void append_otlp_span(std::string&, const event&, attribute_names);
extern template void append_otlp_span(text_buffer&, const event&, attribute_names);
/// Appends a whole request: one resource (its attributes, already encoded), the beeline-cpp scope, the spans.
void append_otlp_request(std::string& out, std::span<const event> batch, std::string_view resource_attributes,
                         attribute_names names = attribute_names::otel);
/// The resource's attributes, encoded: service.name, telemetry.sdk.*, then service.version and host.name when
/// given, then `extra`.
std::string otlp_resource_attributes(std::string_view service_name, std::string_view service_version,
                                     const field_list& extra, std::string_view host_name);

/// What a 2xx OTLP response body says about the items of its request.
struct otlp_response {
  std::int64_t rejected = 0;  ///< items the server refused (partial success); 0 when it took them all
  std::string message;        ///< the server's `error_message`, cut to 200 bytes
};
/// Reads an Export{Trace,Metrics,Logs}ServiceResponse in the request's encoding. `rejected_key` is the JSON
/// name of the signal's count (`rejectedSpans`, `rejectedDataPoints`, `rejectedLogRecords`; protobuf numbers
/// it 1 in all three). An empty body takes everything; nullopt when the body cannot be read.
std::optional<otlp_response> read_otlp_response(std::string_view body, bool protobuf,
                                                std::string_view rejected_key);

}  // namespace beeline::detail
