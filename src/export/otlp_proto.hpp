// Private: the OTLP/HTTP protobuf encoding of spans (ExportTraceServiceRequest) and the reading of the
// service's response (ExportTraceServiceResponse), shared by the OTLP exporter and its tests. The messages
// are written straight into the request body by a small wire writer: no generated code, no protobuf runtime,
// no allocation per span beyond the body's own growth. What is written mirrors otlp_json.hpp field for field.
#pragma once

#include <beeline/event.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace beeline::detail {

/// The protobuf wire format's primitives, appending to a std::string.
namespace pb {

enum wire_type : unsigned { varint = 0, i64 = 1, len = 2, i32 = 5 };

inline void append_varint(std::string& out, std::uint64_t v) {
  char buf[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(static_cast<unsigned char>(v) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

inline std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  for (; v >= 0x80; v >>= 7)
    ++n;
  return n;
}

/// Makes room for `n` more bytes at the end of `out` and returns where they start: a message whose length is
/// known is written through the pointer, in one call instead of one per piece.
inline char* extend(std::string& out, std::size_t n) {
  const std::size_t old = out.size();
  out.resize(old + n);
  return out.data() + old;
}

/// Writes a varint at `p`; returns the end.
inline char* put_varint(char* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<char>(static_cast<unsigned char>(v) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline void append_tag(std::string& out, unsigned field, wire_type type) {
  append_varint(out, (static_cast<std::uint64_t>(field) << 3) | type);
}

inline void append_fixed64(std::string& out, unsigned field, std::uint64_t v) {
  append_tag(out, field, i64);
  char buf[8];
  for (int i = 0; i < 8; ++i)
    buf[i] = static_cast<char>(static_cast<unsigned char>(v >> (8 * i)));
  out.append(buf, 8);
}

inline void append_bytes(std::string& out, unsigned field, std::string_view bytes) {
  append_tag(out, field, len);
  append_varint(out, bytes.size());
  out.append(bytes);
}

/// Opens a length-delimited field whose length is not known yet: writes the tag and a one-byte length, and
/// returns where the content starts, for `end_message`.
inline std::size_t begin_message(std::string& out, unsigned field) {
  append_tag(out, field, len);
  out.push_back('\0');
  return out.size();
}

/// Closes what `begin_message` opened: patches the length in, moving the content up when the length needs
/// more than one byte (content of 128 bytes or more: a span, the list of spans).
void end_message(std::string& out, std::size_t start);

}  // namespace pb

/// Appends an id as OTLP bytes in field `field`: hex ids as they are, others mapped as the JSON encoding maps
/// them (an X-Ray root to its 32 digits, anything else to a stable hash).
void append_otlp_proto_trace_id(std::string& out, unsigned field, std::string_view id);
void append_otlp_proto_span_id(std::string& out, unsigned field, std::string_view id);
/// Appends `key` = `v` as a KeyValue in field `field`; nothing for a value without an AnyValue.
void append_otlp_proto_attribute(std::string& out, unsigned field, std::string_view key, field_value v);
/// Appends the beeline-cpp InstrumentationScope in field `field`.
void append_otlp_proto_scope(std::string& out, unsigned field);

/// Appends a field value as the content of an OTLP AnyValue; false (nothing appended) for null and invalid
/// JSON, as append_otlp_value.
bool append_otlp_proto_value(std::string& out, field_value v);
/// Appends one span as field `field` (Span, length-delimited), its HTTP fields named as `names` says.
void append_otlp_proto_span(std::string& out, unsigned field, const event& ev,
                            attribute_names names = attribute_names::otel);
/// Appends a whole ExportTraceServiceRequest: one resource (its content, from `otlp_proto_resource`), the
/// beeline-cpp scope, the spans.
void append_otlp_proto_request(std::string& out, std::span<const event> batch, std::string_view resource,
                               attribute_names names = attribute_names::otel);
/// The Resource message's content: the attributes otlp_resource_attributes lists, in the same order.
std::string otlp_proto_resource(std::string_view service_name, std::string_view service_version,
                                const field_list& extra, std::string_view host_name);

/// An Export*ServiceResponse's partial_success (traces, metrics and logs have the same shape: field 1 the
/// rejected count, field 2 the message).
struct otlp_partial_success {
  std::int64_t rejected = 0;
  std::string_view error_message;  ///< points into the body
};
/// Reads a protobuf Export*ServiceResponse. Unknown fields are skipped; nullopt when the bytes are not a
/// well-formed message (truncated, a bad wire type, a length past the end). Never reads outside `body`.
std::optional<otlp_partial_success> parse_otlp_proto_response(std::string_view body) noexcept;

}  // namespace beeline::detail
