// What Highlight's calls cost the caller: `consume_error` with source context (cold and warm cache, frames
// given or captured and symbolized), and `record_metric`, sending to a loopback OTLP sink on 127.0.0.1,
// beside a baseline of two steady_clock::now() calls measured in the same run.
//
// "Cold" uses a cache too small to keep any file, so every frame's file is read again (from the OS page
// cache); "warm" keeps them. The `dropped` counters must stay 0 (a dropped record is cheaper and would
// flatter the figure).
#include <beeline/highlight.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "loopback_sink.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace hl = beeline::highlight;
using asio::ip::tcp;

namespace {

beeline::bench::loopback_sink& sink() {
  static beeline::bench::loopback_sink s(beeline::bench::loopback_sink::protocol::otlp);
  return s;
}

hl::options options(double cache_mb, bool source_context = true) {
  hl::options o;
  o.project_id = "bench";
  o.otlp_endpoint = sink().url();
  o.service_name = "highlight-bench";
  o.error_source_context_cache_size_mb = cache_mb;
  o.disable_error_source_context = !source_context;
  o.signal_queue_capacity = 1 << 20;
  o.send_interval = std::chrono::milliseconds(50);
  o.logger = [](beeline::log_level, std::string_view) {};
  return o;
}

// Eight frames in real source files of this repository (this file, at lines that exist).
std::vector<hl::stack_frame> frames() {
  std::vector<hl::stack_frame> out;
  for (int i = 0; i < 8; ++i)
    out.push_back({nullptr, "frame_" + std::to_string(i), __FILE__, 20 + 10 * i});
  return out;
}

// Every 1000 calls the benchmark waits (untimed) for the export to catch up, so the tracer's queue never
// overflows: the figure is the caller's cost with every span delivered.
void settle(benchmark::State& state, hl::client& c, std::int64_t i) {
  if (i % 1000 != 999) return;
  state.PauseTiming();
  c.flush(std::chrono::seconds(10));
  state.ResumeTiming();
}

void report(benchmark::State& state, hl::client& c) {
  c.flush(std::chrono::seconds(10));
  const auto s = c.stats();
  const auto t = c.tracer().stats();
  state.counters["dropped"] = static_cast<double>(t.dropped() + s.metrics_dropped);
  state.counters["file_reads"] = static_cast<double>(s.source_file_reads);
}

void BM_baseline_two_clock_reads(benchmark::State& state) {
  for (auto _ : state) {
    auto a = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(a);
    auto b = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_baseline_two_clock_reads);

void BM_consume_error_frames_warm(benchmark::State& state) {
  hl::client c(options(10));
  const auto f = frames();
  c.consume_error("bench_error", "warm-up", f);
  std::int64_t i = 0;
  for (auto _ : state) {
    c.consume_error("bench_error", "something failed", f, "session", "request");
    settle(state, c, i++);
  }
  report(state, c);
}
BENCHMARK(BM_consume_error_frames_warm);

void BM_consume_error_frames_cold(benchmark::State& state) {
  hl::client c(options(0.00001));  // 10 bytes: no file is kept, every frame reads its file
  const auto f = frames();
  std::int64_t i = 0;
  for (auto _ : state) {
    c.consume_error("bench_error", "something failed", f, "session", "request");
    settle(state, c, i++);
  }
  report(state, c);
}
BENCHMARK(BM_consume_error_frames_cold);

[[gnu::noinline]] void fail() {
  throw std::runtime_error("something failed");
}

void BM_consume_error_captured_warm(benchmark::State& state) {
  hl::client c(options(10));
  std::int64_t i = 0;
  for (auto _ : state) {
    try {
      fail();
    } catch (const std::exception& e) {
      c.consume_error(e, "session", "request");  // captures and symbolizes this stack, then source context
    }
    settle(state, c, i++);
  }
  report(state, c);
}
BENCHMARK(BM_consume_error_captured_warm);

void BM_consume_error_captured_no_context(benchmark::State& state) {
  hl::client c(options(10, false));
  std::int64_t i = 0;
  for (auto _ : state) {
    try {
      fail();
    } catch (const std::exception& e) {
      c.consume_error(e, "session", "request");
    }
    settle(state, c, i++);
  }
  report(state, c);
}
BENCHMARK(BM_consume_error_captured_no_context);

void BM_record_metric(benchmark::State& state) {
  hl::client c(options(10));
  double v = 0;
  std::int64_t i = 0;
  for (auto _ : state) {
    c.record_metric("session", "latency_ms", v += 0.5, "request", {{"route", "/orders"}});
    if (i++ % 100000 == 99999) {  // the queue holds 2^20; keep it from filling
      state.PauseTiming();
      c.flush(std::chrono::seconds(10));
      state.ResumeTiming();
    }
  }
  report(state, c);
}
BENCHMARK(BM_record_metric);

}  // namespace

BENCHMARK_MAIN();
