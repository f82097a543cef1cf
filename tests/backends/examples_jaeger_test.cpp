// The examples sending to Jaeger as a user would point them at it: OTEL_EXPORTER_OTLP_ENDPOINT. http_server
// under load, then stopped by SIGTERM: a trace in Jaeger for every request answered. two_services: the
// frontend's and the backend's spans joined into one trace.
#include "backends/backend.hpp"
#include "backends/otlp_json.hpp"

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
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using beeline::test::child_process;
using beeline::test::str;
using namespace std::chrono_literals;

namespace {

/// The traces Jaeger holds for `service` (its search API), parsed into `parser`'s document; none if the query
/// failed. (A default-constructed `dom::array` is not an empty array: iterating one reads a null document.)
std::vector<simdjson::dom::element> traces_of(const beeline::test::jaeger& j, const std::string& service,
                                              simdjson::dom::parser& parser, std::string& body) {
  const auto r = j.query("/api/traces?service=" + service + "&limit=100000&lookback=1h");
  if (r.status != 200) return {};
  body = r.body;
  simdjson::dom::array traces;
  if (parser.parse(body)["data"].get_array().get(traces) != simdjson::SUCCESS) return {};
  return {traces.begin(), traces.end()};
}

/// Tags of a Jaeger span as key -> value text.
std::map<std::string, std::string> tags_of(simdjson::dom::element span) {
  std::map<std::string, std::string> out;
  for (auto t : span["tags"].get_array())
    out[str(t["key"])] = str(t["value"]);
  return out;
}

}  // namespace

TEST_CASE(
    "jaeger: http_server under load, pointed at Jaeger by OTEL_EXPORTER_OTLP_ENDPOINT, delivers a trace "
    "per request",
    "[backends][examples]") {
  beeline::test::jaeger j;
  child_process server({BEELINE_EXAMPLE_HTTP_SERVER, "--port", "0", "--threads", "2"},
                       {"OTEL_EXPORTER_OTLP_ENDPOINT=" + j.otlp_endpoint()});
  REQUIRE(server.wait_for_stderr("listening on 127.0.0.1:", 10s));
  const std::string err = server.err();
  const auto port_at = err.find("listening on 127.0.0.1:") + std::strlen("listening on 127.0.0.1:");
  const auto port = static_cast<unsigned short>(std::stoi(err.substr(port_at)));

  // Four keep-alive clients, each request with its own id, for one second.
  std::mutex mutex;
  std::set<std::string> answered;
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, c] {
      asio::io_context ioc;
      beast::tcp_stream stream(ioc);
      boost::system::error_code ec;
      stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
      if (ec) return;
      const auto stop_at = std::chrono::steady_clock::now() + 1s;
      for (int n = 0; std::chrono::steady_clock::now() < stop_at; ++n) {
        const std::string id = std::to_string(c) + "-" + std::to_string(n);
        bhttp::request<bhttp::string_body> req{bhttp::verb::get, n % 2 ? "/user" : "/hello", 11};
        req.set(bhttp::field::host, "localhost");
        req.set("x-request-id", id);
        bhttp::write(stream, req, ec);
        if (ec) return;
        beast::flat_buffer buffer;
        bhttp::response<bhttp::string_body> res;
        bhttp::read(stream, buffer, res, ec);
        if (ec) return;
        if (res.result_int() == 200) {
          std::lock_guard lk(mutex);
          answered.insert(id);
        }
      }
    });
  for (auto& t : clients)
    t.join();
  server.signal(SIGTERM);
  REQUIRE(server.wait(30s) == 0);  // 0: every span delivered
  CAPTURE(server.err());
  REQUIRE(answered.size() > 20);

  // One trace per request, its root carrying the request's id; /user requests with their db.query child.
  simdjson::dom::parser parser;
  std::string body;
  std::set<std::string> found;
  const bool complete = beeline::test::eventually(
      [&] {
        found.clear();
        for (auto trace : traces_of(j, "http_server", parser, body))
          for (auto s : trace["spans"].get_array())
            if (tags_of(s)["span.kind"] == "server") found.insert(tags_of(s)["request_id"]);
        return found.size() >= answered.size();
      },
      15s);
  CAPTURE(answered.size(), found.size());
  REQUIRE(complete);
  CHECK(found == answered);
  std::size_t user_traces = 0;
  std::vector<simdjson::dom::element> traces;  // asked again: a query can fail now and then
  REQUIRE(beeline::test::eventually(
      [&] {
        traces = traces_of(j, "http_server", parser, body);
        return !traces.empty();
      },
      15s));
  for (auto trace : traces) {
    std::map<std::string, std::string> name_of;
    for (auto s : trace["spans"].get_array())
      name_of[str(s["spanID"])] = str(s["operationName"]);
    for (auto s : trace["spans"].get_array())
      if (str(s["operationName"]) == "db.query") {
        ++user_traces;
        std::string parent;
        for (auto ref : s["references"].get_array())
          if (str(ref["refType"]) == "CHILD_OF") parent = str(ref["spanID"]);
        CHECK(name_of[parent] == "GET");  // the request's server span, named as OpenTelemetry names it
        CHECK(tags_of(s)["db.table"] == "users");
      }
  }
  CHECK(user_traces > 0);
}

TEST_CASE("jaeger: two_services' frontend and backend spans form one trace in Jaeger",
          "[backends][examples]") {
  beeline::test::jaeger j;
  for (const std::string format : {"honeycomb", "w3c"}) {
    CAPTURE(format);
    child_process p({BEELINE_EXAMPLE_TWO_SERVICES, "--format", format},
                    {"OTEL_EXPORTER_OTLP_ENDPOINT=" + j.otlp_endpoint()});
    REQUIRE(p.wait(20s) == 0);
    CAPTURE(p.out(), p.err());
    const auto at = p.err().find(format == "w3c" ? "traceparent: 00-" : "trace_id=");
    REQUIRE(at != std::string::npos);
    const std::string trace_id = p.err().substr(
        at + (format == "w3c" ? std::strlen("traceparent: 00-") : std::strlen("trace_id=")), 32);

    simdjson::dom::parser parser;
    std::string body;
    simdjson::dom::element trace;
    const bool complete = beeline::test::eventually(
        [&] {
          const auto r = j.query("/api/traces/" + trace_id);
          if (r.status != 200) return false;
          body = r.body;
          simdjson::dom::array traces;
          if (parser.parse(body)["data"].get_array().get(traces) != simdjson::SUCCESS || traces.size() != 1)
            return false;
          trace = traces.at(0).value();
          return trace["spans"].get_array().size() >= 4;
        },
        15s);
    CAPTURE(body);
    REQUIRE(complete);
    // name -> (service, span id, parent id, span.kind)
    struct seen {
      std::string service, id, parent, kind, name, method;
    };
    std::map<std::string, seen> spans;
    for (auto s : trace["spans"].get_array()) {
      seen v;
      v.service = str(trace["processes"][str(s["processID"])]["serviceName"]);
      v.id = str(s["spanID"]);
      for (auto ref : s["references"].get_array())
        if (str(ref["refType"]) == "CHILD_OF") v.parent = str(ref["spanID"]);
      v.kind = tags_of(s)["span.kind"];
      v.name = str(s["operationName"]);
      v.method = tags_of(s)["http.request.method"];
      // The HTTP spans are named `METHOD` (OpenTelemetry's name without a route): told apart by kind.
      spans[v.service + "/" + (v.kind == "internal" || v.kind.empty() ? v.name : v.kind)] = v;
    }
    REQUIRE(spans.size() == 4);
    REQUIRE(spans.count("frontend/server"));
    REQUIRE(spans.count("frontend/client"));
    REQUIRE(spans.count("backend/server"));
    REQUIRE(spans.count("backend/compute_price"));
    CHECK(spans["frontend/server"].parent.empty());
    CHECK(spans["frontend/client"].parent == spans["frontend/server"].id);
    CHECK(spans["backend/server"].parent == spans["frontend/client"].id);
    CHECK(spans["backend/compute_price"].parent == spans["backend/server"].id);
    for (const char* http_span : {"frontend/server", "frontend/client", "backend/server"}) {
      CAPTURE(http_span);
      CHECK(spans[http_span].name == "GET");
      CHECK(spans[http_span].method == "GET");  // http.request.method, not the Beeline's request.method
    }
  }
}
