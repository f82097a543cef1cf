// The OTLP exporter with `protocol = http_protobuf` against the loopback server: the request's content type
// and gzip, its body decoded by the official schema (the opentelemetry-proto Python package,
// tests/interop/otlp_proto_decode.py), and a protobuf partial success counted.
#include <beeline/beeline.hpp>
#include <beeline/http_exporter.hpp>

#include "export/otlp_decode.hpp"
#include "export_net/loopback_server.hpp"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

using beeline::test::loopback_server;
using beeline::test::recorded_request;
using beeline::test::reply;

namespace {

// The request body as the official schema reads it, in OTLP/JSON form.
std::string decode_traces(std::string_view body) {
  int status = 0;
  const auto file = std::filesystem::temp_directory_path() /
                    ("beeline-otlp-body-" + std::to_string(std::random_device{}()) + ".pb");
  beeline::test::write_file(file, body);
  std::string decoded = beeline::test::run(
      beeline::test::python() + " '" BEELINE_OTLP_PROTO_DECODE "' decode traces '" + file.string() + "'",
      status);
  std::filesystem::remove(file);
  REQUIRE(status == 0);
  return decoded;
}

}  // namespace

TEST_CASE(
    "otlp: http/protobuf bodies, gzipped, decode with the official schema; a protobuf partial "
    "success is counted",
    "[interop]") {
  // ExportTraceServiceResponse{partial_success{rejected_spans: 1, error_message: "too old"}}
  const std::string partial("\x0a\x0b\x08\x01\x12\x07too old", 13);
  loopback_server server([&](const recorded_request&) { return reply::with_status(200, partial); });
  beeline::otlp_exporter_options o;
  o.endpoint = server.url();
  o.protocol = beeline::otlp_protocol::http_protobuf;
  o.http.gzip = true;
  o.http.request_timeout = std::chrono::seconds(5);
  auto ex = beeline::make_otlp_exporter(o);
  beeline::config cfg;
  cfg.service_name = "proto-net-test";
  cfg.exporter = ex;
  cfg.logger = [](beeline::log_level, std::string_view) {};
  beeline::tracer tr(cfg);
  {
    beeline::span root = tr.start_trace("GET /", {{"span.kind", "server"}, {"http.status_code", 200}});
    beeline::span child = beeline::start_span("query", {{"rows", 3}});
  }
  REQUIRE(tr.flush_sync(std::chrono::seconds(10)).complete);
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/v1/traces");
  CHECK(reqs[0].header("Content-Type") == "application/x-protobuf");
  CHECK(reqs[0].header("Content-Encoding") == "gzip");

  simdjson::dom::parser parser;
  const simdjson::dom::element request = parser.parse(decode_traces(beeline::test::gunzip(reqs[0].body)));
  const simdjson::dom::element resource = request["resourceSpans"].at(0)["resource"]["attributes"];
  CHECK(simdjson::minify(resource.at(0)) ==
        R"({"key":"service.name","value":{"stringValue":"proto-net-test"}})");
  const simdjson::dom::array spans = request["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"];
  REQUIRE(spans.size() == 2);
  // Children finish first.
  CHECK(std::string_view(spans.at(0)["name"].get_string().value()) == "query");
  CHECK(std::string_view(spans.at(1)["name"].get_string().value()) == "GET /");
  CHECK(spans.at(1)["kind"].get_int64().value() == 2);
  CHECK(spans.at(0)["parentSpanId"].get_string().value() == spans.at(1)["spanId"].get_string().value());

  // The backend refused one span: counted as dropped, with the reason.
  CHECK(ex->stats().events_rejected == 1);
  CHECK(ex->stats().events_sent == 1);
  CHECK(tr.stats().dropped_exporter == 1);
}

TEST_CASE(
    "otlp: http/protobuf is the default, as the OpenTelemetry specification says; http/json on request") {
  loopback_server server([](const recorded_request&) { return reply::with_status(200, ""); });
  for (const bool json : {false, true}) {
    beeline::otlp_exporter_options o;
    CHECK(o.protocol == beeline::otlp_protocol::http_protobuf);
    o.endpoint = server.url();
    if (json) o.protocol = beeline::otlp_protocol::http_json;
    beeline::config cfg;
    cfg.service_name = "default-test";
    cfg.exporter = beeline::make_otlp_exporter(o);
    cfg.logger = [](beeline::log_level, std::string_view) {};
    beeline::tracer tr(cfg);
    { beeline::span root = tr.start_trace("GET /"); }
    REQUIRE(tr.flush_sync(std::chrono::seconds(10)).complete);
    CHECK(tr.stats().exported == 1);
  }
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].header("Content-Type") == "application/x-protobuf");
  // An ExportTraceServiceRequest starts with its resource_spans field (1, length-delimited): tag 0x0a.
  REQUIRE(!reqs[0].body.empty());
  CHECK(reqs[0].body[0] == '\x0a');
  CHECK(reqs[1].header("Content-Type") == "application/json");
  CHECK(reqs[1].body.substr(0, 16) == R"({"resourceSpans")");
}

TEST_CASE("otlp: a 200 whose protobuf body cannot be decoded counts as a bad response, as a JSON one does") {
  // Field 1, length-delimited, announcing 127 bytes where 2 follow.
  const std::string truncated("\x0a\x7f\x08\x01", 4);
  loopback_server server([&](const recorded_request&) { return reply::with_status(200, truncated); });
  beeline::otlp_exporter_options o;
  o.endpoint = server.url();
  o.protocol = beeline::otlp_protocol::http_protobuf;
  auto ex = beeline::make_otlp_exporter(o);
  beeline::config cfg;
  cfg.service_name = "proto-bad-body";
  cfg.exporter = ex;
  cfg.logger = [](beeline::log_level, std::string_view) {};
  beeline::tracer tr(cfg);
  { beeline::span root = tr.start_trace("GET /"); }
  REQUIRE(tr.flush_sync(std::chrono::seconds(10)).complete);
  // OTLP's 2xx takes the whole request unless a readable partial success says otherwise.
  CHECK(tr.stats().exported == 1);
  CHECK(ex->stats().status_2xx == 1);
  CHECK(ex->stats().bad_responses == 1);
}
