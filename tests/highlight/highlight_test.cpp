// The Highlight SDK against a loopback OTLP collector: the spans, events, attributes, metrics and logs that
// arrive for each call; the same calls compared with what the real @highlight-run/node sends
// (tests/interop/highlight/highlight_ref.js); source context at file edges, through a bounded cache, for
// missing files; throw-site stack traces; `wait_for_flush` by span name and at its deadline.
#include <beeline/asio/coro.hpp>
#include <beeline/asio/highlight.hpp>
#include <beeline/highlight.hpp>

#include "core/json.hpp"
#include "export_net/loopback_server.hpp"
#include "highlight/signals.hpp"
#include "highlight/source_context.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <simdjson.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace hl = beeline::highlight;
using beeline::test::loopback_server;
using beeline::test::recorded_request;
using beeline::test::reply;
using namespace std::chrono_literals;

namespace {

loopback_server ok_server() {
  return loopback_server([](const recorded_request&) { return reply::with_status(200, "{}"); });
}

hl::options options_for(const loopback_server& server) {
  hl::options o;
  o.project_id = "test-project";
  o.otlp_endpoint = server.url();
  o.protocol = beeline::otlp_protocol::http_json;  // the tests read the JSON bodies
  o.service_name = "hl-test";
  o.service_version = "1.2.3";
  o.environment = "test";
  o.send_interval = 50ms;
  o.http.retry.initial_backoff = 5ms;
  o.logger = [](beeline::log_level, std::string_view) {};
  return o;
}

// The bodies (gunzipped) of the requests to `path`.
std::vector<std::string> bodies(const loopback_server& server, std::string_view path) {
  std::vector<std::string> out;
  for (const recorded_request& r : server.requests())
    if (r.target == path) {
      CHECK(r.header("Content-Encoding") == "gzip");
      CHECK(r.header("Content-Type") == "application/json");
      out.push_back(beeline::test::gunzip(r.body));
    }
  return out;
}

// Attributes as key -> compact AnyValue JSON.
std::map<std::string, std::string> attrs(simdjson::dom::element list) {
  std::map<std::string, std::string> out;
  for (simdjson::dom::element a : list.get_array())
    out[std::string(a["key"].get_string().value())] = simdjson::minify(a["value"]);
  return out;
}

std::string str(std::string_view s) {
  return "{\"stringValue\":\"" + std::string(s) + "\"}";
}

struct span_view {
  std::string name;
  std::string trace_id, span_id, parent_id;
  std::map<std::string, std::string> attributes;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> events;
  std::map<std::string, std::string> resource;
  std::int64_t kind = 0;
  std::int64_t start_ns = 0, end_ns = 0;
  std::vector<std::pair<std::string, std::string>> links;  // trace id, span id
};

std::vector<span_view> spans_of(const loopback_server& server) {
  std::vector<span_view> out;
  for (const std::string& body : bodies(server, "/v1/traces")) {
    simdjson::dom::parser p;
    simdjson::dom::element root = p.parse(body);
    for (simdjson::dom::element rs : root["resourceSpans"].get_array()) {
      const auto resource = attrs(rs["resource"]["attributes"]);
      for (simdjson::dom::element ss : rs["scopeSpans"].get_array())
        for (simdjson::dom::element s : ss["spans"].get_array()) {
          span_view v;
          v.name = s["name"].get_string().value();
          v.trace_id = s["traceId"].get_string().value();
          v.span_id = s["spanId"].get_string().value();
          std::string_view parent;
          if (s["parentSpanId"].get_string().get(parent) == simdjson::SUCCESS) v.parent_id = parent;
          v.attributes = attrs(s["attributes"]);
          for (simdjson::dom::element e : s["events"].get_array())
            v.events.emplace_back(std::string(e["name"].get_string().value()), attrs(e["attributes"]));
          v.resource = resource;
          v.kind = s["kind"].get_int64().value();
          v.start_ns = std::stoll(std::string(s["startTimeUnixNano"].get_string().value()));
          v.end_ns = std::stoll(std::string(s["endTimeUnixNano"].get_string().value()));
          for (simdjson::dom::element l : s["links"].get_array())
            v.links.emplace_back(l["traceId"].get_string().value(), l["spanId"].get_string().value());
          out.push_back(std::move(v));
        }
    }
  }
  return out;
}

const span_view& named(const std::vector<span_view>& spans, std::string_view name) {
  for (const span_view& s : spans)
    if (s.name == name) return s;
  FAIL("no span named " << name);
  return spans.front();
}

std::map<std::string, std::string> object_map(simdjson::dom::element obj) {
  std::map<std::string, std::string> out;
  for (const auto member : obj.get_object())
    out[std::string(member.key)] = simdjson::minify(member.value);
  return out;
}

std::string json_string_value(const std::string& any) {  // {"stringValue":"..."} -> the string
  simdjson::dom::parser p;
  return std::string(p.parse(any)["stringValue"].get_string().value());
}

// A file of `n` lines "line <i>" in a fresh temporary directory.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/beeline-hl-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, int lines, bool final_newline = true, std::size_t pad = 0) {
    const auto p = path / name;
    std::ofstream out(p, std::ios::binary);
    for (int i = 1; i <= lines; ++i) {
      out << "line " << i << std::string(pad, 'x');
      if (i < lines || final_newline) out << '\n';
    }
    return p.string();
  }
};

std::string lines(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i)
    out += "line " + std::to_string(i) + "\n";
  return out;
}

[[gnu::noinline]] void throw_traced() {
  hl::throw_with_trace(std::runtime_error("thrown with its trace"));  // the throw site
}
constexpr int throw_line = __LINE__ - 2;

std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f))
    out.append(buf, n);
  CHECK(pclose(f) == 0);
  return out;
}

}  // namespace

TEST_CASE("highlight: consume_error sends a highlight.error span with an exception event") {
  loopback_server server = ok_server();
  hl::client c(options_for(server));
  c.consume_error(std::runtime_error("boom é ✓"), "sess-1", "req-1", {{"user.id", "u1"}, {"attempt", 3}});
  REQUIRE(c.flush(2s).complete);

  const auto spans = spans_of(server);
  REQUIRE(spans.size() == 1);
  const span_view& s = spans[0];
  CHECK(s.name == "highlight.error");
  CHECK(s.parent_id.empty());
  CHECK(s.resource.at("highlight.project_id") == str("test-project"));
  CHECK(s.resource.at("service.name") == str("hl-test"));
  CHECK(s.resource.at("service.version") == str("1.2.3"));
  CHECK(s.resource.at("deployment.environment") == str("test"));
  CHECK(s.attributes.at("user.id") == str("u1"));
  CHECK(s.attributes.at("attempt") == "{\"intValue\":\"3\"}");
  CHECK(s.attributes.at("highlight.session_id") == str("sess-1"));
  CHECK(s.attributes.at("highlight.trace_id") == str("req-1"));
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].first == "exception");
  const auto& ev = s.events[0].second;
  CHECK(ev.at("exception.type") == str("std::runtime_error"));
  CHECK(json_string_value(ev.at("exception.message")) == "boom é ✓");  // UTF-8 intact
  const std::string stack = json_string_value(ev.at("exception.stacktrace"));
  CHECK(stack.starts_with("std::runtime_error: boom é ✓\n    at "));
  // The call site is in this test (debug information is on in the test builds).
  CHECK(stack.find("highlight_test.cpp:") != std::string::npos);
  CHECK(c.stats().errors == 1);
}

TEST_CASE("highlight: a throw_with_trace exception reports its throw site, with the source lines around it") {
  loopback_server server = ok_server();
  hl::client c(options_for(server));
  try {
    throw_traced();
  } catch (const std::runtime_error& e) {  // caught as the type thrown
    const auto trace = hl::thrown_trace(e);
    REQUIRE(trace);
    const auto frames = trace->resolve();
    REQUIRE_FALSE(frames.empty());
    c.consume_error(e, "s", "r");
  }
  REQUIRE(c.flush(2s).complete);
  const auto spans = spans_of(server);
  REQUIRE(spans.size() == 1);
  const auto& ev = spans[0].events.at(0).second;
  CHECK(ev.at("exception.type") == str("std::runtime_error"));  // not the wrapper's type
  simdjson::dom::parser p;
  const std::string context = json_string_value(ev.at("exception.source_context"));
  simdjson::dom::element frames = p.parse(context);
  bool found = false;
  for (simdjson::dom::element f : frames.get_array()) {
    std::string_view file, content;
    std::int64_t line = 0;
    if (f["fileName"].get_string().get(file) != simdjson::SUCCESS || !file.ends_with("highlight_test.cpp"))
      continue;
    REQUIRE(f["lineNumber"].get_int64().get(line) == simdjson::SUCCESS);
    // The frame of throw_traced: the throw site's line (a return address can land on the next one).
    if (line < throw_line || line > throw_line + 1) continue;
    found = true;
    REQUIRE(f["lineContent"].get_string().get(content) == simdjson::SUCCESS);
    if (line == throw_line) CHECK(content.find("hl::throw_with_trace") != std::string_view::npos);
    std::string_view before;
    REQUIRE(f["linesBefore"].get_string().get(before) == simdjson::SUCCESS);
    CHECK(before.find("throw_traced()") != std::string_view::npos);
    break;
  }
  CHECK(found);
}

TEST_CASE("highlight: source context from explicit frames, correct at both edges of a file") {
  loopback_server server = ok_server();
  temp_dir dir;
  const std::string file = dir.write("src.cpp", 12);
  const std::string no_newline = dir.write("last.cpp", 3, false);

  hl::detail::source_context_cache cache(10);
  hl::stack_frame first{nullptr, "f", file, 1};
  REQUIRE(cache.fill(first));
  CHECK(first.line_content == "line 1\n");
  CHECK(first.lines_before.empty());
  CHECK(first.lines_after == lines(2, 6));

  hl::stack_frame third{nullptr, "f", file, 3};
  REQUIRE(cache.fill(third));
  CHECK(third.lines_before == lines(1, 2));
  CHECK(third.lines_after == lines(4, 8));

  hl::stack_frame middle{nullptr, "f", file, 7};
  REQUIRE(cache.fill(middle));
  CHECK(middle.lines_before == lines(2, 6));
  CHECK(middle.line_content == "line 7\n");
  CHECK(middle.lines_after == lines(8, 12));

  hl::stack_frame last{nullptr, "f", file, 12};
  REQUIRE(cache.fill(last));
  CHECK(last.lines_before == lines(7, 11));
  CHECK(last.line_content == "line 12\n");
  CHECK(last.lines_after.empty());  // the final newline ends line 12; it starts no line 13

  hl::stack_frame past{nullptr, "f", file, 13};
  CHECK_FALSE(cache.fill(past));
  CHECK(past.line_content.empty());

  hl::stack_frame unterminated{nullptr, "f", no_newline, 3};
  REQUIRE(cache.fill(unterminated));
  CHECK(unterminated.line_content == "line 3\n");
  CHECK(unterminated.lines_before == lines(1, 2));
  CHECK(cache.reads() == 2);  // one read per file, then the cache
  CHECK(cache.hits() == 4);

  // Through consume_error with frames the caller resolved.
  hl::client c(options_for(server));
  c.consume_error("parse_error", "bad token", {{nullptr, "parse", file, 12}, {nullptr, "main", file, 1}});
  REQUIRE(c.flush(2s).complete);
  const auto spans = spans_of(server);
  REQUIRE(spans.size() == 1);
  const auto& ev = spans[0].events.at(0).second;
  CHECK(ev.at("exception.type") == str("parse_error"));
  CHECK(json_string_value(ev.at("exception.stacktrace")) ==
        "parse_error: bad token\n    at parse (" + file + ":12)\n    at main (" + file + ":1)");
  simdjson::dom::parser p;
  const std::string context = json_string_value(ev.at("exception.source_context"));
  simdjson::dom::element frames = p.parse(context);
  CHECK(std::string_view(frames.at(0)["lineContent"].get_string().value()) == "line 12\n");
  CHECK(std::string_view(frames.at(0)["linesBefore"].get_string().value()) == lines(7, 11));
  CHECK(std::string_view(frames.at(0)["linesAfter"].get_string().value()).empty());
  CHECK(std::string_view(frames.at(1)["linesBefore"].get_string().value()).empty());
  CHECK(std::string_view(frames.at(1)["linesAfter"].get_string().value()) == lines(2, 6));
}

TEST_CASE("highlight: a missing or unreadable file gives no context and is read once") {
  temp_dir dir;
  hl::detail::source_context_cache cache(10);
  hl::stack_frame f{nullptr, "f", (dir.path / "gone.cpp").string(), 4};
  CHECK_FALSE(cache.fill(f));
  CHECK_FALSE(cache.fill(f));
  CHECK(f.line_content.empty());
  CHECK(cache.reads() == 1);  // cached as a miss
  CHECK(cache.files() == 1);

  hl::stack_frame directory{nullptr, "f", dir.path.string(), 1};
  CHECK_FALSE(cache.fill(directory));

  loopback_server server = ok_server();
  hl::client c(options_for(server));
  c.consume_error("io_error", "", {{nullptr, "read", (dir.path / "gone.cpp").string(), 4}});
  REQUIRE(c.flush(2s).complete);
  const auto spans = spans_of(server);
  REQUIRE(spans.size() == 1);
  const auto& ev = spans[0].events.at(0).second;
  CHECK(ev.count("exception.message") == 0);  // empty messages are left out, as Node does
  simdjson::dom::parser p;
  simdjson::dom::element frame = p.parse(json_string_value(ev.at("exception.source_context"))).at(0);
  std::string_view content;
  CHECK(frame["lineContent"].get_string().get(content) != simdjson::SUCCESS);
  CHECK(std::int64_t(frame["lineNumber"].get_int64().value()) == 4);
}

TEST_CASE("highlight: the source cache stays within its byte bound over many large files, least recent out") {
  temp_dir dir;
  std::vector<std::string> files;
  for (int i = 0; i < 30; ++i)  // ~ 200 KB each
    files.push_back(dir.write("big" + std::to_string(i) + ".cpp", 2000, true, 90));
  hl::detail::source_context_cache cache(1);  // 1 MB: four or five of them
  for (const std::string& f : files) {
    hl::stack_frame fr{nullptr, "f", f, 1000};
    REQUIRE(cache.fill(fr));
    CHECK(fr.line_content == "line 1000" + std::string(90, 'x') + "\n");
    CHECK(cache.bytes() <= 1'000'000);
  }
  CHECK(cache.files() >= 3);
  CHECK(cache.files() < 10);
  // The most recent is still there, the first was evicted.
  const auto reads = cache.reads();
  hl::stack_frame recent{nullptr, "f", files.back(), 5};
  REQUIRE(cache.fill(recent));
  CHECK(cache.reads() == reads);
  hl::stack_frame oldest{nullptr, "f", files.front(), 5};
  REQUIRE(cache.fill(oldest));
  CHECK(cache.reads() == reads + 1);
  CHECK(cache.bytes() <= 1'000'000);

  // A file larger than the whole bound is used but not kept.
  const std::string huge = dir.write("huge.cpp", 12000, true, 90);  // ~ 1.2 MB
  hl::stack_frame h{nullptr, "f", huge, 11999};
  REQUIRE(cache.fill(h));
  CHECK(h.lines_after == "line 12000" + std::string(90, 'x') + "\n");
  CHECK(cache.bytes() <= 1'000'000);

  // <= 0: no limit.
  hl::detail::source_context_cache unlimited(0);
  for (const std::string& f : files) {
    hl::stack_frame fr{nullptr, "f", f, 1};
    REQUIRE(unlimited.fill(fr));
  }
  CHECK(unlimited.files() == files.size());
  CHECK(unlimited.bytes() > 5'000'000);
}

TEST_CASE("highlight: lines longer than 1000 bytes are cut at a UTF-8 boundary") {
  temp_dir dir;
  const auto p = dir.path / "long.cpp";
  {
    std::ofstream out(p, std::ios::binary);
    out << std::string(999, 'a') << "é tail\nshort\n";  // é straddles byte 1000
  }
  hl::detail::source_context_cache cache(10);
  hl::stack_frame f{nullptr, "f", p.string(), 1};
  REQUIRE(cache.fill(f));
  CHECK(f.line_content == std::string(999, 'a') + "\n");
  CHECK(f.lines_after == "short\n");
}

TEST_CASE("highlight: record_metric sends a gauge data point to /v1/metrics with the Highlight attributes") {
  loopback_server server = ok_server();
  hl::client c(options_for(server));
  c.record_metric("sess-1", "latency_ms", 12.5, "req-1", {{"route", "/orders"}});
  c.record_metric("", "latency_ms", 7, "", {});
  c.record_metric("", "queue_depth", 3, "", {});
  c.record_metric("", "bad", std::nan(""), "", {});  // JSON cannot carry it: dropped, counted
  REQUIRE(c.flush(2s).complete);
  const auto b = bodies(server, "/v1/metrics");
  REQUIRE(b.size() == 1);
  simdjson::dom::parser p;
  simdjson::dom::element root = p.parse(b[0]);
  simdjson::dom::element rm = root["resourceMetrics"].at(0);
  CHECK(attrs(rm["resource"]["attributes"]).at("highlight.project_id") == str("test-project"));
  simdjson::dom::array metrics = rm["scopeMetrics"].at(0)["metrics"].get_array();
  REQUIRE(metrics.size() == 2);
  simdjson::dom::element latency = metrics.at(0);
  CHECK(std::string_view(latency["name"].get_string().value()) == "latency_ms");
  simdjson::dom::array points = latency["gauge"]["dataPoints"].get_array();
  REQUIRE(points.size() == 2);
  CHECK(double(points.at(0)["asDouble"].get_double().value()) == 12.5);
  const auto a = attrs(points.at(0)["attributes"]);
  CHECK(a.at("route") == str("/orders"));
  CHECK(a.at("highlight.session_id") == str("sess-1"));
  CHECK(a.at("highlight.trace_id") == str("req-1"));
  CHECK(attrs(points.at(1)["attributes"]).empty());
  CHECK(double(points.at(1)["asDouble"].get_double().value()) == 7);
  std::string_view t;
  CHECK(points.at(0)["timeUnixNano"].get_string().get(t) == simdjson::SUCCESS);
  CHECK(t.size() == 19);
  CHECK(std::string_view(metrics.at(1)["name"].get_string().value()) == "queue_depth");
  const auto s = c.stats();
  CHECK(s.metrics_enqueued == 3);
  CHECK(s.metrics_exported == 3);
  CHECK(s.metrics_dropped == 1);
}

TEST_CASE("highlight: log records go to /v1/logs, tied to the current span") {
  loopback_server server = ok_server();
  hl::client c(options_for(server));
  std::string trace_id, span_id;
  {
    beeline::span root = c.tracer().start_trace("request");
    trace_id = root.trace_id();
    span_id = root.span_id();
    c.log("loaded cart", "info", "sess-3", "req-3", {{"items", 4}});
  }
  c.log("outside", "warn");
  REQUIRE(c.flush(2s).complete);
  const auto b = bodies(server, "/v1/logs");
  REQUIRE(b.size() == 1);
  simdjson::dom::parser p;
  simdjson::dom::element rl = p.parse(b[0])["resourceLogs"].at(0);
  CHECK(attrs(rl["resource"]["attributes"]).at("highlight.project_id") == str("test-project"));
  simdjson::dom::array records = rl["scopeLogs"].at(0)["logRecords"].get_array();
  REQUIRE(records.size() == 2);
  simdjson::dom::element r0 = records.at(0);
  CHECK(std::string_view(r0["severityText"].get_string().value()) == "info");
  CHECK(std::string_view(r0["body"]["stringValue"].get_string().value()) == "loaded cart");
  CHECK(std::string_view(r0["traceId"].get_string().value()) == trace_id);
  CHECK(std::string_view(r0["spanId"].get_string().value()) == span_id);
  const auto a = attrs(r0["attributes"]);
  CHECK(a.at("items") == "{\"intValue\":\"4\"}");
  CHECK(a.at("highlight.session_id") == str("sess-3"));
  CHECK(a.at("highlight.trace_id") == str("req-3"));
  simdjson::dom::element r1 = records.at(1);
  CHECK(std::string_view(r1["severityText"].get_string().value()) == "warn");
  std::string_view none;
  CHECK(r1["traceId"].get_string().get(none) != simdjson::SUCCESS);
  CHECK(c.stats().logs_exported == 2);
}

TEST_CASE("highlight: parse_headers reads x-highlight-request from any container; malformed gives nothing") {
  const std::map<std::string, std::string> m{{"X-Highlight-Request", "1234/5678"}};
  auto ids = hl::parse_headers(m);
  CHECK(ids.secure_session_id == "1234");
  CHECK(ids.request_id == "5678");
  const std::vector<std::pair<std::string, std::string>> v{{"x-highlight-request", "abc/def"}};
  CHECK(beeline::H::parse_headers(v) == hl::request_ids{"abc", "def"});
  for (const char* bad : {"not valid!", "1234/", "/5678", "a/b/c", ""}) {
    const std::map<std::string, std::string> h{{"x-highlight-request", bad}};
    CHECK(hl::parse_headers(h) == hl::request_ids{});
  }
  CHECK(hl::parse_headers(std::map<std::string, std::string>{}) == hl::request_ids{});
}

TEST_CASE("highlight: run_with_headers puts the session and request ids on every span of its trace") {
  loopback_server server = ok_server();
  hl::client c(options_for(server));
  const std::map<std::string, std::string> headers{
      {"x-highlight-request", "sess-2/req-2"},
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  const int v = c.run_with_headers(headers, [&](beeline::span&) {
    beeline::span child = beeline::start_span("load");
    beeline::span grandchild = beeline::start_span("query");
    return 42;
  });
  CHECK(v == 42);
  // Without a traceparent: a new trace, ids still on it.
  const std::map<std::string, std::string> only_ids{{"x-highlight-request", "sess-4/req-4"}};
  hl::started_span s = c.start_with_headers("custom", only_ids);
  CHECK(s.context.trace_id.size() == 32);
  CHECK(s.context.parent_id == s.span.span_id());
  { beeline::span inner = beeline::start_span("inner"); }
  s.span.finish();
  REQUIRE(c.flush(2s).complete);

  const auto spans = spans_of(server);
  REQUIRE(spans.size() == 5);
  const span_view& ctx = named(spans, "highlight-ctx");
  CHECK(ctx.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");  // continues the W3C trace
  CHECK(ctx.parent_id == "00f067aa0ba902b7");
  for (const char* name : {"highlight-ctx", "load", "query"}) {
    const span_view& sp = named(spans, name);
    CHECK(sp.trace_id == ctx.trace_id);
    CHECK(sp.attributes.at("highlight.session_id") == str("sess-2"));
    CHECK(sp.attributes.at("highlight.trace_id") == str("req-2"));
  }
  CHECK(named(spans, "load").parent_id == ctx.span_id);
  CHECK(named(spans, "query").parent_id == named(spans, "load").span_id);
  CHECK(named(spans, "custom").parent_id.empty());
  CHECK(named(spans, "inner").attributes.at("highlight.session_id") == str("sess-4"));
  CHECK(named(spans, "inner").trace_id == named(spans, "custom").trace_id);
}

TEST_CASE("highlight: start_with_headers takes span options: kind, links, start time, and root") {
  loopback_server server = ok_server();
  hl::client c(options_for(server));
  const std::map<std::string, std::string> headers{
      {"x-highlight-request", "sess-5/req-5"},
      {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  const std::array<beeline::span_link, 1> links{{{"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"}}};
  const auto started = std::chrono::system_clock::now() - 2s;
  {
    hl::started_span s =
        c.start_with_headers("with-options", headers, {{"k", 1}},
                             {.kind = beeline::span_kind::server, .links = links, .start_time = started});
    s.span.finish();
  }
  {
    hl::started_span s = c.start_with_headers("as-root", headers, {}, {.root = true});
    CHECK(s.context.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736");
    s.span.finish();
  }
  {  // Inside the request's trace, with no headers: root leaves the current trace too.
    hl::started_span outer = c.start_with_headers("outer", headers);
    const std::map<std::string, std::string> none;
    hl::started_span inner =
        c.start_with_headers("inner-root", none, {}, {.kind = beeline::span_kind::consumer, .root = true});
    CHECK(inner.context.trace_id != outer.context.trace_id);
  }
  REQUIRE(c.flush(2s).complete);
  const auto spans = spans_of(server);
  const span_view& opts = named(spans, "with-options");
  CHECK(opts.kind == 2);
  CHECK(opts.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");  // options without root continue the trace
  CHECK(opts.parent_id == "00f067aa0ba902b7");
  REQUIRE(opts.links.size() == 1);
  CHECK(opts.links[0] ==
        std::pair<std::string, std::string>{"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"});
  const auto want_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(started.time_since_epoch()).count();
  CHECK(std::llabs(opts.start_ns - want_ns) < 50'000'000);
  CHECK(opts.end_ns - opts.start_ns >= 1'950'000'000);
  CHECK(opts.attributes.at("highlight.session_id") == str("sess-5"));
  const span_view& root = named(spans, "as-root");
  CHECK(root.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(root.parent_id.empty());
  CHECK(root.attributes.at("highlight.session_id") == str("sess-5"));  // the request's ids still go on it
  CHECK(root.kind == 1);
  const span_view& inner = named(spans, "inner-root");
  CHECK(inner.kind == 5);
  CHECK(inner.parent_id.empty());
  CHECK(inner.trace_id != named(spans, "outer").trace_id);
}

namespace {
// wait_for_flush takes span names as separate arguments inside co_await; a braced list does not compile.
using deadline_t = std::chrono::steady_clock::time_point;
template <class D>
concept braced_names = requires(hl::client& c, D d) {
  hl::wait_for_flush(c, {"a", "b"}, d);
};
template <class D>
concept braced_names_h = requires(D d) {
  beeline::H::wait_for_flush({"a"}, d);
};
template <class D>
concept separate_names = requires(hl::client& c, D d, std::string s) {
  hl::wait_for_flush(c, d, "a", s, std::string_view("c"));
  beeline::H::wait_for_flush(d, "a", s);
  beeline::H::wait_for_flush(d);
};
static_assert(!braced_names<deadline_t>);
static_assert(!braced_names_h<deadline_t>);
static_assert(separate_names<deadline_t>);
}  // namespace

TEST_CASE("highlight: co_await run_with_headers and wait_for_flush by span name") {
  loopback_server server = ok_server();
  auto opts = options_for(server);
  opts.send_interval = std::chrono::hours(1);  // only a flush or wait sends
  hl::client c(opts);
  asio::io_context ioc;
  hl::wait_for_flush_result waited;
  std::chrono::steady_clock::duration took{};
  int value = 0;
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> asio::awaitable<void> {
        const std::map<std::string, std::string> headers{{"x-highlight-request", "sess-5/req-5"}};
        auto work = [&]() -> asio::awaitable<int> {
          beeline::span s = beeline::start_span("work");
          co_return 7;
        };
        auto aw = hl::run_with_headers(c, headers, work());
        value = co_await std::move(aw);
        // The factory form: the span is handed to the work.
        auto factory = [&](beeline::span& s) -> asio::awaitable<int> {
          s.add_field("factory", true);
          co_return 1;
        };
        static_assert(hl::detail::awaitable_factory<decltype(factory)>);
        static_assert(!hl::detail::synchronous_work<decltype(factory)>);
        auto aw2 = hl::run_with_headers(c, headers, factory);
        value += co_await std::move(aw2);
        const auto start = std::chrono::steady_clock::now();
        // The names as separate arguments: no braced list inside the co_await expression (GCC 12).
        waited = co_await hl::wait_for_flush(c, start + 1500ms, "highlight-ctx", "work");
        took = std::chrono::steady_clock::now() - start;
      },
      asio::detached);
  ioc.run();
  CHECK(value == 8);
  CHECK(waited.complete);
  CHECK(took < 1s);
  CHECK(std::find(waited.exported_names.begin(), waited.exported_names.end(), "highlight-ctx") !=
        waited.exported_names.end());
  const auto spans = spans_of(server);
  REQUIRE(spans.size() == 3);
  CHECK(named(spans, "work").attributes.at("highlight.trace_id") == str("req-5"));
  std::size_t with_factory_field = 0;
  for (const span_view& s : spans)
    if (s.name == "highlight-ctx" && s.attributes.count("factory")) ++with_factory_field;
  CHECK(with_factory_field == 1);
  CHECK(named(spans, "work").parent_id == named(spans, "highlight-ctx").span_id);
}

TEST_CASE("highlight: wait_for_flush for a span name that never comes completes at its deadline") {
  loopback_server server = ok_server();
  hl::client c(options_for(server));
  asio::io_context ioc;
  hl::wait_for_flush_result waited{true, {}};
  std::chrono::steady_clock::duration took{};
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> asio::awaitable<void> {
        { beeline::span s = c.tracer().start_trace("arrives"); }
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::string> names{"never-sent"};  // the named-vector form
        waited = co_await hl::wait_for_flush(c, std::move(names), start + 300ms);
        took = std::chrono::steady_clock::now() - start;
      },
      asio::detached);
  ioc.run();
  CHECK_FALSE(waited.complete);
  CHECK(took >= 290ms);
  CHECK(took < 1s);

  // The blocking form, and a future.
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(c.wait_for_flush_sync({"never-sent"}, 200ms).complete);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  asio::io_context ioc2;
  auto fut = hl::wait_for_flush(c, std::vector<std::string>{"never-sent"},
                                std::chrono::steady_clock::now() + 100ms, asio::use_future);
  ioc2.run();
  CHECK_FALSE(fut.get().complete);
}

TEST_CASE("highlight: H is one process-wide client; init twice keeps the first; nothing before init") {
  loopback_server server = ok_server();
  REQUIRE_FALSE(beeline::H::is_initialized());
  beeline::H::record_metric("s", "before_init", 1);  // does nothing, never crashes
  beeline::H::consume_error(std::runtime_error("before init"));
  CHECK_FALSE(beeline::H::start_with_headers("x", std::map<std::string, std::string>{}).span.valid());
  CHECK(beeline::H::run_with_headers(std::map<std::string, std::string>{}, [] { return 3; }) == 3);

  auto opts = options_for(server);
  CHECK(beeline::H::init(opts));
  CHECK(beeline::H::is_initialized());
  opts.project_id = "other";
  CHECK_FALSE(beeline::H::init(opts));
  CHECK(beeline::H::instance()->settings().project_id == "test-project");
  beeline::H::consume_error(std::make_exception_ptr(42), "sess", "req");  // not a std::exception
  {  // the awaitable forms of H::run_with_headers: an awaitable, and a factory taking the span
    asio::io_context ioc;
    int got = 0;
    beeline::spawn(
        ioc.get_executor(),
        [&]() -> asio::awaitable<void> {
          const std::map<std::string, std::string> headers{{"x-highlight-request", "sess/req"}};
          auto body = []() -> asio::awaitable<int> { co_return 1; };
          auto aw = beeline::H::run_with_headers(headers, body());
          got += co_await std::move(aw);
          auto factory = [](beeline::span&) -> asio::awaitable<int> { co_return 2; };
          auto aw2 = beeline::H::run_with_headers(headers, factory);
          got += co_await std::move(aw2);
        },
        asio::detached);
    ioc.run();
    CHECK(got == 3);
  }
  beeline::H::log("hello", "info");
  CHECK(beeline::H::flush(2s).complete);
  CHECK(beeline::H::stop(2s).complete);
  CHECK_FALSE(beeline::H::is_initialized());

  const auto spans = spans_of(server);
  REQUIRE(spans.size() == 3);
  const span_view& error = named(spans, "highlight.error");
  CHECK(error.events.at(0).second.at("exception.type") == str("int"));
  CHECK(error.resource.at("highlight.project_id") == str("test-project"));
  CHECK(named(spans, "highlight-ctx").attributes.at("highlight.session_id") == str("sess"));
  CHECK(bodies(server, "/v1/logs").size() == 1);

  hl::options bad;
  bad.otlp_endpoint = "ftp://nowhere";
  bad.logger = [](beeline::log_level, std::string_view) {};
  CHECK_FALSE(beeline::H::init(bad));
  CHECK_FALSE(beeline::H::is_initialized());
}

TEST_CASE("highlight: H::init refuses a bad endpoint or CA file as beeline::init does, saying why") {
  REQUIRE_FALSE(beeline::H::is_initialized());
  const auto refused = [](hl::options o, const std::string& why) {
    CAPTURE(why);
    std::vector<std::string> errors;
    o.logger = [&](beeline::log_level level, std::string_view m) {
      if (level == beeline::log_level::error) errors.emplace_back(m);
    };
    CHECK_FALSE(beeline::H::init(o));
    CHECK_FALSE(beeline::H::is_initialized());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == "init failed: " + why);
    CHECK_THROWS_AS(beeline::H::init_or_throw(o), std::invalid_argument);
    CHECK_THROWS_WITH(beeline::H::init_or_throw(o), why);
    CHECK_FALSE(beeline::H::is_initialized());
  };
  hl::options o;
  o.project_id = "p";
  o.otlp_endpoint = "otel.highlight.io:4318";
  refused(o, "Highlight: bad otlp_endpoint: no scheme in URL 'otel.highlight.io:4318'");
  o.otlp_endpoint = "https://127.0.0.1:9";
  o.http.ca_file = "/nonexistent-dir/ca.pem";
  refused(o, "OTLP exporter: cannot read CA file /nonexistent-dir/ca.pem: No such file or directory");
}

TEST_CASE("highlight: a down collector costs the caller nothing and is counted; a full queue drops") {
  auto opts = options_for(ok_server());  // the server is gone once this line ends
  opts.otlp_endpoint = "http://127.0.0.1:" + std::to_string(beeline::test::unused_port());
  opts.http.retry.max_attempts = 1;
  opts.signal_queue_capacity = 4;
  opts.send_interval = std::chrono::hours(1);
  hl::client c(opts);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i)
    c.record_metric("", "m", i);
  CHECK(std::chrono::steady_clock::now() - start < 100ms);
  CHECK(c.stats().metrics_dropped == 6);
  c.flush(2s);
  const auto s = c.stats();
  CHECK(s.metrics_enqueued == 4);
  CHECK(s.metrics_exported == 0);
  CHECK(s.metrics_dropped == 10);  // 6 refused, 4 failed to send
}

TEST_CASE("highlight: the same calls send what @highlight-run/node sends (normalized)") {
  // Node's side: the real SDK against its own loopback collector.
  const std::string node = BEELINE_NODE_EXECUTABLE;
  const std::string script = BEELINE_HIGHLIGHT_REF_SCRIPT;
  const std::string reference = run_command("'" + node + "' '" + script + "' capture");
  REQUIRE_FALSE(reference.empty());

  // Ours: the same calls (see highlight_ref.js `run`).
  loopback_server server = ok_server();
  {
    hl::options o = options_for(server);
    o.project_id = "interop-project";
    o.service_name = "interop-service";
    o.service_version = "1.2.3";
    o.environment = "test";
    hl::client c(o);
    c.consume_error(std::runtime_error("boom é ✓"), "sess-1", "req-1", {{"user.id", "u1"}, {"attempt", 3}});
    c.record_metric("", "latency_ms", 12.5, "", {{"route", "/orders"}});
    const std::map<std::string, std::string> headers{{"x-highlight-request", "sess-2/req-2"}};
    c.run_with_headers(headers, [&] { c.log("loaded cart", "info", "sess-3", "req-3", {{"items", "4"}}); });
    REQUIRE(c.flush(2s).complete);
  }
  temp_dir dir;
  const auto dump = dir.path / "ours.json";
  {
    std::string json = "[";
    for (const recorded_request& r : server.requests()) {
      if (json.size() > 1) json += ",";
      json += "{\"path\":";
      beeline::detail::append_json_string(json, r.target);
      json += ",\"body\":";
      beeline::detail::append_json_string(json, beeline::test::gunzip(r.body));
      json += "}";
    }
    json += "]";
    std::ofstream(dump) << json;
  }
  const std::string ours = run_command("'" + node + "' '" + script + "' normalize '" + dump.string() + "'");

  simdjson::dom::parser pn, po;
  simdjson::dom::element n = pn.parse(reference);
  simdjson::dom::element o = po.parse(ours);
  INFO("node: " << reference);
  INFO("ours: " << ours);
  CHECK(bool(n["gzip"].get_bool().value()));
  CHECK(simdjson::minify(n["paths"]) == R"(["/v1/logs","/v1/metrics","/v1/traces"])");

  // The resource attributes Highlight reads: identical.
  CHECK(object_map(o["resource"]) == object_map(n["resource"]));

  // Spans: the same names, kinds, parents, statuses, attributes and events, but for the documented
  // differences.
  simdjson::dom::array node_spans = n["spans"].get_array();
  simdjson::dom::array our_spans = o["spans"].get_array();
  REQUIRE(node_spans.size() == 2);
  REQUIRE(our_spans.size() == node_spans.size());
  for (std::size_t i = 0; i < node_spans.size(); ++i) {
    simdjson::dom::element ns = node_spans.at(i);
    simdjson::dom::element os = our_spans.at(i);
    CHECK(simdjson::minify(os["name"]) == simdjson::minify(ns["name"]));
    CHECK(simdjson::minify(os["kind"]) == simdjson::minify(ns["kind"]));
    CHECK(simdjson::minify(os["parent"]) == simdjson::minify(ns["parent"]));
    CHECK(simdjson::minify(os["status"]) == simdjson::minify(ns["status"]));
    auto oa = object_map(os["attributes"]);
    // Difference: the request id travels as `highlight.trace_id` (Highlight's backend links errors and
    // spans to requests by it; @highlight-run/node 3.12 stopped sending it).
    CHECK(oa.erase("highlight.trace_id") == 1);
    CHECK(oa == object_map(ns["attributes"]));
    simdjson::dom::array nev = ns["events"].get_array();
    simdjson::dom::array oev = os["events"].get_array();
    REQUIRE(oev.size() == nev.size());
    for (std::size_t k = 0; k < nev.size(); ++k) {
      CHECK(simdjson::minify(oev.at(k)["name"]) == simdjson::minify(nev.at(k)["name"]));
      auto ne = object_map(nev.at(k)["attributes"]);
      auto oe = object_map(oev.at(k)["attributes"]);
      // Difference: the frames with their source lines, which Node 3.x no longer sends.
      CHECK(oe.erase("exception.source_context") == 1);
      // The type is the language's own: JavaScript's `Error`, C++'s demangled `std::runtime_error`.
      CHECK(ne.at("exception.type") == R"({"stringValue":"Error"})");
      CHECK(oe.at("exception.type") == R"({"stringValue":"std::runtime_error"})");
      ne.erase("exception.type");
      oe.erase("exception.type");
      CHECK(oe == ne);  // message (non-ASCII intact) and "<stack>"
    }
  }

  // Metrics: identical.
  CHECK(simdjson::minify(o["metrics"]) == simdjson::minify(n["metrics"]));

  // Logs: severity, body, the span they belong to; attributes but for the documented differences.
  simdjson::dom::array node_logs = n["logs"].get_array();
  simdjson::dom::array our_logs = o["logs"].get_array();
  REQUIRE(node_logs.size() == 1);
  REQUIRE(our_logs.size() == 1);
  simdjson::dom::element nl = node_logs.at(0);
  simdjson::dom::element ol = our_logs.at(0);
  CHECK(simdjson::minify(ol["severity"]) == simdjson::minify(nl["severity"]));
  CHECK(simdjson::minify(ol["body"]) == simdjson::minify(nl["body"]));
  CHECK(simdjson::minify(ol["span"]) == R"("highlight-ctx")");
  CHECK(simdjson::minify(ol["span"]) == simdjson::minify(nl["span"]));
  auto nla = object_map(nl["attributes"]);
  auto ola = object_map(ol["attributes"]);
  // Differences: Node attaches the JavaScript stack of the `log` call (JSON-encoded twice); we attach no
  // stack to logs. We send the request id as `highlight.trace_id`.
  CHECK(nla.erase("exception.stacktrace") == 1);
  CHECK(ola.erase("highlight.trace_id") == 1);
  CHECK(ola == nla);
}

TEST_CASE("highlight: metrics and logs follow the exporter's retry rules (503 retried, 400 not)") {
  std::atomic<int> metrics_requests{0};
  loopback_server server([&](const recorded_request& r) {
    if (r.target == "/v1/metrics" && metrics_requests.fetch_add(1) == 0) return reply::with_status(503);
    if (r.target == "/v1/logs") return reply::with_status(400, "bad request");
    return reply::with_status(200, "{}");
  });
  hl::client c(options_for(server));
  c.record_metric("", "retried", 1);
  c.log("refused", "info");
  REQUIRE(c.flush(2s).complete);
  CHECK(bodies(server, "/v1/metrics").size() == 2);  // the 503, then the same body again
  CHECK(bodies(server, "/v1/logs").size() == 1);     // a 400 is not retried
  const auto s = c.stats();
  CHECK(s.metrics_exported == 1);
  CHECK(s.logs_exported == 0);
  CHECK(s.logs_dropped == 1);
}

TEST_CASE("highlight: failed metric and log sends are logged like span export failures, with the reason") {
  loopback_server server([](const recorded_request& r) {
    if (r.target == "/v1/traces") return reply::with_status(200, "{}");
    return reply::with_status(500, "collector broke");
  });
  auto lines = std::make_shared<std::vector<std::string>>();
  auto m = std::make_shared<std::mutex>();
  auto opts = options_for(server);
  opts.logger = [lines, m](beeline::log_level, std::string_view what) {
    std::lock_guard lk(*m);
    lines->emplace_back(what);
  };
  hl::client c(opts);
  c.record_metric("", "m", 1);
  c.log("hello", "info");
  c.flush(2s);
  CHECK(c.stats().metrics_dropped == 1);
  CHECK(c.stats().logs_dropped == 1);
  std::lock_guard lk(*m);
  const auto has = [&](std::string_view text) {
    return std::any_of(lines->begin(), lines->end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  std::string all;
  for (const auto& l : *lines)
    all += l + "\n";
  INFO(all);
  CHECK(has("highlight dropped 1 metric data points: HTTP 500: collector broke"));
  CHECK(has("highlight dropped 1 log records: HTTP 500: collector broke"));
}

TEST_CASE(
    "highlight: traces, metrics and logs go as OTLP protobuf by default; the official schema reads them") {
  // A partial success for the metrics: one data point refused, as a collector would say it in protobuf
  // (ExportMetricsServiceResponse{partial_success{rejected_data_points: 1, error_message: "x"}}).
  loopback_server server([](const recorded_request& r) {
    if (r.target == "/v1/metrics")
      return reply::with_status(200, std::string("\x0a\x05\x08\x01\x12\x01x", 7));
    return reply::with_status(200, "");
  });
  hl::options o = options_for(server);
  o.protocol = hl::options{}.protocol;  // the default
  CHECK(o.protocol == beeline::otlp_protocol::http_protobuf);
  std::vector<std::string> logged;
  std::mutex log_mutex;
  o.logger = [&](beeline::log_level, std::string_view what) {
    std::lock_guard lock(log_mutex);
    logged.emplace_back(what);
  };
  {
    hl::client c(o);
    { beeline::span root = c.tracer().start_trace("proto-request"); }
    c.record_metric("sess-9", "latency_ms", 12.5, "req-9", {{"route", "/orders"}});
    c.record_metric("", "latency_ms", 3, "", {});
    c.log("loaded cart", "info", "sess-9", "req-9", {{"items", 4}});
    REQUIRE(c.flush(2s).complete);
    const auto s = c.stats();
    CHECK(s.metrics_exported == 1);
    CHECK(s.metrics_dropped == 1);  // the refused point, counted
    CHECK(s.logs_exported == 1);
  }
  {
    std::lock_guard lock(log_mutex);
    CHECK(std::any_of(logged.begin(), logged.end(), [](const std::string& l) {
      return l.find("OTLP partial success: 1 rejected: x") != std::string::npos;
    }));
  }
  // Each body decoded by opentelemetry-proto's generated classes (tests/interop/otlp_proto_decode.py).
  std::string venv_python = run_command("sh '" BEELINE_OTLP_PYTHON_SETUP "'");
  while (!venv_python.empty() && venv_python.back() == '\n')
    venv_python.pop_back();
  temp_dir dir;
  const std::map<std::string, std::string> signals = {
      {"/v1/traces", "traces"}, {"/v1/metrics", "metrics"}, {"/v1/logs", "logs"}};
  std::map<std::string, std::string> decoded;
  for (const recorded_request& r : server.requests()) {
    CHECK(r.header("Content-Type") == "application/x-protobuf");
    CHECK(r.header("Content-Encoding") == "gzip");
    const auto signal = signals.find(r.target);
    REQUIRE(signal != signals.end());
    const auto file = dir.path / (signal->second + ".pb");
    std::ofstream(file, std::ios::binary) << beeline::test::gunzip(r.body);
    decoded[signal->second] += run_command(venv_python + " '" BEELINE_OTLP_PROTO_DECODE "' decode " +
                                           signal->second + " '" + file.string() + "'");
  }
  REQUIRE(decoded.size() == 3);
  simdjson::dom::parser p;
  simdjson::dom::element span =
      p.parse(decoded["traces"])["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"].at(0);
  CHECK(std::string_view(span["name"].get_string().value()) == "proto-request");
  simdjson::dom::parser pm;
  simdjson::dom::element rm = pm.parse(decoded["metrics"])["resourceMetrics"].at(0);
  CHECK(attrs(rm["resource"]["attributes"]).at("highlight.project_id") == str("test-project"));
  simdjson::dom::element metric = rm["scopeMetrics"].at(0)["metrics"].at(0);
  CHECK(std::string_view(metric["name"].get_string().value()) == "latency_ms");
  simdjson::dom::element point = metric["gauge"]["dataPoints"].at(0);
  CHECK(double(point["asDouble"].get_double().value()) == 12.5);
  CHECK(attrs(point["attributes"]).at("highlight.session_id") == str("sess-9"));
  simdjson::dom::parser pl;
  simdjson::dom::element record =
      pl.parse(decoded["logs"])["resourceLogs"].at(0)["scopeLogs"].at(0)["logRecords"].at(0);
  CHECK(std::string_view(record["body"]["stringValue"].get_string().value()) == "loaded cart");
  CHECK(attrs(record["attributes"]).at("items") == "{\"intValue\":\"4\"}");
}

TEST_CASE("highlight: a JSON partial success for logs counts the refused records") {
  loopback_server server([](const recorded_request& r) {
    if (r.target == "/v1/logs")
      return reply::with_status(200,
                                R"({"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}})");
    return reply::with_status(200, "{}");
  });
  hl::client c(options_for(server));
  for (int i = 0; i < 3; ++i)
    c.log("line " + std::to_string(i), "info");
  REQUIRE(c.flush(2s).complete);
  const auto s = c.stats();
  CHECK(s.logs_exported == 1);
  CHECK(s.logs_dropped == 2);
}
