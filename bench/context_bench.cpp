// Context propagation cost: a coroutine resumed through `beeline::traced_executor<io_context::executor_type>`
// against the same coroutine on the plain executor it wraps (`any_io_executor(ioc.get_executor())`), per
// resumption; and `co_await start_async_span(...)` around a ready awaitable against a synchronous span.
//
// Benchmarks (each traced one against its plain twin, same program, same trace, same io_context setup):
//   post/K:<k>/*          K coroutines, each `co_await asio::post(use_awaitable)` N times per iteration
//   post_reactor/K:<k>/*  the same with the io_context's reactor started (as in any program with I/O objects)
//   spawned_post/K:<k>/*, spawned_timer/K:<k>/*   K tasks started per iteration with a new slot each, by
//                         `beeline::spawn` on an Asio io_context ("spawn") against plain `asio::co_spawn` on
//                         a `beeline::io_context` ("io_context"); the slot is made per spawn, inside the
//                         timing
//   timer/K:<k>/*         K coroutines awaiting a zero-duration steady_timer made on this_coro::executor
//   nested/*              N nested `co_await ready()` (a coroutine that co_returns at once) per iteration
//   span/async_in_task    `co_await start_async_span("x", ready())` in a traced task, one per iteration
//   span/sync_thread      `start_span("x")` + `finish_span` on a plain thread under the trace root
//   span/sync_in_task     the same inside a traced task (whose slot's base is the root, as for the async one)
//   claim                 what the traced executor adds around each handler: entering and leaving its slot
//                         (`detail::claim_guard`), alone in a loop
//
// Code layout moves the post figures more than tracing does: the same binary copied to two paths gave plain
// post at 62 and at 80 ns per resumption (the traced one moved less), so one run's post ratio can read
// anywhere from 1.05 to 1.3. `claim` is the layout-insensitive view of the added cost; compare post ratios
// over several runs, or over several copies of the binary.
//
// Every coroutine runs on io_context(1) inside an active trace (a tracer with the discarding exporter), so a
// traced task's slot has a base. Traced tasks get their slots (`beeline::traced`) before timing starts, one
// per coroutine; nothing in the timed loop allocates a slot. Ratios traced/plain, from the medians when
// repetitions are used, are printed after the Google Benchmark output, per item (resumption or span), for
// real and CPU time. Random interleaving of repetitions is on unless the command line sets it, so both sides
// of a pair see the same machine drift.
#include <beeline/asio/coro.hpp>
#include <beeline/asio/executor.hpp>
#include <beeline/asio/io_context.hpp>
#include <beeline/beeline.hpp>

#include "bench_config.hpp"
#include "bench_util.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
using io_executor = asio::io_context::executor_type;

constexpr int kAwaitsPerTask = 256;  // N: awaits per coroutine per benchmark iteration

// A tracer and an open trace root on this thread: tasks made by `beeline::traced` here get the root as base.
struct trace_env {
  beeline::tracer tr{bench_config()};
  beeline::span root = tr.start_trace("bench_root");
};

enum class exec_kind { plain, traced };

// One executor per coroutine: the plain one, or a traced wrapper with a slot of its own (made now, inside the
// trace). Both type-erased, as `co_spawn` and `this_coro::executor` see them. The traced ones are made as
// `beeline::spawn` makes them: the executor carries a borrowed slot handle and the task's owning handle is
// kept alongside (here for the process's lifetime), so executor copies cost no reference counting.
std::vector<asio::any_io_executor> make_executors(exec_kind kind, asio::io_context& ioc, int k) {
  static std::vector<beeline::detail::slot_handle> owners;
  std::vector<asio::any_io_executor> out;
  for (int i = 0; i < k; ++i) {
    if (kind == exec_kind::plain) {
      out.emplace_back(ioc.get_executor());
    } else {
      auto [exec, owner] = beeline::detail::fork_task(ioc.get_executor());
      out.emplace_back(std::move(exec));
      owners.push_back(std::move(owner));
    }
  }
  return out;
}

asio::awaitable<void> ready() {
  co_return;
}

asio::awaitable<void> post_task(int n, std::uint64_t& done) {
  for (int i = 0; i < n; ++i)
    co_await asio::post(asio::use_awaitable);
  done += static_cast<std::uint64_t>(n);
}

asio::awaitable<void> timer_task(int n, std::uint64_t& done) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (int i = 0; i < n; ++i) {
    t.expires_after(std::chrono::nanoseconds(0));
    co_await t.async_wait(asio::use_awaitable);
  }
  done += static_cast<std::uint64_t>(n);
}

// Items (resumptions or spans) per benchmark iteration, by benchmark name, for the ratio table.
std::map<std::string, double>& items_per_iteration() {
  static std::map<std::string, double> m;
  return m;
}

// K coroutines spawned per iteration, each awaiting N times, run to completion on one thread. With
// `reactor`, a timer is made on the io_context first: that starts its reactor task (epoll), which a bare
// io_context running only posts never has, and the scheduler then polls epoll between handlers, as it does in
// any program with a socket or a timer.
void run_tasks(benchmark::State& state, exec_kind kind, int k,
               asio::awaitable<void> (*task)(int, std::uint64_t&), bool reactor = false) {
  trace_env env;
  asio::io_context ioc(1);
  if (reactor) asio::steady_timer start_reactor(ioc);
  const std::vector<asio::any_io_executor> exs = make_executors(kind, ioc, k);
  std::uint64_t done = 0;
  const auto round = [&] {
    for (const asio::any_io_executor& ex : exs)
      beeline::detail::asio_co_spawn(ex, task(kAwaitsPerTask, done), asio::detached);  // keeps ex's slot
    ioc.run();
    ioc.restart();
  };
  round();  // warm the frame recycler and the scheduler
  done = 0;
  for (auto _ : state)
    round();
  const auto items = static_cast<std::int64_t>(state.iterations()) * k * kAwaitsPerTask;
  if (done != static_cast<std::uint64_t>(items)) state.SkipWithError("not every await completed");
  state.SetItemsProcessed(items);
}

// The benchmark loop runs inside one coroutine (no spawn or scheduler cost in the figure): `body` awaits
// inside `for (auto _ : state)`.
void run_in_task(benchmark::State& state, exec_kind kind, asio::awaitable<void> (*body)(benchmark::State&)) {
  trace_env env;
  asio::io_context ioc(1);
  const asio::any_io_executor ex = make_executors(kind, ioc, 1).front();
  std::exception_ptr failure;
  beeline::detail::asio_co_spawn(ex, body(state), [&](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) state.SkipWithError("the benchmark coroutine threw");
  env.tr.flush_sync(std::chrono::seconds(10));
  state.counters["dropped"] = static_cast<double>(env.tr.stats().dropped());
}

// K tasks started per iteration, each with a new slot: by `beeline::spawn` on the Asio io_context inside a
// `beeline::io_context`, or by plain `asio::co_spawn` on the `beeline::io_context` itself.
void run_spawned(benchmark::State& state, bool via_context, int k,
                 asio::awaitable<void> (*task)(int, std::uint64_t&)) {
  trace_env env;
  beeline::io_context ioc(1);
  asio::io_context& base = ioc;
  std::uint64_t done = 0;
  const auto round = [&] {
    for (int i = 0; i < k; ++i) {
      if (via_context) {
        asio::co_spawn(ioc, task(kAwaitsPerTask, done), asio::detached);
      } else {
        beeline::spawn(base.get_executor(), task(kAwaitsPerTask, done), asio::detached);
      }
    }
    ioc.run();
    ioc.restart();
  };
  round();
  done = 0;
  for (auto _ : state)
    round();
  const auto items = static_cast<std::int64_t>(state.iterations()) * k * kAwaitsPerTask;
  if (done != static_cast<std::uint64_t>(items)) state.SkipWithError("not every await completed");
  state.SetItemsProcessed(items);
}

asio::awaitable<void> nested_body(benchmark::State& state) {
  for (int i = 0; i < 1000; ++i)
    co_await ready();
  for (auto _ : state)
    for (int i = 0; i < kAwaitsPerTask; ++i)
      co_await ready();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kAwaitsPerTask);
}

constexpr int kWarmSpans = 100000;  // fills the record pools and the slot's stack, as span_bench does

asio::awaitable<void> async_span_body(benchmark::State& state) {
  for (int i = 0; i < kWarmSpans; ++i)
    co_await beeline::start_async_span("x", ready());
  for (auto _ : state)
    co_await beeline::start_async_span("x", ready());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void sync_span_once() {
  beeline::span s = beeline::start_span("x");
  beeline::finish_span(s);
}

asio::awaitable<void> sync_span_body(benchmark::State& state) {
  for (int i = 0; i < kWarmSpans; ++i)
    sync_span_once();
  for (auto _ : state)
    sync_span_once();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  co_return;
}

void claim_only(benchmark::State& state) {
  trace_env env;
  const beeline::detail::slot_handle h =
      beeline::detail::slot_handle::make_owning(beeline::detail::capture_current());
  for (auto _ : state) {
    beeline::detail::claim_guard guard(h);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void sync_span_thread(benchmark::State& state) {
  trace_env env;
  for (int i = 0; i < kWarmSpans; ++i)
    sync_span_once();
  for (auto _ : state)
    sync_span_once();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  env.tr.flush_sync(std::chrono::seconds(10));
  state.counters["dropped"] = static_cast<double>(env.tr.stats().dropped());
}

const char* kind_name(exec_kind kind) {
  return kind == exec_kind::plain ? "plain" : "traced";
}

void register_benchmarks() {
  for (const int k : {1, 16}) {
    for (const exec_kind kind : {exec_kind::plain, exec_kind::traced}) {
      const std::string post = "post/K:" + std::to_string(k) + "/" + kind_name(kind);
      benchmark::RegisterBenchmark(post.c_str(),
                                   [kind, k](benchmark::State& s) { run_tasks(s, kind, k, post_task); });
      items_per_iteration()[post] = k * kAwaitsPerTask;
      const std::string timer = "timer/K:" + std::to_string(k) + "/" + kind_name(kind);
      benchmark::RegisterBenchmark(timer.c_str(),
                                   [kind, k](benchmark::State& s) { run_tasks(s, kind, k, timer_task); });
      items_per_iteration()[timer] = k * kAwaitsPerTask;
      const std::string post_r = "post_reactor/K:" + std::to_string(k) + "/" + kind_name(kind);
      benchmark::RegisterBenchmark(
          post_r.c_str(), [kind, k](benchmark::State& s) { run_tasks(s, kind, k, post_task, true); });
      items_per_iteration()[post_r] = k * kAwaitsPerTask;
    }
  }
  for (const int k : {1, 16}) {
    for (const bool via_context : {false, true}) {
      const std::string suffix = "/K:" + std::to_string(k) + (via_context ? "/io_context" : "/spawn");
      benchmark::RegisterBenchmark(("spawned_post" + suffix).c_str(), [via_context, k](benchmark::State& s) {
        run_spawned(s, via_context, k, post_task);
      });
      items_per_iteration()["spawned_post" + suffix] = k * kAwaitsPerTask;
      benchmark::RegisterBenchmark(("spawned_timer" + suffix).c_str(), [via_context, k](benchmark::State& s) {
        run_spawned(s, via_context, k, timer_task);
      });
      items_per_iteration()["spawned_timer" + suffix] = k * kAwaitsPerTask;
    }
  }
  for (const exec_kind kind : {exec_kind::plain, exec_kind::traced}) {
    const std::string nested = std::string("nested/") + kind_name(kind);
    benchmark::RegisterBenchmark(nested.c_str(),
                                 [kind](benchmark::State& s) { run_in_task(s, kind, nested_body); });
    items_per_iteration()[nested] = kAwaitsPerTask;
  }
  benchmark::RegisterBenchmark("span/sync_thread", sync_span_thread);
  benchmark::RegisterBenchmark(
      "span/sync_in_task", [](benchmark::State& s) { run_in_task(s, exec_kind::traced, sync_span_body); });
  benchmark::RegisterBenchmark(
      "span/async_in_task", [](benchmark::State& s) { run_in_task(s, exec_kind::traced, async_span_body); });
  benchmark::RegisterBenchmark("claim", claim_only);
  for (const char* n : {"span/sync_thread", "span/sync_in_task", "span/async_in_task", "claim"})
    items_per_iteration()[n] = 1;
}

// Checks that the traced executor really runs its coroutines in their own slot (and the plain one does not),
// so the figures compare what they claim to.
bool propagation_works() {
  trace_env env;
  asio::io_context ioc(1);
  const asio::any_io_executor traced_ex = make_executors(exec_kind::traced, ioc, 1).front();
  const asio::any_io_executor plain_ex = make_executors(exec_kind::plain, ioc, 1).front();
  beeline::detail::slot* const task_slot =
      traced_ex.target<beeline::traced_executor<io_executor>>()->slot().raw();
  bool traced_ok = false;
  bool plain_ok = false;
  beeline::detail::asio_co_spawn(
      traced_ex,
      [&]() -> asio::awaitable<void> {
        co_await asio::post(asio::use_awaitable);
        traced_ok = &beeline::detail::current_slot() == task_slot && beeline::trace_active();
      },
      asio::detached);
  beeline::detail::asio_co_spawn(
      plain_ex,
      [&]() -> asio::awaitable<void> {
        co_await asio::post(asio::use_awaitable);
        plain_ok = &beeline::detail::current_slot() != task_slot;
      },
      asio::detached);
  ioc.run();
  return traced_ok && plain_ok;
}

// Forwards everything to the display reporter and keeps, per benchmark, the median (or the single run
// without repetitions) as ns per item; prints the traced/plain table at the end.
class ratio_reporter : public benchmark::BenchmarkReporter {
 public:
  explicit ratio_reporter(benchmark::BenchmarkReporter& display, std::FILE* table_out)
      : display_(display), out_(table_out) {}

  bool ReportContext(const Context& context) override { return display_.ReportContext(context); }

  void ReportRuns(const std::vector<Run>& runs) override {
    display_.ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      const bool single = r.run_type == Run::RT_Iteration && r.repetitions <= 1;
      if (!median && !single) continue;
      const std::string name = r.run_name.str();
      const auto it = items_per_iteration().find(name);
      if (it == items_per_iteration().end()) continue;
      results_[name] = {bench::to_ns(r.GetAdjustedRealTime(), r.time_unit) / it->second,
                        bench::to_ns(r.GetAdjustedCPUTime(), r.time_unit) / it->second, median};
    }
  }

  void Finalize() override {
    display_.Finalize();
    if (results_.empty()) return;
    std::fprintf(out_, "\nns per item (%s); ratio = a / b (traced / plain, or as labelled)\n",
                 any_median() ? "medians" : "single runs");
    std::fprintf(out_, "%-44s %10s %10s %10s %10s %7s %7s %7s\n", "pair", "real(a)", "real(b)", "cpu(a)",
                 "cpu(b)", "r.real", "r.cpu", "target");
    row("post K=1", "post/K:1/traced", "post/K:1/plain", 1.15);
    row("post K=16", "post/K:16/traced", "post/K:16/plain", 1.15);
    row("post K=1, reactor running (info)", "post_reactor/K:1/traced", "post_reactor/K:1/plain", 1.15);
    row("post K=16, reactor running (info)", "post_reactor/K:16/traced", "post_reactor/K:16/plain", 1.15);
    row("timer K=1", "timer/K:1/traced", "timer/K:1/plain", 1.10);
    row("timer K=16", "timer/K:16/traced", "timer/K:16/plain", 1.10);
    row("nested ready", "nested/traced", "nested/plain", 1.05);
    row("co_spawn(io_context) / spawn: post K=1", "spawned_post/K:1/io_context", "spawned_post/K:1/spawn",
        1.05);
    row("co_spawn(io_context) / spawn: post K=16", "spawned_post/K:16/io_context", "spawned_post/K:16/spawn",
        1.05);
    row("co_spawn(io_context) / spawn: timer K=1", "spawned_timer/K:1/io_context", "spawned_timer/K:1/spawn",
        1.05);
    row("co_spawn(io_context) / spawn: timer K=16", "spawned_timer/K:16/io_context",
        "spawned_timer/K:16/spawn", 1.05);
    row("async span / sync span (thread)", "span/async_in_task", "span/sync_thread", 2.0);
    row("async span / sync span (same task)", "span/async_in_task", "span/sync_in_task", 2.0);
    if (const auto c = results_.find("claim"); c != results_.end())
      std::fprintf(out_, "claim_guard enter+exit (the traced executor's cost per handler): %.1f ns\n",
                   c->second.real_ns);
    std::fflush(out_);
  }

 private:
  struct result {
    double real_ns;
    double cpu_ns;
    bool median;
  };

  bool any_median() const {
    for (const auto& [name, r] : results_)
      if (r.median) return true;
    return false;
  }

  void row(const char* label, const std::string& a, const std::string& b, double target) {
    const auto ia = results_.find(a);
    const auto ib = results_.find(b);
    if (ia == results_.end() || ib == results_.end()) return;  // filtered out
    const result& x = ia->second;
    const result& y = ib->second;
    const double rr = x.real_ns / y.real_ns;
    const double rc = x.cpu_ns / y.cpu_ns;
    std::fprintf(out_, "%-44s %10.1f %10.1f %10.1f %10.1f %7.3f %7.3f %7.2f %s\n", label, x.real_ns,
                 y.real_ns, x.cpu_ns, y.cpu_ns, rr, rc, target,
                 rr <= target && rc <= target ? "ok" : "MISSED");
  }

  benchmark::BenchmarkReporter& display_;
  std::FILE* out_;
  std::map<std::string, result> results_;
};

}  // namespace

int main(int argc, char** argv) {
  // Interleave repetitions of all benchmarks at random unless the command line decides.
  std::vector<char*> args(argv, argv + argc);
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  std::string_view format = "console";
  bool interleave_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a(argv[i]);
    if (a.starts_with("--benchmark_enable_random_interleaving")) interleave_given = true;
    if (a.starts_with("--benchmark_format=")) format = a.substr(a.find('=') + 1);
  }
  if (!interleave_given) args.insert(args.begin() + 1, interleave.data());
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;

  if (!propagation_works()) {
    std::fprintf(stderr,
                 "context_bench: the traced executor does not install its slot; figures would be void\n");
    return 1;
  }
  register_benchmarks();

  benchmark::ConsoleReporter console(benchmark::ConsoleReporter::OO_None);
  benchmark::JSONReporter json;
  // JSON (the only other format kept: CSV is deprecated) leaves stdout parseable: the table goes to stderr.
  benchmark::BenchmarkReporter* display =
      format == "json" ? static_cast<benchmark::BenchmarkReporter*>(&json) : &console;
  ratio_reporter reporter(*display, display == &console ? stdout : stderr);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
