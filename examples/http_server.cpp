// A traced Beast HTTP server with the shutdown flush.
//
//   http_server [--port N] [--threads N] [--export-timeout SECONDS]
//
// Every request is one trace (continuing the caller's, if its headers carry one); the handler adds spans of
// its own. On SIGINT or SIGTERM it stops accepting, lets requests in progress finish (up to 10 s), then has
// `--export-timeout` seconds (default 5) in all to deliver the spans: the flush, then the tracer's shutdown
// with whatever time the flush left. It prints what the flush saw and the tracer's final counters, and exits
// with 0 only if every span was delivered: a span is either exported or counted with the reason it was lost.
//
// Spans go where `beeline::init` sends them: to Honeycomb with HONEYCOMB_WRITEKEY set (HONEYCOMB_API_HOST
// to send elsewhere), else as JSON lines to stdout. The port it listens on is printed to stderr.
#include <beeline/asio/http_server.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
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

double in_seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

/// The tracer's final counters: every span that finished is exported or counted in one `dropped_*` reason.
void print_final_counters(const beeline::stats& s) {
  std::fprintf(
      stderr,
      "final counters: %llu spans queued, %llu exported, %llu dropped (%llu exporter failures, %llu "
      "queue full, %llu after shutdown, %llu sampler, %llu presend, %llu hook errors)\n",
      static_cast<unsigned long long>(s.enqueued), static_cast<unsigned long long>(s.exported),
      static_cast<unsigned long long>(s.dropped()), static_cast<unsigned long long>(s.dropped_exporter),
      static_cast<unsigned long long>(s.dropped_queue_full),
      static_cast<unsigned long long>(s.dropped_after_shutdown),
      static_cast<unsigned long long>(s.dropped_sampler), static_cast<unsigned long long>(s.dropped_presend),
      static_cast<unsigned long long>(s.dropped_hook_error));
}

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  int threads = 1;
  int export_timeout_s = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = parse_int(argv[i + 1], port);
    if (std::strcmp(argv[i], "--threads") == 0) threads = parse_int(argv[i + 1], threads);
    if (std::strcmp(argv[i], "--export-timeout") == 0)
      export_timeout_s = parse_int(argv[i + 1], export_timeout_s);
  }
  const std::chrono::steady_clock::duration drain_timeout = 10s;
  const std::chrono::steady_clock::duration export_timeout = std::chrono::seconds(export_timeout_s);

  beeline::config cfg;
  cfg.service_name = "http_server";
  if (!beeline::init(cfg)) return 2;  // the reason is logged

  asio::io_context io;
  beeline::http::server srv(io.get_executor(),
                            {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, handle);
  srv.start();
  asio::signal_set signals(io, SIGINT, SIGTERM);  // before announcing the port: no signal is missed
  std::fprintf(stderr, "listening on 127.0.0.1:%u\n", srv.local_endpoint().port());

  // One deadline for the whole export: the flush has until then, and the shutdown gets what is left.
  std::chrono::steady_clock::time_point export_deadline{};
  beeline::flush_result flushed{};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto [ec, sig] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
        const std::size_t forced = co_await srv.async_stop(drain_timeout);
        std::fprintf(stderr, "signal %d: stopped; %zu connections cut at the %.0f s drain deadline\n",
                     ec ? 0 : sig, forced, in_seconds(drain_timeout));
        const auto export_start = std::chrono::steady_clock::now();
        export_deadline = export_start + export_timeout;
        flushed = co_await beeline::flush(export_timeout);
        std::fprintf(stderr, "flush %s after %.2f s: %llu exported, %llu dropped while it waited\n",
                     flushed.complete ? "complete" : "timed out",
                     in_seconds(std::chrono::steady_clock::now() - export_start),
                     static_cast<unsigned long long>(flushed.exported),
                     static_cast<unsigned long long>(flushed.dropped));
      },
      asio::detached);

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&] { io.run(); });
  io.run();  // returns once the shutdown has finished: nothing is left to do
  for (auto& t : pool)
    t.join();

  // What the flush left undelivered (requests still in flight at its deadline, say) is settled here, within
  // the same deadline, and counted.
  const auto shutdown_start = std::chrono::steady_clock::now();
  const auto left = export_deadline > shutdown_start ? export_deadline - shutdown_start
                                                     : std::chrono::steady_clock::duration::zero();
  const beeline::flush_result stopped = beeline::shutdown(left);
  std::fprintf(stderr,
               "shutdown %s after %.2f s (of the %.2f s the flush left): %llu exported, %llu dropped; "
               "export took %.2f s of its %.0f s deadline\n",
               stopped.complete ? "complete" : "timed out",
               in_seconds(std::chrono::steady_clock::now() - shutdown_start), in_seconds(left),
               static_cast<unsigned long long>(stopped.exported),
               static_cast<unsigned long long>(stopped.dropped),
               in_seconds(std::chrono::steady_clock::now() - (export_deadline - export_timeout)),
               in_seconds(export_timeout));
  const beeline::stats final_counters = beeline::get_stats();
  print_final_counters(final_counters);
  return flushed.complete && final_counters.dropped() == 0 ? 0 : 1;
}
