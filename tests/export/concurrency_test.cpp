// Many threads producing spans at once: every span is exported or counted, parents are never mixed up.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <thread>

using beeline::test::exported;
using beeline::test::memory_tracer;

namespace {
#if defined(__SANITIZE_THREAD__)
constexpr int scale = 1;
#else
constexpr int scale = 4;
#endif
}  // namespace

TEST_CASE("concurrency: traces on many threads keep their own parents and all arrive", "[concurrency]") {
  constexpr int threads = 4;
  const int traces_per_thread = 500 * scale;
  beeline::config cfg;
  cfg.queue_capacity = 1 << 17;
  memory_tracer t(cfg);
  std::vector<std::thread> pool;
  for (int th = 0; th < threads; ++th) {
    pool.emplace_back([&, th] {
      for (int i = 0; i < traces_per_thread; ++i) {
        beeline::span root = t.tracer.start_trace("root", {{"thread", th}, {"i", i}});
        beeline::span a = beeline::start_span("a", {{"thread", th}, {"i", i}});
        beeline::with_span("b", {{"thread", th}, {"i", i}}, [] {});
        a.finish();
        beeline::add_trace_context({{"done", i}});
      }
    });
  }
  for (auto& p : pool)
    p.join();
  const auto evs = t.events();
  const std::size_t expected = static_cast<std::size_t>(threads * traces_per_thread * 3);
  REQUIRE(evs.size() == expected);
  CHECK(t.tracer.stats().dropped() == 0);

  std::map<std::string, const exported*> by_span;
  for (const auto& e : evs)
    by_span[e.span_id()] = &e;
  REQUIRE(by_span.size() == expected);  // span ids unique
  std::size_t wrong = 0;
  for (const auto& e : evs) {
    if (e.name() == "root") {
      wrong += e.has("trace.parent_id");
      wrong += e.raw("app.done") != e.raw("i");
      continue;
    }
    auto parent = by_span.find(e.parent_id());
    if (parent == by_span.end()) {
      ++wrong;
      continue;
    }
    const exported& p = *parent->second;
    // Same trace, same thread, same iteration, and the right level.
    wrong += p.trace_id() != e.trace_id();
    wrong += p.raw("thread") != e.raw("thread") || p.raw("i") != e.raw("i");
    wrong += p.name() != (e.name() == "a" ? "root" : "a");
  }
  CHECK(wrong == 0);
}

TEST_CASE("concurrency: with a tiny queue, every span is either exported or counted as dropped",
          "[concurrency]") {
  constexpr int threads = 4;
  const int spans_per_thread = 2000 * scale;
  beeline::config cfg;
  cfg.queue_capacity = 64;
  cfg.batch_size = 16;
  memory_tracer t(cfg);
  std::vector<std::thread> pool;
  for (int th = 0; th < threads; ++th)
    pool.emplace_back([&] {
      for (int i = 0; i < spans_per_thread; ++i)
        beeline::span r = t.tracer.start_trace("r");
    });
  for (auto& p : pool)
    p.join();
  const auto evs = t.events();
  const auto s = t.tracer.stats();
  const auto total = static_cast<std::uint64_t>(threads * spans_per_thread);
  CHECK(s.enqueued + s.dropped_queue_full == total);
  CHECK(s.exported == s.enqueued);
  CHECK(evs.size() == s.exported);
}

TEST_CASE("concurrency: threads sharing one trace add trace context and spans concurrently",
          "[concurrency]") {
  memory_tracer t;
  std::string parent_span;
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span parent = beeline::start_span("parent");
    parent_span = parent.span_id();
    std::vector<std::thread> pool;
    for (int th = 0; th < 4; ++th) {
      pool.emplace_back(beeline::bind_function_to_trace([th] {
        for (int i = 0; i < 200; ++i) {
          beeline::add_trace_context({{"t" + std::to_string(th), i}});
          beeline::with_span("work", {{"thread", th}}, [] {});
        }
      }));
    }
    for (auto& p : pool)
      p.join();
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 802);
  for (const auto& e : evs)
    if (e.name() == "work") CHECK(e.parent_id() == parent_span);
  CHECK(memory_tracer::by_name(evs, "parent").span_type() == "mid");
  // Each thread's last value survived the concurrent copy-on-write updates.
  for (int th = 0; th < 4; ++th)
    CHECK(memory_tracer::by_name(evs, "root").raw("app.t" + std::to_string(th)) == "199");
}

TEST_CASE("concurrency: flushes and shutdown racing with producers lose nothing unaccounted",
          "[concurrency]") {
  beeline::config cfg;
  cfg.queue_capacity = 1024;
  cfg.batch_size = 32;
  memory_tracer t(cfg);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> finished{0};
  std::vector<std::thread> producers;
  for (int th = 0; th < 3; ++th)
    producers.emplace_back([&] {
      while (!stop.load()) {
        { beeline::span r = t.tracer.start_trace("r"); }
        finished.fetch_add(1);
      }
    });
  for (int i = 0; i < 20; ++i)
    CHECK(t.tracer.flush_sync(std::chrono::seconds(5)).complete);
  // Producers never stop on their own: shutdown must not wait for the queue to run dry.
  const auto before = std::chrono::steady_clock::now();
  t.tracer.shutdown(std::chrono::seconds(5));
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(10));
  stop = true;
  for (auto& p : producers)
    p.join();
  const auto s = t.tracer.stats();
  CHECK(s.exported + s.dropped() == finished.load());
  CHECK(t.sink->lines().size() == s.exported);
}
