// Span cost: start + finish of a span with three string fields, exported through the queue to a discarding
// exporter, beside a baseline of two steady_clock::now() calls measured in the same run.
//
// Heap calls are counted by interposing malloc, calloc and realloc (operator new included); the figure
// reported per span covers every thread (the export worker included), after a warm-up that fills the pools.
#include <beeline/beeline.hpp>

#include "bench_config.hpp"

#include <benchmark/benchmark.h>

#include "alloc_counter.hpp"
#include "bench_util.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>

namespace {

void BM_baseline_two_clock_reads(benchmark::State& state) {
  for (auto _ : state) {
    auto a = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(a);
    auto b = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_baseline_two_clock_reads);

// Reports allocations per span and spans the tracer dropped (must be 0: a dropped span is cheaper, so drops
// would flatter the figure).
void report(benchmark::State& state, beeline::tracer& tr, std::uint64_t allocs, std::uint64_t spans) {
  tr.flush_sync(std::chrono::seconds(10));
  const beeline::stats s = tr.stats();
  state.counters["allocs_per_span"] = spans ? static_cast<double>(allocs) / static_cast<double>(spans) : 0;
  state.counters["dropped"] = static_cast<double>(s.dropped());
  state.counters["exported"] = static_cast<double>(s.exported);
}

void BM_span_three_string_fields(benchmark::State& state) {
  beeline::tracer tr(bench_config());
  beeline::span root = tr.start_trace("bench_root");
  const auto one = [] {
    beeline::span s = beeline::start_span("db.query", {{"db.system", "postgresql"},
                                                       {"db.statement", "SELECT * FROM items WHERE id = $1"},
                                                       {"http.route", "/api/v1/items/:id"}});
  };
  for (int i = 0; i < 100000; ++i)
    one();  // warm the pools and buffers
  tr.flush_sync(std::chrono::seconds(10));
  const std::uint64_t dropped_before = tr.stats().dropped();
  const std::uint64_t allocs_before = bench::allocations.load();
  std::uint64_t spans = 0;
  for (auto _ : state) {
    one();
    ++spans;
  }
  const std::uint64_t allocs = bench::allocations.load() - allocs_before;
  report(state, tr, allocs, spans);
  state.counters["dropped"] = static_cast<double>(tr.stats().dropped() - dropped_before);
}
BENCHMARK(BM_span_three_string_fields);

void BM_trace_root_only(benchmark::State& state) {
  beeline::tracer tr(bench_config());
  for (int i = 0; i < 100000; ++i)
    beeline::span r = tr.start_trace("warm");
  tr.flush_sync(std::chrono::seconds(10));
  const std::uint64_t dropped_before = tr.stats().dropped();
  const std::uint64_t allocs_before = bench::allocations.load();
  std::uint64_t spans = 0;
  for (auto _ : state) {
    beeline::span r = tr.start_trace("request", {{"http.method", "GET"}});
    ++spans;
  }
  report(state, tr, bench::allocations.load() - allocs_before, spans);
  state.counters["dropped"] = static_cast<double>(tr.stats().dropped() - dropped_before);
}
BENCHMARK(BM_trace_root_only);

}  // namespace

BENCHMARK_MAIN();
