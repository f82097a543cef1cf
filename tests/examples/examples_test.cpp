// The examples, run as a user runs them: their output parsed, their traces checked, and the HTTP server
// stopped with SIGTERM under load while it sends its spans to a loopback Honeycomb-compatible sink.
#include "../export_net/loopback_server.hpp"
#include "child_process.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <simdjson.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using beeline::test::child_process;
using namespace std::chrono_literals;

namespace {

/// One span: its data fields as strings (strings unquoted, other JSON as text).
using span_fields = std::map<std::string, std::string>;

span_fields fields_of(simdjson::dom::object data) {
  span_fields out;
  for (auto [key, val] : data) {
    std::string_view s;
    if (val.get_string().get(s) == simdjson::SUCCESS)
      out[std::string(key)] = std::string(s);
    else
      out[std::string(key)] = simdjson::minify(val);
  }
  return out;
}

/// The spans of JSON-lines output (`{"time":..,"data":{..}}` per line).
std::vector<span_fields> parse_lines(const std::string& text) {
  std::vector<span_fields> out;
  simdjson::dom::parser parser;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    simdjson::dom::element root;
    if (parser.parse(line).get(root) != simdjson::SUCCESS) FAIL("not JSON: " << line);
    out.push_back(fields_of(root["data"].get_object().value()));
  }
  return out;
}

const span_fields& one(const std::vector<span_fields>& spans, const std::string& service,
                       const std::string& name) {
  const span_fields* found = nullptr;
  for (const auto& s : spans)
    if (s.at("service_name") == service && s.at("name") == name) {
      if (found) FAIL("two spans " << service << "/" << name);
      found = &s;
    }
  if (!found) FAIL("no span " << service << "/" << name);
  return *found;
}

/// The counters of http_server's "final counters: ..." line.
struct final_counters {
  unsigned long long queued = 0, exported = 0, dropped = 0, exporter_failures = 0, after_shutdown = 0;
};

final_counters final_counters_of(const std::string& err) {
  final_counters c;
  const auto at = err.find("final counters: ");
  if (at == std::string::npos) FAIL("no final counters in: " << err);
  if (std::sscanf(
          err.c_str() + at,
          "final counters: %llu spans queued, %llu exported, %llu dropped (%llu exporter failures, %*llu "
          "queue full, %llu after shutdown",
          &c.queued, &c.exported, &c.dropped, &c.exporter_failures, &c.after_shutdown) != 5)
    FAIL("unreadable final counters in: " << err);
  return c;
}

/// Sends `n` requests to 127.0.0.1:`port` on one keep-alive connection; the number answered 200.
int send_requests(unsigned short port, int n) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/hello", 11};
    req.set(bhttp::field::host, "localhost");
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    ok += res.result_int() == 200;
  }
  return ok;
}

unsigned short listening_port(const child_process& p) {
  const std::string err = p.err();
  const auto port_at = err.find("listening on 127.0.0.1:") + std::strlen("listening on 127.0.0.1:");
  return static_cast<unsigned short>(std::stoi(err.substr(port_at)));
}

}  // namespace

TEST_CASE("examples: quickstart prints one trace of nested spans") {
  child_process p({BEELINE_EXAMPLE_QUICKSTART});
  REQUIRE(p.wait(10s) == 0);
  const auto spans = parse_lines(p.out());
  REQUIRE(spans.size() == 4);
  const auto& root = one(spans, "quickstart", "handle_request");
  const auto& load = one(spans, "quickstart", "load_order");
  CHECK(one(spans, "quickstart", "parse_rows").at("trace.parent_id") == load.at("trace.span_id"));
  CHECK(load.at("trace.parent_id") == root.at("trace.span_id"));
  for (const auto& s : spans) {
    CHECK(s.at("trace.trace_id") == root.at("trace.trace_id"));
    CHECK(s.at("app.user_id") == "42");
  }
}

TEST_CASE("examples: two_services makes one trace across both services, in either header format") {
  for (const std::string format : {"honeycomb", "w3c"}) {
    CAPTURE(format);
    child_process p({BEELINE_EXAMPLE_TWO_SERVICES, "--format", format});
    REQUIRE(p.wait(10s) == 0);
    const auto spans = parse_lines(p.out());
    CAPTURE(p.out(), p.err());
    REQUIRE(spans.size() == 4);
    const auto& front_root = one(spans, "frontend", "request");
    const auto& call = one(spans, "frontend", "GET");
    const auto& back_root = one(spans, "backend", "request");
    const auto& compute = one(spans, "backend", "compute_price");
    CHECK(call.at("trace.parent_id") == front_root.at("trace.span_id"));
    CHECK(back_root.at("trace.parent_id") == call.at("trace.span_id"));
    CHECK(compute.at("trace.parent_id") == back_root.at("trace.span_id"));
    for (const auto& s : spans)
      CHECK(s.at("trace.trace_id") == front_root.at("trace.trace_id"));
    CHECK(p.err().find(format == "w3c" ? "backend received traceparent: 00-" + front_root.at("trace.trace_id")
                                       : "backend received x-honeycomb-trace: 1;trace_id=" +
                                             front_root.at("trace.trace_id")) != std::string::npos);
    // Trace fields cross with the Honeycomb header only (W3C has no place for them).
    CHECK(back_root.count("app.cart") == (format == "honeycomb" ? 1u : 0u));
  }
}

TEST_CASE(
    "examples: http_server stopped by SIGTERM under load delivers the span of every completed request") {
  beeline::test::loopback_server sink;
  child_process server({BEELINE_EXAMPLE_HTTP_SERVER, "--port", "0", "--threads", "2"},
                       {"HONEYCOMB_WRITEKEY=example-key", "HONEYCOMB_API_HOST=" + sink.url()});
  REQUIRE(server.wait_for_stderr("listening on 127.0.0.1:", 10s));
  const std::string err = server.err();
  const auto port_at = err.find("listening on 127.0.0.1:") + std::strlen("listening on 127.0.0.1:");
  const auto port = static_cast<unsigned short>(std::stoi(err.substr(port_at)));

  // Four clients send keep-alive requests, each with its own id, until the server goes away.
  std::mutex mutex;
  std::set<std::string> completed;
  std::atomic<int> sent{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, c] {
      asio::io_context ioc;
      const auto stop_at = std::chrono::steady_clock::now() + 3s;
      int n = 0;
      while (std::chrono::steady_clock::now() < stop_at) {
        beast::tcp_stream stream(ioc);
        boost::system::error_code ec;
        stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
        if (ec) return;  // the server stopped accepting
        for (;;) {
          const std::string id = std::to_string(c) + "-" + std::to_string(n++);
          bhttp::request<bhttp::string_body> req{bhttp::verb::get, n % 2 ? "/user" : "/hello", 11};
          req.set(bhttp::field::host, "localhost");
          req.set("x-request-id", id);
          ++sent;
          bhttp::write(stream, req, ec);
          if (ec) break;
          beast::flat_buffer buffer;
          bhttp::response<bhttp::string_body> res;
          bhttp::read(stream, buffer, res, ec);
          if (ec) break;
          if (res.result_int() == 200) {
            std::lock_guard lk(mutex);
            completed.insert(id);
          }
          if (!res.keep_alive()) break;
        }
      }
    });
  const auto load_deadline = std::chrono::steady_clock::now() + 2s;
  while (sent < 1000 && std::chrono::steady_clock::now() < load_deadline)
    std::this_thread::sleep_for(1ms);
  server.signal(SIGTERM);
  for (auto& t : clients)
    t.join();
  const int status = server.wait(20s);
  CAPTURE(server.err());
  REQUIRE(status == 0);
  CHECK(server.err().find("flush complete") != std::string::npos);
  const final_counters counters = final_counters_of(server.err());
  CHECK(counters.queued > 0);
  CHECK(counters.exported == counters.queued);
  CHECK(counters.dropped == 0);

  // Every completed request's root span reached the sink, with its handler's child spans.
  std::set<std::string> delivered;
  std::map<std::string, int> children_by_trace;
  std::map<std::string, std::string> trace_of_request;
  simdjson::dom::parser parser;
  for (const auto& r : sink.requests()) {
    CHECK(r.target == "/1/batch/http_server");  // a non-classic key: the service name is the dataset
    simdjson::dom::array batch;
    REQUIRE(parser.parse(r.body).get_array().get(batch) == simdjson::SUCCESS);
    for (auto ev : batch) {
      const span_fields f = fields_of(ev["data"].get_object().value());
      if (f.at("name") == "request" && f.count("request_id")) {
        delivered.insert(f.at("request_id"));
        trace_of_request[f.at("request_id")] = f.at("trace.trace_id");
      } else if (f.at("name") == "db.query" || f.at("name") == "render") {
        ++children_by_trace[f.at("trace.trace_id")];
      }
    }
  }
  INFO("completed " << completed.size() << " requests of " << sent.load());
  REQUIRE(completed.size() >= 500);  // under load: the signal came while requests were flowing
  std::size_t missing = 0;
  for (const auto& id : completed) {
    if (!delivered.count(id)) {
      ++missing;
      continue;
    }
    CHECK(children_by_trace[trace_of_request[id]] == 1);
  }
  CHECK(missing == 0);
}

TEST_CASE(
    "examples: http_server with a backend that never answers keeps its export deadline and counts every "
    "span") {
  // The backend reads each request and never answers: nothing can be delivered.
  beeline::test::loopback_server sink(
      [](const beeline::test::recorded_request&) { return beeline::test::reply::never(); });
  child_process server({BEELINE_EXAMPLE_HTTP_SERVER, "--port", "0", "--export-timeout", "1"},
                       {"HONEYCOMB_WRITEKEY=example-key", "HONEYCOMB_API_HOST=" + sink.url()});
  REQUIRE(server.wait_for_stderr("listening on 127.0.0.1:", 10s));
  REQUIRE(send_requests(listening_port(server), 20) == 20);  // 40 spans: each request and its "render"
  REQUIRE(sink.wait_for_requests(1, 10s));                   // the exporter is stuck on the first batch

  const auto signalled = std::chrono::steady_clock::now();
  server.signal(SIGTERM);
  const int status = server.wait(20s);
  const auto took = std::chrono::steady_clock::now() - signalled;
  CAPTURE(server.err());
  CHECK(status == 1);  // not every span was delivered
  // Draining takes no time (no connection is open); the export has 1 s for flush and shutdown together.
  CHECK(took < 2500ms);
  CHECK(server.err().find("flush timed out") != std::string::npos);
  const final_counters c = final_counters_of(server.err());
  CHECK(c.queued == 40);
  CHECK(c.exported == 0);
  CHECK(c.dropped == 40);  // every span is counted with its reason
  CHECK(c.exporter_failures + c.after_shutdown == 40);
}

#ifdef BEELINE_EXAMPLE_HIGHLIGHT_SERVER
TEST_CASE("examples: highlight_server --self-test reports spans, errors and metrics to an OTLP collector") {
  // An empty 200: a full success in either OTLP encoding (the example sends protobuf, the default).
  beeline::test::loopback_server collector(
      [](const beeline::test::recorded_request&) { return beeline::test::reply::with_status(200, ""); });
  child_process p({BEELINE_EXAMPLE_HIGHLIGHT_SERVER, "--self-test"},
                  {"HIGHLIGHT_PROJECT_ID=example", "HIGHLIGHT_OTLP_ENDPOINT=" + collector.url()});
  REQUIRE(p.wait(20s) == 0);
  CAPTURE(p.out(), p.err());
  CHECK(p.out().find("wait_for_flush: spans exported") != std::string::npos);
  CHECK(p.out().find("spans flush complete") != std::string::npos);
  std::set<std::string> targets;
  for (const auto& r : collector.requests()) {
    targets.insert(r.target);
    CHECK(r.header("content-encoding") == "gzip");
    CHECK(r.header("content-type") == "application/x-protobuf");
  }
  CHECK(targets.count("/v1/traces") == 1);
  CHECK(targets.count("/v1/metrics") == 1);
}
#endif
