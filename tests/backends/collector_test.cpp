// The three signals sent to a real OpenTelemetry Collector, in both OTLP encodings with gzip: traces by the
// tracer's OTLP exporter, metrics and logs by the Highlight client. The collector's file exporter writes what
// it decoded as OTLP JSON, which is compared field by field with what was sent. Then the collector refusing
// (its memory_limiter) or gone (stopped mid-run): the exporter retries, and every span is still either
// exported or counted as dropped.
#include "backends/backend.hpp"
#include "backends/expected_trace.hpp"
#include "backends/otlp_json.hpp"

#include <beeline/beeline.hpp>
#include <beeline/highlight.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/tracer.hpp>

#include <simdjson.h>

#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <utility>

using namespace std::chrono_literals;
using beeline::test::hex_id;
using beeline::test::otlp_attribute;
using beeline::test::str;

namespace {

std::string protocol_name(beeline::otlp_protocol p) {
  return p == beeline::otlp_protocol::http_json ? "json" : "protobuf";
}

/// The collector's output, parsed: one document per line, and the signal arrays of each.
struct received {
  std::vector<std::unique_ptr<simdjson::dom::parser>> parsers;
  std::vector<simdjson::dom::element> resource_spans, resource_metrics, resource_logs;

  explicit received(const std::vector<std::string>& lines) {
    for (const auto& line : lines) {
      auto& p = parsers.emplace_back(std::make_unique<simdjson::dom::parser>());
      simdjson::dom::element root;
      if (p->parse(line).get(root) != simdjson::SUCCESS)
        FAIL("the collector wrote a line that is not JSON: " << line);
      simdjson::dom::element e;
      if (root["resourceSpans"].get(e) == simdjson::SUCCESS) resource_spans.push_back(e);
      if (root["resourceMetrics"].get(e) == simdjson::SUCCESS) resource_metrics.push_back(e);
      if (root["resourceLogs"].get(e) == simdjson::SUCCESS) resource_logs.push_back(e);
    }
  }

  /// Spans of `trace_id`.
  std::size_t spans_of(const std::string& trace_id) const {
    std::size_t n = 0;
    for (auto list : resource_spans)
      for (auto rs : list.get_array())
        for (auto ss : rs["scopeSpans"].get_array())
          for (auto s : ss["spans"].get_array())
            n += hex_id(s["traceId"]) == trace_id;
    return n;
  }

  /// Metric data points and log records under a resource of `service`.
  std::vector<std::pair<std::string, simdjson::dom::element>> points_of(const std::string& service) const {
    std::vector<std::pair<std::string, simdjson::dom::element>> out;
    for (auto list : resource_metrics)
      for (auto rm : list.get_array()) {
        if (otlp_attribute(rm["resource"]["attributes"], "service.name") !=
            R"({"stringValue":")" + service + "\"}")
          continue;
        for (auto sm : rm["scopeMetrics"].get_array())
          for (auto m : sm["metrics"].get_array())
            for (auto dp : m["gauge"]["dataPoints"].get_array())
              out.emplace_back(str(m["name"]), dp);
      }
    return out;
  }
  std::vector<simdjson::dom::element> logs_of(const std::string& service) const {
    std::vector<simdjson::dom::element> out;
    for (auto list : resource_logs)
      for (auto rl : list.get_array()) {
        if (otlp_attribute(rl["resource"]["attributes"], "service.name") !=
            R"({"stringValue":")" + service + "\"}")
          continue;
        for (auto sl : rl["scopeLogs"].get_array())
          for (auto r : sl["logRecords"].get_array())
            out.push_back(r);
      }
    return out;
  }
};

beeline::http_options quick_retries() {
  beeline::http_options h;
  h.gzip = true;
  h.connect_timeout = 2s;
  h.request_timeout = 5s;
  h.retry.max_attempts = 3;
  h.retry.initial_backoff = 10ms;
  h.retry.max_backoff = 40ms;
  return h;
}

}  // namespace

TEST_CASE("collector: traces, metrics and logs in both encodings with gzip arrive field by field",
          "[backends]") {
  beeline::test::collector c;
  struct sent_case {
    std::string service, highlight_service;
    beeline::test::sent_trace trace;
    std::string job_trace, job_span;  ///< the span the second log record was written in
  };
  std::vector<sent_case> sent;
  for (const auto protocol : {beeline::otlp_protocol::http_protobuf, beeline::otlp_protocol::http_json}) {
    sent_case s{
        "beeline-collector-" + protocol_name(protocol), "beeline-highlight-" + protocol_name(protocol), {}};
    CAPTURE(s.service);
    {
      beeline::otlp_exporter_options o;
      o.endpoint = c.otlp_endpoint();
      o.protocol = protocol;
      o.http.gzip = true;
      beeline::config cfg;
      cfg.service_name = s.service;
      cfg.exporter = beeline::make_otlp_exporter(o);
      beeline::tracer tracer(cfg);
      s.trace = beeline::test::send_test_trace(tracer);
      REQUIRE(tracer.flush_sync(10s).complete);
      CHECK(tracer.stats().exported == s.trace.spans.size() + 1);
      CHECK(tracer.stats().dropped() == 0);
    }
    {
      beeline::highlight::options ho;
      ho.otlp_endpoint = c.otlp_endpoint();
      ho.protocol = protocol;  // gzip is on by default
      ho.service_name = s.highlight_service;
      ho.project_id = "backend-tests";
      beeline::highlight::client h(ho);
      h.record_metric("sess-1", "queue.depth", 12.5, "req-1", {{"queue", "orders"}});
      h.record_metric("sess-1", "queue.depth", 7, "req-2", {{"queue", "orders"}, {"shard", 3}});
      h.log("payment refused", "warn", "sess-1", "req-1", {{"order", 42}, {"retry", true}});
      {
        beeline::span job = h.tracer().start_trace("job");
        s.job_trace = job.trace_id();
        s.job_span = job.span_id();
        h.log("job started", "info");  // tied to the span it is written in
      }
      REQUIRE(h.flush(10s).complete);
      const auto hs = h.stats();
      CHECK(hs.metrics_exported == 2);
      CHECK(hs.logs_exported == 2);
      CHECK(hs.metrics_dropped + hs.logs_dropped == 0);
    }
    sent.push_back(std::move(s));
  }

  // The file exporter writes what it received within its flush interval.
  const bool arrived = beeline::test::eventually(
      [&] {
        received r(c.output_lines());
        for (const auto& s : sent)
          if (r.spans_of(s.trace.trace_id) < s.trace.spans.size() ||
              r.points_of(s.highlight_service).size() < 2 || r.logs_of(s.highlight_service).size() < 2)
            return false;
        return true;
      },
      15s);
  const auto lines = c.output_lines();
  CAPTURE(lines.size());
  REQUIRE(arrived);
  received r(lines);
  for (const auto& s : sent) {
    CAPTURE(s.service);
    beeline::test::check_otlp_spans(r.resource_spans, s.trace, s.service);

    // The resource of metrics and logs: the service and Highlight's project.
    for (auto list : r.resource_metrics)
      for (auto rm : list.get_array())
        if (otlp_attribute(rm["resource"]["attributes"], "service.name") ==
            R"({"stringValue":")" + s.highlight_service + "\"}")
          CHECK(otlp_attribute(rm["resource"]["attributes"], "highlight.project_id") ==
                R"({"stringValue":"backend-tests"})");
    for (auto list : r.resource_logs)
      for (auto rl : list.get_array())
        if (otlp_attribute(rl["resource"]["attributes"], "service.name") ==
            R"({"stringValue":")" + s.highlight_service + "\"}")
          CHECK(otlp_attribute(rl["resource"]["attributes"], "highlight.project_id") ==
                R"({"stringValue":"backend-tests"})");

    // Metrics: two gauge points of one metric, with their tags and Highlight's ids as attributes.
    const auto points = r.points_of(s.highlight_service);
    REQUIRE(points.size() == 2);
    std::set<double> values;
    for (const auto& [name, dp] : points) {
      CHECK(name == "queue.depth");
      values.insert(dp["asDouble"].get_double().value());
      CHECK(otlp_attribute(dp["attributes"], "queue") == R"({"stringValue":"orders"})");
      CHECK(otlp_attribute(dp["attributes"], "highlight.session_id") == R"({"stringValue":"sess-1"})");
      CHECK(str(dp["timeUnixNano"]) != "0");
    }
    CHECK(values == std::set<double>{7.0, 12.5});
    for (const auto& [name, dp] : points)
      if (dp["asDouble"].get_double().value() == 7.0) {
        CHECK(otlp_attribute(dp["attributes"], "shard") == R"({"intValue":"3"})");
        CHECK(otlp_attribute(dp["attributes"], "highlight.trace_id") == R"({"stringValue":"req-2"})");
      }

    // Logs: severity, body, metadata and ids; the one written in a span carries its trace and span ids.
    auto logs = r.logs_of(s.highlight_service);
    REQUIRE(logs.size() == 2);
    if (str(logs[0]["body"]["stringValue"]) != "payment refused") std::swap(logs[0], logs[1]);
    simdjson::dom::element id;
    CHECK((logs[0]["traceId"].get(id) != simdjson::SUCCESS || hex_id(id).empty()));
    CHECK(simdjson::minify(logs[1]["body"]) == R"({"stringValue":"job started"})");
    CHECK(str(logs[1]["severityText"]) == "info");
    CHECK(hex_id(logs[1]["traceId"]) == s.job_trace);
    CHECK(hex_id(logs[1]["spanId"]) == s.job_span);
    CHECK(str(logs[0]["severityText"]) == "warn");
    CHECK(simdjson::minify(logs[0]["body"]) == R"({"stringValue":"payment refused"})");
    CHECK(otlp_attribute(logs[0]["attributes"], "order") == R"({"intValue":"42"})");
    CHECK(otlp_attribute(logs[0]["attributes"], "retry") == R"({"boolValue":true})");
    CHECK(otlp_attribute(logs[0]["attributes"], "highlight.session_id") == R"({"stringValue":"sess-1"})");
    CHECK(otlp_attribute(logs[0]["attributes"], "highlight.trace_id") == R"({"stringValue":"req-1"})");
  }
}

TEST_CASE(
    "collector: a memory_limiter refusing everything: each batch retried, then every span counted as "
    "dropped",
    "[backends]") {
  // A limit far below the collector's own heap: from its first check on, it refuses all data.
  beeline::test::collector c(/*memory_limit_mib=*/1);
  beeline::otlp_exporter_options o;
  o.endpoint = c.otlp_endpoint();
  o.http = quick_retries();
  // Until the limiter's first check, data passes: wait until a probe is refused.
  REQUIRE(beeline::test::eventually(
      [&] {
        beeline::config cfg;
        cfg.service_name = "beeline-limiter-probe";
        cfg.exporter = beeline::make_otlp_exporter(o);
        beeline::tracer probe(cfg);
        probe.start_trace("probe").finish();
        probe.flush_sync(5s);
        return probe.stats().dropped_exporter == 1;
      },
      15s));

  auto exporter = beeline::make_otlp_exporter(o);
  beeline::config cfg;
  cfg.service_name = "beeline-limiter";
  cfg.exporter = exporter;
  cfg.batch_size = 20;
  beeline::tracer tracer(cfg);
  std::string trace_id;
  constexpr int spans = 100;
  {
    auto root = tracer.start_trace("refused");
    trace_id = root.trace_id();
    for (int i = 0; i < spans - 1; ++i)
      beeline::start_span("child", {{"i", i}}).finish();
  }
  REQUIRE(tracer.flush_sync(30s).complete);
  const auto st = tracer.stats();
  const auto hs = exporter->stats();
  CAPTURE(hs.requests, hs.retries, hs.status_429, hs.status_5xx, hs.status_4xx, hs.batches, hs.events_failed);
  CHECK(st.enqueued == spans);
  CHECK(st.exported == 0);
  CHECK(st.dropped_exporter == spans);
  CHECK(st.exported + st.dropped() == spans);
  CHECK(hs.events_failed == spans);
  // Every batch was tried max_attempts times, each refused with 503 (the receiver's answer to a refusal that
  // may pass later), which the exporter retries.
  CHECK(hs.requests == hs.batches * 3);
  CHECK(hs.retries == hs.batches * 2);
  CHECK(hs.status_5xx == hs.requests);
  CHECK(received(c.output_lines()).spans_of(trace_id) == 0);
}

TEST_CASE("collector: stopped mid-run: what it took is in its output, the rest counted as dropped",
          "[backends]") {
  beeline::test::collector c;
  beeline::otlp_exporter_options o;
  o.endpoint = c.otlp_endpoint();
  o.protocol = beeline::otlp_protocol::http_json;
  o.http = quick_retries();
  auto exporter = beeline::make_otlp_exporter(o);
  beeline::config cfg;
  cfg.service_name = "beeline-stopped";
  cfg.exporter = exporter;
  beeline::tracer tracer(cfg);
  constexpr int before = 40, after = 30;
  std::string first_trace;
  {
    auto root = tracer.start_trace("before");
    first_trace = root.trace_id();
    for (int i = 0; i < before - 1; ++i)
      beeline::start_span("child", {{"i", i}}).finish();
  }
  REQUIRE(tracer.flush_sync(10s).complete);
  CHECK(tracer.stats().exported == before);

  REQUIRE(c.stop() == 0);  // SIGTERM: the collector flushes its file and exits
  CHECK(received(c.output_lines()).spans_of(first_trace) == before);

  {
    auto root = tracer.start_trace("after");
    for (int i = 0; i < after - 1; ++i)
      beeline::start_span("child", {{"i", i}}).finish();
  }
  REQUIRE(tracer.flush_sync(20s).complete);
  const auto st = tracer.stats();
  const auto hs = exporter->stats();
  CAPTURE(hs.requests, hs.retries, hs.connect_failures, hs.transport_errors, hs.batches);
  CHECK(st.enqueued == before + after);
  CHECK(st.exported == before);
  CHECK(st.dropped_exporter == after);
  CHECK(st.exported + st.dropped() == st.enqueued);
  CHECK(hs.events_failed == after);
  CHECK(hs.connect_failures + hs.transport_errors > 0);
  CHECK(hs.retries > 0);
}
