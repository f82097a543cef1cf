// One trace across two services: a frontend that calls a backend over HTTP.
//
//   two_services [--format honeycomb|w3c]
//
// Both services run in this one process so the example is self-contained, but they share nothing except
// the HTTP connection between them: each has its own tracer (service name, exporter, propagation hooks),
// exactly as two processes would. The frontend's outgoing request carries the trace in the chosen format
// (`X-Honeycomb-Trace`, or W3C `traceparent`); the backend's root span continues it. Spans of both go to
// stdout as JSON lines; stderr shows the header that crossed the wire.
#include <beeline/asio/http_server.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <cstdio>
#include <cstring>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using request = bhttp::request<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;

namespace {

const auto loopback = asio::ip::make_address("127.0.0.1");

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

/// The backend: prices an item. Its root span continues the frontend's trace.
asio::awaitable<response> backend(request& req) {
  for (const char* h : {"traceparent", "x-honeycomb-trace"})
    if (const auto it = req.find(h); it != req.end())
      std::fprintf(stderr, "backend received %s: %.*s\n", h, static_cast<int>(it->value().size()),
                   it->value().data());
  beeline::with_span("compute_price", {{"item", sv(req.target())}}, [] {});
  response res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/plain");
  res.body() = "42";
  co_return res;
}

/// The frontend: handles a checkout by asking the backend for the price.
asio::awaitable<response> frontend(request& req, unsigned short backend_port) {
  beeline::add_trace_context({{"cart", "c-7"}});  // travels to the backend in the Honeycomb format
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  co_await stream.async_connect(tcp::endpoint(loopback, backend_port), asio::use_awaitable);
  request out{bhttp::verb::get, "/price?item=book", 11};
  out.set(bhttp::field::host, "backend");
  beast::flat_buffer buffer;
  response price = co_await beeline::http::send(stream, out, buffer);  // a child span; headers injected

  response res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/plain");
  res.body() = "total: " + price.body() + "\n";
  co_return res;
}

}  // namespace

int main(int argc, char** argv) {
  bool w3c = false;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--format") == 0) w3c = std::strcmp(argv[i + 1], "w3c") == 0;

  beeline::config front_cfg;
  front_cfg.service_name = "frontend";
  beeline::config back_cfg;
  back_cfg.service_name = "backend";
  if (w3c) {
    front_cfg.http_trace_propagation_hook = beeline::w3c::propagation_hook();
    back_cfg.http_trace_parser_hook = beeline::w3c::parser_hook();
  } else {
    front_cfg.http_trace_propagation_hook = beeline::honeycomb::propagation_hook(false);
    back_cfg.http_trace_parser_hook = beeline::honeycomb::parser_hook(false);
  }
  // OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* settings, as `init` would read them for one tracer.
  for (beeline::config* cfg : {&front_cfg, &back_cfg})
    if (!beeline::apply_environment(*cfg)) cfg->exporter = beeline::make_discard_exporter();
  beeline::tracer front_tracer(front_cfg);
  beeline::tracer back_tracer(back_cfg);

  asio::io_context io;
  beeline::http::session_options back_opts;
  back_opts.tracer = &back_tracer;
  beeline::http::server back_srv(io.get_executor(), {loopback, 0}, backend, back_opts);
  back_srv.start();
  const unsigned short back_port = back_srv.local_endpoint().port();

  beeline::http::session_options front_opts;
  front_opts.tracer = &front_tracer;
  beeline::http::server front_srv(
      io.get_executor(), {loopback, 0}, [back_port](request& req) { return frontend(req, back_port); },
      front_opts);
  front_srv.start();
  const unsigned short front_port = front_srv.local_endpoint().port();

  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // A user's request to the frontend (untraced: the frontend starts the trace).
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        co_await stream.async_connect(tcp::endpoint(loopback, front_port), asio::use_awaitable);
        request req{bhttp::verb::get, "/checkout", 11};
        req.set(bhttp::field::host, "frontend");
        req.keep_alive(false);
        co_await bhttp::async_write(stream, req, asio::use_awaitable);
        beast::flat_buffer buffer;
        response res;
        co_await bhttp::async_read(stream, buffer, res, asio::use_awaitable);
        std::fprintf(stderr, "frontend answered %u: %s", res.result_int(), res.body().c_str());

        // Shut both services down and flush both tracers.
        beeline::http::shutdown_options front_stop;
        front_stop.tracer = &front_tracer;
        beeline::http::shutdown_options back_stop;
        back_stop.tracer = &back_tracer;
        const auto f = co_await beeline::http::shutdown(front_srv, front_stop);
        const auto b = co_await beeline::http::shutdown(back_srv, back_stop);
        status = res.result_int() == 200 && f.flush.complete && b.flush.complete ? 0 : 1;
      },
      [](std::exception_ptr e) {
        if (e) std::fprintf(stderr, "the request failed\n");
      });
  io.run();
  return status;
}
