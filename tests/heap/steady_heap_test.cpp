// A span in steady state calls the heap on no thread, at 0, 3, 10 and 30 fields.
//
// This program interposes malloc, calloc, realloc and the aligned allocators (bench/alloc_counter.hpp), so
// every heap call of every thread is counted: the application thread's and the export worker's. "Steady
// state" is after a round that put a whole round's spans in flight at once (the exporter holds the worker
// until the round ends), so the pools, the thread's ring and the records' storage have met the largest peak
// a round can make; the rounds after it must then call the heap not once.
#include "alloc_counter.hpp"

#include <beeline/beeline.hpp>

#include <catch2/catch.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

// Discards every batch; while held, keeps the worker inside `export_batch`, so nothing is recycled.
class holding_exporter final : public beeline::exporter {
 public:
  beeline::export_result export_batch(std::span<const beeline::event> batch) override {
    std::unique_lock lk(mutex_);
    released_.wait(lk, [&] { return !held_; });
    beeline::export_result r;
    r.exported = batch.size();
    return r;
  }
  void hold(bool h) {
    {
      std::lock_guard lk(mutex_);
      held_ = h;
    }
    released_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
};

constexpr std::size_t round_spans = 2000;

// Thirty string fields, `app.field_0` ... `app.field_29`, whose keys and values live as long as this does.
struct thirty_fields {
  std::vector<std::string> keys, values;
  std::vector<beeline::field> all;
  thirty_fields() {
    for (int i = 0; i < 30; ++i) {
      keys.push_back("app.field_" + std::to_string(i));
      values.push_back("value number " + std::to_string(i));
    }
    for (std::size_t i = 0; i < keys.size(); ++i)
      all.push_back({keys[i], values[i]});
  }
  /// The first `n` of them.
  std::span<const beeline::field> first(std::size_t n) const { return {all.data(), n}; }
};

// A tracer's configuration that exports to `exp`.
beeline::config holding_config(std::shared_ptr<holding_exporter> exp, std::size_t queue_capacity) {
  beeline::config cfg;
  cfg.exporter = std::move(exp);
  cfg.service_name = "heap";
  cfg.queue_capacity = queue_capacity;
  return cfg;
}

// One trace of `spans` spans, each given `fields` after its start.
void one_round(beeline::tracer& tr, std::size_t spans, std::span<const beeline::field> fields) {
  beeline::span root = tr.start_trace("round");
  for (std::size_t i = 0; i < spans; ++i) {
    beeline::span s = beeline::start_span("op");
    s.add_context(fields);
  }
}

}  // namespace

TEST_CASE("a span in steady state calls the heap on no thread", "[heap]") {
  const thirty_fields fields;
  for (const std::size_t n : {0u, 3u, 10u, 30u}) {
    INFO(n << " fields per span");
    auto exp = std::make_shared<holding_exporter>();
    beeline::tracer tr(holding_config(exp, 4 * round_spans));
    const auto round = [&] { one_round(tr, round_spans, fields.first(n)); };
    // The peak: every span of a round in flight at once.
    exp->hold(true);
    round();
    exp->hold(false);
    REQUIRE(tr.flush_sync(std::chrono::seconds(30)).complete);
    for (int warm = 0; warm < 2; ++warm) {
      round();
      REQUIRE(tr.flush_sync(std::chrono::seconds(30)).complete);
    }
    for (int measured = 0; measured < 5; ++measured) {
      const std::uint64_t before = bench::allocations.load();
      round();
      const std::uint64_t calls = bench::allocations.load() - before;
      CHECK(calls == 0);
      REQUIRE(
          tr.flush_sync(std::chrono::seconds(30)).complete);  // the flush's own bookkeeping is not counted
    }
    const beeline::stats st = tr.stats();
    CHECK(st.dropped() == 0);
    CHECK(st.exported == st.enqueued);
  }
}

TEST_CASE("records a thread never used come sized for the spans the tracer sees", "[heap]") {
  // Another thread's peak leaves the pool full of records that held no field; spans with 30 fields then
  // teach the worker their size, and a peak on this thread reaches all those records: they must come sized,
  // not grow on the heap one by one while the spans are made (about three calls each).
  const thirty_fields fields;
  const std::span<const beeline::field> f = fields.first(30);
  auto exp = std::make_shared<holding_exporter>();
  beeline::tracer tr(holding_config(exp, 4 * round_spans));
  std::thread other([&] {
    exp->hold(true);
    one_round(tr, round_spans, {});
    exp->hold(false);
    tr.flush_sync(std::chrono::seconds(30));
  });
  other.join();  // its records go back to the shared pool
  // Two small rounds: the worker learns the size, and the records this thread took from the pool before it
  // had (at most a refill's worth, 32) are used up and grown on this thread, as any record's first use was.
  for (int warm = 0; warm < 2; ++warm) {
    one_round(tr, 100, f);
    REQUIRE(tr.flush_sync(std::chrono::seconds(30)).complete);
  }
  exp->hold(true);
  const std::uint64_t before = bench::allocations.load();
  one_round(tr, round_spans, f);
  const std::uint64_t calls = bench::allocations.load() - before;
  exp->hold(false);
  REQUIRE(tr.flush_sync(std::chrono::seconds(30)).complete);
  // This thread's ring grows to hold the peak (one call per doubling); the records call nothing.
  CHECK(calls < 16);
  const beeline::stats st = tr.stats();
  CHECK(st.dropped() == 0);
  CHECK(st.exported == st.enqueued);
}

TEST_CASE("a new peak of spans in flight calls the heap per chunk of records, not per record", "[heap]") {
  // Spans of 30 fields teach the worker their size at a small peak; a peak eight times larger then needs
  // thousands of records never used. Each new chunk of records comes with the storage of all its records in
  // one allocation, so the peak costs two calls per 256 records (and the ring's growth), where records grown
  // one by one would cost one or two calls each.
  const thirty_fields fields;
  auto exp = std::make_shared<holding_exporter>();
  beeline::tracer tr(holding_config(exp, 8 * round_spans));
  const auto round = [&](std::size_t spans) { one_round(tr, spans, fields.first(30)); };
  for (int warm = 0; warm < 3; ++warm) {
    exp->hold(true);
    round(round_spans / 4);
    exp->hold(false);
    REQUIRE(tr.flush_sync(std::chrono::seconds(30)).complete);
  }
  exp->hold(true);
  const std::uint64_t before = bench::allocations.load();
  round(2 * round_spans);
  const std::uint64_t calls = bench::allocations.load() - before;
  exp->hold(false);
  REQUIRE(tr.flush_sync(std::chrono::seconds(30)).complete);
  const std::uint64_t new_records = 2 * round_spans - round_spans / 4;
  INFO(calls << " heap calls for about " << new_records << " records never used");
  CHECK(calls <= 2 * (new_records / 256 + 2) + 16);
  const beeline::stats st = tr.stats();
  CHECK(st.dropped() == 0);
  CHECK(st.exported == st.enqueued);
}
