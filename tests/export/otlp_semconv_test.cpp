// The OTLP mapping of HTTP spans: the Beeline's HTTP fields under OpenTelemetry's semantic-convention names
// (or the Beeline's, or both, as the exporter is told), the span named `METHOD route`, errors as `exception`
// events, and span options' kind, links and start time, in both encodings. The protobuf bodies are decoded by
// the official schema and compared with the JSON ones.
#include "export/otlp_decode.hpp"
#include "export/otlp_json.hpp"
#include "export/otlp_proto.hpp"

#include <beeline/beeline.hpp>

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <array>
#include <map>
#include <memory>
#include <string>

namespace {

using beeline::attribute_names;
using beeline::test::attribute;
using beeline::test::span_named;
using namespace std::chrono_literals;

// Encodes every batch both ways with the names it is told.
class both_encodings final : public beeline::exporter {
 public:
  explicit both_encodings(attribute_names names) : names_(names) {}
  beeline::export_result export_batch(std::span<const beeline::event> batch) override {
    json.clear();
    proto.clear();
    beeline::detail::append_otlp_request(
        json, batch, beeline::detail::otlp_resource_attributes("semconv-test", "", {}, ""), names_);
    beeline::detail::append_otlp_proto_request(
        proto, batch, beeline::detail::otlp_proto_resource("semconv-test", "", {}, ""), names_);
    return {batch.size(), 0, {}};
  }
  std::string json;
  std::string proto;

 private:
  attribute_names names_;
};

// The fields the HTTP instrumentation records on a server span (include/beeline/asio/http.hpp).
void server_request(beeline::tracer& tr, std::string_view route, int status) {
  beeline::span root = tr.start_trace("request", {{"meta.type", "beast"},
                                                  {"span.kind", "server"},
                                                  {"request.method", "GET"},
                                                  {"request.path", "/users/42"},
                                                  {"request.query", "full=1"},
                                                  {"request.original_url", "/users/42?full=1"},
                                                  {"request.host", "api.example.com"},
                                                  {"request.port", 8443},
                                                  {"request.http_version", "HTTP/1.1"},
                                                  {"request.remote_addr", "10.1.2.3"},
                                                  {"request.secure", true},
                                                  {"request.scheme", "https"},
                                                  {"request.header.user_agent", "curl/8.0"}});
  if (!route.empty()) root.add_field("request.route", route);
  root.add_field("response.status_code", std::int64_t{status});
  {
    // The client instrumentation's fields (`send`).
    beeline::span call = beeline::start_span("POST", {{"meta.type", "http"},
                                                      {"span.kind", "client"},
                                                      {"request.method", "POST"},
                                                      {"url", "http://backend:8080/charge"},
                                                      {"request.host", "backend"},
                                                      {"request.port", 8080},
                                                      {"response.status_code", 503},
                                                      {"response.http_version", "1.1"},
                                                      {"status_code", 2},
                                                      {"status_message", "HTTP 503"}});
  }
}

struct encoded {
  std::string json;
  std::string decoded;  // the protobuf body as the official schema reads it, in OTLP/JSON
};

// Runs `body` on a tracer whose batches are encoded with `names`; decodes and compares the two encodings.
template <class Body>
encoded encode_with(attribute_names names, Body body) {
  auto ex = std::make_shared<both_encodings>(names);
  {
    beeline::config cfg;
    cfg.service_name = "semconv-test";
    cfg.exporter = ex;
    cfg.logger = [](beeline::log_level, std::string_view) {};
    beeline::tracer tr(cfg);
    body(tr);
    REQUIRE(tr.flush_sync(std::chrono::seconds(10)).complete);
  }
  REQUIRE(!ex->proto.empty());
  return {ex->json, beeline::test::decode_and_compare("traces", ex->proto, ex->json)};
}

std::string str(std::string_view s) {
  return "{\"stringValue\":\"" + std::string(s) + "\"}";
}
// The size of a repeated field of a decoded message (left out when empty).
std::size_t count(simdjson::dom::element message, std::string_view key) {
  simdjson::dom::array items;
  return message[key].get_array().get(items) == simdjson::SUCCESS ? items.size() : 0;
}

std::string num(std::int64_t i) {
  return "{\"intValue\":\"" + std::to_string(i) + "\"}";
}

}  // namespace

TEST_CASE("otlp semconv: HTTP spans carry OpenTelemetry's names, kinds and METHOD route names", "[interop]") {
  const encoded e =
      encode_with(attribute_names::otel, [](beeline::tracer& tr) { server_request(tr, "/users/:id", 200); });
  simdjson::dom::parser parser;
  const simdjson::dom::element request = parser.parse(e.decoded);

  const simdjson::dom::element server = span_named(request, "GET /users/:id");
  CHECK(server["kind"].get_int64().value() == 2);
  const simdjson::dom::element attrs = server["attributes"];
  CHECK(attribute(attrs, "http.request.method") == str("GET"));
  CHECK(attribute(attrs, "url.path") == str("/users/42"));
  CHECK(attribute(attrs, "url.query") == str("full=1"));
  CHECK(attribute(attrs, "url.scheme") == str("https"));
  CHECK(attribute(attrs, "server.address") == str("api.example.com"));
  CHECK(attribute(attrs, "server.port") == num(8443));
  CHECK(attribute(attrs, "client.address") == str("10.1.2.3"));
  CHECK(attribute(attrs, "network.protocol.version") == str("1.1"));
  CHECK(attribute(attrs, "user_agent.original") == str("curl/8.0"));
  CHECK(attribute(attrs, "http.response.status_code") == num(200));
  CHECK(attribute(attrs, "http.route") == str("/users/:id"));
  for (const char* beeline_name :
       {"request.method", "request.path", "request.query", "request.scheme", "request.host", "request.port",
        "request.remote_addr", "request.http_version", "request.header.user_agent", "response.status_code",
        "request.route"})
    CHECK(attribute(attrs, beeline_name).empty());
  CHECK(attribute(attrs, "request.secure") == R"({"boolValue":true})");  // no OpenTelemetry name: kept
  CHECK(server["status"]["code"].get_int64().value_unsafe() == 0);       // a 200: unset
  CHECK(count(server, "events") == 0);

  const simdjson::dom::element client = span_named(request, "POST");
  CHECK(client["kind"].get_int64().value() == 3);
  CHECK(attribute(client["attributes"], "url.full") == str("http://backend:8080/charge"));
  CHECK(attribute(client["attributes"], "server.address") == str("backend"));
  CHECK(attribute(client["attributes"], "server.port") == num(8080));
  CHECK(attribute(client["attributes"], "http.response.status_code") == num(503));
  CHECK(attribute(client["attributes"], "network.protocol.version") == str("1.1"));
  CHECK(client["status"]["code"].get_int64().value() == 2);
}

TEST_CASE("otlp semconv: without a route the server span is named after the method; a chosen name stays",
          "[interop]") {
  const encoded e = encode_with(attribute_names::otel, [](beeline::tracer& tr) {
    server_request(tr, "", 404);
    beeline::span own = tr.start_trace("checkout", {{"span.kind", "server"}, {"request.method", "PUT"}});
  });
  simdjson::dom::parser parser;
  const simdjson::dom::element request = parser.parse(e.decoded);
  const simdjson::dom::element server = span_named(request, "GET");
  CHECK(attribute(server["attributes"], "http.route").empty());
  CHECK(attribute(server["attributes"], "http.response.status_code") == num(404));
  const simdjson::dom::element own = span_named(request, "checkout");
  CHECK(attribute(own["attributes"], "http.request.method") == str("PUT"));
}

TEST_CASE("otlp semconv: beeline names leave fields and names as recorded; both sends each field twice",
          "[interop]") {
  {
    const encoded e = encode_with(attribute_names::beeline,
                                  [](beeline::tracer& tr) { server_request(tr, "/users/:id", 200); });
    simdjson::dom::parser parser;
    const simdjson::dom::element request = parser.parse(e.decoded);
    const simdjson::dom::element server = span_named(request, "request");
    CHECK(attribute(server["attributes"], "request.method") == str("GET"));
    CHECK(attribute(server["attributes"], "request.http_version") == str("HTTP/1.1"));
    CHECK(attribute(server["attributes"], "http.request.method").empty());
    CHECK(attribute(server["attributes"], "url.path").empty());
  }
  {
    const encoded e = encode_with(attribute_names::both,
                                  [](beeline::tracer& tr) { server_request(tr, "/users/:id", 200); });
    simdjson::dom::parser parser;
    const simdjson::dom::element request = parser.parse(e.decoded);
    const simdjson::dom::element server = span_named(request, "GET /users/:id");
    CHECK(attribute(server["attributes"], "request.method") == str("GET"));
    CHECK(attribute(server["attributes"], "http.request.method") == str("GET"));
    CHECK(attribute(server["attributes"], "request.http_version") == str("HTTP/1.1"));
    CHECK(attribute(server["attributes"], "network.protocol.version") == str("1.1"));
    CHECK(attribute(server["attributes"], "request.route") == str("/users/:id"));
    CHECK(attribute(server["attributes"], "http.route") == str("/users/:id"));
  }
}

TEST_CASE("otlp semconv: an error becomes an exception event; a span's own exception event is not doubled",
          "[interop]") {
  const encoded e = encode_with(attribute_names::otel, [](beeline::tracer& tr) {
    beeline::span root = tr.start_trace("job");
    {
      beeline::span failed = beeline::start_span("charge");
      failed.record_exception(std::make_exception_ptr(std::runtime_error("card declined")));
      failed.add_field("error_stacktrace", "at charge()\nat job()");
    }
    {
      beeline::span own = beeline::start_span("reported", {{"error", "boom"}});
      own.add_event("exception", {{"exception.type", "Boom"}});
    }
  });
  simdjson::dom::parser parser;
  const simdjson::dom::element request = parser.parse(e.decoded);
  const simdjson::dom::element charge = span_named(request, "charge");
  REQUIRE(count(charge, "events") == 1);
  const simdjson::dom::element ev = charge["events"].at(0);
  CHECK(std::string_view(ev["name"].get_string().value()) == "exception");
  CHECK(attribute(ev["attributes"], "exception.type") == str("std::runtime_error"));
  CHECK(attribute(ev["attributes"], "exception.message") == str("card declined"));
  CHECK(attribute(ev["attributes"], "exception.stacktrace") ==
        "{\"stringValue\":\"at charge()\\nat job()\"}");
  CHECK(std::string_view(ev["timeUnixNano"].get_string().value()) ==
        std::string_view(charge["endTimeUnixNano"].get_string().value()));
  CHECK(charge["status"]["code"].get_int64().value() == 2);
  const simdjson::dom::element reported = span_named(request, "reported");
  REQUIRE(count(reported, "events") == 1);
  CHECK(attribute(reported["events"].at(0)["attributes"], "exception.type") == str("Boom"));

  // With the Beeline's names, no event is made up.
  const encoded b = encode_with(attribute_names::beeline, [](beeline::tracer& tr) {
    beeline::span root = tr.start_trace("job");
    root.record_exception(std::make_exception_ptr(std::runtime_error("card declined")));
  });
  simdjson::dom::parser parser2;
  CHECK(count(span_named(parser2.parse(b.decoded), "job"), "events") == 0);
}

TEST_CASE("otlp semconv: span options' kind, links and start time reach both encodings", "[interop]") {
  const auto started = std::chrono::system_clock::now() - 3s;
  const std::array<beeline::field, 1> link_attributes{{{"link.reason", "retry"}}};
  const std::array<beeline::span_link, 1> links{
      {{"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", link_attributes}}};
  const encoded e = encode_with(attribute_names::otel, [&](beeline::tracer& tr) {
    beeline::span root = tr.start_trace(
        "consume", {},
        beeline::span_options{.kind = beeline::span_kind::consumer, .links = links, .start_time = started});
    beeline::span produce = beeline::start_span("produce", {}, {.kind = beeline::span_kind::producer});
  });
  simdjson::dom::parser parser;
  const simdjson::dom::element request = parser.parse(e.decoded);
  const simdjson::dom::element consume = span_named(request, "consume");
  CHECK(consume["kind"].get_int64().value() == 5);
  REQUIRE(consume["links"].get_array().size() == 1);
  CHECK(std::string_view(consume["links"].at(0)["traceId"].get_string().value()) ==
        "0af7651916cd43dd8448eb211c80319c");
  CHECK(std::string_view(consume["links"].at(0)["spanId"].get_string().value()) == "b7ad6b7169203331");
  CHECK(attribute(consume["links"].at(0)["attributes"], "link.reason") == str("retry"));
  const auto start_ns = std::stoll(std::string(consume["startTimeUnixNano"].get_string().value()));
  const auto want_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(started.time_since_epoch()).count();
  CHECK(std::llabs(start_ns - want_ns) < 50'000'000);  // within 50 ms of the time given
  const auto end_ns = std::stoll(std::string(consume["endTimeUnixNano"].get_string().value()));
  CHECK(end_ns - start_ns >= 2'950'000'000);
  CHECK(span_named(request, "produce")["kind"].get_int64().value() == 4);
}
