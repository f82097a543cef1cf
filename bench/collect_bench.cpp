// The span hot path and its collection, as ratios measured side by side in one run:
//
//   clock     two reads of the clock spans use (the TSC, or the steady clock where the kernel's clock source
//             is not `tsc` or BEELINE_TICK_CLOCK=steady), against a span (start, three string fields,
//             finish) exported through the worker to a discarding exporter;
//   floor     the same span through the least a span path must do (span_floor.hpp), in turns with it: what
//             the library's own bookkeeping costs on top;
//   cores     the same span with everything pinned to one core, against the export worker on the other core;
//   threads   CPU per span of each of two producer threads, against one thread alone;
//   latency   every `finish` timed at 10,000 spans/s on one thread while the worker idles between its
//             passes: a histogram, not a mean;
//   fields    spans of 0, 3, 10 and 30 fields: time and heap calls (malloc, calloc, realloc and operator
//             new, on every thread) per million spans after a warm-up.
//   cores'    a cache line passed back and forth between threads on CPU 0 and CPU 1, at the start and at the
//             end: on a virtual machine the host may place the two virtual CPUs near each other (a round
//             trip of about 100 ns here) or far apart (about 350 ns), and that placement, which changes from
//             minute to minute, moves every figure that crosses cores. Each run says which it had.
//
// Each timed figure is the median of several repetitions, the two sides of a ratio taken in turns. A run is
// `--spans` spans (50,000) while the worker comes on its own schedule; a flush after each run, outside the
// timing, keeps the rings from overflowing on a machine where the worker gets little CPU. Per-span figures
// are the producer thread's CPU time (the shared machine's other load does not count in it; cache misses and
// stalls do) with wall time beside it. Run as `collect_bench` and `BEELINE_TICK_CLOCK=steady collect_bench`
// for both clock paths.
#include <beeline/beeline.hpp>

#include "alloc_counter.hpp"
#include "bench_config.hpp"
#include "core/tick_clock.hpp"
#include "span_floor.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

int repetitions = 7;
std::size_t spans_per_run = 50'000;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      CPU_SET(c, &set);
  } else {
    CPU_SET(cpu, &set);
  }
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct span_run {
  double wall_ns = 0;  // per span
  double cpu_ns = 0;   // per span, this thread's CPU
};

// The same span through the floor path (span_floor.hpp): CPU per span.
double floor_spans(bench::span_floor::collector& c, std::size_t spans) {
  c.start();
  const double c0 = thread_cpu_ns();
  for (std::size_t i = 0; i < spans; ++i) {
    bench::span_floor::collector::span s(c, "db.query",
                                         {{"db.system", "postgresql"},
                                          {"db.statement", "SELECT * FROM items WHERE id = $1"},
                                          {"http.route", "/api/v1/items/:id"}});
  }
  const double c1 = thread_cpu_ns();
  c.stop();
  return (c1 - c0) / static_cast<double>(spans);
}

// Two reads of the clock the library's spans read.
span_run two_clock_reads() {
  constexpr int n = 2'000'000;
  std::uint64_t sink = 0;
  const double c0 = thread_cpu_ns();
  const auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i) {
    const std::uint64_t a = beeline::detail::ticks_now();
    const std::uint64_t b = beeline::detail::ticks_now();
    sink += b - a;
  }
  const auto t1 = clock_type::now();
  const double c1 = thread_cpu_ns();
  if (sink == 42) std::puts("");
  return {std::chrono::duration<double, std::nano>(t1 - t0).count() / n, (c1 - c0) / n};
}

inline void one_span() {
  beeline::span s = beeline::start_span("db.query", {{"db.system", "postgresql"},
                                                     {"db.statement", "SELECT * FROM items WHERE id = $1"},
                                                     {"http.route", "/api/v1/items/:id"}});
}

// A cache line's round trip between CPU 0 and CPU 1: each thread waits for the other's write, then writes.
double cross_core_round_trip_ns() {
  constexpr long trips = 100'000;
  alignas(64) std::atomic<long> turn{0};
  std::thread other([&] {
    pin_to(1);
    for (long i = 1; i < 2 * trips; i += 2) {
      while (turn.load(std::memory_order_acquire) != i) {
      }
      turn.store(i + 1, std::memory_order_release);
    }
  });
  pin_to(0);
  const auto t0 = clock_type::now();
  for (long i = 0; i < 2 * trips; i += 2) {
    while (turn.load(std::memory_order_acquire) != i) {
    }
    turn.store(i + 1, std::memory_order_release);
  }
  const auto t1 = clock_type::now();
  other.join();
  pin_to(-1);
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / trips;
}

void print_round_trip(const char* when) {
  std::vector<double> v;
  for (int i = 0; i < 3; ++i)
    v.push_back(cross_core_round_trip_ns());
  std::printf("cache line round trip, CPU 0 <-> CPU 1, %s: %.0f ns (median of 3)\n", when, median(v));
}

// Two steady_clock::now() calls (the reference the README's first figure used).
double two_steady_reads_cpu() {
  constexpr int n = 2'000'000;
  std::int64_t sink = 0;
  const double c0 = thread_cpu_ns();
  for (int i = 0; i < n; ++i) {
    const auto a = clock_type::now();
    const auto b = clock_type::now();
    sink += (b - a).count();
  }
  const double c1 = thread_cpu_ns();
  if (sink == 42) std::puts("");
  return (c1 - c0) / n;
}

// `spans` spans of three fields in one trace; the tracer's worker exports them meanwhile.
span_run run_spans(std::size_t spans) {
  const double c0 = thread_cpu_ns();
  const auto t0 = clock_type::now();
  for (std::size_t i = 0; i < spans; ++i)
    one_span();
  const auto t1 = clock_type::now();
  const double c1 = thread_cpu_ns();
  return {std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(spans),
          (c1 - c0) / static_cast<double>(spans)};
}

void check_no_drops(beeline::tracer& tr, const char* what) {
  tr.flush_sync(std::chrono::seconds(30));
  const beeline::stats s = tr.stats();
  if (s.dropped() != 0)
    std::printf("  (%s: %llu spans dropped: the figure is flattered)\n", what,
                static_cast<unsigned long long>(s.dropped()));
}

void clock_and_cores() {
  // Three tracers, made while the main thread is pinned so that each worker inherits its placement: free
  // (no pinning), on CPU 0 while the producer runs on CPU 1, and on CPU 1 with the producer.
  pin_to(-1);
  beeline::tracer free_tr(bench_config());
  pin_to(0);
  beeline::tracer other_tr(bench_config());
  pin_to(1);
  beeline::tracer same_tr(bench_config());
  pin_to(-1);
  bench::span_floor::collector floor_path;
  std::vector<double> clocks, steadies, free_spans, other_spans, same_spans, floors;
  std::vector<double> clocks_wall, free_wall, other_wall, same_wall;
  const auto run_on = [&](beeline::tracer& tr, int cpu, std::vector<double>* wall = nullptr) {
    pin_to(cpu);
    beeline::span root = tr.start_trace("bench_root");
    const span_run r = run_spans(spans_per_run);
    root.finish();
    pin_to(-1);
    tr.flush_sync(std::chrono::seconds(30));
    if (wall) wall->push_back(r.wall_ns);
    return r.cpu_ns;
  };
  // Warm every tracer's pools and this thread's caches.
  for (int warm = 0; warm < 2; ++warm) {
    run_on(free_tr, -1);
    run_on(other_tr, 1);
    run_on(same_tr, 1);
    floor_spans(floor_path, spans_per_run);
  }
  for (int rep = 0; rep < repetitions; ++rep) {
    const span_run c = two_clock_reads();
    clocks.push_back(c.cpu_ns);
    clocks_wall.push_back(c.wall_ns);
    steadies.push_back(two_steady_reads_cpu());
    free_spans.push_back(run_on(free_tr, -1, &free_wall));
    floors.push_back(floor_spans(floor_path, spans_per_run));
    other_spans.push_back(run_on(other_tr, 1, &other_wall));
    same_spans.push_back(run_on(same_tr, 1, &same_wall));
  }
  check_no_drops(free_tr, "free");
  check_no_drops(other_tr, "other core");
  check_no_drops(same_tr, "one core");
  const double clock = median(clocks), span = median(free_spans);
  const double other = median(other_spans), same = median(same_spans);
  std::printf("                                             CPU ns  (wall ns)\n");
  std::printf("two clock reads (the path spans use)        %7.1f  (%7.1f)\n", clock, median(clocks_wall));
  std::printf(
      "span, start + 3 fields + finish             %7.1f  (%7.1f)   span / clock = %.2f (target <= 2.5)\n",
      span, median(free_wall), span / clock);
  std::printf("two steady_clock::now() calls                %7.1f              span / steady = %.2f\n",
              median(steadies), span / median(steadies));
  std::printf(
      "the floor: the same span, least work (span_floor.hpp) %5.1f     span / floor = %.2f, floor / clock = "
      "%.2f\n",
      median(floors), span / median(floors), median(floors) / clock);
  std::printf("span, everything on one core                %7.1f  (%7.1f)\n", same, median(same_wall));
  std::printf(
      "span, worker on the other core              %7.1f  (%7.1f)   other / one core = %.2f (target <= "
      "1.15)\n",
      other, median(other_wall), other / same);
}

void threads() {
  // CPU per span of each producer thread: one thread alone, then two at once (each with its own trace). The
  // queue capacity holds both threads' rings at the size one thread's run makes them grow to.
  beeline::config cfg = bench_config();
  cfg.queue_capacity = 1 << 18;
  beeline::tracer tr(cfg);
  const auto run = [&](int n) {
    std::vector<double> cpu(static_cast<std::size_t>(n));
    std::vector<std::thread> pool;
    for (int k = 0; k < n; ++k)
      pool.emplace_back([&, k] {
        beeline::span root = tr.start_trace("bench_root");
        run_spans(spans_per_run / 8);  // this thread's caches (both threads' spans fit the queue capacity)
        cpu[static_cast<std::size_t>(k)] = run_spans(spans_per_run / 4).cpu_ns;
      });
    for (auto& t : pool)
      t.join();
    tr.flush_sync(std::chrono::seconds(30));
    double sum = 0;
    for (double c : cpu)
      sum += c;
    return sum / n;
  };
  std::vector<double> one, two;
  for (int rep = 0; rep < repetitions; ++rep) {
    one.push_back(run(1));
    two.push_back(run(2));
  }
  check_no_drops(tr, "threads");
  std::printf("CPU per span, one producer thread           %7.1f ns\n", median(one));
  std::printf("CPU per span, each of two producer threads  %7.1f ns   two / one = %.2f (target <= 1.3)\n",
              median(two), median(two) / median(one));
}

void latency() {
  // 10,000 spans/s on one thread for 3 s: every finish timed. The worker sleeps between its passes (the send
  // interval), so this is what a producer pays while the worker idles.
  beeline::tracer tr(bench_config());
  beeline::span root = tr.start_trace("bench_root");
  for (int i = 0; i < 20'000; ++i)
    one_span();
  tr.flush_sync(std::chrono::seconds(10));
  constexpr int per_second = 10'000;
  constexpr int count = 3 * per_second;
  std::vector<double> ns, control;
  ns.reserve(count);
  control.reserve(count);
  const auto start = clock_type::now();
  for (int i = 0; i < count; ++i) {
    const auto due = start + std::chrono::microseconds(1'000'000 / per_second) * i;
    while (clock_type::now() < due) {
    }
    beeline::span s = beeline::start_span("db.query", {{"db.system", "postgresql"},
                                                       {"db.statement", "SELECT * FROM items WHERE id = $1"},
                                                       {"http.route", "/api/v1/items/:id"}});
    const auto t0 = clock_type::now();
    s.finish();
    const auto t1 = clock_type::now();
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    // The control: the same two clock reads around nothing, what the machine's own noise gives.
    const auto c0 = clock_type::now();
    const auto c1 = clock_type::now();
    control.push_back(std::chrono::duration<double, std::nano>(c1 - c0).count());
  }
  root.finish();
  check_no_drops(tr, "latency");
  std::sort(ns.begin(), ns.end());
  std::sort(control.begin(), control.end());
  const auto at = [](const std::vector<double>& v, double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  std::printf(
      "finish at 10k spans/s, %d calls (ns)      p50 %.0f  p99 %.0f  p999 %.0f  max %.0f"
      "   (targets: p99 <= 2000, p999 <= 10000)\n",
      count, at(ns, 0.5), at(ns, 0.99), at(ns, 0.999), ns.back());
  std::printf("control, nothing timed (ns)                 p50 %.0f  p99 %.0f  p999 %.0f  max %.0f\n",
              at(control, 0.5), at(control, 0.99), at(control, 0.999), control.back());
}

void fields_table() {
  std::vector<std::string> keys, values;
  for (int i = 0; i < 30; ++i) {
    keys.push_back("app.field_" + std::to_string(i));
    values.push_back("value number " + std::to_string(i));
  }
  std::printf(
      "\nfields per span | CPU ns per span | heap calls per million spans (steady state, every thread)\n");
  for (const int n : {0, 3, 10, 30}) {
    std::vector<beeline::field> f;
    for (int i = 0; i < n; ++i)
      f.push_back({keys[static_cast<std::size_t>(i)], values[static_cast<std::size_t>(i)]});
    beeline::tracer tr(bench_config());
    beeline::span root = tr.start_trace("bench_root");
    const auto run = [&](std::size_t spans) {
      for (std::size_t i = 0; i < spans; ++i) {
        beeline::span s = beeline::start_span("op");
        s.add_context(std::span<const beeline::field>(f));
      }
    };
    // Warm-up: the pools, this thread's caches and the records' buffers, until three runs in a row larger
    // than the timed ones call the heap no more (at least 8 runs, at most 40): the backlog, and so the
    // records in flight, depend on when the worker gets a core, and a new peak takes fresh records from a new
    // pool chunk.
    for (int warm = 0, quiet = 0; warm < 40 && (warm < 8 || quiet < 3); ++warm) {
      const std::uint64_t a0 = bench::allocations.load();
      run(spans_per_run + spans_per_run / 4);
      quiet = bench::allocations.load() == a0 ? quiet + 1 : 0;
      tr.flush_sync(std::chrono::seconds(30));
    }
    std::vector<double> times;
    std::uint64_t allocs = 0, spans = 0;
    for (int rep = 0; rep < repetitions; ++rep) {
      // Heap calls on every thread during the run (the worker's passes included; the flush after it is not
      // per span and is left out).
      const std::uint64_t a0 = bench::allocations.load();
      const double c0 = thread_cpu_ns();
      run(spans_per_run);
      const double c1 = thread_cpu_ns();
      allocs += bench::allocations.load() - a0;
      tr.flush_sync(std::chrono::seconds(30));
      spans += spans_per_run;
      times.push_back((c1 - c0) / static_cast<double>(spans_per_run));
    }
    root.finish();
    check_no_drops(tr, "fields");
    std::printf("%15d | %15.1f | %.2f\n", n, median(times),
                static_cast<double>(allocs) * 1e6 / static_cast<double>(spans));
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--repetitions=", 0) == 0) repetitions = std::max(1, std::atoi(a.c_str() + 14));
    if (a.rfind("--spans=", 0) == 0) spans_per_run = static_cast<std::size_t>(std::atoll(a.c_str() + 8));
  }
  beeline::tracer probe(bench_config());  // decides the clock path
  std::printf("clock path: %s (kernel clock source: ",
              beeline::detail::tick_state.use_tsc.load() ? "tsc" : "steady clock");
  if (FILE* f = std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof(buf), f)) buf[std::strcspn(buf, "\n")] = 0;
    std::printf("%s", buf);
    std::fclose(f);
  }
  std::printf(")\n");
  print_round_trip("before");
  std::printf("\n");
  clock_and_cores();
  threads();
  latency();
  fields_table();
  std::printf("\n");
  print_round_trip("after");
}
