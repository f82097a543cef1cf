// The Highlight client from many threads at once: errors, metrics, logs and request spans while flushes and
// waits run; every record is either exported or counted as dropped, and nothing races (run under TSan too).
#include <beeline/asio/coro.hpp>
#include <beeline/asio/highlight.hpp>
#include <beeline/highlight.hpp>

#include "export_net/loopback_server.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hl = beeline::highlight;
using beeline::test::loopback_server;
using beeline::test::recorded_request;
using beeline::test::reply;
using namespace std::chrono_literals;

TEST_CASE("highlight: concurrent errors, metrics, logs and spans are all accounted for", "[concurrency]") {
  loopback_server server([](const recorded_request&) { return reply::with_status(200, "{}"); });
  hl::options o;
  o.project_id = "p";
  o.otlp_endpoint = server.url();
  o.protocol = beeline::otlp_protocol::http_json;  // the tests read the JSON bodies
  o.send_interval = 10ms;
  o.signal_queue_capacity = 256;  // small: some metrics and logs are dropped under the burst
  o.logger = [](beeline::log_level, std::string_view) {};
  hl::client c(o);

  constexpr int threads = 4;
  constexpr int per_thread = 300;
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      while (!go.load())
        std::this_thread::yield();
      const std::map<std::string, std::string> headers{
          {"x-highlight-request", "s" + std::to_string(t) + "/r"}};
      for (int i = 0; i < per_thread; ++i) {
        c.record_metric("s", "m", i, "r", {{"t", t}});
        c.log("line", "info", "s", "r");
        if (i % 10 == 0) c.run_with_headers(headers, [&] { c.consume_error("e", "m", {}, "s", "r"); });
        if (i % 100 == 0) c.wait_for_flush_sync({"highlight-ctx"}, 50ms);
      }
    });
  std::thread flusher([&] {
    while (!go.load())
      std::this_thread::yield();
    for (int i = 0; i < 5; ++i)
      c.flush(200ms);
  });
  go = true;
  for (auto& w : workers)
    w.join();
  flusher.join();
  REQUIRE(c.flush(5s).complete);

  const auto s = c.stats();
  CHECK(s.metrics_exported + s.metrics_dropped == threads * per_thread);
  CHECK(s.logs_exported + s.logs_dropped == threads * per_thread);
  CHECK(s.errors == threads * per_thread / 10);
  const auto ts = c.tracer().stats();
  CHECK(ts.exported == 2 * threads * per_thread / 10);  // highlight-ctx and highlight.error each time
}

TEST_CASE("highlight: awaited waits racing their deadlines and the exporter never touch a finished operation",
          "[concurrency]") {
  namespace asio = boost::asio;
  loopback_server server([](const recorded_request&) { return reply::with_status(200, "{}"); });
  hl::options o;
  o.project_id = "p";
  o.otlp_endpoint = server.url();
  o.protocol = beeline::otlp_protocol::http_json;  // the tests read the JSON bodies
  o.send_interval = 1ms;
  o.logger = [](beeline::log_level, std::string_view) {};
  hl::client c(o);
  std::atomic<int> completed{0};
  std::atomic<bool> stop{false};
  std::thread producer([&] {  // spans named "tick" keep settling while the waits come and go
    while (!stop.load()) {
      { beeline::span s = c.tracer().start_trace("tick"); }
      std::this_thread::sleep_for(200us);
    }
  });
  constexpr int rounds = 300;
  for (int round = 0; round < rounds; ++round) {
    // A fresh io_context per round, destroyed right after: a completion from the client's threads must never
    // reach an operation (or an io_context) that is gone.
    asio::io_context ioc;
    beeline::spawn(
        ioc.get_executor(),
        [&, round]() -> asio::awaitable<void> {
          co_await hl::wait_for_flush(
              c, std::chrono::steady_clock::now() + std::chrono::microseconds(round % 7 * 300),
              round % 2 ? "tick" : "never");
          completed.fetch_add(1);
        },
        asio::detached);
    ioc.run();
  }
  stop = true;
  producer.join();
  CHECK(completed.load() == rounds);
}
