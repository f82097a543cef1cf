// Propagation codec cost: unmarshal and marshal of every format, ns per call, with heap allocations per call,
// beside a baseline measured in the same run (copying a traceparent-sized header into a std::string, the
// least an owning parse costs). A table at the end compares the figures with the targets: W3C parse
// <= 50 ns, Honeycomb parse of a header with five context fields <= 500 ns, no heap allocation for a W3C
// round trip (parse_traceparent + format_traceparent) without tracestate.
//
// Heap calls are counted by interposing malloc, calloc and realloc (operator new included); each benchmark
// reports `allocs_per_op`. Inputs are fixed valid headers (the fast path a server sees); the mutation test
// and the fuzz targets cover the rest.
#include <beeline/propagation.hpp>

#include <benchmark/benchmark.h>

#include "alloc_counter.hpp"
#include "bench_util.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace prop = beeline::propagation;

constexpr std::string_view kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kTracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
// Five context fields: {"user_id":"u-12345","tenant":"acme","plan":"pro","request_count":42,"beta":true}
constexpr std::string_view kHoneycomb =
    "1;trace_id=4bf92f3577b34da6a3ce929d0e0e4736,parent_id=00f067aa0ba902b7,dataset=checkout,context="
    "eyJ1c2VyX2lkIjoidS0xMjM0NSIsInRlbmFudCI6ImFjbWUiLCJwbGFuIjoicHJvIiwicmVxdWVzdF9jb3VudCI6NDIsImJldGEiOnRy"
    "dWV9";
constexpr std::string_view kAws =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;user=alice";
constexpr std::string_view kXray =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
constexpr std::string_view kHighlight = "a1b2c3d4e5f6/req-000123";
constexpr std::string_view kBaggage = "user_id=u-12345,tenant=acme,plan=pro,request_count=42,beta=true";

// Runs `op` per iteration and reports allocations per call. `op` returns something to keep alive.
template <class Op>
void measure(benchmark::State& state, Op&& op) {
  for (int i = 0; i < 1000; ++i)
    benchmark::DoNotOptimize(op());  // warm caches and any thread-local buffer
  const std::uint64_t before = bench::allocations.load(std::memory_order_relaxed);
  for (auto _ : state)
    benchmark::DoNotOptimize(op());
  const std::uint64_t allocs = bench::allocations.load(std::memory_order_relaxed) - before;
  state.counters["allocs_per_op"] = static_cast<double>(allocs) / static_cast<double>(state.iterations());
}

// Fails the benchmark (rather than timing the rejection path) if an input stopped being accepted.
bool require(benchmark::State& state, bool ok, const char* what) {
  if (!ok) state.SkipWithError(what);
  return ok;
}

beeline::trace_context parsed_honeycomb() {
  return *beeline::honeycomb::unmarshal(kHoneycomb, true);
}

void register_benchmarks() {
  benchmark::RegisterBenchmark("baseline/string_copy_55", [](benchmark::State& s) {
    std::string_view in = kTraceparent;
    measure(s, [&] {
      benchmark::DoNotOptimize(in);
      return std::string(in);
    });
  });

  // ---- W3C
  benchmark::RegisterBenchmark("w3c/parse_traceparent", [](benchmark::State& s) {
    if (!require(s, beeline::w3c::parse_traceparent(kTraceparent).has_value(), "traceparent rejected"))
      return;
    std::string_view in = kTraceparent;
    measure(s, [&] {
      benchmark::DoNotOptimize(in);
      return beeline::w3c::parse_traceparent(in);
    });
  });
  benchmark::RegisterBenchmark("w3c/format_traceparent", [](benchmark::State& s) {
    const beeline::w3c::traceparent tp = *beeline::w3c::parse_traceparent(kTraceparent);
    char out[beeline::w3c::traceparent_size];
    measure(s, [&] {
      beeline::w3c::format_traceparent(tp, out);
      benchmark::ClobberMemory();
      return out[0];
    });
  });
  benchmark::RegisterBenchmark("w3c/round_trip", [](benchmark::State& s) {
    std::string_view in = kTraceparent;
    char out[beeline::w3c::traceparent_size];
    measure(s, [&] {
      benchmark::DoNotOptimize(in);
      if (const auto tp = beeline::w3c::parse_traceparent(in)) beeline::w3c::format_traceparent(*tp, out);
      benchmark::ClobberMemory();
      return out[0];
    });
    if (std::string_view(out, sizeof out) != kTraceparent) s.SkipWithError("round trip changed the header");
  });
  benchmark::RegisterBenchmark("w3c/unmarshal", [](benchmark::State& s) {
    if (!require(s, beeline::w3c::unmarshal(kTraceparent, kTracestate).has_value(), "rejected")) return;
    measure(s, [] { return beeline::w3c::unmarshal(kTraceparent, kTracestate); });
  });
  benchmark::RegisterBenchmark("w3c/marshal", [](benchmark::State& s) {
    const beeline::trace_context ctx = *beeline::w3c::unmarshal(kTraceparent);
    measure(s, [&] { return beeline::w3c::marshal(ctx); });
  });

  // ---- Honeycomb
  benchmark::RegisterBenchmark("honeycomb/unmarshal_5_fields", [](benchmark::State& s) {
    const auto ctx = beeline::honeycomb::unmarshal(kHoneycomb, true);
    if (!require(s, ctx && ctx->fields.size() == 5, "five fields not read")) return;
    measure(s, [] { return beeline::honeycomb::unmarshal(kHoneycomb, true); });
  });
  benchmark::RegisterBenchmark("honeycomb/marshal_5_fields", [](benchmark::State& s) {
    const beeline::trace_context ctx = parsed_honeycomb();
    if (!require(s, beeline::honeycomb::marshal(ctx, true) == kHoneycomb, "marshal differs from the input"))
      return;
    measure(s, [&] { return beeline::honeycomb::marshal(ctx, true); });
  });
  benchmark::RegisterBenchmark("honeycomb/marshal_to_5_fields", [](benchmark::State& s) {
    const beeline::trace_context ctx = parsed_honeycomb();
    std::string buf;
    measure(s, [&] {
      buf.clear();
      return beeline::honeycomb::marshal_to(buf, ctx, true);
    });
  });

  // ---- AWS, X-Ray, Highlight
  benchmark::RegisterBenchmark("aws/unmarshal", [](benchmark::State& s) {
    if (!require(s, beeline::aws::unmarshal(kAws).has_value(), "rejected")) return;
    measure(s, [] { return beeline::aws::unmarshal(kAws); });
  });
  benchmark::RegisterBenchmark("aws/marshal", [](benchmark::State& s) {
    const beeline::trace_context ctx = *beeline::aws::unmarshal(kAws);
    measure(s, [&] { return beeline::aws::marshal(ctx); });
  });
  benchmark::RegisterBenchmark("xray/unmarshal", [](benchmark::State& s) {
    if (!require(s, beeline::xray::unmarshal(kXray).has_value(), "rejected")) return;
    measure(s, [] { return beeline::xray::unmarshal(kXray); });
  });
  benchmark::RegisterBenchmark("xray/marshal", [](benchmark::State& s) {
    const beeline::trace_context ctx = *beeline::xray::unmarshal(kXray);
    measure(s, [&] { return beeline::xray::marshal(ctx); });
  });
  benchmark::RegisterBenchmark("highlight/unmarshal", [](benchmark::State& s) {
    if (!require(s, beeline::highlight::unmarshal(kHighlight).has_value(), "rejected")) return;
    measure(s, [] { return beeline::highlight::unmarshal(kHighlight); });
  });
  benchmark::RegisterBenchmark("highlight/marshal", [](benchmark::State& s) {
    const beeline::highlight::request_ids ids = *beeline::highlight::unmarshal(kHighlight);
    measure(s, [&] { return beeline::highlight::marshal(ids); });
  });

  // ---- W3C baggage: the same five fields as the Honeycomb context above
  benchmark::RegisterBenchmark("baggage/unmarshal_5_entries", [](benchmark::State& s) {
    if (!require(s, beeline::baggage::unmarshal(kBaggage).size() == 5, "five entries not read")) return;
    measure(s, [] { return beeline::baggage::unmarshal(kBaggage); });
  });
  benchmark::RegisterBenchmark("baggage/marshal_5_fields", [](benchmark::State& s) {
    const beeline::trace_context ctx = parsed_honeycomb();
    if (!require(s, beeline::baggage::marshal(ctx.fields) == kBaggage, "marshal differs from the input"))
      return;
    measure(s, [&] { return beeline::baggage::marshal(ctx.fields); });
  });

  // ---- The default incoming rule over a request's headers
  benchmark::RegisterBenchmark("parse_default/w3c_in_8_headers", [](benchmark::State& s) {
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Host", "api.example.com"},
        {"User-Agent", "curl/8.0"},
        {"Accept", "*/*"},
        {"Content-Type", "application/json"},
        {"Content-Length", "42"},
        {"traceparent", std::string(kTraceparent)},
        {"tracestate", std::string(kTracestate)},
        {"X-Request-Id", "abc"}};
    if (!require(s, prop::parse_default(prop::header_view(headers), false).has_value(), "rejected")) return;
    measure(s, [&] { return prop::parse_default(prop::header_view(headers), false); });
  });
  // The composite OTEL_PROPAGATORS=tracecontext,baggage makes, over the same headers plus a baggage header.
  benchmark::RegisterBenchmark("composite/tracecontext_baggage_in_9_headers", [](benchmark::State& s) {
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Host", "api.example.com"},
        {"User-Agent", "curl/8.0"},
        {"Accept", "*/*"},
        {"Content-Type", "application/json"},
        {"Content-Length", "42"},
        {"traceparent", std::string(kTraceparent)},
        {"tracestate", std::string(kTracestate)},
        {"baggage", std::string(kBaggage)},
        {"X-Request-Id", "abc"}};
    const auto parse =
        prop::composite_parser_hook({prop::propagator::tracecontext, prop::propagator::baggage}, false);
    const auto ctx = parse(prop::header_view(headers));
    if (!require(s, ctx && ctx->fields.size() == 5, "context or entries not read")) return;
    measure(s, [&] { return parse(prop::header_view(headers)); });
  });
}

// Forwards everything to the display reporter and keeps, per benchmark, the median (or the single run without
// repetitions); prints the table against the targets at the end.
class target_reporter : public benchmark::BenchmarkReporter {
 public:
  target_reporter(benchmark::BenchmarkReporter& display, std::FILE* table_out)
      : display_(display), out_(table_out) {}

  bool ReportContext(const Context& context) override { return display_.ReportContext(context); }

  void ReportRuns(const std::vector<Run>& runs) override {
    display_.ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      const bool single = r.run_type == Run::RT_Iteration && r.repetitions <= 1;
      if (!median && !single) continue;
      const auto allocs = r.counters.find("allocs_per_op");
      if (!results_.count(r.run_name.str())) order_.push_back(r.run_name.str());
      results_[r.run_name.str()] = {bench::to_ns(r.GetAdjustedRealTime(), r.time_unit),
                                    bench::to_ns(r.GetAdjustedCPUTime(), r.time_unit),
                                    allocs == r.counters.end() ? 0.0 : static_cast<double>(allocs->second),
                                    median};
    }
  }

  void Finalize() override {
    display_.Finalize();
    if (results_.empty()) return;
    const auto base = results_.find("baseline/string_copy_55");
    base_ns_ = base == results_.end() ? 0 : base->second.cpu_ns;
    std::fprintf(out_, "\nns per call (%s); x base = cpu time / baseline/string_copy_55 (%.1f ns)\n",
                 any_median() ? "medians" : "single runs", base_ns_);
    std::fprintf(out_, "%-32s %9s %9s %7s %9s  %s\n", "benchmark", "real", "cpu", "x base", "allocs",
                 "target");
    row("w3c/parse_traceparent", "<= 50 ns", [](const result& r) { return r.cpu_ns <= 50; });
    row("w3c/round_trip", "0 allocs", [](const result& r) { return r.allocs == 0; });
    row("honeycomb/unmarshal_5_fields", "<= 500 ns", [](const result& r) { return r.cpu_ns <= 500; });
    for (const std::string& name : order_)  // the rest, in the order they ran
      if (name != "w3c/parse_traceparent" && name != "w3c/round_trip" &&
          name != "honeycomb/unmarshal_5_fields")
        row(name, "", nullptr);
    std::fflush(out_);
  }

 private:
  struct result {
    double real_ns;
    double cpu_ns;
    double allocs;
    bool median;
  };

  bool any_median() const {
    for (const auto& [name, r] : results_)
      if (r.median) return true;
    return false;
  }

  void row(const std::string& name, const char* target, bool (*met)(const result&)) {
    const auto it = results_.find(name);
    if (it == results_.end()) return;  // filtered out
    const result& r = it->second;
    std::fprintf(out_, "%-32s %9.1f %9.1f %7.2f %9.2f  %s%s\n", name.c_str(), r.real_ns, r.cpu_ns,
                 base_ns_ > 0 ? r.cpu_ns / base_ns_ : 0.0, r.allocs, target,
                 met == nullptr ? ""
                 : met(r)       ? " ok"
                                : " MISSED");
  }

  benchmark::BenchmarkReporter& display_;
  std::FILE* out_;
  std::map<std::string, result> results_;
  std::vector<std::string> order_;
  double base_ns_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string_view format = "console";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a(argv[i]);
    if (a.starts_with("--benchmark_format=")) format = a.substr(a.find('=') + 1);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_benchmarks();

  benchmark::ConsoleReporter console(benchmark::ConsoleReporter::OO_None);
  benchmark::JSONReporter json;
  // JSON leaves stdout parseable: the table goes to stderr.
  benchmark::BenchmarkReporter* display =
      format == "json" ? static_cast<benchmark::BenchmarkReporter*>(&json) : &console;
  target_reporter reporter(*display, display == &console ? stdout : stderr);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
