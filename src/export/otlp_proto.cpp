// OTLP/HTTP protobuf traces: the same ExportTraceServiceRequest as otlp_exporter.cpp's JSON, in the binary
// encoding (opentelemetry/proto/collector/trace/v1/trace_service.proto). Field numbers are those of
// trace.proto, common.proto and resource.proto; fields at their default value are left out, as proto3 does.
#include "export/otlp_proto.hpp"

#include "core/json.hpp"
#include "export/otlp_model.hpp"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>

namespace beeline::detail {

namespace pb {

void end_message(std::string& out, std::size_t start) {
  const std::size_t size = out.size() - start;
  if (size < 0x80) {
    out[start - 1] = static_cast<char>(size);
    return;
  }
  char buf[10];
  std::size_t n = 0;
  for (std::uint64_t v = size; v >= 0x80; v >>= 7)
    buf[n++] = static_cast<char>(static_cast<unsigned char>(v) | 0x80);
  buf[n] = static_cast<char>(size >> (7 * n));
  ++n;
  out.insert(start, n - 1, '\0');  // within capacity, a move of the content; no allocation
  std::memcpy(out.data() + start - 1, buf, n);
}

}  // namespace pb

namespace {

// Field numbers (trace.proto, common.proto, resource.proto, trace_service.proto).
namespace field_no {
constexpr unsigned request_resource_spans = 1;
constexpr unsigned resource_spans_resource = 1, resource_spans_scope_spans = 2;
constexpr unsigned resource_attributes = 1;
constexpr unsigned scope_spans_scope = 1, scope_spans_spans = 2;
constexpr unsigned scope_name = 1, scope_version = 2;
constexpr unsigned span_trace_id = 1, span_span_id = 2, span_parent_span_id = 4, span_name = 5, span_kind = 6,
                   span_start = 7, span_end = 8, span_attributes = 9, span_events = 11, span_links = 13,
                   span_status = 15;
constexpr unsigned event_time = 1, event_name = 2, event_attributes = 3;
constexpr unsigned link_trace_id = 1, link_span_id = 2, link_attributes = 4;
constexpr unsigned status_message = 2, status_code = 3;
constexpr unsigned key_value_key = 1, key_value_value = 2;
constexpr unsigned any_string = 1, any_bool = 2, any_int = 3, any_double = 4, any_array = 5, any_kvlist = 6;
constexpr unsigned array_values = 1, kvlist_values = 1;
}  // namespace field_no

}  // namespace

void append_otlp_proto_trace_id(std::string& out, unsigned field, std::string_view id) {
  const otlp_trace_id bytes = otlp_trace_id_of(id);
  pb::append_bytes(out, field, {bytes.data(), bytes.size()});
}

void append_otlp_proto_span_id(std::string& out, unsigned field, std::string_view id) {
  const otlp_span_id bytes = otlp_span_id_of(id);
  pb::append_bytes(out, field, {bytes.data(), bytes.size()});
}

namespace {

void append_double(std::string& out, unsigned field, double d) {
  pb::append_fixed64(out, field, std::bit_cast<std::uint64_t>(d));
}

// A parsed JSON value as an AnyValue's content (the JSON encoding's append_any_json, in protobuf).
void append_any_json(std::string& out, const simdjson::dom::element& el) {
  using namespace field_no;
  switch (el.type()) {
    case simdjson::dom::element_type::ARRAY: {
      const std::size_t array = pb::begin_message(out, any_array);
      simdjson::dom::array items;
      if (el.get_array().get(items) == simdjson::SUCCESS) {
        for (const simdjson::dom::element item : items) {
          const std::size_t value = pb::begin_message(out, array_values);
          append_any_json(out, item);
          pb::end_message(out, value);
        }
      }
      pb::end_message(out, array);
      break;
    }
    case simdjson::dom::element_type::OBJECT: {
      const std::size_t list = pb::begin_message(out, any_kvlist);
      simdjson::dom::object members;
      if (el.get_object().get(members) == simdjson::SUCCESS) {
        for (const auto member : members) {
          const std::size_t kv = pb::begin_message(out, kvlist_values);
          pb::append_bytes(out, key_value_key, member.key);
          const std::size_t value = pb::begin_message(out, key_value_value);
          append_any_json(out, member.value);
          pb::end_message(out, value);
          pb::end_message(out, kv);
        }
      }
      pb::end_message(out, list);
      break;
    }
    case simdjson::dom::element_type::STRING:
      pb::append_bytes(out, any_string, el.get_string().value_unsafe());
      break;
    case simdjson::dom::element_type::INT64:
      pb::append_tag(out, any_int, pb::varint);
      pb::append_varint(out, static_cast<std::uint64_t>(el.get_int64().value_unsafe()));
      break;
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      append_double(out, any_double, el.get_double().value_unsafe());
      break;
    case simdjson::dom::element_type::BOOL:
      pb::append_tag(out, any_bool, pb::varint);
      out.push_back(el.get_bool().value_unsafe() ? '\1' : '\0');
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      break;  // an empty AnyValue
  }
}

}  // namespace

namespace {

// The most bytes a scalar KeyValue takes besides its key's and text's: the tag (two bytes for fields up to
// 2047), three lengths of up to ten bytes, three one-byte tags, and a value of up to ten bytes.
constexpr std::size_t scalar_overhead = 2 + 10 + 1 + 10 + 1 + 10 + 1 + 10;

bool is_scalar(field_value v) noexcept {
  const value_kind k = v.kind();
  return k == value_kind::boolean || k == value_kind::integer || k == value_kind::floating ||
         k == value_kind::string;
}

// Writes `key` = `v` (a scalar) as a KeyValue in field `field` at `p`, with room for it (see
// scalar_overhead); returns the end. Every length is known before writing, so nothing is patched.
char* put_scalar_attribute(char* p, unsigned field, std::string_view key, field_value v) noexcept {
  std::size_t value_size;
  switch (v.kind()) {
    case value_kind::boolean:
      value_size = 2;
      break;
    case value_kind::integer:
      value_size = 1 + pb::varint_size(static_cast<std::uint64_t>(v.as_int()));
      break;
    case value_kind::floating:
      value_size = 9;
      break;
    default:  // string
      value_size = 1 + pb::varint_size(v.as_string().size()) + v.as_string().size();
      break;
  }
  const std::size_t kv_size =
      1 + pb::varint_size(key.size()) + key.size() + 1 + pb::varint_size(value_size) + value_size;
  p = pb::put_varint(p, (static_cast<std::uint64_t>(field) << 3) | pb::len);
  p = pb::put_varint(p, kv_size);
  *p++ = static_cast<char>(field_no::key_value_key << 3 | pb::len);
  p = pb::put_varint(p, key.size());
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  *p++ = static_cast<char>(field_no::key_value_value << 3 | pb::len);
  p = pb::put_varint(p, value_size);
  switch (v.kind()) {
    case value_kind::boolean:
      *p++ = static_cast<char>(field_no::any_bool << 3 | pb::varint);
      *p++ = v.as_bool() ? '\1' : '\0';
      return p;
    case value_kind::integer:
      *p++ = static_cast<char>(field_no::any_int << 3 | pb::varint);
      return pb::put_varint(p, static_cast<std::uint64_t>(v.as_int()));
    case value_kind::floating: {
      *p++ = static_cast<char>(field_no::any_double << 3 | pb::i64);
      const auto bits = std::bit_cast<std::uint64_t>(v.as_double());
      for (int i = 0; i < 8; ++i)
        p[i] = static_cast<char>(static_cast<unsigned char>(bits >> (8 * i)));
      return p + 8;
    }
    default: {  // string
      const std::string_view text = v.as_string();
      *p++ = static_cast<char>(field_no::any_string << 3 | pb::len);
      p = pb::put_varint(p, text.size());
      if (!text.empty()) std::memcpy(p, text.data(), text.size());
      return p + text.size();
    }
  }
}

}  // namespace

void append_otlp_proto_attribute(std::string& out, unsigned field, std::string_view key, field_value v) {
  if (is_scalar(v)) {  // nearly every attribute
    char* p = pb::extend(
        out, scalar_overhead + key.size() + (v.kind() == value_kind::string ? v.as_string().size() : 0));
    out.resize(static_cast<std::size_t>(put_scalar_attribute(p, field, key, v) - out.data()));
    return;
  }
  const std::size_t mark = out.size();
  const std::size_t kv = pb::begin_message(out, field);
  pb::append_bytes(out, field_no::key_value_key, key);
  const std::size_t value = pb::begin_message(out, field_no::key_value_value);
  if (!append_otlp_proto_value(out, v)) {
    out.resize(mark);
    return;
  }
  pb::end_message(out, value);
  pb::end_message(out, kv);
}

void append_otlp_proto_scope(std::string& out, unsigned field) {
  const std::size_t scope = pb::begin_message(out, field);
  pb::append_bytes(out, field_no::scope_name, "beeline-cpp");
  pb::append_bytes(out, field_no::scope_version, BEELINE_VERSION_STRING);
  pb::end_message(out, scope);
}

namespace {

std::uint64_t unix_nanos(std::chrono::system_clock::time_point t) noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

}  // namespace

bool append_otlp_proto_value(std::string& out, field_value v) {
  using namespace field_no;
  switch (v.kind()) {
    case value_kind::null:
      return false;
    case value_kind::boolean:
      pb::append_tag(out, any_bool, pb::varint);
      out.push_back(v.as_bool() ? '\1' : '\0');
      return true;
    case value_kind::integer:
      pb::append_tag(out, any_int, pb::varint);
      pb::append_varint(out, static_cast<std::uint64_t>(v.as_int()));
      return true;
    case value_kind::floating:
      append_double(out, any_double, v.as_double());
      return true;
    case value_kind::string:
      pb::append_bytes(out, any_string, v.as_string());
      return true;
    case value_kind::json: {
      thread_local simdjson::dom::parser parser;
      simdjson::dom::element root;
      if (parse_json(parser, v.as_string(), root) != simdjson::SUCCESS) return false;
      append_any_json(out, root);
      return true;
    }
  }
  return false;
}

namespace {

void put_fixed64(char* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>(static_cast<unsigned char>(v >> (8 * i)));
}

// The last trace id mapped, for the next span: the spans of a batch mostly share their trace, and comparing
// 32 characters is cheaper than decoding them. `text` points into an event of the batch being encoded.
struct trace_id_cache {
  std::string_view text;
  otlp_trace_id bytes{};
  const otlp_trace_id& of(std::string_view id) noexcept {
    if (id != text || text.empty()) {
      bytes = otlp_trace_id_of(id);
      text = id;
    }
    return bytes;
  }
};

void append_span(std::string& out, unsigned field_number, const event& ev, attribute_names names,
                 trace_id_cache& trace_ids) {
  using namespace field_no;
  const otlp_span_plan plan = plan_otlp_span(ev, names);
  const std::size_t span = pb::begin_message(out, field_number);
  // The fixed head of the span (ids, name, kind, times): its size is known, so it is written in one piece.
  const otlp_trace_id& trace_id = trace_ids.of(ev.trace_id());
  const otlp_span_id span_id = otlp_span_id_of(ev.span_id());
  const std::string_view parent = ev.parent_id();
  const otlp_span_id parent_id = parent.empty() ? otlp_span_id{} : otlp_span_id_of(parent);
  const std::size_t name_size = plan.name.size() + (plan.route.empty() ? 0 : 1 + plan.route.size());
  const std::uint64_t start = unix_nanos(ev.timestamp());
  const std::uint64_t end =
      start +
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(ev.duration()).count());
  char* p = pb::extend(out, 18 + 10 + (parent.empty() ? 0 : 10) + 1 + pb::varint_size(name_size) + name_size +
                                1 + pb::varint_size(static_cast<std::uint64_t>(plan.kind)) + 18);
  *p++ = static_cast<char>(span_trace_id << 3 | pb::len);
  *p++ = 16;
  std::memcpy(p, trace_id.data(), 16);
  p += 16;
  *p++ = static_cast<char>(span_span_id << 3 | pb::len);
  *p++ = 8;
  std::memcpy(p, span_id.data(), 8);
  p += 8;
  if (!parent.empty()) {
    *p++ = static_cast<char>(span_parent_span_id << 3 | pb::len);
    *p++ = 8;
    std::memcpy(p, parent_id.data(), 8);
    p += 8;
  }
  *p++ = static_cast<char>(span_name << 3 | pb::len);
  p = pb::put_varint(p, name_size);
  if (!plan.name.empty()) std::memcpy(p, plan.name.data(), plan.name.size());
  p += plan.name.size();
  if (!plan.route.empty()) {
    *p++ = ' ';
    std::memcpy(p, plan.route.data(), plan.route.size());
    p += plan.route.size();
  }
  *p++ = static_cast<char>(span_kind << 3 | pb::varint);
  p = pb::put_varint(p, static_cast<std::uint64_t>(plan.kind));
  *p++ = static_cast<char>(span_start << 3 | pb::i64);
  put_fixed64(p, start);
  p += 8;
  *p++ = static_cast<char>(span_end << 3 | pb::i64);
  put_fixed64(p, end);
  // The attributes: room made ahead (enough for most spans, and grown when an attribute would not fit),
  // scalars written through a pointer, the room left given back at the end; a JSON value is written the
  // general way in between.
  constexpr std::size_t room = 1024;
  p = pb::extend(out, room);
  char* limit = out.data() + out.size();
  for_each_otlp_attribute(ev, plan, [&](std::string_view key, field_value v) {
    if (is_scalar(v)) {
      const std::size_t need =
          scalar_overhead + key.size() + (v.kind() == value_kind::string ? v.as_string().size() : 0);
      if (static_cast<std::size_t>(limit - p) < need) {
        out.resize(static_cast<std::size_t>(p - out.data()));
        p = pb::extend(out, std::max(need, room));
        limit = out.data() + out.size();
      }
      p = put_scalar_attribute(p, span_attributes, key, v);
      return;
    }
    out.resize(static_cast<std::size_t>(p - out.data()));
    append_otlp_proto_attribute(out, span_attributes, key, v);
    p = pb::extend(out, room);
    limit = out.data() + out.size();
  });
  out.resize(static_cast<std::size_t>(p - out.data()));
  for (std::size_t i = 0; i < ev.annotation_count(); ++i) {
    const annotation_view a = ev.annotation_at(i);
    if (a.is_link()) continue;
    const std::size_t event = pb::begin_message(out, span_events);
    pb::append_fixed64(out, event_time, unix_nanos(a.timestamp()));
    pb::append_bytes(out, event_name, a.name());
    for (std::size_t k = 0; k < a.field_count(); ++k) {
      const beeline::field f = a.field_at(k);
      append_otlp_proto_attribute(out, event_attributes, f.key, f.value);
    }
    pb::end_message(out, event);
  }
  // The exception event is stamped at the span's end: after the span's own events.
  if (plan.exception_event) {
    const std::size_t event = pb::begin_message(out, span_events);
    pb::append_fixed64(out, event_time, end);
    pb::append_bytes(out, event_name, "exception");
    for_each_exception_attribute(plan, [&](std::string_view key, field_value v) {
      append_otlp_proto_attribute(out, event_attributes, key, v);
    });
    pb::end_message(out, event);
  }
  for (std::size_t i = 0; i < ev.annotation_count(); ++i) {
    const annotation_view a = ev.annotation_at(i);
    if (!a.is_link()) continue;
    const std::size_t link = pb::begin_message(out, span_links);
    append_otlp_proto_trace_id(out, link_trace_id, a.linked_trace_id());
    append_otlp_proto_span_id(out, link_span_id, a.linked_span_id());
    for (std::size_t k = 0; k < a.field_count(); ++k) {
      const beeline::field f = a.field_at(k);
      append_otlp_proto_attribute(out, link_attributes, f.key, f.value);
    }
    pb::end_message(out, link);
  }
  const otlp_status& status = plan.status;
  const std::size_t status_start = pb::begin_message(out, span_status);
  if (!status.message.empty()) pb::append_bytes(out, status_message, status.message);
  if (status.code != 0) {
    pb::append_tag(out, status_code, pb::varint);
    pb::append_varint(out, static_cast<std::uint64_t>(status.code));
  }
  pb::end_message(out, status_start);
  pb::end_message(out, span);
}

}  // namespace

void append_otlp_proto_span(std::string& out, unsigned field_number, const event& ev, attribute_names names) {
  trace_id_cache trace_ids;
  append_span(out, field_number, ev, names, trace_ids);
}

void append_otlp_proto_request(std::string& out, std::span<const event> batch, std::string_view resource,
                               attribute_names names) {
  using namespace field_no;
  const std::size_t resource_spans = pb::begin_message(out, request_resource_spans);
  pb::append_bytes(out, resource_spans_resource, resource);
  const std::size_t scope_spans = pb::begin_message(out, resource_spans_scope_spans);
  append_otlp_proto_scope(out, scope_spans_scope);
  trace_id_cache trace_ids;
  for (const event& ev : batch)
    append_span(out, scope_spans_spans, ev, names, trace_ids);
  pb::end_message(out, scope_spans);
  pb::end_message(out, resource_spans);
}

std::string otlp_proto_resource(std::string_view service_name, std::string_view service_version,
                                const field_list& extra, std::string_view host_name) {
  std::string out;
  const auto add = [&](std::string_view key, field_value v) {
    append_otlp_proto_attribute(out, field_no::resource_attributes, key, v);
  };
  for_each_otlp_resource_attribute(service_name, service_version, extra, host_name, add);
  return out;
}

namespace {

// A bounded reader over protobuf bytes: every read checks what is left; a malformed input sets `failed`.
struct pb_reader {
  const unsigned char* p;
  const unsigned char* end;
  bool failed = false;

  bool done() const noexcept { return p == end || failed; }

  std::uint64_t varint() noexcept {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end) break;
      const unsigned char b = *p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    failed = true;  // truncated, or longer than ten bytes
    return 0;
  }

  std::string_view bytes() noexcept {
    const std::uint64_t n = varint();
    if (failed || n > static_cast<std::uint64_t>(end - p)) {
      failed = true;
      return {};
    }
    const std::string_view s(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    p += n;
    return s;
  }

  void skip(unsigned type) noexcept {
    const auto advance = [&](std::size_t n) {
      if (static_cast<std::size_t>(end - p) < n)
        failed = true;
      else
        p += n;
    };
    switch (type) {
      case pb::varint:
        varint();
        break;
      case pb::i64:
        advance(8);
        break;
      case pb::len:
        bytes();
        break;
      case pb::i32:
        advance(4);
        break;
      default:  // groups (3, 4) are not used by OTLP; 6 and 7 do not exist
        failed = true;
    }
  }
};

}  // namespace

std::optional<otlp_partial_success> parse_otlp_proto_response(std::string_view body) noexcept {
  const auto* begin = reinterpret_cast<const unsigned char*>(body.data());
  pb_reader response{begin, begin + body.size()};
  otlp_partial_success result;
  while (!response.done()) {
    const std::uint64_t tag = response.varint();
    if (response.failed || (tag >> 3) == 0) return std::nullopt;
    if (tag == (1u << 3 | pb::len)) {  // partial_success; a repeated message field merges
      const std::string_view inner = response.bytes();
      const auto* ip = reinterpret_cast<const unsigned char*>(inner.data());
      pb_reader partial{ip, ip + inner.size()};
      while (!partial.done()) {
        const std::uint64_t t = partial.varint();
        if (partial.failed || (t >> 3) == 0) return std::nullopt;
        if (t == (1u << 3 | pb::varint))
          result.rejected = static_cast<std::int64_t>(partial.varint());
        else if (t == (2u << 3 | pb::len))
          result.error_message = partial.bytes();
        else
          partial.skip(static_cast<unsigned>(t & 7));
      }
      if (partial.failed) return std::nullopt;
    } else {
      response.skip(static_cast<unsigned>(tag & 7));
    }
  }
  if (response.failed) return std::nullopt;
  return result;
}

}  // namespace beeline::detail
