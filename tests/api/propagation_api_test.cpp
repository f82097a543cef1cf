// Propagation through the tracer: one trace across two services, by each hook, with the dataset rule.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

using beeline::test::memory_tracer;

namespace {

constexpr const char* classic_key = "0123456789abcdef0123456789abcdef";
constexpr const char* modern_key = "hcaik_01j0000000000000000000000000000000000000000000000000000000";

beeline::config service(std::string name, std::string key = "", std::string dataset = "") {
  beeline::config cfg;
  cfg.service_name = std::move(name);
  cfg.write_key = std::move(key);
  cfg.dataset = std::move(dataset);
  cfg.logger = [](beeline::log_level, std::string_view) {};
  return cfg;
}

std::map<std::string, std::string> to_map(const beeline::propagation::header_list& headers) {
  return {headers.begin(), headers.end()};
}

// Service A makes a call inside span "call"; returns the headers it sends and the call's span id.
std::pair<beeline::propagation::header_list, std::string> call_from(memory_tracer& a) {
  beeline::span root = a.tracer.start_trace("frontend");
  beeline::add_trace_context({{"user", 7}});
  beeline::span call = beeline::start_span("call");
  const auto ctx = beeline::get_trace_context();
  REQUIRE(ctx);
  CHECK(ctx->parent_id == call.span_id());
  return {a.tracer.propagation_headers(*ctx), call.span_id()};
}

}  // namespace

TEST_CASE("propagation: one trace across two services through the default X-Honeycomb-Trace header") {
  memory_tracer a(service("a"));
  memory_tracer b(service("b"));
  const auto [headers, call_id] = call_from(a);
  REQUIRE(headers.size() == 1);
  CHECK(headers[0].first == "X-Honeycomb-Trace");

  const auto upstream = b.tracer.parse_trace_context(to_map(headers));
  REQUIRE(upstream);
  {
    beeline::span root = b.tracer.start_trace("backend", {}, *upstream);
    beeline::with_span("db", {}, [] {});
  }
  const auto a_events = a.events();
  const auto b_events = b.events();
  const auto& frontend = memory_tracer::by_name(a_events, "frontend");
  const auto& backend = memory_tracer::by_name(b_events, "backend");
  CHECK(backend.trace_id() == frontend.trace_id());
  CHECK(backend.parent_id() == call_id);
  CHECK(backend.span_type() == "subroot");
  // The upstream trace fields (already `app.`-prefixed) apply to every span downstream, unprefixed again.
  CHECK(backend.raw("app.user") == "7");
  CHECK(memory_tracer::by_name(b_events, "db").raw("app.user") == "7");
  CHECK(memory_tracer::by_name(b_events, "db").parent_id() == backend.span_id());
}

TEST_CASE("propagation: the dataset travels only between classic keys") {
  SECTION("classic: the downstream spans go to the upstream dataset") {
    memory_tracer a(service("a", classic_key, "ds-a"));
    memory_tracer b(service("b", classic_key, "ds-b"));
    CHECK(a.tracer.propagates_dataset());
    const auto [headers, call_id] = call_from(a);
    CHECK(headers[0].second.find(",dataset=ds-a,") != std::string::npos);
    const auto upstream = b.tracer.parse_trace_context(to_map(headers));
    REQUIRE(upstream);
    CHECK(upstream->dataset == "ds-a");
    { beeline::span root = b.tracer.start_trace("backend", {}, *upstream); }
    CHECK(memory_tracer::by_name(b.events(), "backend").dataset() == "ds-a");
  }
  SECTION("non-classic: no dataset is written, and one received is ignored") {
    memory_tracer a(service("a", modern_key));
    memory_tracer b(service("b", modern_key));
    CHECK_FALSE(a.tracer.propagates_dataset());
    const auto [headers, call_id] = call_from(a);
    CHECK(headers[0].second.find("dataset=") == std::string::npos);
    const std::map<std::string, std::string> with_dataset{
        {"x-honeycomb-trace", "1;trace_id=abc,parent_id=def,dataset=elsewhere,context=e30="}};
    const auto upstream = b.tracer.parse_trace_context(with_dataset);
    REQUIRE(upstream);
    CHECK(upstream->dataset.empty());
    { beeline::span root = b.tracer.start_trace("backend", {}, *upstream); }
    CHECK(memory_tracer::by_name(b.events(), "backend").dataset() == "b");
  }
}

TEST_CASE("propagation: W3C hooks carry ids, flags and tracestate through a service") {
  auto cfg = service("b");
  cfg.http_trace_parser_hook = beeline::w3c::parser_hook();
  cfg.http_trace_propagation_hook = beeline::w3c::propagation_hook();
  memory_tracer b(cfg);
  const std::vector<std::pair<std::string, std::string>> incoming{
      {"traceparent", "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-00"},
      {"tracestate", "rojo=00f067aa0ba902b7"},
      {"X-Honeycomb-Trace", "1;trace_id=ignored,parent_id=ignored"}};  // the W3C hook reads W3C only
  const auto upstream = b.tracer.parse_trace_context(incoming);
  REQUIRE(upstream);
  CHECK(upstream->trace_id == "7f042f75651d9782dcff93a45fa99be0");
  beeline::propagation::header_list outgoing;
  std::string call_id;
  {
    beeline::span root = b.tracer.start_trace("backend", {}, *upstream);
    beeline::span call = beeline::start_span("call");
    call_id = call.span_id();
    outgoing = b.tracer.propagation_headers(*beeline::get_trace_context());
  }
  const auto out = to_map(outgoing);
  REQUIRE(out.size() == 2);
  CHECK(out.at("traceparent") == "00-7f042f75651d9782dcff93a45fa99be0-" + call_id + "-00");
  CHECK(out.at("tracestate") == "rojo=00f067aa0ba902b7");
  CHECK(memory_tracer::by_name(b.events(), "backend").parent_id() == "c998e73e5420f609");
}

TEST_CASE("propagation: the AWS hook continues a trace with its custom fields") {
  auto cfg = service("b");
  cfg.http_trace_parser_hook = beeline::aws::parser_hook();
  memory_tracer b(cfg);
  const std::map<std::string, std::string> incoming{
      {"x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}};
  const auto upstream = b.tracer.parse_trace_context(incoming);
  REQUIRE(upstream);
  { beeline::span root = b.tracer.start_trace("backend", {}, *upstream); }
  const auto events = b.events();
  const auto& backend = memory_tracer::by_name(events, "backend");
  CHECK(backend.trace_id() == "1-5759e988-bd862e3fe1be46a994272793");
  CHECK(backend.parent_id() == "53995c3f42cd8ad8");
  CHECK(backend.str("Sampled") == "1");
}

TEST_CASE("propagation: hooks that throw fall back as the Beeline does, and are logged") {
  std::vector<std::string> logged;
  auto cfg = service("b");
  cfg.logger = [&](beeline::log_level, std::string_view m) { logged.emplace_back(m); };
  cfg.http_trace_parser_hook =
      [](const beeline::propagation::header_view&) -> std::optional<beeline::trace_context> {
    throw std::runtime_error("parser broke");
  };
  cfg.http_trace_propagation_hook = [](const beeline::trace_context&) -> beeline::propagation::header_list {
    throw std::runtime_error("propagation broke");
  };
  memory_tracer b(cfg);
  CHECK_FALSE(b.tracer.parse_trace_context(std::map<std::string, std::string>{{"traceparent", "x"}}));
  beeline::trace_context ctx;
  ctx.trace_id = "abc";
  ctx.parent_id = "def";
  const auto headers = b.tracer.propagation_headers(ctx);
  REQUIRE(headers.size() == 1);
  CHECK(headers[0] == std::pair<std::string, std::string>("X-Honeycomb-Trace",
                                                          "1;trace_id=abc,parent_id=def,context=e30="));
  REQUIRE(logged.size() == 2);
  CHECK(logged[0].find("parser broke") != std::string::npos);
  CHECK(logged[1].find("propagation broke") != std::string::npos);
}
