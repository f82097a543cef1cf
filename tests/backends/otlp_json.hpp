// Reading OTLP JSON (the collector's file exporter output, Jaeger's api_v3) in the backend tests, and the
// check of a sent trace against it.
#pragma once

#include "backends/expected_trace.hpp"

#include <simdjson.h>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

namespace beeline::test {

/// An OTLP JSON attribute list's value for `key`, as compact JSON; "" if absent.
inline std::string otlp_attribute(simdjson::dom::element attributes, std::string_view key) {
  simdjson::dom::array list;
  if (attributes.get_array().get(list) != simdjson::SUCCESS) return {};
  for (auto a : list) {
    std::string_view k;
    if (a["key"].get_string().get(k) == simdjson::SUCCESS && k == key) return simdjson::minify(a["value"]);
  }
  return {};
}

inline std::string str(simdjson::dom::element e) {
  std::string_view s;
  return e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : simdjson::minify(e);
}

/// An OTLP JSON id (hex, or base64 as protobuf's JSON mapping writes bytes) as lowercase hex.
inline std::string hex_id(simdjson::dom::element e) {
  const std::string s = str(e);
  if (s.find_first_not_of("0123456789abcdef") == std::string::npos) return s;
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : s) {
    const auto v = alphabet.find(c);
    if (v == std::string_view::npos) break;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  std::string hex;
  for (unsigned char b : bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  return hex;
}

/// Checks that the spans of `sent.trace_id` in `resource_spans` (OTLP JSON `resourceSpans` arrays) are
/// exactly `sent.spans`, each once, under a resource of `service`, with every field.
inline void check_otlp_spans(const std::vector<simdjson::dom::element>& resource_spans,
                             const sent_trace& sent, const std::string& service) {
  std::map<std::string, simdjson::dom::element> by_id;
  for (simdjson::dom::element list : resource_spans)
    for (auto rs : list.get_array()) {
      for (auto ss : rs["scopeSpans"].get_array())
        for (auto s : ss["spans"].get_array()) {
          if (hex_id(s["traceId"]) != sent.trace_id) continue;
          CHECK(otlp_attribute(rs["resource"]["attributes"], "service.name") ==
                R"({"stringValue":")" + service + "\"}");
          const std::string id = hex_id(s["spanId"]);
          CHECK(by_id.count(id) == 0);  // each span once
          by_id[id] = s;
        }
    }
  REQUIRE(by_id.size() == sent.spans.size());
  for (const auto& want : sent.spans) {
    CAPTURE(want.name);
    REQUIRE(by_id.count(want.span_id) == 1);
    simdjson::dom::element s = by_id[want.span_id];
    CHECK(hex_id(s["traceId"]) == sent.trace_id);
    simdjson::dom::element parent;
    CHECK((s["parentSpanId"].get(parent) == simdjson::SUCCESS ? hex_id(parent) : std::string()) ==
          want.parent_id);
    CHECK(str(s["name"]) == want.name);
    CHECK(str(s["kind"]) == std::to_string(want.otlp_kind));
    simdjson::dom::element status;
    std::int64_t code = 0;
    if (s["status"].get(status) == simdjson::SUCCESS) {
      simdjson::dom::element c;
      if (status["code"].get(c) == simdjson::SUCCESS) code = c.get_int64().value();
      if (!want.status_message.empty()) CHECK(str(status["message"]) == want.status_message);
    }
    CHECK(code == want.status_code);
    if (want.has_attributes)
      for (const auto& a : attribute_cases()) {
        CAPTURE(a.key);
        CHECK(otlp_attribute(s["attributes"], a.key) == a.otlp_json);
      }
    std::size_t n_events = 0;
    simdjson::dom::array events;
    if (s["events"].get_array().get(events) == simdjson::SUCCESS) {
      for (auto ev : events) {
        REQUIRE(n_events < want.events.size());
        const auto& we = want.events[n_events++];
        CHECK(str(ev["name"]) == we.name);
        for (const auto& [key, json] : we.otlp_attributes)
          CHECK(otlp_attribute(ev["attributes"], key) == json);
      }
    }
    CHECK(n_events == want.events.size());
    std::size_t n_links = 0;
    simdjson::dom::array links;
    if (s["links"].get_array().get(links) == simdjson::SUCCESS) {
      for (auto l : links) {
        REQUIRE(n_links < want.links.size());
        const auto& wl = want.links[n_links++];
        CHECK(hex_id(l["traceId"]) == wl.trace_id);
        CHECK(hex_id(l["spanId"]) == wl.span_id);
        for (const auto& [key, json] : wl.otlp_attributes)
          CHECK(otlp_attribute(l["attributes"], key) == json);
      }
    }
    CHECK(n_links == want.links.size());
  }
}

}  // namespace beeline::test
