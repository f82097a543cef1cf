// A Beast HTTP server answering a small request, uninstrumented and instrumented, under the same load.
//
//   plain     a Beast session loop (request parser, handler, write; keep-alive), no tracing at all
//   traced    server=0: `beeline::http::server` (strand, timeouts and stop per connection, one trace per
//             request with the Beeline's request fields, a child span in the handler);
//             server=1: the plain loop with what a user adds to it: `beeline::spawn`, a `server_span` per
//             request and the child span;
//             server=2: the library's session loop (`serve_connection`) under that plain accept loop;
//             server=3: the control: a second plain server, untraced, on its own thread. Its "ratios" are
//             what this machine's noise alone gives two identical servers: a traced figure closer to 1
//             than the control's spread cannot be told from 1 here.
//             Each exports with the Honeycomb exporter over HTTP to a loopback sink (http_export=1) or
//             discards (0: the cost of tracing alone). work_us: CPU the handler spends per request.
//
// The load generator keeps `connections` keep-alive connections busy for one second per round: closed loop
// (each sends its next request when the last response arrives: the server's capacity) or open loop at a
// fixed share of the plain server's capacity. The two servers take turns, round after round, in one run.
// Counters: the medians over the rounds of requests per second, the p99 (and p50) over every request of
// every round, their ratios (traced / plain), and CPU per request: the whole process's, and for the traced
// rounds each thread's (the library names its threads), which is steadier than wall time on a shared box.
//
// Everything runs on this one machine: the server's io_context thread, the load generator's thread, and for
// the traced server the export worker, the HTTP client's thread and the sink. On a 2-core machine those
// compete for the same cores, so the figure includes the cost of exporting, not only of tracing.
#include <beeline/asio/http_server.hpp>
#include <beeline/beeline.hpp>
#include <beeline/http_exporter.hpp>

#include "honeycomb_body.hpp"
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

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
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
/// CPU the handler spends per request, as an application's own work would (0: answer at once). Set per
/// benchmark (arg 5) before the servers start.
std::chrono::nanoseconds handler_work{0};

response answer(const request& req) {
  if (handler_work.count() > 0) {  // busy, not asleep: the request costs the server this much CPU
    const auto until = clock_type::now() + handler_work;
    while (clock_type::now() < until) {
    }
  }
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

// ---- the same loop, instrumented by hand (what a user adds to an existing Beast server) ----

asio::awaitable<void> instrumented_session(tcp::socket socket, const beeline::http::server_options* opts) {
  beast::tcp_stream stream(std::move(socket));
  const std::string remote = stream.socket().remote_endpoint().address().to_string();
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(1024 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    beeline::http::server_span trace(parser.get().base(), remote, *opts);
    response res;
    {
      beeline::span s = beeline::start_span("handler");
      res = answer(parser.get());
    }
    res.keep_alive(parser.get().keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec) co_return;
    trace.finish(res.base());
    if (!res.keep_alive()) co_return;
  }
}

asio::awaitable<void> instrumented_accept(tcp::acceptor& acceptor,
                                          const beeline::http::server_options* opts) {
  for (;;) {
    auto strand = asio::make_strand(acceptor.get_executor());
    auto [ec, socket] = co_await acceptor.async_accept(strand, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    beeline::spawn(strand, instrumented_session(std::move(socket), opts), asio::detached);
  }
}

/// server=2: the library's session loop (`serve_connection`) under the plain accept loop, without the
/// `http::server` around it (no stop control, no cancellation slot): tells the loop's cost from the server's.
asio::awaitable<void> loop_accept(tcp::acceptor& acceptor, const beeline::http::session_options* opts) {
  for (;;) {
    auto strand = asio::make_strand(acceptor.get_executor());
    auto [ec, socket] = co_await acceptor.async_accept(strand, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    beeline::spawn(
        strand,
        [opts, s = std::move(socket)]() mutable -> asio::awaitable<void> {
          beast::tcp_stream stream(std::move(s));
          std::string remote = stream.socket().remote_endpoint().address().to_string();
          auto handler = [](request& req) -> asio::awaitable<response> {
            beeline::span span = beeline::start_span("handler");
            co_return answer(req);
          };
          auto session = beeline::http::serve_connection(stream, std::move(remote), handler, *opts, nullptr);
          co_await std::move(session);
        },
        asio::detached);
  }
}

// ---- the load generator ----

struct round_result {
  double requests = 0;
  double rps = 0;
  double p99_us = 0;
  std::vector<double> latencies_us;  // every request's
};

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::ptrdiff_t>(static_cast<double>(v.size() - 1) * q);
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[static_cast<std::size_t>(k)];
}

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
  r.requests = static_cast<double>(all.size());
  r.rps = r.requests / seconds;
  r.p99_us = percentile(all, 0.99);
  r.latencies_us = std::move(all);
  return r;
}

/// CPU seconds used so far by each of this process's threads, summed by thread name (the library names its
/// threads `beeline-export` and `beeline-http`; the bench names its own).
std::map<std::string, double> cpu_by_thread_name() {
  std::map<std::string, double> out;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm_file(task.path() / "comm"), stat_file(task.path() / "stat");
    std::string name, stat;
    std::getline(comm_file, name);
    std::getline(stat_file, stat);
    // Fields after the parenthesised name: state is field 3; utime and stime are fields 14 and 15.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    out[name] += static_cast<double>(utime + stime) / tick;
  }
  return out;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Both servers, taking turns for `rounds` rounds of one second under `connections` connections.
void server_side_by_side(benchmark::State& state) {
  const int connections = static_cast<int>(state.range(0));
  // Rounds per side: 6, or SERVER_BENCH_ROUNDS (a p99 ratio within a few percent needs many more on a
  // shared machine).
  const char* rounds_env = std::getenv("SERVER_BENCH_ROUNDS");
  const int rounds = rounds_env ? std::max(1, std::atoi(rounds_env)) : 6;
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
  // Arg 4: which server plays the traced side: 0 `beeline::http::server`, 1 the plain loop above instrumented
  // by hand, 2 the plain accept loop around `serve_connection`, 3 the control (the plain server again).
  const auto which = state.range(4);
  // Arg 5: microseconds of CPU work in the handler (0: the bare "hello" answer).
  handler_work = std::chrono::microseconds(state.range(5));
  beeline::http::session_options opts;
  opts.tracer = &tracer;
  beeline::http::server traced(
      traced_io.get_executor(), {loopback, 0},
      [](request& req) -> asio::awaitable<response> {
        beeline::span s = beeline::start_span("handler");
        co_return answer(req);
      },
      opts);
  tcp::acceptor hand_acceptor(traced_io, {loopback, 0});
  const beeline::http::server_options& hand_opts = opts;
  if (which == 3)
    asio::co_spawn(traced_io, plain_accept(hand_acceptor), asio::detached);
  else if (which == 2)
    asio::co_spawn(traced_io, loop_accept(hand_acceptor, &opts), asio::detached);
  else if (which == 1)
    asio::co_spawn(traced_io, instrumented_accept(hand_acceptor, &hand_opts), asio::detached);
  else
    traced.start();
  const auto traced_port = which ? hand_acceptor.local_endpoint().port() : traced.local_endpoint().port();

  auto plain_guard = asio::make_work_guard(plain_io);
  auto traced_guard = asio::make_work_guard(traced_io);
  std::thread plain_thread([&] {
    pthread_setname_np(pthread_self(), "plain-server");
    plain_io.run();
  });
  std::thread traced_thread([&] {
    pthread_setname_np(pthread_self(), which == 3 ? "control-server" : "traced-server");
    traced_io.run();
  });

  // Arg 2: 0 for the closed loop (capacity); else the open-loop rate as a percentage of the plain server's
  // capacity, measured first in this run.
  const int percent = static_cast<int>(state.range(2));
  std::vector<double> plain_rps, traced_rps, plain_p99, traced_p99, plain_cpu, traced_cpu;
  std::vector<double> plain_all, traced_all;  // every latency of every round, per side
  // CPU seconds per thread name over each side's rounds, and the requests those rounds served.
  std::map<std::string, double> plain_threads, traced_threads;
  double plain_requests = 0, traced_requests = 0;
  double rate = 0;
  for (auto _ : state) {
    load(plain_port, connections, std::chrono::milliseconds(300));  // warm up both
    load(traced_port, connections, std::chrono::milliseconds(300));
    if (percent) rate = load(plain_port, connections, round_length).rps * percent / 100.0;
    for (int r = 0; r < rounds; ++r) {
      const bool plain_first = r % 2 == 0;
      for (int side = 0; side < 2; ++side) {
        const bool is_plain = (side == 0) == plain_first;
        const double cpu0 = process_cpu_seconds();
        const auto threads0 = cpu_by_thread_name();
        const round_result res = load(is_plain ? plain_port : traced_port, connections, round_length, rate);
        const double cpu_us = (process_cpu_seconds() - cpu0) * 1e6 / std::max<double>(1, res.requests);
        for (const auto& [name, seconds] : cpu_by_thread_name()) {
          const auto before = threads0.find(name);
          (is_plain ? plain_threads : traced_threads)[name] +=
              seconds - (before == threads0.end() ? 0.0 : before->second);
        }
        (is_plain ? plain_requests : traced_requests) += res.requests;
        (is_plain ? plain_rps : traced_rps).push_back(res.rps);
        (is_plain ? plain_p99 : traced_p99).push_back(res.p99_us);
        auto& pool = is_plain ? plain_all : traced_all;
        pool.insert(pool.end(), res.latencies_us.begin(), res.latencies_us.end());
        (is_plain ? plain_cpu : traced_cpu).push_back(cpu_us);
      }
    }
  }
  state.counters["offered_rps"] = rate;
  const beeline::flush_result flushed = tracer.flush_sync(std::chrono::seconds(30));
  const beeline::stats st = tracer.stats();

  state.counters["plain_rps"] = median(plain_rps);
  state.counters["traced_rps"] = median(traced_rps);
  state.counters["throughput_ratio"] = median(traced_rps) / median(plain_rps);
  // p99 over every request of every round (pooled), and the median of the rounds' own p99s.
  const double plain_pooled = percentile(plain_all, 0.99), traced_pooled = percentile(traced_all, 0.99);
  state.counters["plain_p99_us"] = plain_pooled;
  state.counters["traced_p99_us"] = traced_pooled;
  state.counters["p99_ratio"] = traced_pooled / plain_pooled;
  state.counters["p99_ratio_median_of_rounds"] = median(traced_p99) / median(plain_p99);
  state.counters["p50_ratio"] = percentile(traced_all, 0.5) / percentile(plain_all, 0.5);
  // CPU of the whole process (server, load generator, and for the traced server its export and the sink)
  // per request: steadier than wall time on a shared machine.
  state.counters["plain_cpu_us_per_req"] = median(plain_cpu);
  state.counters["traced_cpu_us_per_req"] = median(traced_cpu);
  // Where each side's CPU went, per request, by thread (10 ms accounting ticks: coarse for small ones). The
  // server threads compare directly: plain_cpu_us.plain-server against traced_cpu_us.traced-server.
  for (const auto& [name, seconds] : plain_threads)
    if (seconds > 0) state.counters["plain_cpu_us." + name] = seconds * 1e6 / std::max(1.0, plain_requests);
  for (const auto& [name, seconds] : traced_threads)
    if (seconds > 0) state.counters["traced_cpu_us." + name] = seconds * 1e6 / std::max(1.0, traced_requests);
  state.counters["spans_dropped"] = static_cast<double>(st.dropped());
  state.counters["flush_complete"] = flushed.complete ? 1 : 0;
  state.counters["spans_delivered"] = static_cast<double>(sink.events());

  plain_acceptor.close();
  hand_acceptor.close();
  plain_guard.reset();
  traced_guard.reset();
  plain_io.stop();
  traced_io.stop();
  plain_thread.join();
  traced_thread.join();
}
/// Writes each batch as the Honeycomb exporter's request body, and sends nothing.
class encode_only final : public beeline::exporter {
 public:
  beeline::export_result export_batch(std::span<const beeline::event> batch) override {
    body_.clear();
    bench::append_honeycomb_batch(body_, batch);
    benchmark::DoNotOptimize(body_.data());
    return {batch.size(), 0, {}};
  }

 private:
  std::string body_;
};

/// The tracing work of one request on its own: the root's trace from a Beast request header, a child span,
/// the response recorded, both finished. Arg 0: spans discarded; 1: encoded as the Honeycomb exporter's
/// body (not sent). `export_cpu_ns_per_span` is the export worker's CPU per span it exported (its thread's
/// clock, 10 ms ticks: read it over a long run).
void request_trace_cost(benchmark::State& state) {
  beeline::config cfg;
  cfg.exporter = state.range(0) ? std::make_shared<encode_only>() : beeline::make_discard_exporter();
  cfg.queue_capacity = 1 << 16;
  beeline::tracer tracer(cfg);
  beeline::http::session_options opts;
  opts.tracer = &tracer;
  request req{bhttp::verb::get, "/hello?user=42", 11};
  req.set(bhttp::field::host, "localhost");
  req.set(bhttp::field::user_agent, "server_bench");
  const response res = answer(req);
  auto before = cpu_by_thread_name();  // the worker may not have named itself yet: 0 then
  for (auto _ : state) {
    beeline::http::server_span trace(req.base(), "127.0.0.1", opts);
    { beeline::span child = beeline::start_span("handler"); }
    trace.set_response(res.base());
    trace.finish();
  }
  tracer.flush_sync(std::chrono::seconds(10));
  const double worker = cpu_by_thread_name()["beeline-export"] - before["beeline-export"];
  const beeline::stats st = tracer.stats();
  // A producer this fast outruns the worker and fills the queue (those spans are dropped at the door, by the
  // producer): the worker's cost is per span it exported.
  state.counters["export_cpu_ns_per_span"] =
      worker * 1e9 / std::max<double>(1, static_cast<double>(st.exported));
  state.counters["dropped"] = static_cast<double>(tracer.stats().dropped());
}
BENCHMARK(request_trace_cost)->Arg(0)->Arg(1)->MinTime(2);

BENCHMARK(server_side_by_side)
    ->Args({8, 1, 0, 50, 0, 0})
    ->Args({8, 1, 25, 50, 0, 0})
    ->Args({8, 1, 50, 50, 0, 0})
    ->Args({8, 0, 0, 50, 0, 0})
    ->Args({8, 1, 0, 50, 1, 0})
    ->Args({8, 1, 25, 50, 1, 0})
    ->Args({8, 1, 50, 50, 1, 0})
    ->Args({8, 0, 0, 50, 1, 0})
    ->Args({8, 0, 25, 50, 1, 0})
    ->Args({8, 1, 0, 50, 0, 50})
    ->Args({8, 1, 0, 50, 1, 50})
    ->Args({8, 1, 25, 50, 1, 50})
    ->Args({8, 1, 0, 50, 2, 50})
    ->Args({8, 1, 0, 50, 3, 0})
    ->Args({8, 1, 25, 50, 3, 0})
    ->Args({8, 1, 0, 50, 3, 50})
    ->ArgNames({"connections", "http_export", "load_percent", "batch", "server", "work_us"})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
