// Traces sent by the OTLP exporter (protobuf and JSON, gzipped) to a real Jaeger, and read back through its
// query API: the UI's `/api/traces/<id>` (Jaeger's own span model: references, tags, logs, processes) and
// `/api/v3/traces/<id>` (OTLP JSON as Jaeger stored it). Every span must come back exactly once with its
// parent, service, kind, typed attributes, events, links, status and error flag.
#include "backends/backend.hpp"
#include "backends/expected_trace.hpp"
#include "backends/otlp_json.hpp"

#include <beeline/beeline.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/tracer.hpp>

#include <simdjson.h>

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace std::chrono_literals;
using beeline::test::attribute_cases;
using beeline::test::sent_trace;
using beeline::test::str;

namespace {

std::string protocol_name(beeline::otlp_protocol p) {
  return p == beeline::otlp_protocol::http_json ? "json" : "protobuf";
}

/// A tag of Jaeger's span model (`{"key","type","value"}`) by key (and type, if given), as {type, value as
/// JSON}; nullopt if absent.
std::optional<std::pair<std::string, std::string>> tag_of(simdjson::dom::array tags, std::string_view key,
                                                          std::string_view type = {}) {
  for (auto t : tags) {
    std::string_view k;
    if (t["key"].get_string().get(k) != simdjson::SUCCESS || k != key) continue;
    if (!type.empty() && t["type"].get_string().value() != type) continue;
    return std::pair{std::string(t["type"].get_string().value()), simdjson::minify(t["value"])};
  }
  return std::nullopt;
}

/// GETs `target` from Jaeger until it answers 200 with a trace of `span_count` spans (spans are stored a
/// moment after the OTLP request was answered), or fails after 15 s.
std::string fetch_trace(const beeline::test::jaeger& j, const std::string& target, std::size_t span_count,
                        bool v3) {
  std::string body;
  simdjson::dom::parser parser;
  const bool found = beeline::test::eventually(
      [&] {
        const auto r = j.query(target);
        if (r.status != 200) return false;
        body = r.body;
        simdjson::dom::element root;
        if (parser.parse(body).get(root) != simdjson::SUCCESS) return false;
        std::size_t n = 0;
        if (v3) {
          for (auto rs : root["result"]["resourceSpans"].get_array())
            for (auto ss : rs["scopeSpans"].get_array())
              n += ss["spans"].get_array().size();
        } else {
          for (auto t : root["data"].get_array())
            n += t["spans"].get_array().size();
        }
        return n >= span_count;
      },
      15s);
  if (!found)
    FAIL("jaeger has no complete trace at " << target << "; last body: " << body << "\n" << j.log());
  return body;
}

}  // namespace

TEST_CASE("jaeger: spans sent over OTLP come back through the query API with every field", "[backends]") {
  beeline::test::jaeger j;
  for (const auto protocol : {beeline::otlp_protocol::http_protobuf, beeline::otlp_protocol::http_json}) {
    const std::string service = "beeline-jaeger-" + protocol_name(protocol);
    CAPTURE(service);
    beeline::otlp_exporter_options o;
    o.endpoint = j.otlp_endpoint();
    o.protocol = protocol;
    o.http.gzip = true;
    beeline::config cfg;
    cfg.service_name = service;
    cfg.exporter = beeline::make_otlp_exporter(o);
    beeline::tracer tracer(cfg);
    const sent_trace sent = beeline::test::send_test_trace(tracer);
    REQUIRE(tracer.flush_sync(10s).complete);
    const auto st = tracer.stats();
    CHECK(st.exported == sent.spans.size() + 1);  // and the linked trace's span
    CHECK(st.dropped() == 0);

    simdjson::dom::parser parser;

    // Jaeger's own model, as its UI reads it.
    {
      const std::string body =
          fetch_trace(j, "/api/traces/" + sent.trace_id, sent.spans.size(), /*v3=*/false);
      CAPTURE(body);
      simdjson::dom::element root = parser.parse(body).value();
      simdjson::dom::array traces = root["data"].get_array().value();
      REQUIRE(traces.size() == 1);
      simdjson::dom::element trace = traces.at(0).value();
      std::map<std::string, simdjson::dom::element> by_id;
      for (auto s : trace["spans"].get_array()) {
        const std::string id(s["spanID"].get_string().value());
        CHECK(by_id.count(id) == 0);  // each span once
        by_id[id] = s;
      }
      REQUIRE(by_id.size() == sent.spans.size());
      for (const auto& want : sent.spans) {
        CAPTURE(want.name);
        REQUIRE(by_id.count(want.span_id) == 1);
        simdjson::dom::element s = by_id[want.span_id];
        CHECK(str(s["traceID"]) == sent.trace_id);
        CHECK(str(s["operationName"]) == want.name);
        // The parent tree: CHILD_OF the parent; FOLLOWS_FROM each link.
        std::string parent;
        std::set<std::string> follows;
        for (auto ref : s["references"].get_array()) {
          if (str(ref["refType"]) == "CHILD_OF") parent = str(ref["spanID"]);
          if (str(ref["refType"]) == "FOLLOWS_FROM")
            follows.insert(str(ref["traceID"]) + "/" + str(ref["spanID"]));
        }
        CHECK(parent == want.parent_id);
        std::set<std::string> links;
        for (const auto& l : want.links)
          links.insert(l.trace_id + "/" + l.span_id);
        CHECK(follows == links);
        // The service, through the span's process.
        const std::string process_id = str(s["processID"]);
        CHECK(str(trace["processes"][process_id]["serviceName"]) == service);

        simdjson::dom::array tags = s["tags"].get_array().value();
        const auto kind = tag_of(tags, "span.kind");
        if (want.kind == "internal") {
          // Jaeger leaves the default kind out.
          CHECK((!kind || kind->second == R"("internal")"));
        } else {
          REQUIRE(kind);
          CHECK(kind->second == "\"" + want.kind + "\"");
        }
        // Jaeger's error flag: a boolean tag (the span's own `error` field, a string, is another tag).
        const auto error = tag_of(tags, "error", "bool");
        if (want.error) {
          REQUIRE(error);
          CHECK(error->second == "true");
        } else {
          CHECK(!error);
        }
        const auto status = tag_of(tags, "otel.status_code");
        if (want.status_code == 0) {
          CHECK(!status);
        } else {
          REQUIRE(status);
          CHECK(status->second == (want.status_code == 2 ? R"("ERROR")" : R"("OK")"));
        }
        if (!want.status_message.empty()) {
          const auto d = tag_of(tags, "otel.status_description");
          REQUIRE(d);
          CHECK(d->second == "\"" + want.status_message + "\"");
        }
        if (want.has_attributes)
          for (const auto& a : attribute_cases()) {
            CAPTURE(a.key);
            const auto t = tag_of(tags, a.key);
            REQUIRE(t);
            CHECK(t->first == a.jaeger_type);
            CHECK(t->second == a.jaeger_json);
          }
        // Span events are Jaeger logs, the name in the `event` field.
        std::vector<std::string> events;
        for (auto log : s["logs"].get_array()) {
          simdjson::dom::array fields = log["fields"].get_array().value();
          const auto name = tag_of(fields, "event");
          REQUIRE(name);
          events.push_back(name->second);
          for (const auto& ev : want.events)
            if ("\"" + ev.name + "\"" == name->second)
              for (const auto& [key, json] : ev.jaeger_fields) {
                const auto f = tag_of(fields, key);
                REQUIRE(f);
                CHECK(f->second == json);
              }
        }
        std::vector<std::string> want_events;
        for (const auto& ev : want.events)
          want_events.push_back("\"" + ev.name + "\"");
        CHECK(events == want_events);
      }
    }

    // The trace as OTLP JSON (api_v3): kinds, typed attributes (arrays and maps kept), events and links with
    // their attributes, status.
    {
      const std::string body =
          fetch_trace(j, "/api/v3/traces/" + sent.trace_id, sent.spans.size(), /*v3=*/true);
      CAPTURE(body);
      simdjson::dom::element root = parser.parse(body).value();
      beeline::test::check_otlp_spans({root["result"]["resourceSpans"]}, sent, service);
    }

    // The service is listed.
    const auto services = j.query("/api/services");
    REQUIRE(services.status == 200);
    CHECK(services.body.find("\"" + service + "\"") != std::string::npos);
  }
}
