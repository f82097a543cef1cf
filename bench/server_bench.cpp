// A Beast HTTP server answering a small request, uninstrumented and instrumented, under the same load.
//
//   plain    a Beast session loop (request parser, handler, write; keep-alive), no tracing at all
//   traced   `beeline::http::server`: one trace per request with the Beeline's request fields and a child
//            span in the handler, exported by the Honeycomb exporter over HTTP to a loopback sink
//
// The load generator keeps `connections` keep-alive connections busy (closed loop: each sends its next
// request when the last response arrives) for `seconds` per round, and records every request's latency. The
// two servers take turns, round after round, in one run; the counters are the medians over the rounds of
// requests per second and p99 latency, and their ratios (traced / plain).
//
// Everything runs on this one machine: the server's io_context thread, the load generator's thread, and for
// the traced server the export worker, the HTTP client's thread and the sink. On a 2-core machine those
// compete for the same cores, so the figure includes the cost of exporting, not only of tracing.
#include <beeline/asio/http_server.hpp>
#include <beeline/beeline.hpp>
#include <beeline/http_exporter.hpp>

#include "loopback_sink.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using request = bhttp::request<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;
using clock_type = std::chrono::steady_clock;

const auto loopback = asio::ip::make_address("127.0.0.1");

/// The handler both servers run (the traced one also opens a child span, as an instrumented handler would).
response answer(const request& req) {
  response res{bhttp::status::ok, req.version()};
  res.set(bhttp::field::content_type, "text/plain");
  res.body() = "hello\n";
  return res;
}

// ---- the uninstrumented server ----

asio::awaitable<void> plain_session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(1024 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    response res = answer(parser.get());
    res.keep_alive(parser.get().keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> plain_accept(tcp::acceptor& acceptor) {
  for (;;) {
    auto strand = asio::make_strand(acceptor.get_executor());
    auto [ec, socket] = co_await acceptor.async_accept(strand, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(strand, plain_session(std::move(socket)), asio::detached);
  }
}

// ---- the load generator ----

struct round_result {
  double rps = 0;
  double p99_us = 0;
};

/// Keeps `connections` connections busy for `length`. With `rate` 0, closed loop (each connection sends its
/// next request when the last response arrives: the server's capacity); else open loop at `rate` requests per
/// second in total, each latency measured from when its request was due (a server that falls behind is
/// charged for the wait, not excused by it).
round_result load(unsigned short port, int connections, clock_type::duration length, double rate = 0) {
  asio::io_context ioc;
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(connections));
  const auto start = clock_type::now();
  const auto stop_at = start + length;
  for (int c = 0; c < connections; ++c)
    asio::co_spawn(
        ioc,
        [&, c]() -> asio::awaitable<void> {
          beast::tcp_stream stream(co_await asio::this_coro::executor);
          co_await stream.async_connect(tcp::endpoint(loopback, port), asio::use_awaitable);
          stream.socket().set_option(tcp::no_delay(true));
          request req{bhttp::verb::get, "/hello?user=42", 11};
          req.set(bhttp::field::host, "localhost");
          req.set(bhttp::field::user_agent, "server_bench");
          beast::flat_buffer buffer;
          auto& mine = latencies[static_cast<std::size_t>(c)];
          asio::steady_timer pace(co_await asio::this_coro::executor);
          const auto interval = std::chrono::duration_cast<clock_type::duration>(
              std::chrono::duration<double>(rate > 0 ? connections / rate : 0));
          auto due = start + interval * c / connections;  // spread the connections' schedules
          while (clock_type::now() < stop_at) {
            if (rate > 0) {
              pace.expires_at(due);
              co_await pace.async_wait(asio::use_awaitable);
            }
            const auto t0 = rate > 0 ? due : clock_type::now();
            due += interval;
            co_await bhttp::async_write(stream, req, asio::use_awaitable);
            response res;
            co_await bhttp::async_read(stream, buffer, res, asio::use_awaitable);
            mine.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
          }
        },
        asio::detached);
  ioc.run();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies)
    all.insert(all.end(), l.begin(), l.end());
  round_result r;
  r.rps = static_cast<double>(all.size()) / seconds;
  if (!all.empty()) {
    const auto k = static_cast<std::ptrdiff_t>(static_cast<double>(all.size() - 1) * 0.99);
    std::nth_element(all.begin(), all.begin() + k, all.end());
    r.p99_us = all[static_cast<std::size_t>(k)];
  }
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Both servers, taking turns for `rounds` rounds of one second under `connections` connections.
void server_side_by_side(benchmark::State& state) {
  const int connections = static_cast<int>(state.range(0));
  constexpr int rounds = 6;
  const auto round_length = std::chrono::milliseconds(1000);

  // The plain server.
  asio::io_context plain_io;
  tcp::acceptor plain_acceptor(plain_io, {loopback, 0});
  asio::co_spawn(plain_io, plain_accept(plain_acceptor), asio::detached);
  const auto plain_port = plain_acceptor.local_endpoint().port();

  // The traced server and its export pipeline.
  beeline::bench::loopback_sink sink;
  beeline::honeycomb_exporter_options hc;
  hc.api_host = "http://127.0.0.1:" + std::to_string(sink.port());
  hc.write_key = "0123456789abcdef0123456789abcdef";
  beeline::config cfg;
  cfg.service_name = "server_bench";
  // Arg 1: 1 exports over HTTP to the sink (the figure that counts), 0 discards (the cost of tracing alone).
  // Arg 3: the export batch size (config::batch_size).
  cfg.batch_size = static_cast<std::size_t>(state.range(3));
  cfg.exporter = state.range(1) ? beeline::make_honeycomb_exporter(hc) : beeline::make_discard_exporter();
  beeline::tracer tracer(cfg);
  asio::io_context traced_io;
  beeline::http::session_options opts;
  opts.tracer = &tracer;
  beeline::http::server traced(
      traced_io.get_executor(), {loopback, 0},
      [](request& req) -> asio::awaitable<response> {
        beeline::span s = beeline::start_span("handler");
        co_return answer(req);
      },
      opts);
  traced.start();
  const auto traced_port = traced.local_endpoint().port();

  auto plain_guard = asio::make_work_guard(plain_io);
  auto traced_guard = asio::make_work_guard(traced_io);
  std::thread plain_thread([&] { plain_io.run(); });
  std::thread traced_thread([&] { traced_io.run(); });

  // Arg 2: 0 for the closed loop (capacity); else the open-loop rate as a percentage of the plain server's
  // capacity, measured first in this run.
  const int percent = static_cast<int>(state.range(2));
  std::vector<double> plain_rps, traced_rps, plain_p99, traced_p99;
  double rate = 0;
  for (auto _ : state) {
    load(plain_port, connections, std::chrono::milliseconds(300));  // warm up both
    load(traced_port, connections, std::chrono::milliseconds(300));
    if (percent) rate = load(plain_port, connections, round_length).rps * percent / 100.0;
    for (int r = 0; r < rounds; ++r) {
      const bool plain_first = r % 2 == 0;
      for (int side = 0; side < 2; ++side) {
        const bool is_plain = (side == 0) == plain_first;
        const round_result res = load(is_plain ? plain_port : traced_port, connections, round_length, rate);
        (is_plain ? plain_rps : traced_rps).push_back(res.rps);
        (is_plain ? plain_p99 : traced_p99).push_back(res.p99_us);
      }
    }
  }
  state.counters["offered_rps"] = rate;
  const beeline::flush_result flushed = tracer.flush_sync(std::chrono::seconds(30));
  const beeline::stats st = tracer.stats();

  state.counters["plain_rps"] = median(plain_rps);
  state.counters["traced_rps"] = median(traced_rps);
  state.counters["throughput_ratio"] = median(traced_rps) / median(plain_rps);
  state.counters["plain_p99_us"] = median(plain_p99);
  state.counters["traced_p99_us"] = median(traced_p99);
  state.counters["p99_ratio"] = median(traced_p99) / median(plain_p99);
  state.counters["spans_dropped"] = static_cast<double>(st.dropped());
  state.counters["flush_complete"] = flushed.complete ? 1 : 0;
  state.counters["spans_delivered"] = static_cast<double>(sink.events());

  plain_acceptor.close();
  plain_guard.reset();
  traced_guard.reset();
  plain_io.stop();
  traced_io.stop();
  plain_thread.join();
  traced_thread.join();
}
/// The tracing work of one request on its own: the root's trace from a Beast request header, a child span,
/// the response recorded, both finished (into a discarding exporter).
void request_trace_cost(benchmark::State& state) {
  beeline::config cfg;
  cfg.exporter = beeline::make_discard_exporter();
  cfg.queue_capacity = 1 << 16;
  beeline::tracer tracer(cfg);
  beeline::http::session_options opts;
  opts.tracer = &tracer;
  request req{bhttp::verb::get, "/hello?user=42", 11};
  req.set(bhttp::field::host, "localhost");
  req.set(bhttp::field::user_agent, "server_bench");
  const response res = answer(req);
  for (auto _ : state) {
    beeline::http::server_span trace(req.base(), "127.0.0.1", opts);
    { beeline::span child = beeline::start_span("handler"); }
    trace.set_response(res.base());
    trace.finish();
  }
  tracer.flush_sync(std::chrono::seconds(10));
  state.counters["dropped"] = static_cast<double>(tracer.stats().dropped());
}
BENCHMARK(request_trace_cost);

BENCHMARK(server_side_by_side)
    ->Args({8, 1, 0, 50})
    ->Args({8, 1, 25, 50})
    ->Args({8, 1, 25, 512})
    ->Args({8, 0, 0, 50})
    ->ArgNames({"connections", "http_export", "load_percent", "batch"})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
