// The OTLP exporter init makes from the OTEL_EXPORTER_OTLP_* variables, against the loopback collector: the
// request path for the base and the traces endpoint, headers, protocol, compression, timeout and the resource
// attributes, as they arrive on the wire.
#include "api/otel_env.hpp"
#include "export_net/loopback_server.hpp"

#include <beeline/beeline.hpp>

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <thread>

using beeline::test::loopback_server;
using beeline::test::recorded_request;
using beeline::test::reply;

namespace {

// Sends one span through a tracer configured from `vars`; returns the request the collector got.
recorded_request one_request(loopback_server& server, const std::map<std::string, std::string>& vars,
                             std::vector<std::string>* warnings = nullptr) {
  beeline::config cfg;
  cfg.service_name = "env-svc";
  cfg.logger = [](beeline::log_level, std::string_view) {};
  beeline::detail::apply_environment(
      cfg,
      [&](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
      },
      [&](beeline::log_level, std::string_view m) {
        if (warnings) warnings->emplace_back(m);
      });
  REQUIRE(cfg.exporter);
  beeline::tracer t(cfg);
  { beeline::span root = t.start_trace("op"); }
  REQUIRE(t.flush_sync(std::chrono::seconds(10)).complete);
  CHECK(t.stats().exported == 1);
  t.shutdown(std::chrono::seconds(5));
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 1);
  return reqs[0];
}

std::string attribute(simdjson::dom::element attrs, std::string_view key) {
  for (simdjson::dom::element a : attrs.get_array()) {
    std::string_view k;
    if (a["key"].get_string().get(k) == simdjson::SUCCESS && k == key) return simdjson::minify(a["value"]);
  }
  return "";
}

reply ok(const recorded_request&) {
  return reply::with_status(200, "{}");
}

}  // namespace

TEST_CASE("otel env: OTEL_EXPORTER_OTLP_ENDPOINT is a base, /v1/traces is appended to its path") {
  loopback_server server(ok);
  const auto r = one_request(server, {{"OTEL_EXPORTER_OTLP_ENDPOINT", server.url() + "/collector/"}});
  CHECK(r.method == "POST");
  CHECK(r.target == "/collector/v1/traces");
  CHECK(r.header("Content-Type") == "application/x-protobuf");  // the specification's default protocol
}

TEST_CASE("otel env: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is, and wins over the base") {
  loopback_server server(ok);
  SECTION("with a path") {
    const auto r =
        one_request(server, {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", server.url() + "/custom/spans"},
                             {"OTEL_EXPORTER_OTLP_ENDPOINT", server.url() + "/base"}});
    CHECK(r.target == "/custom/spans");
  }
  SECTION("without a path: the root") {
    const auto r = one_request(server, {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", server.url()}});
    CHECK(r.target == "/");
  }
}

TEST_CASE("otel env: headers, protocol, compression and resource attributes reach the collector") {
  loopback_server server(ok);
  const auto r = one_request(
      server,
      {{"OTEL_TRACES_EXPORTER", "otlp"},
       {"OTEL_EXPORTER_OTLP_ENDPOINT", server.url()},
       {"OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=abc%20def, x-other = 1 "},
       {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"},
       {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
       {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
       {"OTEL_EXPORTER_OTLP_TIMEOUT", "5000"},
       {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod%2Ceu,service.name=ignored,team=a%3Db"}});
  CHECK(r.target == "/v1/traces");
  CHECK(r.header("x-honeycomb-team") == "abc def");
  CHECK(r.header("x-other") == "1");
  CHECK(r.header("Content-Type") == "application/json");  // the traces-specific variable wins
  CHECK(r.header("Content-Encoding") == "gzip");
}

TEST_CASE("otel env: resource attributes become the resource; the config's service name wins over them") {
  loopback_server server(ok);
  const auto r = one_request(
      server,
      {{"OTEL_EXPORTER_OTLP_ENDPOINT", server.url()},
       {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
       {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod%2Ceu, service.name=ignored ,team=a%3Db"}});
  simdjson::dom::parser parser;
  const simdjson::dom::element body = parser.parse(r.body);
  const simdjson::dom::element resource = body["resourceSpans"].at(0)["resource"]["attributes"];
  CHECK(attribute(resource, "service.name") == R"({"stringValue":"env-svc"})");
  CHECK(attribute(resource, "deployment.environment") == R"({"stringValue":"prod,eu"})");
  CHECK(attribute(resource, "team") == R"({"stringValue":"a=b"})");
}

TEST_CASE("otel env: headers that decode to bytes HTTP does not allow are skipped with a warning") {
  loopback_server server(ok);
  std::vector<std::string> warnings;
  const auto r =
      one_request(server,
                  {{"OTEL_EXPORTER_OTLP_ENDPOINT", server.url()},
                   {"OTEL_EXPORTER_OTLP_HEADERS", "x-a=1%0D%0AInjected: yes,bad%20name=2,x-b=ok%09tab"}},
                  &warnings);
  CHECK(r.header_count("Injected") == 0);
  CHECK(r.header_count("x-a") == 0);
  CHECK(r.header_count("bad name") == 0);
  CHECK(r.header("x-b") == "ok\ttab");
  CHECK(warnings.size() == 2);
}

TEST_CASE("otel env: a header the config sets is not sent a second time") {
  loopback_server server(ok);
  beeline::config cfg;
  cfg.logger = [](beeline::log_level, std::string_view) {};
  cfg.http.headers = {{"X-Team", "config"}};
  const std::map<std::string, std::string> vars{{"OTEL_EXPORTER_OTLP_ENDPOINT", server.url()},
                                                {"OTEL_EXPORTER_OTLP_HEADERS", "x-team=env,x-more=1"}};
  beeline::detail::apply_environment(
      cfg,
      [&](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
      },
      nullptr);
  beeline::tracer t(cfg);
  { beeline::span root = t.start_trace("op"); }
  REQUIRE(t.flush_sync(std::chrono::seconds(10)).complete);
  t.shutdown(std::chrono::seconds(5));
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].header_count("x-team") == 1);
  CHECK(reqs[0].header("x-team") == "config");
  CHECK(reqs[0].header("x-more") == "1");
}

TEST_CASE("otel env: OTEL_EXPORTER_OTLP_CERTIFICATE is the CA an https collector is verified with") {
  beeline::test::self_signed_certificate cert;
  loopback_server server(cert.files(), ok);
  const auto r = one_request(server, {{"OTEL_EXPORTER_OTLP_ENDPOINT", server.url()},
                                      {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", cert.files().cert_file}});
  CHECK(r.target == "/v1/traces");
  CHECK(server.handshake_failures() == 0);
}

TEST_CASE("otel env: OTEL_EXPORTER_OTLP_TIMEOUT bounds a request, and wins over OTEL_BSP_EXPORT_TIMEOUT") {
  loopback_server server([](const recorded_request&) { return reply::never(); });
  beeline::config cfg;
  cfg.logger = [](beeline::log_level, std::string_view) {};
  const std::map<std::string, std::string> vars{{"OTEL_EXPORTER_OTLP_ENDPOINT", server.url()},
                                                {"OTEL_EXPORTER_OTLP_TIMEOUT", "100"},
                                                {"OTEL_BSP_EXPORT_TIMEOUT", "60000"}};
  beeline::detail::apply_environment(
      cfg,
      [&](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
      },
      nullptr);
  CHECK(cfg.http.request_timeout == std::chrono::milliseconds(60000));  // for an exporter made from write_key
  const auto http = std::dynamic_pointer_cast<beeline::http_exporter>(cfg.exporter);
  REQUIRE(http);
  beeline::tracer t(cfg);
  { beeline::span root = t.start_trace("op"); }
  t.flush_sync(std::chrono::milliseconds(50));
  // The first attempt gives up after 100 ms (a 60 s timeout would keep it waiting).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (http->stats().timeouts == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(http->stats().timeouts >= 1);
  t.shutdown(std::chrono::milliseconds(200));
}
