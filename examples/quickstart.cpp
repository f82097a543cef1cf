// Quickstart: a trace with nested spans, trace-level context and a timer, printed as JSON lines on stdout.
//
// With no write key configured the tracer writes one JSON event per line; set HONEYCOMB_WRITEKEY (and later a
// network exporter) to send the same events to Honeycomb instead.
#include <beeline/beeline.hpp>

#include <cstdio>
#include <numeric>
#include <vector>

namespace {

long sum_of_squares(int n) {
  // withSpan: the callable's value passes through, and the span covers exactly this work.
  return beeline::with_span("sum_of_squares", {{"n", n}}, [&] {
    std::vector<long> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 1L);
    return std::transform_reduce(v.begin(), v.end(), 0L, std::plus<>(), [](long x) { return x * x; });
  });
}

}  // namespace

int main() {
  beeline::config cfg;
  cfg.service_name = "quickstart";
  beeline::init(cfg);

  {
    beeline::span root = beeline::start_trace("handle_request", {{"request.path", "/orders"}});
    beeline::add_trace_context({{"user_id", 42}});  // every span of this trace gets app.user_id

    {
      beeline::span load = beeline::start_span("load_order");  // child of handle_request
      beeline::add_context({{"db.rows", 3}});                  // on load_order, the current span
      const beeline::timer t = beeline::start_timer("cache_lookup");
      beeline::span parse = beeline::start_span("parse_rows", {{"format", "csv"}});  // grandchild
      beeline::finish_span(parse);
      beeline::finish_timer(t);  // cache_lookup_ms on load_order
      beeline::finish_span(load);
    }

    const long total = sum_of_squares(100);
    beeline::add_context({{"total", total}});
    beeline::finish_trace(root);
  }

  const beeline::flush_result r = beeline::shutdown(std::chrono::seconds(5));
  std::fprintf(stderr, "quickstart: flush %s, %llu events exported, %llu dropped\n",
               r.complete ? "complete" : "timed out", static_cast<unsigned long long>(r.exported),
               static_cast<unsigned long long>(r.dropped));
  return r.complete && r.dropped == 0 ? 0 : 1;
}
