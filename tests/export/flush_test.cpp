// The export worker: batching triggers, flush, shutdown, and a full queue.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

using beeline::test::memory_tracer;

namespace {

/// An exporter that blocks in export_batch until released: a stuck backend.
class gate_exporter final : public beeline::exporter {
 public:
  beeline::export_result export_batch(std::span<const beeline::event> batch) override {
    std::unique_lock lk(m_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lk, [&] { return open_; });
    delivered_ += batch.size();
    return {batch.size(), 0, {}};
  }
  void open() {
    std::lock_guard lk(m_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait_entered(std::chrono::milliseconds d) {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, d, [&] { return entered_; });
  }
  std::size_t delivered() {
    std::lock_guard lk(m_);
    return delivered_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
  bool entered_ = false;
  std::size_t delivered_ = 0;
};

bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

}  // namespace

TEST_CASE("worker: the send interval exports a lone span without a flush") {
  beeline::config cfg;
  cfg.batch_size = 1000;
  cfg.send_interval = std::chrono::milliseconds(20);
  memory_tracer t(cfg);
  { beeline::span root = t.tracer.start_trace("lonely"); }
  CHECK(eventually([&] { return t.sink->lines().size() == 1; }));
}

TEST_CASE("worker: a thread's ring half full exports without waiting for the interval") {
  beeline::config cfg;
  cfg.queue_capacity = 64;  // one thread's ring holds 64 spans: the worker is called at 32
  cfg.batch_size = 10;
  cfg.send_interval = std::chrono::hours(1);
  memory_tracer t(cfg);
  for (int i = 0; i < 31; ++i)
    beeline::span root = t.tracer.start_trace("r");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(t.sink->lines().empty());  // below the high-water mark the worker waits for its interval
  beeline::span last = t.tracer.start_trace("r");
  last.finish();
  CHECK(eventually([&] { return t.sink->lines().size() == 32; }));
}

TEST_CASE("collection: spans of threads that have ended are exported, and their rings give capacity back") {
  beeline::config cfg;
  cfg.queue_capacity = 128;  // 64 cells per ring: only two threads' rings fit at a time
  cfg.send_interval = std::chrono::hours(1);
  memory_tracer t(cfg);
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> pool;
    for (int th = 0; th < 4; ++th)
      pool.emplace_back([&] {
        for (int i = 0; i < 20; ++i)
          beeline::span root = t.tracer.start_trace("r");
      });
    for (auto& p : pool)
      p.join();
    // Nothing of the ended threads is stranded, and a flush from another thread sees all of it.
    const auto r = t.tracer.flush_sync(std::chrono::seconds(5));
    CHECK(r.complete);
    CHECK(r.exported == 80);
  }
  const auto s = t.tracer.stats();
  CHECK(s.enqueued == 800);
  CHECK(s.exported == 800);
  CHECK(s.dropped() == 0);
}

TEST_CASE("collection: a span finished on another thread than its start is exported once") {
  beeline::config cfg;
  cfg.send_interval = std::chrono::hours(1);
  memory_tracer t(cfg);
  std::vector<beeline::span> spans;
  for (int i = 0; i < 300; ++i)  // more than one thread's cache of records
    spans.push_back(t.tracer.start_trace("moved"));
  std::thread other([&] { spans.clear(); });
  other.join();
  for (int i = 0; i < 300; ++i)  // records now come back to the finishing thread, or to the shared pool
    beeline::span root = t.tracer.start_trace("here");
  CHECK(t.tracer.flush_sync(std::chrono::seconds(5)).complete);
  CHECK(t.sink->lines().size() == 600);
  CHECK(t.tracer.stats().exported == 600);
}

TEST_CASE("flush: returns when everything finished before it is exported, and reports it") {
  beeline::config cfg;
  cfg.send_interval = std::chrono::hours(1);  // only the flush can make the worker send
  memory_tracer t(cfg);
  for (int i = 0; i < 100; ++i)
    beeline::span root = t.tracer.start_trace("r");
  const auto r = t.tracer.flush_sync(std::chrono::seconds(5));
  CHECK(r.complete);
  CHECK(r.exported == 100);
  CHECK(r.dropped == 0);
  CHECK(t.sink->lines().size() == 100);
  // Nothing pending: a second flush (with an absolute deadline) completes at once with nothing new.
  const auto again = t.tracer.flush_sync(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  CHECK(again.complete);
  CHECK(again.exported == 0);
}

TEST_CASE("flush: a stuck exporter makes flush return at its deadline, incomplete; finish never blocks") {
  auto gate = std::make_shared<gate_exporter>();
  beeline::config cfg;
  cfg.exporter = gate;
  cfg.queue_capacity = 8;
  cfg.batch_size = 4;
  beeline::tracer tr(cfg);
  { beeline::span first = tr.start_trace("first"); }
  tr.flush_sync(std::chrono::milliseconds(1));
  REQUIRE(gate->wait_entered(std::chrono::seconds(5)));  // the worker is now stuck in export_batch

  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i)
    beeline::span root = tr.start_trace("r");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));

  const auto before = std::chrono::steady_clock::now();
  const auto r = tr.flush_sync(std::chrono::milliseconds(50));
  const auto waited = std::chrono::steady_clock::now() - before;
  CHECK_FALSE(r.complete);
  CHECK(waited >= std::chrono::milliseconds(50));
  CHECK(waited < std::chrono::seconds(2));

  const auto s = tr.stats();
  CHECK(s.enqueued + s.dropped_queue_full == 101);
  CHECK(s.dropped_queue_full >= 101 - 8 - 4 - 1);  // queue + one batch in hand + the first span

  gate->open();
  const auto done = tr.flush_sync(std::chrono::seconds(5));
  CHECK(done.complete);
  const auto after = tr.stats();
  CHECK(after.exported == after.enqueued);
  CHECK(gate->delivered() == after.enqueued);
}

TEST_CASE("shutdown: no span finished before it is lost, and it is idempotent") {
  beeline::config cfg;
  cfg.send_interval = std::chrono::hours(1);
  cfg.batch_size = 64;
  memory_tracer t(cfg);
  for (int i = 0; i < 5000; ++i) {
    beeline::span root = t.tracer.start_trace("r");
    beeline::span c = beeline::start_span("c");
  }
  const auto r = t.tracer.shutdown(std::chrono::seconds(10));
  CHECK(r.complete);
  CHECK(r.dropped == 0);
  CHECK(t.tracer.stats().exported == 10000);  // some went out in full batches before shutdown, the rest in it
  CHECK(t.sink->lines().size() == 10000);
  CHECK(t.tracer.shutdown().complete);
}

TEST_CASE("shutdown: spans finished afterwards are counted as dropped, and a span may outlive its tracer") {
  beeline::span survivor;
  auto sink = std::make_shared<beeline::memory_exporter>();
  {
    beeline::config cfg;
    cfg.exporter = sink;
    auto tr = std::make_unique<beeline::tracer>(cfg);
    survivor = tr->start_trace("survivor");
    beeline::span late = beeline::start_span("late");
    tr->shutdown();
    late.finish();
    CHECK(tr->stats().dropped_after_shutdown == 1);
    CHECK(tr->flush_sync(std::chrono::milliseconds(10)).complete);
  }  // the tracer is destroyed; its memory lives on for the open span
  beeline::span child = beeline::start_span("child_of_survivor");
  child.finish();
  survivor.finish();
  CHECK(sink->lines().empty());
}

TEST_CASE("flush: a timeout of duration::max() means no deadline, not an overflow") {
  memory_tracer t;
  { beeline::span root = t.tracer.start_trace("r"); }
  const auto r = t.tracer.flush_sync(std::chrono::steady_clock::duration::max());
  CHECK(r.complete);
  CHECK(r.exported == 1);
}
