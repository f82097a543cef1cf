// Private: percent-decoding as JavaScript's decodeURIComponent does it, shared by the propagation codecs (W3C
// baggage, the Honeycomb header's dataset) and the OTEL_* environment reader (OTEL_RESOURCE_ATTRIBUTES,
// OTEL_EXPORTER_OTLP_HEADERS).
#pragma once

#include <string>
#include <string_view>

namespace beeline::detail {

/// Decodes `in` into `out`; false for a `%` not followed by two hex digits, or a result that is not UTF-8
/// (where decodeURIComponent throws).
bool decode_uri_component(std::string_view in, std::string& out);

}  // namespace beeline::detail
