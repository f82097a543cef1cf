// beeline::io_context and beeline::thread_pool: plain asio::co_spawn on them, on their executors, on sockets
// and acceptors made from them and on a task's own executor starts a task with its own slot, with every
// completion token. Every case checks parent and trace ids.
#include "support.hpp"

#include <beeline/asio/io_context.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <thread>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using beeline::test::exported;
using beeline::test::memory_tracer;
using namespace std::chrono_literals;

namespace {

const exported& named(const std::vector<exported>& evs, const std::string& n) {
  return memory_tracer::by_name(evs, n);
}

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

/// A trace `root_<name>` with a child `child_<name>` open around a timer: two of these interleave on one
/// thread.
awaitable<void> request(memory_tracer& t, std::string name) {
  beeline::span root = t.tracer.start_trace("root_" + name);
  beeline::span child = beeline::start_span("child_" + name);
  co_await sleep_for(1ms);
  child.finish();
  root.finish();
}

void check_two_requests(memory_tracer& t) {
  const auto evs = t.events();
  REQUIRE(evs.size() == 4);
  for (const std::string n : {"A", "B"}) {
    INFO(n);
    CHECK(named(evs, "child_" + n).parent_id() == named(evs, "root_" + n).span_id());
    CHECK(named(evs, "child_" + n).trace_id() == named(evs, "root_" + n).trace_id());
  }
  CHECK(t.tracer.stats().out_of_order_finishes == 0);
}

}  // namespace

TEST_CASE("io_context: two tasks started with plain co_spawn on the context keep their traces apart") {
  memory_tracer t;
  beeline::io_context ioc;
  asio::co_spawn(ioc, request(t, "A"), asio::detached);
  asio::co_spawn(ioc, request(t, "B"), asio::detached);
  ioc.run();
  check_two_requests(t);
}

TEST_CASE("io_context: co_spawn on get_executor() and on a function returning the awaitable") {
  memory_tracer t;
  beeline::io_context ioc;
  asio::co_spawn(ioc.get_executor(), request(t, "A"), asio::detached);
  asio::co_spawn(
      ioc.get_executor(), [&] { return request(t, "B"); }, asio::detached);
  ioc.run();
  check_two_requests(t);
}

TEST_CASE("io_context: co_spawn on an acceptor's and a socket's executor starts traced tasks") {
  memory_tracer t;
  beeline::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::address_v4::loopback(), 0});
  asio::ip::tcp::socket socket(ioc);
  static_assert(std::is_same_v<std::decay_t<decltype(acceptor.get_executor())>, asio::any_io_executor>);
  REQUIRE(acceptor.get_executor().target<beeline::io_context::executor_type>() != nullptr);
  asio::co_spawn(acceptor.get_executor(), request(t, "A"), asio::detached);
  asio::co_spawn(
      socket.get_executor(), [&] { return request(t, "B"); }, asio::detached);
  ioc.run();
  check_two_requests(t);
}

TEST_CASE(
    "io_context: co_spawn on strands made from the context (as Beast's examples do) starts traced tasks") {
  memory_tracer t;
  beeline::io_context ioc;
  asio::ip::tcp::acceptor acceptor(asio::make_strand(ioc), {asio::ip::address_v4::loopback(), 0});
  asio::co_spawn(acceptor.get_executor(), request(t, "A"), asio::detached);
  asio::co_spawn(asio::make_strand(ioc), request(t, "B"), asio::detached);
  ioc.run();
  check_two_requests(t);
}

TEST_CASE("io_context: co_spawn on this_coro::executor inside a task forks a child of the current span") {
  memory_tracer t;
  beeline::io_context ioc;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        beeline::span root = t.tracer.start_trace("root");
        beeline::span before = beeline::start_span("before");
        auto child = []() -> awaitable<void> {
          co_await sleep_for(2ms);
          beeline::with_span("child", {}, [] {});
        };
        asio::co_spawn(co_await asio::this_coro::executor, child(), asio::detached);
        asio::co_spawn(co_await asio::this_coro::executor, child, asio::detached);
        before.finish();
        beeline::span later = beeline::start_span("later");  // what a shared slot would show the children
        co_await sleep_for(5ms);
      },
      asio::detached);
  ioc.run();
  const auto evs = t.events();
  int children = 0;
  for (const auto& e : evs)
    if (e.name() == "child") {
      ++children;
      CHECK(e.parent_id() == named(evs, "before").span_id());
    }
  CHECK(children == 2);
  CHECK(t.tracer.stats().out_of_order_finishes == 0);
}

TEST_CASE("io_context: co_spawn works with every completion token and with awaitable<T> results") {
  memory_tracer t;
  beeline::io_context ioc;
  beeline::span root = t.tracer.start_trace("root");
  auto value = [](const char* name) -> awaitable<int> {
    co_await sleep_for(0ms);
    beeline::with_span(name, {}, [] {});
    co_return 7;
  };
  int from_callback = 0;
  asio::co_spawn(ioc, value("callback"), [&](std::exception_ptr e, int v) {
    CHECK_FALSE(e);
    from_callback = v;
  });
  std::future<int> future = asio::co_spawn(ioc.get_executor(), value("future"), asio::use_future);
  auto deferred = asio::co_spawn(ioc, value("deferred"), asio::deferred);
  int from_deferred = 0;
  std::move(deferred)([&](std::exception_ptr, int v) { from_deferred = v; });
  int awaited = 0;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        awaited =
            co_await asio::co_spawn(co_await asio::this_coro::executor, value("awaited"), use_awaitable);
      },
      asio::detached);
  root.finish();
  ioc.run();
  CHECK(from_callback == 7);
  CHECK(future.get() == 7);
  CHECK(from_deferred == 7);
  CHECK(awaited == 7);
  const auto evs = t.events();
  for (const char* n : {"callback", "future", "deferred", "awaited"}) {
    INFO(n);
    CHECK(named(evs, n).parent_id() == named(evs, "root").span_id());
  }
}

TEST_CASE("io_context: a handler posted to the context itself runs without a task's context") {
  memory_tracer t;
  beeline::io_context ioc;
  bool ran = false;
  {
    beeline::span root = t.tracer.start_trace("root");
    asio::post(ioc, [&] {
      ran = true;
      CHECK_FALSE(beeline::trace_active());  // a plain handler is not a task: nothing leaks into it
    });
  }
  ioc.run();
  CHECK(ran);
}

TEST_CASE("thread_pool: tasks started with plain co_spawn on a pool keep their traces apart",
          "[concurrency]") {
  memory_tracer t;
  beeline::thread_pool pool(2);
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i)
    names.push_back("t" + std::to_string(i));
  for (const auto& n : names)
    asio::co_spawn(pool, request(t, n), asio::detached);
  pool.join();
  const auto evs = t.events();
  REQUIRE(evs.size() == 40);
  for (const auto& n : names) {
    INFO(n);
    CHECK(named(evs, "child_" + n).parent_id() == named(evs, "root_" + n).span_id());
  }
  CHECK(t.tracer.stats().out_of_order_finishes == 0);
}

TEST_CASE("untraced co_spawn: spans interleaved on one slot log one warning naming the cause and the fix") {
  beeline::config cfg;
  std::vector<std::string> logged;
  cfg.logger = [&](beeline::log_level level, std::string_view m) {
    if (level == beeline::log_level::warning) logged.emplace_back(m);
  };
  memory_tracer t(cfg);
  asio::io_context ioc;  // Asio's own: both tasks run on the thread's one slot
  for (int round = 0; round < 3; ++round) {
    asio::co_spawn(ioc, request(t, "A" + std::to_string(round)), asio::detached);
    asio::co_spawn(ioc, request(t, "B" + std::to_string(round)), asio::detached);
    ioc.run();
    ioc.restart();
  }
  CHECK(t.tracer.stats().out_of_order_finishes == 6);  // the counter keeps counting
  REQUIRE(logged.size() == 1);                         // the log does not
  CHECK(logged[0].find("spans finished out of order") != std::string::npos);
  CHECK(logged[0].find("plain asio::co_spawn on an untraced executor") != std::string::npos);
  CHECK(logged[0].find("beeline::io_context") != std::string::npos);
  CHECK(logged[0].find("beeline::spawn") != std::string::npos);
  CHECK(logged[0].find("beeline::forked") != std::string::npos);
}
