// co_await beeline::flush(): completion-token based, never blocks the io_context, never outlives its
// deadline.
#include "support.hpp"

#include <beeline/asio/coro.hpp>
#include <beeline/asio/flush.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using beeline::test::memory_tracer;
using namespace std::chrono_literals;

namespace {

class stuck_exporter final : public beeline::exporter {
 public:
  beeline::export_result export_batch(std::span<const beeline::event> batch) override {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return open_; });
    return {batch.size(), 0, {}};
  }
  void open() {
    std::lock_guard lk(m_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace

TEST_CASE("flush awaitable: completes when the spans finished before it are exported, and says so") {
  beeline::config cfg;
  cfg.send_interval = std::chrono::hours(1);  // only the flush makes the worker send
  memory_tracer t(cfg);
  asio::io_context ioc;
  beeline::flush_result r;
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> awaitable<void> {
        co_await beeline::with_trace(t.tracer, "root", [&]() -> awaitable<void> {
          for (int i = 0; i < 10; ++i)
            beeline::with_span("child", {}, [] {});
          co_return;
        }());
        r = co_await beeline::flush(t.tracer, 5s);
        CHECK(beeline::trace_active() == false);
      },
      asio::detached);
  ioc.run();
  CHECK(r.complete);
  CHECK(r.exported == 11);
  CHECK(t.sink->lines().size() == 11);
}

TEST_CASE("flush awaitable: a stuck exporter does not block the io_context, and flush ends at its deadline") {
  auto stuck = std::make_shared<stuck_exporter>();
  beeline::config cfg;
  cfg.exporter = stuck;
  beeline::tracer tr(cfg);
  asio::io_context ioc;  // one thread: if flush blocked it, the ticker below could not run
  int ticks = 0;
  beeline::flush_result r{true, 0, 0};
  auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration took{};
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> awaitable<void> {
        { beeline::span s = tr.start_trace("stuck"); }
        r = co_await beeline::flush(tr, 100ms);
        took = std::chrono::steady_clock::now() - started;
      },
      asio::detached);
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        for (int i = 0; i < 5; ++i) {
          timer.expires_after(5ms);
          co_await timer.async_wait(use_awaitable);
          ++ticks;
        }
      },
      asio::detached);
  ioc.run();
  CHECK_FALSE(r.complete);
  CHECK(took >= 100ms);
  CHECK(took < 2s);
  CHECK(ticks == 5);
  stuck->open();
  CHECK(tr.flush_sync(5s).complete);
}

TEST_CASE("flush awaitable: works with a callback and with use_future") {
  memory_tracer t;
  { beeline::span s = t.tracer.start_trace("one"); }
  // A callback with no executor of its own runs on the system executor's thread.
  std::promise<beeline::flush_result> via_callback;
  auto callback_result = via_callback.get_future();
  beeline::flush(t.tracer, 5s, [&via_callback](beeline::flush_result r) { via_callback.set_value(r); });
  REQUIRE(callback_result.wait_for(5s) == std::future_status::ready);
  CHECK(callback_result.get().complete);
  { beeline::span s = t.tracer.start_trace("two"); }
  std::future<beeline::flush_result> f = beeline::flush(t.tracer, 5s, asio::use_future);
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  const beeline::flush_result r = f.get();
  CHECK(r.complete);
  CHECK(t.sink->lines().size() == 2);
}

TEST_CASE("flush awaitable: the global form and wait_for_flush, before and after init") {
  asio::io_context ioc;
  beeline::flush_result before_init{false, 1, 1};
  beeline::spawn(
      ioc.get_executor(), [&]() -> awaitable<void> { before_init = co_await beeline::flush(); },
      asio::detached);
  ioc.run();
  CHECK(before_init.complete);  // nothing to wait for
  CHECK(before_init.exported == 0);

  auto sink = std::make_shared<beeline::memory_exporter>();
  beeline::config cfg;
  cfg.exporter = sink;
  REQUIRE(beeline::init(cfg));
  ioc.restart();
  beeline::flush_result r;
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> awaitable<void> {
        co_await beeline::with_trace("global_root", []() -> awaitable<void> { co_return; }());
        r = co_await beeline::wait_for_flush(std::chrono::steady_clock::now() + 5s);
      },
      asio::detached);
  ioc.run();
  CHECK(r.complete);
  CHECK(r.exported == 1);
  CHECK(beeline::shutdown().complete);
}
