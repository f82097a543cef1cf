// A Boost.Beast HTTP server reporting to Highlight: each request runs in `run_with_headers` (a span
// `highlight-ctx` carrying the browser's session and request ids from `x-highlight-request`), failures go to
// `consume_error` with their throw-site stack and source lines, and every request records its latency with
// `record_metric`.
//
//   HIGHLIGHT_PROJECT_ID=abc123 highlight_server 8080          # serves until killed; try /, /orders/7, /fail
//   highlight_server --self-test                             # sends itself three requests, then exits
//
// HIGHLIGHT_OTLP_ENDPOINT chooses the collector (default: Highlight's, https://otel.highlight.io:4318);
// HIGHLIGHT_DEBUG=1 prints the SDK's diagnostics.
#include <beeline/asio/coro.hpp>
#include <beeline/asio/highlight.hpp>
#include <beeline/highlight.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

struct not_found : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The application's work: may throw, with its stack (beeline::highlight::throw_with_trace).
awaitable<std::string> load_order(std::string target) {
  beeline::span s = beeline::start_span("load_order", {{"http.target", target}});
  if (target == "/fail") beeline::highlight::throw_with_trace(std::runtime_error("database unavailable"));
  if (!target.starts_with("/orders/") && target != "/")
    beeline::highlight::throw_with_trace(not_found(target));
  co_return "{\"order\":\"" + target + "\"}\n";
}

awaitable<void> serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    beast::error_code ec;
    co_await http::async_read(stream, buffer, req, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    const auto start = std::chrono::steady_clock::now();
    const auto ids = beeline::H::parse_headers(req);
    http::response<http::string_body> res{http::status::ok, req.version()};
    try {
      res.body() = co_await beeline::H::run_with_headers(req, load_order(std::string(req.target())));
    } catch (const not_found& e) {
      res.result(http::status::not_found);
      res.body() = "not found\n";
    } catch (const std::exception& e) {
      beeline::H::consume_error(e, ids.secure_session_id, ids.request_id,
                                {{"url", std::string(req.target())}});
      res.result(http::status::internal_server_error);
      res.body() = "internal error\n";
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    beeline::H::record_metric(ids.secure_session_id, "request_ms", ms, ids.request_id,
                              {{"status", static_cast<int>(res.result_int())}});
    res.prepare_payload();
    res.keep_alive(req.keep_alive());
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (ec || !req.keep_alive()) co_return;
  }
}

awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
    beeline::spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

// --self-test: three requests over one connection, as a browser with Highlight's SDK sends them.
awaitable<void> self_test(unsigned short port, asio::io_context& ioc) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  co_await stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_awaitable);
  int request_number = 0;
  for (const char* target : {"/orders/7", "/fail", "/nope"}) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set("x-highlight-request", "session-abc/request-" + std::to_string(++request_number));
    co_await http::async_write(stream, req, use_awaitable);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    co_await http::async_read(stream, buffer, res, use_awaitable);
    std::printf("GET %-10s -> %d %s", target, res.result_int(), res.body().c_str());
  }
  const auto waited = co_await beeline::H::wait_for_flush(
      std::chrono::steady_clock::now() + std::chrono::seconds(3), "highlight-ctx", "highlight.error");
  std::printf("wait_for_flush: %s\n",
              waited.complete ? "spans exported" : "deadline passed (collector down?)");
  ioc.stop();
}

}  // namespace

int main(int argc, char** argv) {
  const bool self = argc > 1 && std::string(argv[1]) == "--self-test";
  const unsigned short port = self ? 0 : static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 8080);

  beeline::highlight::options options;
  if (const char* p = std::getenv("HIGHLIGHT_PROJECT_ID")) options.project_id = p;
  if (const char* e = std::getenv("HIGHLIGHT_OTLP_ENDPOINT")) options.otlp_endpoint = e;
  options.service_name = "highlight-server-example";
  options.service_version = "0.1.0";
  options.environment = "development";
  options.debug = std::getenv("HIGHLIGHT_DEBUG") != nullptr;  // the SDK's own diagnostics on stderr
  beeline::H::init(options);

  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), port});
  std::printf("listening on 127.0.0.1:%u\n", acceptor.local_endpoint().port());
  beeline::spawn(ioc.get_executor(), listen(acceptor), asio::detached);
  if (self)
    beeline::spawn(ioc.get_executor(), self_test(acceptor.local_endpoint().port(), ioc), asio::detached);
  ioc.run();

  const auto client = beeline::H::instance();
  if (!client) return 1;
  const auto r = beeline::H::stop(std::chrono::seconds(5));
  const auto stats = client->stats();
  std::printf("errors %llu, metrics exported %llu, dropped %llu; spans flush %s\n",
              static_cast<unsigned long long>(stats.errors),
              static_cast<unsigned long long>(stats.metrics_exported),
              static_cast<unsigned long long>(stats.metrics_dropped), r.complete ? "complete" : "timed out");
}
