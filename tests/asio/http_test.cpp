// Beast HTTP instrumentation on loopback: the traced server (one trace per request, upstream traces
// continued, bad requests answered and traced, graceful stop) and the traced client (a child span, the
// propagation headers), with two services in one process, each with its own tracer.
#include "support.hpp"

#include <beeline/asio/http_server.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using beeline::test::exported;
using beeline::test::memory_tracer;
using namespace std::chrono_literals;

namespace {

const auto loopback = asio::ip::make_address("127.0.0.1");

/// An io_context run by `threads` background threads for the test's duration.
struct io_runner {
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  explicit io_runner(int n = 1) {
    for (int i = 0; i < n; ++i)
      threads.emplace_back([this] { ioc.run(); });
  }
  ~io_runner() { stop(); }
  void stop() {
    work.reset();
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
};

/// A blocking HTTP client for the test thread.
struct client {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  explicit client(unsigned short port) { stream.connect(tcp::endpoint(loopback, port)); }

  bhttp::response<bhttp::string_body> get(const std::string& target,
                                          std::map<std::string, std::string> headers = {},
                                          bool keep_alive = true) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "localhost");
    for (auto& [k, v] : headers)
      req.set(k, v);
    req.keep_alive(keep_alive);
    bhttp::write(stream, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    return res;
  }
  /// Sends raw bytes and reads what comes back until the server closes (at most 2 s).
  std::string raw(const std::string& bytes) {
    asio::write(stream.socket(), asio::buffer(bytes));
    std::string out;
    char buf[4096];
    stream.expires_after(2s);
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = stream.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }
};

awaitable<bhttp::response<bhttp::string_body>> hello(bhttp::request<bhttp::string_body>& req) {
  {
    beeline::span work = beeline::start_span("work", {{"req", std::string(req["x-req"])}});
    asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
    co_await timer.async_wait(use_awaitable);
  }
  if (req.target() == "/throw") throw std::runtime_error("handler failed");
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/plain");
  res.body() = "hello " + std::string(req["x-req"]) + "\n";
  if (req.target() == "/teapot") res.result(bhttp::status::service_unavailable);
  co_return res;
}

/// A traced server on 127.0.0.1 with a tracer of its own, its io_context run by `threads` background threads.
struct traced_server {
  memory_tracer t;
  io_runner io;
  beeline::http::server srv;
  explicit traced_server(beeline::http::server::handler_type handler,
                         beeline::http::session_options opts = {}, int threads = 1, beeline::config cfg = {})
      : t(std::move(cfg)),
        io(threads),
        srv(io.ioc.get_executor(), {loopback, 0}, std::move(handler), traced_by(std::move(opts), t.tracer)) {
    srv.start();
  }
  static beeline::http::session_options traced_by(beeline::http::session_options o, beeline::tracer& tracer) {
    o.tracer = &tracer;
    return o;
  }
};

/// Waits (up to 5 s) until the tracer has exported an event named `name` and returns every event.
std::vector<exported> events_with(memory_tracer& t, const std::string& name, std::size_t count = 1) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto evs = t.events();
    std::size_t n = 0;
    for (const auto& e : evs)
      n += e.name() == name;
    if (n >= count || std::chrono::steady_clock::now() > deadline) return evs;
    std::this_thread::sleep_for(5ms);
  }
}

std::vector<exported> named(const std::vector<exported>& evs, const std::string& name) {
  std::vector<exported> out;
  for (const auto& e : evs)
    if (e.name() == name) out.push_back(e);
  return out;
}

}  // namespace

TEST_CASE("http server_span: the recorded headers, found in one pass, whatever their case and order") {
  memory_tracer t;
  beeline::http::server_options opts;
  opts.tracer = &t.tracer;
  bhttp::request<bhttp::empty_body> req{bhttp::verb::post, "/upload?id=7", 10};  // HTTP/1.0
  req.insert("x-forwarded-PROTO", "https");
  req.insert("Accept", "");  // present but empty: recorded as such
  req.insert(bhttp::field::host, "api.example.com:8443");
  req.insert("X-Forwarded-For", "203.0.113.9, 10.0.0.1");
  req.insert("X-Forwarded-For", "198.51.100.1");  // a repeat: the first one counts, as find() would give
  req.insert(bhttp::field::user_agent, "curl/8.0");
  req.insert(bhttp::field::content_length, "42");
  req.insert("X-Forwarded-Portly", "not a recorded header");
  req.insert(bhttp::field::content_type, "application/json");
  { beeline::http::server_span trace(req.base(), "192.0.2.4", opts); }
  const auto evs = t.events();
  REQUIRE(evs.size() == 1);
  const exported& e = evs[0];
  CHECK(e.str("request.method") == "POST");
  CHECK(e.str("request.path") == "/upload");
  CHECK(e.str("request.query") == "id=7");
  CHECK(e.str("request.host") == "api.example.com");
  CHECK(e.raw("request.port") == "8443");
  CHECK(e.str("request.http_version") == "HTTP/1.0");
  CHECK(e.str("request.remote_addr") == "192.0.2.4");
  CHECK(e.str("request.content_length") == "42");
  CHECK(e.str("request.header.x_forwarded_for") == "203.0.113.9, 10.0.0.1");
  CHECK(e.str("request.header.x_forwarded_proto") == "https");
  CHECK_FALSE(e.has("request.header.x_forwarded_port"));
  CHECK(e.str("request.header.user_agent") == "curl/8.0");
  CHECK(e.str("request.header.content_type") == "application/json");
  CHECK(e.has("request.header.accept"));
  CHECK(e.str("request.header.accept").empty());
  CHECK(e.raw("request.incomplete") == "true");  // never finished
}

TEST_CASE(
    "http server_span: the port defaults by scheme, a bad one is ignored, and set_route records the route") {
  memory_tracer t;
  beeline::http::server_options opts;
  opts.tracer = &t.tracer;
  opts.secure = true;
  for (const char* host : {"api.example.com", "[::1]", "api.example.com:99999", "api.example.com:x1"}) {
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/users/42", 11};
    req.insert(bhttp::field::host, host);
    beeline::http::server_span trace(req.base(), "192.0.2.4", opts);
    trace.set_route("/users/:id");
    trace.finish();
  }
  {
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/", 11};
    req.insert(bhttp::field::host, "[::1]:8080");
    beeline::http::server_span trace(req.base(), "::1", opts);
    trace.finish();
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 5);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(evs[i].raw("request.port") == "443");
    CHECK(evs[i].str("request.route") == "/users/:id");
  }
  CHECK(evs[1].str("request.host") == "[::1]");
  CHECK(evs[4].raw("request.port") == "8080");
  CHECK_FALSE(evs[4].has("request.route"));
}

TEST_CASE("http server: one trace per request with the Beeline's request fields, upstream continued") {
  traced_server fixture(hello);
  auto& [t, io, srv] = fixture;

  client c(srv.local_endpoint().port());
  const std::string upstream_trace = "0af7651916cd43dd8448eb211c80319c";
  const std::string upstream_span = "b7ad6b7169203331";
  auto res = c.get("/hello?x=1&y=2", {{"traceparent", "00-" + upstream_trace + "-" + upstream_span + "-01"},
                                      {"User-Agent", "catch2"},
                                      {"Accept", "text/plain"},
                                      {"x-req", "a"}});
  CHECK(res.result_int() == 200);
  CHECK(res.body() == "hello a\n");
  auto res2 = c.get("/second", {{"x-req", "b"}});  // same keep-alive connection: a second trace
  CHECK(res2.result_int() == 200);

  const auto evs = events_with(t, "request", 2);
  const auto roots = named(evs, "request");
  REQUIRE(roots.size() == 2);
  const exported& first = roots[0].raw("request.path") == "\"/hello\"" ? roots[0] : roots[1];
  const exported& second = &first == &roots[0] ? roots[1] : roots[0];
  CHECK(first.trace_id() == upstream_trace);
  CHECK(first.parent_id() == upstream_span);
  CHECK(first.str("meta.type") == "beast");
  CHECK(first.str("span.kind") == "server");
  CHECK(first.str("request.method") == "GET");
  CHECK(first.str("request.query") == "x=1&y=2");
  CHECK(first.str("request.original_url") == "/hello?x=1&y=2");
  CHECK(first.str("request.host") == "localhost");
  CHECK(first.raw("request.port") == "80");  // the Host header names no port: the scheme's
  CHECK(first.str("request.http_version") == "HTTP/1.1");
  CHECK(first.str("request.remote_addr") == "127.0.0.1");
  CHECK(first.str("request.scheme") == "http");
  CHECK(first.raw("request.secure") == "false");
  CHECK(first.str("request.header.user_agent") == "catch2");
  CHECK(first.str("request.header.accept") == "text/plain");
  CHECK(first.raw("response.status_code") == "200");
  CHECK(first.str("response.content_length") == "8");
  CHECK_FALSE(first.has("error"));
  CHECK_FALSE(first.has("request.incomplete"));

  CHECK(second.str("request.path") == "/second");
  CHECK(second.trace_id() != upstream_trace);  // a new trace, not the connection's first one
  CHECK_FALSE(second.has("trace.parent_id"));

  // Each handler's span is a child of its own request's root.
  REQUIRE(named(evs, "work").size() == 2);
  for (const auto& w : named(evs, "work")) {
    const exported& root = w.str("req") == "a" ? first : second;
    CHECK(w.parent_id() == root.span_id());
    CHECK(w.trace_id() == root.trace_id());
  }
}

TEST_CASE("http server: a handler that throws gets a 500 and its trace records the exception") {
  traced_server fixture(hello);
  auto& [t, io, srv] = fixture;
  client c(srv.local_endpoint().port());
  CHECK(c.get("/throw").result_int() == 500);
  CHECK(c.get("/teapot").result_int() == 503);  // the connection survived the exception
  const auto roots = named(events_with(t, "request", 2), "request");
  REQUIRE(roots.size() == 2);
  for (const auto& r : roots)
    CHECK(r.raw("status_code") == "2");  // 5xx: an error status, as OpenTelemetry marks server spans
  const exported& thrown = roots[0].str("request.path") == "/throw" ? roots[0] : roots[1];
  const exported& unavailable = &thrown == &roots[0] ? roots[1] : roots[0];
  CHECK(thrown.str("error_detail") == "handler failed");
  CHECK_FALSE(unavailable.has("error"));
  CHECK(unavailable.raw("response.status_code") == "503");
  CHECK(thrown.raw("response.status_code") == "500");
}

TEST_CASE("http server: malformed and oversized requests are answered and traced, never a crash") {
  beeline::http::session_options opts;
  opts.header_limit = 4096;
  opts.body_limit = 64;
  traced_server fixture(hello, opts);
  auto& [t, io, srv] = fixture;
  const auto port = srv.local_endpoint().port();

  SECTION("garbage") {
    client c(port);
    const std::string reply = c.raw("GARBAGE GARBAGE\r\n\r\n");
    CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
    const auto roots = named(events_with(t, "request"), "request");
    REQUIRE(roots.size() == 1);
    CHECK(roots[0].raw("response.status_code") == "400");
    CHECK(roots[0].has("error_detail"));
  }
  SECTION("a header over the limit") {
    client c(port);
    const std::string reply =
        c.raw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n");
    CHECK(reply.rfind("HTTP/1.1 431", 0) == 0);
    const auto roots = named(events_with(t, "request"), "request");
    REQUIRE(roots.size() == 1);
    CHECK(roots[0].raw("response.status_code") == "431");
    CHECK(roots[0].str("request.method") == "GET");  // the request line was read before the limit
    CHECK(roots[0].str("request.path") == "/");
    CHECK(roots[0].str("error_detail") == "header limit exceeded");
  }
  SECTION("a body over the limit, still being sent: the 413 arrives intact (no reset of unread bytes)") {
    client c(port);
    const std::string reply = c.raw("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" +
                                    std::string(300000, 'b'));
    CHECK(reply.rfind("HTTP/1.1 413", 0) == 0);
    const auto roots = named(events_with(t, "request"), "request");
    REQUIRE(roots.size() == 1);
    CHECK(roots[0].str("request.path") == "/upload");
    CHECK(roots[0].raw("response.status_code") == "413");
  }
  SECTION("a client that disconnects mid-request: the trace ends incomplete, not leaked") {
    {
      client c(port);
      asio::write(
          c.stream.socket(),
          asio::buffer(std::string("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nabc")));
    }  // closed here, 47 bytes short
    const auto roots = named(events_with(t, "request"), "request");
    REQUIRE(roots.size() == 1);
    CHECK(roots[0].str("request.path") == "/slow");
    CHECK(roots[0].raw("request.incomplete") == "true");
    CHECK(roots[0].has("error"));
    CHECK_FALSE(roots[0].has("response.status_code"));
  }
  SECTION("a client that connects and leaves without a byte makes no trace") {
    { client c(port); }
    client c2(port);
    CHECK(c2.get("/after").result_int() == 200);
    const auto roots = named(events_with(t, "request"), "request");
    REQUIRE(roots.size() == 1);
    CHECK(roots[0].str("request.path") == "/after");
  }
}

TEST_CASE("http server: concurrent keep-alive connections each get their own traces", "[concurrency]") {
  beeline::config cfg;
  cfg.queue_capacity = 1 << 14;
  traced_server fixture(hello, {}, 2, cfg);
  auto& [t, io, srv] = fixture;
  const auto port = srv.local_endpoint().port();
  constexpr int clients = 8;
  constexpr int requests = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int ci = 0; ci < clients; ++ci)
    threads.emplace_back([&, ci] {
      client c(port);
      for (int r = 0; r < requests; ++r)
        ok += c.get("/r", {{"x-req", std::to_string(ci) + "-" + std::to_string(r)}}).result_int() == 200;
    });
  for (auto& th : threads)
    th.join();
  CHECK(ok == clients * requests);
  const auto evs = events_with(t, "request", clients * requests);
  const auto roots = named(evs, "request");
  const auto works = named(evs, "work");
  REQUIRE(roots.size() == clients * requests);
  REQUIRE(works.size() == clients * requests);
  std::map<std::string, const exported*> root_by_span;
  std::set<std::string> traces;
  for (const auto& r : roots) {
    root_by_span[r.span_id()] = &r;
    traces.insert(r.trace_id());
  }
  CHECK(traces.size() == clients * requests);  // one trace per request, never per connection
  std::set<std::string> seen;
  int wrong = 0;
  for (const auto& w : works) {
    auto it = root_by_span.find(w.parent_id());
    if (it == root_by_span.end() || it->second->trace_id() != w.trace_id()) {
      ++wrong;
      continue;
    }
    seen.insert(w.str("req"));
  }
  CHECK(wrong == 0);
  CHECK(seen.size() == clients * requests);
}

TEST_CASE(
    "http client: a child span with the Beeline's fields, and the trace continues in the next service") {
  // Two services in one process, each with its own tracer, as two processes would have.
  for (const bool w3c : {false, true}) {
    CAPTURE(w3c);
    beeline::config front_cfg;
    front_cfg.service_name = "frontend";
    beeline::config back_cfg;
    back_cfg.service_name = "backend";
    if (w3c) {
      front_cfg.http_trace_propagation_hook = beeline::w3c::propagation_hook();
      back_cfg.http_trace_parser_hook = beeline::w3c::parser_hook();
    }
    memory_tracer front(front_cfg);
    memory_tracer back(back_cfg);
    io_runner io;

    beeline::http::session_options back_opts;
    back_opts.tracer = &back.tracer;
    beeline::http::server backend(io.ioc.get_executor(), {loopback, 0}, hello, back_opts);
    backend.start();
    const auto back_port = backend.local_endpoint().port();

    beeline::http::session_options front_opts;
    front_opts.tracer = &front.tracer;
    beeline::http::server frontend(
        io.ioc.get_executor(), {loopback, 0},
        [back_port](bhttp::request<bhttp::string_body>&) -> awaitable<bhttp::response<bhttp::string_body>> {
          beast::tcp_stream stream(co_await asio::this_coro::executor);
          co_await stream.async_connect(tcp::endpoint(loopback, back_port), use_awaitable);
          bhttp::request<bhttp::string_body> out{bhttp::verb::get, "/inner?q=1", 11};
          out.set(bhttp::field::host, "backend:" + std::to_string(back_port));
          out.set("x-req", "inner");
          beast::flat_buffer buffer;
          auto inner = co_await beeline::http::send(stream, out, buffer);
          bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
          res.body() = "front saw " + inner.body();
          co_return res;
        },
        front_opts);
    frontend.start();

    client c(frontend.local_endpoint().port());
    auto res = c.get("/outer");
    CHECK(res.body() == "front saw hello inner\n");

    const auto fevs = events_with(front, "request");
    const auto bevs = events_with(back, "request");
    const exported& froot = memory_tracer::by_name(fevs, "request");
    const exported& call = memory_tracer::by_name(fevs, "GET");
    const exported& broot = memory_tracer::by_name(bevs, "request");
    CHECK(call.parent_id() == froot.span_id());
    CHECK(call.trace_id() == froot.trace_id());
    CHECK(call.str("span.kind") == "client");
    CHECK(call.str("meta.type") == "http");
    CHECK(call.str("url") == "http://backend:" + std::to_string(back_port) + "/inner?q=1");
    CHECK(call.str("request.host") == "backend");
    CHECK(call.raw("request.port") == std::to_string(back_port));
    CHECK(call.raw("response.status_code") == "200");
    CHECK(call.str("response.http_version") == "1.1");
    CHECK(call.str("service_name") == "frontend");
    // One trace across both services: the backend's root is the client span's child.
    CHECK(broot.trace_id() == froot.trace_id());
    CHECK(broot.parent_id() == call.span_id());
    CHECK(broot.str("service_name") == "backend");
  }
}

TEST_CASE("http client: outside a trace the request goes out untraced and unchanged") {
  traced_server fixture(hello);
  auto& [back, io, backend] = fixture;
  const auto port = backend.local_endpoint().port();
  std::promise<std::pair<int, bool>> done;
  asio::co_spawn(
      io.ioc,
      [&]() -> awaitable<void> {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        co_await stream.async_connect(tcp::endpoint(loopback, port), use_awaitable);
        bhttp::request<bhttp::string_body> out{bhttp::verb::get, "/", 11};
        beast::flat_buffer buffer;
        auto res = co_await beeline::http::send(stream, out, buffer);
        done.set_value({static_cast<int>(res.result_int()), out.find("X-Honeycomb-Trace") != out.end()});
      },
      asio::detached);
  const auto [status, propagated] = done.get_future().get();
  CHECK(status == 200);
  CHECK_FALSE(propagated);
  const auto roots = named(events_with(back, "request"), "request");
  REQUIRE(roots.size() == 1);
  CHECK_FALSE(roots[0].has("trace.parent_id"));
}

TEST_CASE("http server: graceful stop lets a request in progress finish and closes idle connections") {
  std::promise<void> slow_started;
  std::atomic<bool> release{false};
  traced_server fixture(
      [&](bhttp::request<bhttp::string_body>& req) -> awaitable<bhttp::response<bhttp::string_body>> {
        if (req.target() == "/slow") {
          slow_started.set_value();
          asio::steady_timer timer(co_await asio::this_coro::executor);
          for (int i = 0; i < 5000 && !release; ++i) {  // until the test lets go (at most 5 s)
            timer.expires_after(1ms);
            co_await timer.async_wait(use_awaitable);
          }
        }
        co_return bhttp::response<bhttp::string_body>{bhttp::status::ok, 11};
      });
  auto& [t, io, srv] = fixture;
  const auto port = srv.local_endpoint().port();

  client idle(port);
  CHECK(idle.get("/quick").result_int() == 200);  // now idle on a keep-alive connection
  client busy(port);
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/slow", 11};
  req.set(bhttp::field::host, "x");
  bhttp::write(busy.stream, req);
  REQUIRE(slow_started.get_future().wait_for(5s) == std::future_status::ready);

  std::promise<std::size_t> stopped;
  srv.async_stop(5s, [&](std::size_t forced) { stopped.set_value(forced); });
  std::promise<std::size_t> stopped_again;  // a second stop waits for the first and reports the same
  srv.async_stop(10ms, [&](std::size_t forced) { stopped_again.set_value(forced); });
  // The idle connection is closed at once (the stop reached the connections)...
  char byte;
  boost::system::error_code ec;
  idle.stream.expires_after(5s);
  idle.stream.read_some(asio::buffer(&byte, 1), ec);
  CHECK(ec == asio::error::eof);
  // ...while the request in progress is still running, then answered with Connection: close.
  auto again = stopped_again.get_future();
  CHECK(again.wait_for(50ms) == std::future_status::timeout);
  release = true;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(busy.stream, busy.buffer, res);
  CHECK(res.result_int() == 200);
  CHECK_FALSE(res.keep_alive());
  auto f = stopped.get_future();
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  CHECK(f.get() == 0);
  REQUIRE(again.wait_for(5s) == std::future_status::ready);
  CHECK(again.get() == 0);
  CHECK(srv.connections() == 0);
  // Nothing accepts any more.
  asio::io_context other;
  tcp::socket s(other);
  s.connect(tcp::endpoint(loopback, port), ec);
  CHECK(ec);
  const auto roots = named(events_with(t, "request", 2), "request");
  REQUIRE(roots.size() == 2);
  for (const auto& r : roots) {
    CHECK(r.raw("response.status_code") == "200");
    CHECK_FALSE(r.has("request.incomplete"));
  }
}

TEST_CASE(
    "http server: a request still running at the drain deadline is cut off and its trace ends incomplete") {
  std::promise<void> started;
  traced_server fixture(
      [&](bhttp::request<bhttp::string_body>&) -> awaitable<bhttp::response<bhttp::string_body>> {
        started.set_value();
        asio::steady_timer timer(co_await asio::this_coro::executor, 30s);  // only the stop ends this
        co_await timer.async_wait(use_awaitable);
        co_return bhttp::response<bhttp::string_body>{bhttp::status::ok, 11};
      });
  auto& [t, io, srv] = fixture;
  client busy(srv.local_endpoint().port());
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/stuck", 11};
  req.set(bhttp::field::host, "x");
  bhttp::write(busy.stream, req);
  REQUIRE(started.get_future().wait_for(5s) == std::future_status::ready);
  std::promise<std::size_t> stopped;
  srv.async_stop(50ms, [&](std::size_t forced) { stopped.set_value(forced); });
  auto f = stopped.get_future();
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  CHECK(f.get() == 1);
  const auto roots = named(events_with(t, "request"), "request");
  REQUIRE(roots.size() == 1);
  CHECK(roots[0].str("request.path") == "/stuck");
  CHECK(roots[0].has("error"));
  CHECK(roots[0].raw("request.incomplete") == "true");
  CHECK_FALSE(roots[0].has("response.status_code"));  // nothing was sent
}

TEST_CASE("http server: HEAD, the handler's Connection: close, 100-continue and an unsendable response") {
  traced_server fixture(
      [](bhttp::request<bhttp::string_body>& req) -> awaitable<bhttp::response<bhttp::string_body>> {
        bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
        res.body() = "hello body\n";
        if (req.target() == "/close") res.keep_alive(false);
        if (req.target() == "/no-content") res.result(bhttp::status::no_content);  // with a body: invalid
        if (req.target() == "/upload") res.body() = "got " + std::to_string(req.body().size()) + "\n";
        co_return res;
      });
  auto& [t, io, srv] = fixture;
  const auto port = srv.local_endpoint().port();

  SECTION("HEAD: the length of the body, not the body; the connection stays usable") {
    client c(port);
    bhttp::request<bhttp::string_body> head{bhttp::verb::head, "/", 11};
    head.set(bhttp::field::host, "x");
    bhttp::write(c.stream, head);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(true);
    bhttp::read(c.stream, c.buffer, parser);
    CHECK(parser.get()[bhttp::field::content_length] == "11");
    CHECK(parser.get().body().empty());
    CHECK(c.get("/after").body() == "hello body\n");  // no stray body bytes in between
  }
  SECTION("the handler's Connection: close is kept") {
    client c(port);
    const auto res = c.get("/close");
    CHECK_FALSE(res.keep_alive());
    char byte;
    boost::system::error_code ec;
    c.stream.expires_after(5s);
    c.stream.read_some(asio::buffer(&byte, 1), ec);
    CHECK(ec == asio::error::eof);
  }
  SECTION("Expect: 100-continue gets its interim response before the body is sent") {
    client c(port);
    asio::write(
        c.stream.socket(),
        asio::buffer(std::string(
            "POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")));
    bhttp::response_parser<bhttp::empty_body> interim_parser;
    c.stream.expires_after(5s);
    bhttp::read_header(c.stream, c.buffer, interim_parser);
    CHECK(interim_parser.get().result() == bhttp::status::continue_);
    asio::write(c.stream.socket(), asio::buffer(std::string("abcde")));
    bhttp::response<bhttp::string_body> res;
    bhttp::read(c.stream, c.buffer, res);
    CHECK(res.body() == "got 5\n");
  }
  SECTION("a response Beast refuses to send (a body on a 204) becomes a 500 with the error recorded") {
    client c(port);
    CHECK(c.get("/no-content").result_int() == 500);
    const auto roots = named(events_with(t, "request"), "request");
    REQUIRE(roots.size() == 1);
    CHECK(roots[0].raw("response.status_code") == "500");
    CHECK(roots[0].has("error"));
  }
}

TEST_CASE("http client: a HEAD request does not wait for a body") {
  traced_server fixture(hello);
  auto& [back, io, backend] = fixture;
  const auto port = backend.local_endpoint().port();
  std::promise<int> done;
  asio::co_spawn(
      io.ioc,
      [&]() -> awaitable<void> {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        co_await stream.async_connect(tcp::endpoint(loopback, port), use_awaitable);
        stream.expires_after(5s);
        bhttp::request<bhttp::string_body> out{bhttp::verb::head, "/", 11};
        beast::flat_buffer buffer;
        auto res = co_await beeline::http::send(stream, out, buffer);
        done.set_value(static_cast<int>(res.result_int()));
      },
      [&](std::exception_ptr e) {
        if (e) done.set_value(-1);
      });
  auto f = done.get_future();
  REQUIRE(f.wait_for(2s) == std::future_status::ready);
  CHECK(f.get() == 200);
}

TEST_CASE("http client: async_send with a completion token (use_future) from a plain thread's trace") {
  traced_server fixture(hello);
  auto& [back, io, backend] = fixture;
  memory_tracer front;
  beast::tcp_stream stream(io.ioc);
  stream.connect(tcp::endpoint(loopback, backend.local_endpoint().port()));
  bhttp::request<bhttp::string_body> out{bhttp::verb::get, "/via-future", 11};
  out.set(bhttp::field::host, "backend");
  beast::flat_buffer buffer;
  std::string root_id;
  {
    beeline::span root = front.tracer.start_trace("caller");
    root_id = std::string(root.span_id());
    // The task starts on the io thread, after this statement: the options it needs are its own copy.
    auto pending = beeline::http::async_send(stream, out, buffer, {"http"}, asio::use_future);
    REQUIRE(pending.wait_for(5s) == std::future_status::ready);
    const auto res = pending.get();
    CHECK(res.result_int() == 200);
    CHECK(res.body() == "hello \n");
  }
  const auto fevs = front.events();
  const exported& call = memory_tracer::by_name(fevs, "GET");
  const exported& caller = memory_tracer::by_name(fevs, "caller");
  CHECK(call.parent_id() == root_id);
  CHECK(call.trace_id() == caller.trace_id());
  CHECK(call.str("url") == "http://backend/via-future");
  CHECK(call.raw("response.status_code") == "200");
  const auto bevs = events_with(back, "request");
  const exported& broot = memory_tracer::by_name(bevs, "request");
  CHECK(broot.trace_id() == call.trace_id());
  CHECK(broot.parent_id() == call.span_id());
}

TEST_CASE("http server: async_shutdown with a completion token drains, flushes and reports") {
  traced_server fixture(hello);
  client c(fixture.srv.local_endpoint().port());
  CHECK(c.get("/before").result_int() == 200);
  beeline::http::shutdown_options opts;
  opts.tracer = &fixture.t.tracer;
  opts.drain = 2s;
  auto done = beeline::http::async_shutdown(fixture.srv, opts, asio::use_future);
  REQUIRE(done.wait_for(5s) == std::future_status::ready);
  const beeline::http::shutdown_report report = done.get();
  CHECK(report.forced == 0);
  CHECK(report.flush.complete);
  CHECK(report.signal == 0);
  // The request answered before the stop was flushed by it.
  bool seen = false;
  for (const auto& e : fixture.t.events())
    seen |= e.name() == "request" && e.str("request.path") == "/before";
  CHECK(seen);
}
