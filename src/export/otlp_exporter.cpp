// OTLP/HTTP JSON traces (https://opentelemetry.io/docs/specs/otlp/): one ExportTraceServiceRequest per batch,
// one resource and one scope, a span per event.
#include <beeline/http_exporter.hpp>

#include "core/json.hpp"
#include "export/ca_file.hpp"
#include "export/http_batch_exporter.hpp"
#include "export/otlp_json.hpp"
#include "export/otlp_model.hpp"
#include "export/otlp_proto.hpp"

#include <simdjson.h>

#include <atomic>
#include <stdexcept>

namespace beeline {
namespace detail {
namespace {

// Appends a string literal with its length known at compile time (no strlen per call).
template <class Out, std::size_t N>
void append_literal(Out& out, const char (&text)[N]) {
  out.append(text, N - 1);
}

template <class Out>
void append_trace_id(Out& out, std::string_view id) {
  append_lower_hex(out, otlp_trace_id_of(id));
}

template <class Out>
void append_span_id(Out& out, std::string_view id) {
  append_lower_hex(out, otlp_span_id_of(id));
}

template <class Out>
void append_any_json(Out& out, const simdjson::dom::element& el);

template <class Out>
void append_key_value(Out& out, std::string_view key) {
  append_literal(out, "{\"key\":");
  append_json_string(out, key);
  append_literal(out, ",\"value\":");
}

// A parsed JSON value as an OTLP AnyValue.
template <class Out>
void append_any_json(Out& out, const simdjson::dom::element& el) {
  switch (el.type()) {
    case simdjson::dom::element_type::ARRAY: {
      append_literal(out, "{\"arrayValue\":{\"values\":[");
      simdjson::dom::array items;
      if (el.get_array().get(items) == simdjson::SUCCESS) {
        bool first = true;
        for (const simdjson::dom::element item : items) {
          if (!first) out.push_back(',');
          first = false;
          append_any_json(out, item);
        }
      }
      append_literal(out, "]}}");
      break;
    }
    case simdjson::dom::element_type::OBJECT: {
      append_literal(out, "{\"kvlistValue\":{\"values\":[");
      simdjson::dom::object members;
      if (el.get_object().get(members) == simdjson::SUCCESS) {
        bool first = true;
        for (const auto member : members) {
          if (!first) out.push_back(',');
          first = false;
          append_key_value(out, member.key);
          append_any_json(out, member.value);
          out.push_back('}');
        }
      }
      append_literal(out, "]}}");
      break;
    }
    case simdjson::dom::element_type::STRING:
      append_literal(out, "{\"stringValue\":");
      append_json_string(out, el.get_string().value_unsafe());
      out.push_back('}');
      break;
    case simdjson::dom::element_type::INT64:
      append_literal(out, "{\"intValue\":\"");
      append_json_int(out, el.get_int64().value_unsafe());
      append_literal(out, "\"}");
      break;
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      append_literal(out, "{\"doubleValue\":");
      append_json_double(out, el.get_double().value_unsafe());
      out.push_back('}');
      break;
    case simdjson::dom::element_type::BOOL:
      out.append(el.get_bool().value_unsafe() ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      append_literal(out, "{}");  // an empty AnyValue
      break;
  }
}

}  // namespace

template <class Out>
bool append_otlp_value(Out& out, field_value v) {
  switch (v.kind()) {
    case value_kind::null:
      return false;  // attributes have no null; the key is left out
    case value_kind::boolean:
      out.append(v.as_bool() ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
      return true;
    case value_kind::integer:
      // The protobuf JSON mapping writes 64-bit integers as strings.
      append_literal(out, "{\"intValue\":\"");
      append_json_int(out, v.as_int());
      append_literal(out, "\"}");
      return true;
    case value_kind::floating:
      append_literal(out, "{\"doubleValue\":");
      append_json_double(out, v.as_double());
      out.push_back('}');
      return true;
    case value_kind::string:
      append_literal(out, "{\"stringValue\":");
      append_json_string(out, v.as_string());
      out.push_back('}');
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

template <class Out>
void append_otlp_span(Out& out, const event& ev, attribute_names names) {
  const otlp_span_plan plan = plan_otlp_span(ev, names);
  append_literal(out, "{\"traceId\":\"");
  append_trace_id(out, ev.trace_id());
  append_literal(out, "\",\"spanId\":\"");
  append_span_id(out, ev.span_id());
  out.push_back('"');
  if (const std::string_view parent = ev.parent_id(); !parent.empty()) {
    append_literal(out, ",\"parentSpanId\":\"");
    append_span_id(out, parent);
    out.push_back('"');
  }
  append_literal(out, ",\"name\":");
  if (plan.route.empty()) {
    append_json_string(out, plan.name);
  } else {
    std::string name;
    name.reserve(plan.name.size() + 1 + plan.route.size());
    name.append(plan.name).append(1, ' ').append(plan.route);
    append_json_string(out, name);
  }
  append_literal(out, ",\"kind\":");
  append_json_int(out, plan.kind);
  const auto start = std::chrono::duration_cast<std::chrono::nanoseconds>(ev.timestamp().time_since_epoch());
  append_literal(out, ",\"startTimeUnixNano\":\"");
  append_json_int(out, start.count());
  append_literal(out, "\",\"endTimeUnixNano\":\"");
  append_json_int(out, (start + ev.duration()).count());
  append_literal(out, "\",\"attributes\":[");
  bool first = true;
  const auto add = [&](std::string_view key, field_value v) {
    const std::size_t mark = out.size();
    if (!first) out.push_back(',');
    append_key_value(out, key);
    if (!append_otlp_value(out, v)) {
      out.resize(mark);
      return;
    }
    out.push_back('}');
    first = false;
  };
  for_each_otlp_attribute(ev, plan, add);
  append_literal(out, "],\"droppedAttributesCount\":0,\"events\":[");
  const auto append_attributes = [&](const annotation_view& a) {
    append_literal(out, "{\"attributes\":[");
    bool first_attribute = true;
    for (std::size_t k = 0; k < a.field_count(); ++k) {
      const field f = a.field_at(k);
      const std::size_t mark = out.size();
      if (!first_attribute) out.push_back(',');
      append_key_value(out, f.key);
      if (!append_otlp_value(out, f.value)) {
        out.resize(mark);
        continue;
      }
      out.push_back('}');
      first_attribute = false;
    }
    out.push_back(']');
  };
  bool first_annotation = true;
  for (std::size_t i = 0; i < ev.annotation_count(); ++i) {
    const annotation_view a = ev.annotation_at(i);
    if (a.is_link()) continue;
    if (!first_annotation) out.push_back(',');
    first_annotation = false;
    append_attributes(a);
    append_literal(out, ",\"name\":");
    append_json_string(out, a.name());
    append_literal(out, ",\"timeUnixNano\":\"");
    append_json_int(
        out, std::chrono::duration_cast<std::chrono::nanoseconds>(a.timestamp().time_since_epoch()).count());
    append_literal(out, "\",\"droppedAttributesCount\":0}");
  }
  // The exception event is stamped at the span's end: after the span's own events.
  if (plan.exception_event) {
    if (!first_annotation) out.push_back(',');
    append_literal(out, "{\"attributes\":[");
    first = true;
    for_each_exception_attribute(plan, add);
    append_literal(out, "],\"name\":\"exception\",\"timeUnixNano\":\"");
    append_json_int(out, (start + ev.duration()).count());
    append_literal(out, "\",\"droppedAttributesCount\":0}");
  }
  append_literal(out, "],\"droppedEventsCount\":0,\"status\":{\"code\":");
  const otlp_status& status = plan.status;
  append_json_int(out, status.code);
  if (!status.message.empty()) {
    append_literal(out, ",\"message\":");
    append_json_string(out, status.message);
  }
  append_literal(out, "},\"links\":[");
  first_annotation = true;
  for (std::size_t i = 0; i < ev.annotation_count(); ++i) {
    const annotation_view a = ev.annotation_at(i);
    if (!a.is_link()) continue;
    if (!first_annotation) out.push_back(',');
    first_annotation = false;
    append_attributes(a);
    append_literal(out, ",\"spanId\":\"");
    append_span_id(out, a.linked_span_id());
    append_literal(out, "\",\"traceId\":\"");
    append_trace_id(out, a.linked_trace_id());
    append_literal(out, "\",\"droppedAttributesCount\":0}");
  }
  append_literal(out, "],\"droppedLinksCount\":0}");
}

void append_otlp_request(std::string& out, std::span<const event> batch, std::string_view resource_attributes,
                         attribute_names names) {
  append_literal(out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
  out.append(resource_attributes);
  out.append(
      "],\"droppedAttributesCount\":0},\"scopeSpans\":[{\"scope\":{\"name\":\"beeline-cpp\",\"version\":\"");
  out.append(BEELINE_VERSION_STRING);
  append_literal(out, "\"},\"spans\":[");
  // Each span is written into a buffer of the thread's, which grows without zeroing its room (see json.hpp),
  // and appended to the body in one copy.
  thread_local text_buffer span;
  span.clear();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (i) out.push_back(',');
    append_otlp_span(span, batch[i], names);
    move_into(span, out);
  }
  append_literal(out, "]}]}]}");
}

template bool append_otlp_value(std::string&, field_value);
template bool append_otlp_value(text_buffer&, field_value);
template void append_otlp_span(std::string&, const event&, attribute_names);
template void append_otlp_span(text_buffer&, const event&, attribute_names);

std::string otlp_resource_attributes(std::string_view service_name, std::string_view service_version,
                                     const field_list& extra, std::string_view host_name) {
  std::string out;
  const auto add = [&](std::string_view key, field_value v) {
    const std::size_t mark = out.size();
    if (!out.empty()) out.push_back(',');
    append_key_value(out, key);
    if (!append_otlp_value(out, v)) {
      out.resize(mark);
      return;
    }
    out.push_back('}');
  };
  for_each_otlp_resource_attribute(service_name, service_version, extra, host_name, add);
  return out;
}

std::optional<otlp_response> read_otlp_response(std::string_view body, bool protobuf,
                                                std::string_view rejected_key) {
  otlp_response out;
  if (body.empty()) return out;
  if (protobuf) {
    const auto partial = parse_otlp_proto_response(body);
    if (!partial) return std::nullopt;
    out.rejected = partial->rejected;
    out.message = std::string(partial->error_message.substr(0, 200));
    return out;
  }
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(body)).get(root) != simdjson::SUCCESS) return std::nullopt;
  // The count is an int64: a string in the protobuf JSON mapping, a number from some servers.
  simdjson::dom::element count;
  if (root["partialSuccess"][rejected_key].get(count) == simdjson::SUCCESS) {
    std::string_view text;
    if (count.get_int64().get(out.rejected) != simdjson::SUCCESS &&
        count.get_string().get(text) == simdjson::SUCCESS)
      out.rejected = std::atoll(std::string(text).c_str());
  }
  std::string_view message;
  if (root["partialSuccess"]["errorMessage"].get_string().get(message) == simdjson::SUCCESS)
    out.message = std::string(message.substr(0, 200));
  return out;
}

}  // namespace detail

namespace {

class otlp_exporter final : public detail::http_batch_exporter {
 public:
  otlp_exporter(detail::http_target target, otlp_exporter_options options, std::string path)
      : http_batch_exporter(std::move(target), options.http),
        options_(std::move(options)),
        path_(std::move(path)) {}

  ~otlp_exporter() override { client_.shutdown(); }

  export_result export_batch(std::span<const event> batch) override {
    if (batch.empty()) return {};
    batches_.fetch_add(1, std::memory_order_relaxed);
    if (resource_.empty()) {  // the resource is fixed by the first batch (one tracer, one service)
      std::string service = options_.service_name;
      std::string host;
      if (const auto s = batch.front().get("service.name");
          service.empty() && s && s->kind() == value_kind::string)
        service = s->as_string();
      if (const auto h = batch.front().get("meta.local_hostname"); h && h->kind() == value_kind::string)
        host = h->as_string();
      resource_ = protobuf() ? detail::otlp_proto_resource(service, options_.service_version,
                                                           options_.resource_attributes, host)
                             : detail::otlp_resource_attributes(service, options_.service_version,
                                                                options_.resource_attributes, host);
    }
    detail::http_request req;
    req.path = path_;
    req.headers = {{"Content-Type", protobuf() ? "application/x-protobuf" : "application/json"}};
    req.body.reserve(batch.size() * 700 + resource_.size() + 128);
    if (protobuf())
      detail::append_otlp_proto_request(req.body, batch, resource_, options_.names);
    else
      detail::append_otlp_request(req.body, batch, resource_, options_.names);
    const std::uint64_t seq = settle_.open(1);
    const std::size_t n = batch.size();
    try {
      client_.submit(std::move(req), [this, seq, n](detail::http_outcome o) { settle_response(seq, n, o); });
    } catch (const std::exception& e) {  // out of memory: fail it, so later batches are not held behind it
      settle_failed(seq, n, e.what());
    }
    return {0, 0, {}, batch.size()};
  }

 private:
  // A partial success on a 2xx (`{"partialSuccess":{"rejectedSpans":N,"errorMessage":"..."}}`, or its
  // protobuf form): those spans were refused.
  void settle_response(std::uint64_t seq, std::size_t n, const detail::http_outcome& o) {
    if (!o.delivered) return settle_failed(seq, n, o.error);
    std::size_t refused = 0;
    std::string reason;
    if (o.body_complete) {
      const auto response = detail::read_otlp_response(o.body, protobuf(), "rejectedSpans");
      if (!response) {
        // Counted as Honeycomb counts it; the spans count as exported: OTLP's 2xx means the whole request was
        // taken unless a readable partial success says otherwise.
        unreadable_.fetch_add(1, std::memory_order_relaxed);
      } else if (response->rejected > 0) {
        refused = std::min<std::size_t>(static_cast<std::size_t>(response->rejected), n);
        reason = "OTLP partial success: " + std::to_string(refused) + " spans rejected";
        if (!response->message.empty()) reason.append(": ").append(response->message);
      }
    }
    settle_delivered(seq, n - refused, refused, reason);
  }

  bool protobuf() const noexcept { return options_.protocol == otlp_protocol::http_protobuf; }

  otlp_exporter_options options_;
  std::string path_;      // after the endpoint's own path
  std::string resource_;  // worker thread only; encoded as the requests are
};

}  // namespace

std::shared_ptr<http_exporter> make_otlp_exporter(otlp_exporter_options options) {
  std::string error;
  auto target = detail::parse_http_url(options.endpoint, error);
  if (!target) throw std::invalid_argument("OTLP exporter: " + error);
  if (target->tls && !options.http.ca_file.empty() && !detail::check_ca_file(options.http.ca_file, error))
    throw std::invalid_argument("OTLP exporter: " + error);
  // A whole traces URL is used as it is; one with no path at all asks for `/`.
  std::string path = options.endpoint_is_traces_url ? (target->base_path.empty() ? "/" : "") : "/v1/traces";
  return std::make_shared<otlp_exporter>(std::move(*target), std::move(options), std::move(path));
}

}  // namespace beeline
