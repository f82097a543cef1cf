// A traced Beast HTTP server with the shutdown flush.
//
//   http_server [--port N] [--threads N]
//
// Every request is one trace (continuing the caller's, if its headers carry one); the handler adds spans of
// its own. On SIGINT or SIGTERM it stops accepting, lets requests in progress finish (up to 10 s), flushes
// the spans (up to 5 s) and exits: no span of a completed request is lost.
//
// Spans go where `beeline::init` sends them: to Honeycomb with HONEYCOMB_WRITEKEY set (HONEYCOMB_API_HOST
// to send elsewhere), else as JSON lines to stdout. The port it listens on is printed to stderr.
#include <beeline/asio/http_server.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

namespace {

using request = bhttp::request<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;

/// A stand-in for a database query: a span around awaited work.
asio::awaitable<std::string> query_user(std::string id) {
  auto lookup = [](std::string id) -> asio::awaitable<std::string> {
    asio::steady_timer latency(co_await asio::this_coro::executor, 2ms);
    co_await latency.async_wait(asio::use_awaitable);
    co_return "user-" + id;
  };
  // Made in its own statement: `lookup(id)` copies a std::string, and GCC 12 destroys such a temporary made
  // inside a co_await expression twice.
  auto traced = beeline::start_async_span("db.query", beeline::field{"db.table", "users"}, lookup(id));
  co_return co_await std::move(traced);
}

asio::awaitable<response> handle(request& req) {
  // Fields for this request's root span (the Beeline's addContext), and for every span of its trace.
  if (const auto id = req.find("x-request-id"); id != req.end())
    beeline::add_context({{"request_id", std::string_view(id->value().data(), id->value().size())}});
  beeline::add_trace_context({{"tenant", "demo"}});

  response res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/plain");
  if (req.target() == "/user") {
    res.body() = co_await query_user("42") + "\n";
  } else if (req.target() == "/" || req.target() == "/hello") {
    beeline::with_span("render", {}, [&] { res.body() = "hello\n"; });
  } else {
    res.result(bhttp::status::not_found);
    res.body() = "not found\n";
  }
  co_return res;
}

int parse_int(const char* s, int fallback) {
  int v = fallback;
  std::from_chars(s, s + std::strlen(s), v);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = parse_int(argv[i + 1], port);
    if (std::strcmp(argv[i], "--threads") == 0) threads = parse_int(argv[i + 1], threads);
  }

  beeline::config cfg;
  cfg.service_name = "http_server";
  beeline::init(cfg);

  asio::io_context io;
  beeline::http::server srv(io.get_executor(),
                            {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, handle);
  srv.start();
  asio::signal_set signals(io, SIGINT, SIGTERM);  // before announcing the port: no signal is missed
  std::fprintf(stderr, "listening on 127.0.0.1:%u\n", srv.local_endpoint().port());

  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const beeline::http::shutdown_report r = co_await beeline::http::shutdown_on_signal(srv, signals);
        std::fprintf(
            stderr,
            "signal %d: %zu connections cut at the drain deadline; flush %s (%llu exported, %llu dropped)\n",
            r.signal, r.forced, r.flush.complete ? "complete" : "timed out",
            static_cast<unsigned long long>(r.flush.exported),
            static_cast<unsigned long long>(r.flush.dropped));
        status = r.flush.complete ? 0 : 1;
      },
      asio::detached);

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&] { io.run(); });
  io.run();  // returns once the shutdown has finished: nothing is left to do
  for (auto& t : pool)
    t.join();
  beeline::shutdown();
  return status;
}
