// Export cost: encoding spans into Honeycomb's batch body, and spans end to end through the queue, the worker
// and HTTP into a loopback sink.
//
//   encode_otlp, encode_otlp_proto
//                      the same spans as an OTLP ExportTraceServiceRequest, JSON and protobuf
//   encode_side_by_side
//                      the three encodings of the same batches, interleaved; each one's spans/s and bytes per
//                      span, and the protobuf encoder's throughput relative to the two JSON ones
//   encode/honeycomb   append_event_json for a span with ten fields (four strings, three integers, two
//   doubles,
//                      a boolean) plus the tracer's own fields, as the Honeycomb exporter builds its body;
//                      timed on the export worker (manual time), one core
//   e2e/honeycomb      one application thread starts and finishes spans with ten fields as fast as it can;
//   the
//                      Honeycomb exporter sends them over HTTP/1.1 keep-alive to a Beast sink on 127.0.0.1
//                      that answers each batch with per-event statuses; the figure is spans delivered per
//                      second of wall time, with drops reported (target: 200,000 spans/s, zero dropped)
#include <beeline/beeline.hpp>
#include <beeline/http_exporter.hpp>

#include "export/otlp_json.hpp"
#include "export/otlp_proto.hpp"

#include "honeycomb_body.hpp"
#include "loopback_sink.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void ten_field_span() {
  beeline::span s = beeline::start_span("db.query");
  s.add_context({{"db.system", "postgresql"},
                 {"db.statement", "SELECT id, name FROM users WHERE id = $1"},
                 {"user.email", "someone@example.com"},
                 {"http.route", "/api/users/:id"},
                 {"db.rows", 1},
                 {"user.id", 424242},
                 {"attempt", 2},
                 {"cache.ratio", 0.875},
                 {"latency_budget_ms", 12.5},
                 {"cache.hit", false}});
}

enum class wire { honeycomb, otlp, otlp_proto };

// Encodes each batch it receives `repeat` times and keeps the time that took.
class encode_timer final : public beeline::exporter {
 public:
  explicit encode_timer(wire w) : wire_(w) {
    resource_ = w == wire::otlp_proto ? beeline::detail::otlp_proto_resource("bench", "1.0", {}, "host")
                                      : beeline::detail::otlp_resource_attributes("bench", "1.0", {}, "host");
  }
  beeline::export_result export_batch(std::span<const beeline::event> batch) override {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; ++r) {
      body_.clear();
      if (wire_ == wire::otlp) {
        beeline::detail::append_otlp_request(body_, batch, resource_);
      } else if (wire_ == wire::otlp_proto) {
        beeline::detail::append_otlp_proto_request(body_, batch, resource_);
      } else {
        bench::append_honeycomb_batch(body_, batch);
      }
      benchmark::DoNotOptimize(body_.data());
    }
    const auto t1 = std::chrono::steady_clock::now();
    seconds.store(seconds.load() + std::chrono::duration<double>(t1 - t0).count());
    encoded.fetch_add(batch.size() * repeat);
    bytes.store(body_.size() / std::max<std::size_t>(batch.size(), 1));
    return {batch.size(), 0, {}};
  }
  static constexpr int repeat = 20;
  std::atomic<double> seconds{0};
  std::atomic<std::uint64_t> encoded{0};
  std::atomic<std::size_t> bytes{0};

 private:
  wire wire_;
  std::string resource_;
  std::string body_;
};

void encode(benchmark::State& state, wire w) {
  auto timer = std::make_shared<encode_timer>(w);
  beeline::config cfg;
  cfg.service_name = "bench";
  cfg.exporter = timer;
  cfg.batch_size = 512;
  beeline::tracer tr(cfg);
  for (auto _ : state) {
    const double before = timer->seconds.load();
    {
      beeline::span root = tr.start_trace("request");
      for (int i = 0; i < 511; ++i)
        ten_field_span();
    }
    tr.flush_sync(std::chrono::seconds(10));
    state.SetIterationTime(timer->seconds.load() - before);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(timer->encoded.load()));
  state.counters["bytes_per_span"] = static_cast<double>(timer->bytes.load());
}
void encode_honeycomb(benchmark::State& state) {
  encode(state, wire::honeycomb);
}
void encode_otlp(benchmark::State& state) {
  encode(state, wire::otlp);
}
void encode_otlp_proto(benchmark::State& state) {
  encode(state, wire::otlp_proto);
}
BENCHMARK(encode_honeycomb)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(encode_otlp)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(encode_otlp_proto)->UseManualTime()->Unit(benchmark::kMillisecond);

// The three encodings of the same batches, interleaved batch by batch in one run, so a shared machine's
// drift touches all three alike. Each encoding of a batch is timed on its own and the figures are medians
// over those timings, so a preemption (another process on the core) moves none of them: spans per second and
// bytes per span for each, and the protobuf encoder's throughput as a multiple of the OTLP/JSON encoder's
// (`proto_vs_json`) and of Honeycomb's (`proto_vs_honeycomb`).
class side_by_side final : public beeline::exporter {
 public:
  side_by_side() {
    json_resource_ = beeline::detail::otlp_resource_attributes("bench", "1.0", {}, "host");
    proto_resource_ = beeline::detail::otlp_proto_resource("bench", "1.0", {}, "host");
  }
  beeline::export_result export_batch(std::span<const beeline::event> batch) override {
    std::lock_guard lk(mutex_);
    for (int r = 0; r < encode_timer::repeat; ++r) {
      time(wire::honeycomb, batch.size(), [&] { bench::append_honeycomb_batch(body_, batch); });
      time(wire::otlp, batch.size(),
           [&] { beeline::detail::append_otlp_request(body_, batch, json_resource_); });
      time(wire::otlp_proto, batch.size(),
           [&] { beeline::detail::append_otlp_proto_request(body_, batch, proto_resource_); });
    }
    return {batch.size(), 0, {}};
  }
  /// Median nanoseconds per span and bytes per span of one encoding.
  double median_ns_per_span(wire w) {
    std::lock_guard lk(mutex_);
    auto& v = ns_per_span_[static_cast<std::size_t>(w)];
    if (v.empty()) return 0;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  }
  double bytes_per_span(wire w) {
    std::lock_guard lk(mutex_);
    return bytes_[static_cast<std::size_t>(w)];
  }
  std::atomic<double> seconds{0};

 private:
  template <class Encode>
  void time(wire w, std::size_t spans, Encode encode) {
    body_.clear();
    const auto t0 = std::chrono::steady_clock::now();
    encode();
    benchmark::DoNotOptimize(body_.data());
    const auto t1 = std::chrono::steady_clock::now();
    const auto i = static_cast<std::size_t>(w);
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    seconds.store(seconds.load() + ns / 1e9);
    ns_per_span_[i].push_back(ns / static_cast<double>(std::max<std::size_t>(spans, 1)));
    bytes_[i] = static_cast<double>(body_.size()) / static_cast<double>(std::max<std::size_t>(spans, 1));
  }
  std::mutex mutex_;
  std::string json_resource_, proto_resource_, body_;
  std::array<std::vector<double>, 3> ns_per_span_;
  std::array<double, 3> bytes_{};
};

void encode_side_by_side(benchmark::State& state) {
  auto encoders = std::make_shared<side_by_side>();
  beeline::config cfg;
  cfg.service_name = "bench";
  cfg.exporter = encoders;
  cfg.batch_size = 512;
  beeline::tracer tr(cfg);
  for (auto _ : state) {
    const double before = encoders->seconds.load();
    {
      beeline::span root = tr.start_trace("request");
      for (int i = 0; i < 511; ++i)
        ten_field_span();
    }
    tr.flush_sync(std::chrono::seconds(10));
    state.SetIterationTime(encoders->seconds.load() - before);
  }
  const std::pair<wire, const char*> names[] = {
      {wire::honeycomb, "honeycomb"}, {wire::otlp, "otlp_json"}, {wire::otlp_proto, "otlp_proto"}};
  for (const auto& [w, name] : names) {
    state.counters[std::string(name) + "_spans_per_s"] = 1e9 / encoders->median_ns_per_span(w);
    state.counters[std::string(name) + "_bytes_per_span"] = encoders->bytes_per_span(w);
  }
  const double proto = encoders->median_ns_per_span(wire::otlp_proto);
  state.counters["proto_vs_json"] = encoders->median_ns_per_span(wire::otlp) / proto;
  state.counters["proto_vs_honeycomb"] = encoders->median_ns_per_span(wire::honeycomb) / proto;
}
BENCHMARK(encode_side_by_side)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Spans at `rate` per second (0: as fast as one thread can), for one second per iteration.
void e2e_honeycomb(benchmark::State& state) {
  const auto rate = static_cast<std::uint64_t>(state.range(0));
  beeline::bench::loopback_sink backend;
  beeline::honeycomb_exporter_options hc;
  hc.api_host = "http://127.0.0.1:" + std::to_string(backend.port());
  hc.write_key = "0123456789abcdef0123456789abcdef";
  beeline::config cfg;
  cfg.service_name = "bench";
  cfg.exporter = beeline::make_honeycomb_exporter(hc);
  beeline::tracer tr(cfg);
  constexpr std::uint64_t chunk = 1000;
  std::uint64_t produced = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t per_iteration = rate ? rate : 300000;
    beeline::span root = tr.start_trace("request");
    for (std::uint64_t done = 1; done < per_iteration; done += chunk) {
      for (std::uint64_t i = 0; i < chunk; ++i)
        ten_field_span();
      if (rate)  // keep to the schedule: chunk k is due at k * chunk / rate seconds
        std::this_thread::sleep_until(start +
                                      std::chrono::nanoseconds((done + chunk) * 1'000'000'000 / rate));
    }
    root.finish();
    produced += per_iteration / chunk * chunk + 1;
    tr.flush_sync(std::chrono::seconds(30));
  }
  tr.shutdown(std::chrono::seconds(10));
  const beeline::stats s = tr.stats();
  state.SetItemsProcessed(static_cast<std::int64_t>(backend.events()));
  state.counters["dropped"] = static_cast<double>(s.dropped());
  state.counters["delivered_fraction"] =
      produced ? static_cast<double>(backend.events()) / static_cast<double>(produced) : 0;
}
// At 200,000 spans/s (the target: every span delivered) and flat out (how far it goes; drops are expected
// there once the producer outruns the export, and are counted).
BENCHMARK(e2e_honeycomb)->Arg(200000)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
