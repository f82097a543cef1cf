// Real concurrency: loopback TCP sessions, an io_context run by two threads, a thread pool with 8,000 traced
// tasks, and a Beast HTTP request handled in a traced coroutine. No span may ever get a wrong parent.
#include "support.hpp"

#include <beeline/asio/coro.hpp>
#include <beeline/asio/executor.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <thread>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using beeline::test::exported;
using beeline::test::memory_tracer;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

/// Checks that every span's parent exists, is in the same trace, and carries the same `task` field (each
/// task's spans must stay within that task's tree).
std::size_t wrong_parents(const std::vector<exported>& evs) {
  std::map<std::string, const exported*> by_id;
  for (const auto& e : evs)
    by_id[e.span_id()] = &e;
  std::size_t wrong = 0;
  for (const auto& e : evs) {
    if (!e.has("trace.parent_id")) continue;
    auto p = by_id.find(e.parent_id());
    if (p == by_id.end()) {
      ++wrong;
      continue;
    }
    wrong += p->second->trace_id() != e.trace_id();
    if (e.has("task") && p->second->has("task")) wrong += p->second->raw("task") != e.raw("task");
  }
  return wrong;
}

awaitable<void> hops(int task, int n) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < n; ++i) {
    beeline::span step = beeline::start_span("step", {{"task", task}});
    co_await asio::post(use_awaitable);
    timer.expires_after(0ms);
    co_await timer.async_wait(use_awaitable);
    beeline::with_span("leaf", {{"task", task}}, [] {});
  }
}

}  // namespace

TEST_CASE("server: loopback TCP sessions each keep their own spans", "[concurrency]") {
  memory_tracer t;
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  constexpr int clients = 6;

  auto session = [&t](tcp::socket sock, int id) -> awaitable<void> {
    // Fields as beeline::field arguments: the whole call fits in one co_await expression, with GCC 12 too.
    auto traced = beeline::with_trace(
        t.tracer, "session", beeline::field{"task", id}, [](tcp::socket sock, int id) -> awaitable<void> {
          for (int round = 0; round < 3; ++round) {
            beeline::span s = beeline::start_span("round", {{"task", id}});
            char buf[4];
            co_await beeline::start_async_span("read", beeline::field{"task", id},
                                               asio::async_read(sock, asio::buffer(buf), use_awaitable));
            co_await beeline::start_async_span("write", beeline::field{"task", id},
                                               asio::async_write(sock, asio::buffer(buf), use_awaitable));
          }
        }(std::move(sock), id));
    co_await std::move(traced);
  };
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> awaitable<void> {
        for (int i = 0; i < clients; ++i) {
          tcp::socket sock = co_await acceptor.async_accept(use_awaitable);
          beeline::spawn(ioc.get_executor(), session(std::move(sock), i), asio::detached);
        }
      },
      asio::detached);
  for (int c = 0; c < clients; ++c) {
    asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
          tcp::socket sock(ioc);
          co_await sock.async_connect({asio::ip::make_address("127.0.0.1"), port}, use_awaitable);
          for (int round = 0; round < 3; ++round) {
            char buf[4] = {'p', 'i', 'n', 'g'};
            co_await asio::async_write(sock, asio::buffer(buf), use_awaitable);
            co_await asio::async_read(sock, asio::buffer(buf), use_awaitable);
          }
        },
        asio::detached);
  }
  std::thread second([&] { ioc.run(); });
  ioc.run();
  second.join();
  const auto evs = t.events();
  CHECK(evs.size() == clients * (1 + 3 * 3));
  CHECK(wrong_parents(evs) == 0);
  for (const auto& e : evs)
    if (e.name() == "read" || e.name() == "write") CHECK(e.span_type() == "leaf");
}

TEST_CASE("server: an io_context run by two threads with 8,000 traced tasks, no wrong parent",
          "[concurrency]") {
  beeline::config cfg;
  cfg.queue_capacity = 1 << 17;
  memory_tracer t(cfg);
  asio::io_context ioc;
  constexpr int tasks = 8000;
  const int rounds = sanitized ? 1 : 3;
  for (int i = 0; i < tasks; ++i) {
    beeline::span root = t.tracer.start_trace("task_root", {{"task", i}});
    beeline::spawn(ioc.get_executor(), hops(i, rounds), asio::detached);
  }
  std::thread second([&] { ioc.run(); });
  ioc.run();
  second.join();
  const auto evs = t.events();
  CHECK(evs.size() == static_cast<std::size_t>(tasks) * static_cast<std::size_t>(1 + 2 * rounds));
  CHECK(t.tracer.stats().dropped() == 0);
  CHECK(wrong_parents(evs) == 0);
}

TEST_CASE("server: a thread pool with 8,000 concurrent traced tasks, none with a wrong parent",
          "[concurrency]") {
  beeline::config cfg;
  cfg.queue_capacity = 1 << 17;
  memory_tracer t(cfg);
  asio::thread_pool pool(4);
  constexpr int tasks = 8000;
  std::atomic<int> done{0};
  std::atomic<int> failed{0};  // Catch2 assertions are not thread-safe: count here, check after join
  for (int i = 0; i < tasks; ++i) {
    beeline::span root = t.tracer.start_trace("task_root", {{"task", i}});
    beeline::spawn(pool.get_executor(), hops(i, sanitized ? 1 : 2), [&](std::exception_ptr e) {
      if (e) failed.fetch_add(1);
      done.fetch_add(1);
    });
  }
  pool.join();
  CHECK(done.load() == tasks);
  CHECK(failed.load() == 0);
  const auto evs = t.events();
  CHECK(evs.size() == static_cast<std::size_t>(tasks) * (1 + 2 * (sanitized ? 1 : 2)));
  CHECK(t.tracer.stats().dropped() == 0);
  CHECK(wrong_parents(evs) == 0);
}

TEST_CASE("server: a Beast HTTP request handled in a traced coroutine", "[concurrency]") {
  memory_tracer t;
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  constexpr int requests = 4;
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> awaitable<void> {
        for (int i = 0; i < requests; ++i) {
          tcp::socket sock = co_await acceptor.async_accept(use_awaitable);
          beeline::spawn(
              ioc.get_executor(),
              [](tcp::socket sock, beeline::tracer& tr) -> awaitable<void> {
                boost::beast::tcp_stream stream(std::move(sock));
                boost::beast::flat_buffer buf;
                http::request<http::string_body> req;
                co_await http::async_read(stream, buf, req, use_awaitable);
                const std::string path(req.target());  // before `req` is moved into the handler below
                auto handled = beeline::with_trace(
                    tr, "request", beeline::field{"request.path", path},
                    [](boost::beast::tcp_stream& stream,
                       http::request<http::string_body> req) -> awaitable<void> {
                      co_await asio::post(use_awaitable);
                      beeline::with_span("handler", {{"task", std::string(req.target())}}, [] {});
                      http::response<http::string_body> res{http::status::ok, req.version()};
                      res.body() = beeline::get_trace_context()->trace_id;
                      res.prepare_payload();
                      co_await beeline::start_async_span("write_response",
                                                         http::async_write(stream, res, use_awaitable));
                    }(stream, std::move(req)));
                co_await std::move(handled);
              }(std::move(sock), t.tracer),
              asio::detached);
        }
      },
      asio::detached);
  std::vector<std::string> bodies(requests);
  for (int i = 0; i < requests; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> awaitable<void> {
          boost::beast::tcp_stream stream(ioc);
          co_await stream.async_connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port},
                                        use_awaitable);
          http::request<http::string_body> req{http::verb::get, "/item/" + std::to_string(i), 11};
          co_await http::async_write(stream, req, use_awaitable);
          boost::beast::flat_buffer buf;
          http::response<http::string_body> res;
          co_await http::async_read(stream, buf, res, use_awaitable);
          bodies[static_cast<std::size_t>(i)] = res.body();
        },
        asio::detached);
  }
  std::thread second([&] { ioc.run(); });
  ioc.run();
  second.join();
  const auto evs = t.events();
  CHECK(evs.size() == requests * 3);
  CHECK(wrong_parents(evs) == 0);
  for (int i = 0; i < requests; ++i) {
    const std::string path = "/item/" + std::to_string(i);
    const exported* req = nullptr;
    for (const auto& e : evs)
      if (e.name() == "request" && e.str("request.path") == path) req = &e;
    REQUIRE(req != nullptr);
    CHECK(bodies[static_cast<std::size_t>(i)] == req->trace_id());  // the handler saw its own trace
    for (const auto& e : evs)
      if (e.name() == "handler" && e.str("task") == path) CHECK(e.parent_id() == req->span_id());
  }
}

TEST_CASE(
    "server: children sharing their parent's slot on a thread pool (plain co_spawn) are serialised, not "
    "racing",
    "[concurrency]") {
  // The documented misuse: co_spawn on this_coro::executor gives every child the parent's slot. On a thread
  // pool those children run at once; the slot is claimed per handler, so they take turns instead of
  // corrupting it. Their parents may be wrong (that is the misuse), but every span arrives and nothing races
  // (TSan runs this).
  memory_tracer t;
  asio::thread_pool pool(4);
  constexpr int children = 64;
  std::atomic<int> done{0};
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::spawn(
        pool.get_executor(),
        [&]() -> awaitable<void> {
          auto ex = co_await asio::this_coro::executor;
          for (int i = 0; i < children; ++i) {
            asio::co_spawn(
                ex,
                [&]() -> awaitable<void> {
                  for (int k = 0; k < 3; ++k) {
                    beeline::span s = beeline::start_span("shared_slot_child");
                    co_await asio::post(use_awaitable);
                  }
                  done.fetch_add(1);
                },
                asio::detached);
          }
          // The children borrow this task's slot: it must outlive them (once the task ends, a shared-slot
          // child runs with no context at all).
          asio::steady_timer wait(ex);
          while (done.load() < children) {
            wait.expires_after(1ms);
            co_await wait.async_wait(use_awaitable);
          }
        },
        asio::detached);
  }
  pool.join();
  CHECK(done.load() == children);
  const auto evs = t.events();
  std::size_t child_spans = 0;
  for (const auto& e : evs)
    child_spans += e.name() == "shared_slot_child";
  CHECK(child_spans == children * 3);
}
