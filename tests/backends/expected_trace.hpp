// The trace the backend tests send, and what a backend should show of it. Data-driven: a new attribute type
// or span option is one more row in `attribute_cases` or one more field of `expected_span`.
#pragma once

#include <beeline/beeline.hpp>
#include <beeline/tracer.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beeline::test {

/// One attribute of the root span: the field as sent, and the value each view of the backend should hold.
struct attribute_case {
  std::string_view key;
  field_value sent;
  std::string_view otlp_json;    ///< the OTLP JSON AnyValue (collector file output, Jaeger's api_v3)
  std::string_view jaeger_type;  ///< the tag's type in Jaeger's span model (`/api/traces`)
  std::string_view jaeger_json;  ///< the tag's value there, as compact JSON
};

/// Strings, 64-bit integers, doubles, booleans, arrays and maps (Jaeger's span model flattens the last two
/// into JSON text).
inline const std::vector<attribute_case>& attribute_cases() {
  static const std::vector<attribute_case> cases = {
      {"app.user", "zane", R"({"stringValue":"zane"})", "string", R"("zane")"},
      {"app.items", 3, R"({"intValue":"3"})", "int64", "3"},
      {"app.big", std::int64_t{9007199254740993}, R"({"intValue":"9007199254740993"})", "int64",
       R"("9007199254740993")"},  // Jaeger's JSON writes an integer past 2^53 as a string
      {"app.total", 12.5, R"({"doubleValue":12.5})", "float64", "12.5"},
      {"app.paid", true, R"({"boolValue":true})", "bool", "true"},
      {"app.tags", raw_json{R"(["a","b"])"},
       R"({"arrayValue":{"values":[{"stringValue":"a"},{"stringValue":"b"}]}})", "string",
       R"("[\"a\",\"b\"]")"},
      {"app.cart", raw_json{R"({"id":"c-7","n":2})"},
       R"({"kvlistValue":{"values":[{"key":"id","value":{"stringValue":"c-7"}},{"key":"n","value":{"intValue":"2"}}]}})",
       "string", R"("{\"id\":\"c-7\",\"n\":2}")"},
  };
  return cases;
}

struct expected_event {
  std::string name;
  std::vector<std::pair<std::string, std::string>> otlp_attributes;  ///< key, OTLP JSON AnyValue
  std::vector<std::pair<std::string, std::string>> jaeger_fields;    ///< key, the log field's value as JSON
};

struct expected_link {
  std::string trace_id, span_id;
  std::vector<std::pair<std::string, std::string>> otlp_attributes;
};

struct expected_span {
  std::string name;
  std::string span_id;
  std::string parent_id;  ///< "" for the root
  std::string kind;       ///< as the `span.kind` field says it (Jaeger's tag value)
  int otlp_kind = 1;      ///< OTLP's SpanKind number
  int status_code = 0;    ///< 0 unset, 1 ok, 2 error
  std::string status_message;
  bool error = false;           ///< Jaeger's `error` tag
  bool has_attributes = false;  ///< carries every row of `attribute_cases`
  std::vector<expected_event> events;
  std::vector<expected_link> links;
};

struct sent_trace {
  std::string trace_id;
  std::vector<expected_span> spans;  ///< of `trace_id` (the link target's trace is not included)
};

/// Sends, through `t`, a one-span trace (`enqueue`, a consumer) and then a trace of four spans: `checkout`
/// (server, every attribute type) with children `charge` (client, status error with a message) and
/// `lookup` (internal: a span event, a link to `enqueue`, an exception) whose child is `publish` (producer,
/// status ok). Returns what a backend should show of the second trace.
inline sent_trace send_test_trace(tracer& t) {
  std::string linked_trace, linked_span;
  {
    span linked = t.start_trace("enqueue", {{"span.kind", "consumer"}});
    linked_trace = linked.trace_id();
    linked_span = linked.span_id();
  }
  sent_trace out;
  span root = t.start_trace("checkout", {{"span.kind", "server"}});
  for (const auto& a : attribute_cases())
    root.add_field(a.key, a.sent);
  out.trace_id = root.trace_id();
  expected_span root_want{"checkout", root.span_id(), "", "server", 2};
  root_want.has_attributes = true;
  {
    span charge = start_span(
        "charge", {{"span.kind", "client"}, {"status_code", 2}, {"status_message", "card declined"}});
    expected_span w{"charge", charge.span_id(), root_want.span_id, "client", 3, 2, "card declined", true};
    out.spans.push_back(w);
  }
  {
    span lookup = start_span("lookup");
    lookup.add_event("cache.miss", {{"cache.key", "user:1"}, {"cache.size", 7}});
    lookup.add_link(linked_trace, linked_span, {{"link.reason", "retry"}});
    lookup.record_exception(std::make_exception_ptr(std::runtime_error("db down")));
    expected_span w{"lookup", lookup.span_id(), root_want.span_id, "internal", 1, 2, "db down", true};
    w.events.push_back({"cache.miss",
                        {{"cache.key", R"({"stringValue":"user:1"})"}, {"cache.size", R"({"intValue":"7"})"}},
                        {{"cache.key", R"("user:1")"}, {"cache.size", "7"}}});
    // OpenTelemetry's exception event for the recorded exception, stamped at the span's end.
    w.events.push_back(
        {"exception",
         {{"exception.type", R"({"stringValue":"std::runtime_error"})"},
          {"exception.message", R"({"stringValue":"db down"})"}},
         {{"exception.type", R"("std::runtime_error")"}, {"exception.message", R"("db down")"}}});
    w.links.push_back({linked_trace, linked_span, {{"link.reason", R"({"stringValue":"retry"})"}}});
    {
      span publish = start_span("publish", {{"span.kind", "producer"}, {"status_code", 1}});
      out.spans.push_back({"publish", publish.span_id(), w.span_id, "producer", 4, 1});
    }
    out.spans.push_back(w);
  }
  out.spans.push_back(root_want);
  return out;
}

}  // namespace beeline::test
