// The OTLP protobuf encoder: its bytes decoded by the official schema (the opentelemetry-proto Python
// package, tests/interop/otlp_proto_decode.py) and compared field by field with the OTLP/JSON encoding of the
// same batch; the wire writer's length back-patching; the response reader against hostile bytes.
#include "export/otlp_proto.hpp"
#include "export/otlp_decode.hpp"
#include "export/otlp_json.hpp"
#include "highlight/signals.hpp"

#include <beeline/beeline.hpp>

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using beeline::test::attribute;
using beeline::test::decode_and_compare;
using beeline::test::from_hex;
using beeline::test::python;
using beeline::test::run;
using beeline::test::span_named;

// Encodes every batch both ways, as the OTLP exporter would.
class both_encodings final : public beeline::exporter {
 public:
  beeline::export_result export_batch(std::span<const beeline::event> batch) override {
    const beeline::field_list extra = {{"deployment.environment", "test"}, {"host.cores", 8}};
    json.clear();
    proto.clear();
    beeline::detail::append_otlp_request(
        json, batch, beeline::detail::otlp_resource_attributes("proto-test", "1.2.3", extra, "test-host"));
    beeline::detail::append_otlp_proto_request(
        proto, batch, beeline::detail::otlp_proto_resource("proto-test", "1.2.3", extra, "test-host"));
    return {batch.size(), 0, {}};
  }
  std::string json;
  std::string proto;
};

beeline::config config_with(std::shared_ptr<beeline::exporter> ex) {
  beeline::config cfg;
  cfg.service_name = "proto-test";
  cfg.exporter = std::move(ex);
  cfg.logger = [](beeline::log_level, std::string_view) {};
  return cfg;
}

}  // namespace

TEST_CASE("otlp protobuf: the official schema decodes the request to what the JSON encoding says",
          "[interop]") {
  auto ex = std::make_shared<both_encodings>();
  const std::string long_text(20000, 'x');  // a three-byte length, inside a span inside the span list
  {
    beeline::tracer tr(config_with(ex));
    {
      beeline::span root =
          tr.start_trace("GET /checkout", {{"span.kind", "server"},
                                           {"http.status_code", 200},
                                           {"negative", -7},
                                           {"big", std::int64_t{9007199254740993}},
                                           {"ratio", 0.25},
                                           {"zero", 0.0},
                                           {"cached", false},
                                           {"empty", ""},
                                           {"nothing", nullptr},
                                           {"tags", beeline::raw_json{R"(["a",1,2.5,true,null,{"k":"v"}])"}},
                                           {"shape", beeline::raw_json{R"({"w":3,"nested":{"deep":[1]}})"}},
                                           {"broken", beeline::raw_json{"{not json"}},
                                           {"utf8", "h\xc3\xa9llo \xe2\x9c\x93"},
                                           {"long", long_text}});
      root.add_event("cache miss", {{"key", "user:1"}, {"attempt", 2}});
      root.add_event("no fields");
      root.add_link("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", {{"link.kind", "follows"}});
      {
        beeline::span child = beeline::start_span("charge", {{"span.kind", "client"}});
        child.record_exception(std::make_exception_ptr(std::runtime_error("card declined")));
      }
      {
        beeline::span ok = beeline::start_span(
            "validate", {{"span.kind", "CONSUMER"}, {"status_code", 1}, {"status_message", "fine"}});
      }
    }
    beeline::trace_context upstream;
    upstream.trace_id = "1-5759e988-bd862e3fe1be46a994272793";
    upstream.parent_id = "not-a-hex-id";
    { beeline::span aws = tr.start_trace("from AWS", {{"span.kind", "producer"}}, upstream); }
    REQUIRE(tr.flush_sync(std::chrono::seconds(10)).complete);
  }
  REQUIRE(!ex->proto.empty());

  const std::string decoded = decode_and_compare("traces", ex->proto, ex->json);

  // And what a user would look for in the decoded request, explicitly.
  simdjson::dom::parser parser;
  const simdjson::dom::element request = parser.parse(decoded);
  const simdjson::dom::element resource = request["resourceSpans"].at(0)["resource"]["attributes"];
  CHECK(attribute(resource, "service.name") == R"({"stringValue":"proto-test"})");
  CHECK(attribute(resource, "host.cores") == R"({"intValue":"8"})");
  const simdjson::dom::element scope = request["resourceSpans"].at(0)["scopeSpans"].at(0)["scope"];
  CHECK(std::string_view(scope["name"].get_string().value()) == "beeline-cpp");

  const simdjson::dom::element root = span_named(request, "GET /checkout");
  CHECK(root["kind"].get_int64().value() == 2);
  CHECK(std::string_view(root["traceId"].get_string().value()).size() == 32);
  CHECK(std::string_view(root["spanId"].get_string().value()).size() == 16);
  const simdjson::dom::element attrs = root["attributes"];
  CHECK(attribute(attrs, "http.status_code") == R"({"intValue":"200"})");
  CHECK(attribute(attrs, "negative") == R"({"intValue":"-7"})");
  CHECK(attribute(attrs, "big") == R"({"intValue":"9007199254740993"})");
  CHECK(attribute(attrs, "ratio") == R"({"doubleValue":0.25})");
  CHECK(attribute(attrs, "zero") == R"({"doubleValue":0.0})");
  CHECK(attribute(attrs, "cached") == R"({"boolValue":false})");
  CHECK(attribute(attrs, "empty") == R"({"stringValue":""})");
  CHECK(attribute(attrs, "nothing").empty());
  CHECK(attribute(attrs, "broken").empty());
  CHECK(
      attribute(attrs, "tags") ==
      R"({"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"1"},{"doubleValue":2.5},{"boolValue":true},{},{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}}]}})");
  CHECK(attribute(attrs, "utf8") == "{\"stringValue\":\"h\xc3\xa9llo \xe2\x9c\x93\"}");
  CHECK(attribute(attrs, "long") == R"({"stringValue":")" + long_text + "\"}");
  CHECK(attribute(attrs, "span.kind").empty());
  REQUIRE(root["events"].get_array().size() == 2);
  CHECK(std::string_view(root["events"].at(0)["name"].get_string().value()) == "cache miss");
  CHECK(attribute(root["events"].at(0)["attributes"], "attempt") == R"({"intValue":"2"})");
  CHECK(std::string_view(root["links"].at(0)["traceId"].get_string().value()) ==
        "0af7651916cd43dd8448eb211c80319c");
  CHECK(std::string_view(root["links"].at(0)["spanId"].get_string().value()) == "b7ad6b7169203331");

  const simdjson::dom::element charge = span_named(request, "charge");
  CHECK(charge["kind"].get_int64().value() == 3);
  CHECK(charge["parentSpanId"].get_string().value() == root["spanId"].get_string().value());
  CHECK(charge["status"]["code"].get_int64().value() == 2);
  CHECK(std::string_view(charge["status"]["message"].get_string().value()) == "card declined");
  const simdjson::dom::element validate = span_named(request, "validate");
  CHECK(validate["kind"].get_int64().value() == 5);
  CHECK(validate["status"]["code"].get_int64().value() == 1);
  const simdjson::dom::element aws = span_named(request, "from AWS");
  CHECK(aws["kind"].get_int64().value() == 4);
  CHECK(std::string_view(aws["traceId"].get_string().value()) == "5759e988bd862e3fe1be46a994272793");
  CHECK(std::string_view(aws["parentSpanId"].get_string().value()).size() == 16);
}

TEST_CASE("otlp protobuf: a partial success serialized by the protobuf runtime is read", "[interop]") {
  int status = 0;
  const std::string hex =
      run(python() + " '" BEELINE_OTLP_PROTO_DECODE "' response traces 3 'spans too old'", status);
  REQUIRE(status == 0);
  const std::string bytes = from_hex(hex);  // the message points into it
  const auto partial = beeline::detail::parse_otlp_proto_response(bytes);
  REQUIRE(partial);
  CHECK(partial->rejected == 3);
  CHECK(partial->error_message == "spans too old");
}

TEST_CASE("otlp protobuf: lengths of 128 bytes and more are patched in as longer varints") {
  namespace pb = beeline::detail::pb;
  for (const std::size_t size : {0u, 1u, 127u, 128u, 300u, 16383u, 16384u, 2097152u}) {
    std::string out = "prefix";
    const std::size_t outer = pb::begin_message(out, 2);
    const std::size_t inner = pb::begin_message(out, 1);
    out.append(size, 'z');
    pb::end_message(out, inner);
    pb::end_message(out, outer);
    // What a decoder reads back: tag, varint length, content; the inner message fills the outer exactly.
    const auto read = [](std::string_view& s) {
      std::uint64_t v = 0;
      for (int shift = 0;; shift += 7) {
        const auto b = static_cast<unsigned char>(s.front());
        s.remove_prefix(1);
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
      }
    };
    std::string_view s(out);
    REQUIRE(s.substr(0, 6) == "prefix");
    s.remove_prefix(6);
    CHECK(read(s) == (2 << 3 | 2));
    const std::uint64_t outer_len = read(s);
    CHECK(outer_len == s.size());
    CHECK(read(s) == (1 << 3 | 2));
    CHECK(read(s) == size);
    CHECK(s.size() == size);
    CHECK(s.find_first_not_of('z') == std::string_view::npos);
  }
}

TEST_CASE("otlp protobuf: responses with unknown fields, garbage or truncation never read past the end") {
  using beeline::detail::parse_otlp_proto_response;
  // partial_success {rejected_spans: 2, error_message: "no"} between unknown fields of every wire type.
  const std::string good = from_hex(
      "08ff01"  // field 1 as a varint: not partial_success's wire type, skipped
      "19"
      "0102030405060708"  // field 3, fixed64
      "25"
      "01020304"  // field 4, fixed32
      "0a0a"
      "0802"
      "1202"
      "6e6f"
      "2a02"
      "0000"  // partial_success with an unknown field 5
      "3203"
      "616263");  // field 6, length-delimited
  const auto parsed = parse_otlp_proto_response(good);
  REQUIRE(parsed);
  CHECK(parsed->rejected == 2);
  CHECK(parsed->error_message == "no");

  CHECK(parse_otlp_proto_response("")->rejected == 0);  // an empty message: full success
  CHECK(parse_otlp_proto_response(from_hex("0a00"))->rejected == 0);
  CHECK_FALSE(parse_otlp_proto_response(from_hex("0a")));  // no length
  CHECK_FALSE(
      parse_otlp_proto_response(from_hex("0a05"
                                         "0802")));  // length past the end
  CHECK_FALSE(
      parse_otlp_proto_response(from_hex("0aff"
                                         "ffffffffffffffffff01")));  // a huge length
  CHECK_FALSE(
      parse_otlp_proto_response(from_hex("0a02"
                                         "08")));  // varint cut inside the message
  CHECK_FALSE(
      parse_otlp_proto_response(from_hex("0a0b"
                                         "08ffffffffffffffffffff01")));  // an 11-byte varint
  CHECK_FALSE(
      parse_otlp_proto_response(from_hex("0b"
                                         "0c")));            // a group
  CHECK_FALSE(parse_otlp_proto_response(from_hex("0f00")));  // wire type 7
  CHECK_FALSE(parse_otlp_proto_response(from_hex("0200")));  // field number 0
  CHECK_FALSE(
      parse_otlp_proto_response(from_hex("19"
                                         "0102")));  // a fixed64 cut short
  CHECK_FALSE(
      parse_otlp_proto_response(R"({"partialSuccess":{"rejectedSpans":"1"}})"));  // JSON is not protobuf

  // Every prefix of a valid response, and random bytes: a bounded answer every time (ASan checks the reads).
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::string cut(good.substr(0, n));
    (void)parse_otlp_proto_response(cut);
  }
  std::mt19937 rng(12345);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes)
      c = static_cast<char>(rng());
    if (const auto r = parse_otlp_proto_response(bytes); r && !r->error_message.empty()) {
      CHECK(r->error_message.data() >= bytes.data());
      CHECK(r->error_message.data() + r->error_message.size() <= bytes.data() + bytes.size());
    }
  }
}

TEST_CASE("otlp protobuf: Highlight's metrics and logs decode to what their JSON encoding says",
          "[interop]") {
  namespace hl = beeline::highlight::detail;
  const beeline::field_list extra = {{"highlight.project_id", "1jdkoe52"}};
  const std::string json_resource =
      beeline::detail::otlp_resource_attributes("proto-test", "", extra, "test-host");
  const std::string proto_resource =
      beeline::detail::otlp_proto_resource("proto-test", "", extra, "test-host");

  std::vector<hl::metric_point> points;
  points.push_back({"latency", 12.5, 1700000000123456789, {{"route", "/a"}, {"code", 200}}});
  points.push_back({"cpu", 0.0, 1700000000223456789, {}});
  points.push_back({"latency", -3.25e-5, 1700000000323456789, {{"ok", true}}});
  std::string json;
  std::string proto;
  hl::append_metrics_request(json, points, json_resource);
  hl::append_metrics_request_proto(proto, points, proto_resource);
  simdjson::dom::parser parser;
  {
    const simdjson::dom::element metrics =
        parser.parse(decode_and_compare("metrics", proto, json))["resourceMetrics"].at(0)["scopeMetrics"].at(
            0)["metrics"];
    REQUIRE(metrics.get_array().size() == 2);  // one gauge per name
    CHECK(std::string_view(metrics.at(0)["name"].get_string().value()) == "latency");
    CHECK(metrics.at(0)["gauge"]["dataPoints"].get_array().size() == 2);
    CHECK(metrics.at(0)["gauge"]["dataPoints"].at(1)["asDouble"].get_double().value() == -3.25e-5);
    CHECK(std::string_view(metrics.at(0)["gauge"]["dataPoints"].at(0)["timeUnixNano"].get_string().value()) ==
          "1700000000123456789");
  }

  std::vector<hl::log_record> records;
  records.push_back({1700000000123456789,
                     "error",
                     "payment failed",
                     {{"user.id", 42}},
                     "4bf92f3577b34da6a3ce929d0e0e4736",
                     "00f067aa0ba902b7"});
  records.push_back({1700000000223456789, "info", "", {}, "", ""});
  json.clear();
  proto.clear();
  hl::append_logs_request(json, records, json_resource);
  hl::append_logs_request_proto(proto, records, proto_resource);
  const simdjson::dom::element logs =
      parser.parse(decode_and_compare("logs", proto, json))["resourceLogs"].at(0)["scopeLogs"].at(
          0)["logRecords"];
  REQUIRE(logs.get_array().size() == 2);
  CHECK(std::string_view(logs.at(0)["traceId"].get_string().value()) == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(std::string_view(logs.at(0)["spanId"].get_string().value()) == "00f067aa0ba902b7");
  CHECK(logs.at(0)["flags"].get_int64().value() == 1);
  CHECK(std::string_view(logs.at(0)["body"]["stringValue"].get_string().value()) == "payment failed");
  CHECK(std::string_view(logs.at(1)["severityText"].get_string().value()) == "info");
}
