// The current span through co_await: timers, nesting, post/dispatch/defer, strands, forks, detached children,
// exceptions, cancellation, plain co_spawn, and the awaitable API. Every case checks parent and trace ids.
#include "support.hpp"

#include <beeline/asio/coro.hpp>
#include <beeline/asio/executor.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
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

/// Runs `fn()` (an awaitable) as the root task of a new trace on `ioc`, to completion.
template <class F>
void run_traced(memory_tracer& t, asio::io_context& ioc, const char* root_name, F fn) {
  beeline::span root = t.tracer.start_trace(root_name);
  beeline::spawn(ioc.get_executor(), fn(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  root.finish();  // the task keeps its own reference to the trace; the root is not current here any more
  ioc.run();
}

}  // namespace

TEST_CASE("coro: the current span survives timers, and children started after a wait parent correctly") {
  memory_tracer t;
  asio::io_context ioc;
  run_traced(t, ioc, "root", []() -> awaitable<void> {
    beeline::span outer = beeline::start_span("outer");
    co_await sleep_for(1ms);
    beeline::span inner = beeline::start_span("inner");
    co_await sleep_for(0ms);
    beeline::add_context({{"after_wait", true}});
  });
  const auto evs = t.events();
  CHECK(named(evs, "outer").parent_id() == named(evs, "root").span_id());
  CHECK(named(evs, "inner").parent_id() == named(evs, "outer").span_id());
  CHECK(named(evs, "inner").raw("after_wait") == "true");
  CHECK(named(evs, "inner").trace_id() == named(evs, "root").trace_id());
}

TEST_CASE("coro: nested awaitables three deep each get the right parent") {
  memory_tracer t;
  asio::io_context ioc;
  struct levels {
    static awaitable<int> level3() {
      co_await sleep_for(0ms);
      co_return co_await beeline::with_span("level3", beeline::field{"depth", 3},
                                            []() -> awaitable<int> { co_return 3; }());
    }
    static awaitable<int> level2() { co_return co_await beeline::start_async_span("level2", level3()) + 2; }
    static awaitable<int> level1() { co_return co_await beeline::start_async_span("level1", level2()) + 1; }
  };
  int result = 0;
  run_traced(t, ioc, "root", [&]() -> awaitable<void> { result = co_await levels::level1(); });
  CHECK(result == 6);
  const auto evs = t.events();
  CHECK(named(evs, "level1").parent_id() == named(evs, "root").span_id());
  CHECK(named(evs, "level2").parent_id() == named(evs, "level1").span_id());
  CHECK(named(evs, "level3").parent_id() == named(evs, "level2").span_id());
  CHECK(named(evs, "level1").span_type() == "mid");
  CHECK(named(evs, "level3").span_type() == "leaf");
}

TEST_CASE("coro: the awaitable forms take span options after the name") {
  memory_tracer t;
  asio::io_context ioc;
  run_traced(t, ioc, "root", [&t]() -> awaitable<void> {
    const beeline::span_options client{.kind = beeline::span_kind::client};
    co_await beeline::start_async_span("call", client, beeline::field{"attempt", 1}, sleep_for(0ms));
    const beeline::span_options detached{.kind = beeline::span_kind::producer, .root = true};
    co_await beeline::with_span("detached", detached, []() -> awaitable<void> {
      beeline::span inner = beeline::start_span("inside-detached");
      co_return;
    }());
    const beeline::span_options consumer{.kind = beeline::span_kind::consumer};
    co_await beeline::with_trace(t.tracer, "own-trace", consumer, sleep_for(0ms));
    // The global form on no global tracer: the work runs, untraced.
    co_await beeline::with_trace("untraced", consumer, sleep_for(0ms));
  });
  const auto evs = t.events();
  const auto& root = named(evs, "root");
  CHECK(named(evs, "call").str("span.kind") == "client");
  CHECK(named(evs, "call").raw("attempt") == "1");
  CHECK(named(evs, "call").parent_id() == root.span_id());
  const auto& detached = named(evs, "detached");
  CHECK(detached.str("span.kind") == "producer");
  CHECK(detached.trace_id() != root.trace_id());
  CHECK(detached.parent_id().empty());
  CHECK(named(evs, "inside-detached").parent_id() == detached.span_id());
  CHECK(named(evs, "own-trace").str("span.kind") == "consumer");
  CHECK(named(evs, "own-trace").trace_id() != root.trace_id());
  CHECK_THROWS(named(evs, "untraced"));
}

TEST_CASE("coro: post, dispatch and defer resume in the task's context") {
  memory_tracer t;
  asio::io_context ioc;
  asio::io_context other;  // run by its own thread while the task hops there and back
  auto other_work = asio::make_work_guard(other);
  std::thread other_thread([&] { other.run(); });
  run_traced(t, ioc, "root", [&]() -> awaitable<void> {
    beeline::span s = beeline::start_span("work");
    co_await asio::post(use_awaitable);
    beeline::with_span("after_post", {}, [] {});
    co_await asio::dispatch(use_awaitable);
    beeline::with_span("after_dispatch", {}, [] {});
    co_await asio::defer(use_awaitable);
    beeline::with_span("after_defer", {}, [] {});
    co_await asio::post(other.get_executor(), use_awaitable);  // completes back on our executor
    beeline::with_span("after_post_elsewhere", {}, [] {});
    // A plain lambda posted from the task does not see its context: no leak into unrelated work.
    asio::post(ioc, [] { CHECK_FALSE(beeline::trace_active()); });
  });
  other_work.reset();
  other_thread.join();
  const auto evs = t.events();
  for (const char* n : {"after_post", "after_dispatch", "after_defer", "after_post_elsewhere"}) {
    INFO(n);
    CHECK(named(evs, n).parent_id() == named(evs, "work").span_id());
  }
}

TEST_CASE("coro: a strand shared by two traced tasks keeps each task's spans apart") {
  memory_tracer t;
  asio::io_context ioc;
  auto strand = asio::make_strand(ioc);
  beeline::span root = t.tracer.start_trace("root");
  for (const char* task : {"a", "b"}) {
    beeline::with_span(task, {}, [&] {
      // traced outside the strand: one strand, two slots
      asio::co_spawn(
          beeline::traced(strand),
          [task]() -> awaitable<void> {
            for (int i = 0; i < 20; ++i) {
              beeline::span s = beeline::start_span(std::string(task) + "_step");
              co_await asio::post(use_awaitable);
            }
          },
          asio::detached);
    });
  }
  root.finish();
  ioc.run();
  const auto evs = t.events();
  int checked = 0;
  for (const auto& e : evs) {
    if (e.name() == "a_step") {
      CHECK(e.parent_id() == named(evs, "a").span_id());
      ++checked;
    } else if (e.name() == "b_step") {
      CHECK(e.parent_id() == named(evs, "b").span_id());
      ++checked;
    }
  }
  CHECK(checked == 40);
}

TEST_CASE("coro: make_parallel_group branches forked with beeline::fork get their own slots") {
  memory_tracer t;
  asio::io_context ioc;
  run_traced(t, ioc, "root", []() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    auto branch = [](const char* name) -> awaitable<void> {
      beeline::span s = beeline::start_span(name);
      for (int i = 0; i < 5; ++i) {
        co_await asio::post(use_awaitable);
        beeline::with_span(std::string(name) + "_child", {}, [] {});
      }
    };
    beeline::span p = beeline::start_span("parallel");
    auto [order, e1, e2] = co_await asio::experimental::make_parallel_group(
                               asio::co_spawn(beeline::fork(ex), branch("A"), asio::deferred),
                               asio::co_spawn(beeline::fork(ex), branch("B"), asio::deferred))
                               .async_wait(asio::experimental::wait_for_all(), use_awaitable);
    CHECK_FALSE(e1);
    CHECK_FALSE(e2);
  });
  const auto evs = t.events();
  CHECK(named(evs, "A").parent_id() == named(evs, "parallel").span_id());
  CHECK(named(evs, "B").parent_id() == named(evs, "parallel").span_id());
  int children = 0;
  for (const auto& e : evs) {
    if (e.name() == "A_child" || e.name() == "B_child") {
      CHECK(e.parent_id() == named(evs, e.name().substr(0, 1)).span_id());
      ++children;
    }
  }
  CHECK(children == 10);
}

TEST_CASE("coro: && and || over forked branches keep parents; the losing branch is finished and marked") {
  using namespace asio::experimental::awaitable_operators;
  memory_tracer t;
  asio::io_context ioc;
  run_traced(t, ioc, "root", []() -> awaitable<void> {
    auto branch = [](const char* name, std::chrono::milliseconds d) -> awaitable<int> {
      co_return co_await beeline::start_async_span(name, [](std::chrono::milliseconds d) -> awaitable<int> {
        co_await sleep_for(d);
        beeline::with_span("inside", {}, [] {});
        co_return 1;
      }(d));
    };
    beeline::span both = beeline::start_span("both");
    auto [x, y] = co_await (beeline::forked(branch("and_a", 1ms)) && beeline::forked(branch("and_b", 2ms)));
    CHECK(x + y == 2);
    both.finish();
    beeline::span either = beeline::start_span("either");
    auto r = co_await (beeline::forked(branch("fast", 0ms)) || beeline::forked(branch("slow", 10s)));
    CHECK(r.index() == 0);
  });
  const auto evs = t.events();
  CHECK(named(evs, "and_a").parent_id() == named(evs, "both").span_id());
  CHECK(named(evs, "and_b").parent_id() == named(evs, "both").span_id());
  CHECK(named(evs, "fast").parent_id() == named(evs, "either").span_id());
  CHECK(named(evs, "slow").parent_id() == named(evs, "either").span_id());
  CHECK(named(evs, "slow").raw("cancelled") == "true");
  CHECK_FALSE(named(evs, "fast").has("cancelled"));
  int inside = 0;
  for (const auto& e : evs)
    if (e.name() == "inside") {
      ++inside;
      const auto& parent = *std::find_if(evs.begin(), evs.end(),
                                         [&](const exported& p) { return p.span_id() == e.parent_id(); });
      CHECK((parent.name() == "and_a" || parent.name() == "and_b" || parent.name() == "fast"));
    }
  CHECK(inside == 3);  // "slow" never got there
}

TEST_CASE("coro: a detached child outlives its parent's scope and still parents to it") {
  memory_tracer t;
  asio::io_context ioc;
  run_traced(t, ioc, "root", [&]() -> awaitable<void> {
    {
      beeline::span parent = beeline::start_span("parent");
      beeline::spawn(
          co_await asio::this_coro::executor,
          []() -> awaitable<void> {
            co_await sleep_for(5ms);  // the parent is long finished by now
            beeline::with_span("late_child", {}, [] {});
          }(),
          asio::detached);
    }
    beeline::with_span("sibling", {}, [] {});
  });
  const auto evs = t.events();
  CHECK(named(evs, "late_child").parent_id() == named(evs, "parent").span_id());
  CHECK(named(evs, "late_child").trace_id() == named(evs, "root").trace_id());
  CHECK(named(evs, "sibling").parent_id() == named(evs, "root").span_id());
  // The parent was exported before its child started: it went out as a leaf, which it was at the time.
  CHECK(named(evs, "parent").span_type() == "leaf");
}

TEST_CASE("coro: an exception unwinding through spans finishes each once with the error recorded") {
  memory_tracer t;
  asio::io_context ioc;
  bool caught = false;
  run_traced(t, ioc, "root", [&]() -> awaitable<void> {
    try {
      co_await beeline::start_async_span("outer", []() -> awaitable<void> {
        beeline::span raii = beeline::start_span("raii");
        co_await beeline::start_async_span("inner", []() -> awaitable<void> {
          co_await sleep_for(0ms);
          throw std::runtime_error("deep failure");
        }());
      }());
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "deep failure";
    }
    beeline::with_span("after", {}, [] {});
  });
  CHECK(caught);
  const auto evs = t.events();
  REQUIRE(evs.size() == 5);  // root, outer, raii, inner, after: each exactly once
  CHECK(named(evs, "inner").str("error_detail") == "deep failure");
  CHECK(named(evs, "outer").str("error") == "std::runtime_error");
  CHECK_FALSE(named(evs, "raii").has("error"));  // a plain RAII span just finishes during unwinding
  CHECK(named(evs, "inner").parent_id() == named(evs, "raii").span_id());
  CHECK(named(evs, "after").parent_id() == named(evs, "root").span_id());
}

TEST_CASE("coro: cancellation of an awaited operation finishes its span marked cancelled") {
  memory_tracer t;
  asio::io_context ioc;
  run_traced(t, ioc, "root", [&]() -> awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 10s);
    asio::steady_timer canceller(co_await asio::this_coro::executor, 1ms);
    canceller.async_wait([&](auto) { timer.cancel(); });
    try {
      co_await beeline::start_async_span("wait", timer.async_wait(use_awaitable));
    } catch (const boost::system::system_error& e) {
      CHECK(e.code() == asio::error::operation_aborted);
    }
  });
  const auto evs = t.events();
  CHECK(named(evs, "wait").raw("cancelled") == "true");
  CHECK(named(evs, "wait").has("error"));
  CHECK(named(evs, "wait").parent_id() == named(evs, "root").span_id());
}

TEST_CASE("coro: plain co_spawn on the task's own executor forks a child task, like beeline::spawn") {
  memory_tracer t;
  asio::io_context ioc;
  run_traced(t, ioc, "root", [&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    beeline::span before = beeline::start_span("before");
    // The task's executor is traced, so asio::co_spawn on it gives the child a slot of its own whose parent
    // is the span current here; sharing the parent's slot, it would see "later" when it resumes.
    asio::co_spawn(
        ex,
        []() -> awaitable<void> {
          co_await sleep_for(2ms);
          beeline::with_span("plain_child", {}, [] {});
        },
        asio::detached);
    beeline::spawn(
        ex,
        []() -> awaitable<void> {
          co_await sleep_for(2ms);
          beeline::with_span("traced_child", {}, [] {});
        }(),
        asio::detached);
    before.finish();
    beeline::span later = beeline::start_span("later");
    co_await sleep_for(5ms);
  });
  const auto evs = t.events();
  CHECK(named(evs, "traced_child").parent_id() == named(evs, "before").span_id());
  CHECK(named(evs, "plain_child").parent_id() == named(evs, "before").span_id());
  CHECK(t.tracer.stats().out_of_order_finishes == 0);
}

TEST_CASE("coro: co_spawn on a plain executor from a traced task sees the context only until it suspends") {
  memory_tracer t;
  asio::io_context ioc;
  bool saw_before = false, saw_after = true;
  run_traced(t, ioc, "root", [&]() -> awaitable<void> {
    asio::co_spawn(
        ioc.get_executor(),
        [&]() -> awaitable<void> {
          saw_before = beeline::trace_active();  // runs inline inside the parent's handler
          co_await sleep_for(1ms);
          saw_after = beeline::trace_active();  // resumed through the plain executor: no context
        },
        asio::detached);
    co_return;
  });
  CHECK(saw_before);
  CHECK_FALSE(saw_after);
}

TEST_CASE("coro: bind_current snapshots the context for a callback handler") {
  memory_tracer t;
  asio::io_context ioc;
  asio::steady_timer timer(ioc, 1ms);
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span at_bind = beeline::start_span("at_bind");
    timer.async_wait(beeline::bind_current(ioc.get_executor(), [](const boost::system::error_code&) {
      beeline::with_span("callback", {}, [] {});
    }));
    at_bind.finish();
    beeline::span later = beeline::start_span("later");  // not what the callback should see
  }
  timer.async_wait([](const boost::system::error_code&) { CHECK_FALSE(beeline::trace_active()); });
  ioc.run();
  const auto evs = t.events();
  CHECK(named(evs, "callback").parent_id() == named(evs, "at_bind").span_id());
}

TEST_CASE("coro: with_trace, the function form of start_async_span, instrument and run_without_trace") {
  memory_tracer t;
  asio::io_context ioc;
  std::string root_trace;
  beeline::spawn(
      ioc.get_executor(),
      [&]() -> awaitable<void> {
        // The coroutine lambda is named so its captures outlive the statement that makes the awaitable.
        auto body = [&]() -> awaitable<void> {
          root_trace = beeline::get_trace_context()->trace_id;
          const int v = co_await beeline::start_async_span("fn_form", [](beeline::span& s) -> awaitable<int> {
            s.add_field("via_handle", true);
            co_await sleep_for(0ms);
            co_return 5;
          });
          CHECK(v == 5);
          beeline::span manual = beeline::start_span("manual");
          manual.finish();  // not current any more...
          beeline::span holder = beeline::start_span("holder");
          co_await beeline::instrument(
              []() -> awaitable<void> {
                beeline::with_span("instrumented", {}, [] {});
                co_return;
              }(),
              holder);
          co_await beeline::run_without_trace([]() -> awaitable<void> {
            CHECK_FALSE(beeline::trace_active());
            co_await sleep_for(0ms);
            CHECK_FALSE(beeline::trace_active());
          }());
          CHECK(beeline::trace_active());
        };
        co_await beeline::with_trace(t.tracer, "awaited_root", beeline::field{"k", 1}, body());
      },
      asio::detached);
  ioc.run();
  const auto evs = t.events();
  CHECK(named(evs, "awaited_root").trace_id() == root_trace);
  CHECK(named(evs, "awaited_root").raw("k") == "1");
  CHECK(named(evs, "fn_form").raw("via_handle") == "true");
  CHECK(named(evs, "fn_form").parent_id() == named(evs, "awaited_root").span_id());
  CHECK(named(evs, "instrumented").parent_id() == named(evs, "holder").span_id());
}

namespace {
// The awaitable forms take fields as beeline::field arguments; a braced list (unsafe inside co_await with GCC
// 12) does not compile.
using void_aw = awaitable<void>;
template <class Aw>
concept braced_start_async_span = requires(Aw aw) {
  beeline::start_async_span("x", {{"k", 1}}, std::move(aw));
};
template <class Aw>
concept empty_braces_with_span = requires(Aw aw) {
  beeline::with_span("x", {}, std::move(aw));
};
template <class Aw>
concept braced_with_trace = requires(Aw aw) {
  beeline::with_trace("x", {{"k", 1}}, std::move(aw));
};
template <class Aw>
concept braced_with_trace_on = requires(Aw aw, beeline::tracer& t) {
  beeline::with_trace(t, "x", {}, std::move(aw));
};
template <class Aw>
concept field_arguments = requires(Aw aw, beeline::tracer& t) {
  beeline::start_async_span("x", beeline::field{"k", 1}, beeline::field{"j", "v"}, std::move(aw));
  beeline::start_async_span("x", std::move(aw));
  beeline::with_span("x", beeline::field{"k", 1}, std::move(aw));
  beeline::with_trace("x", beeline::field{"k", 1}, std::move(aw));
  beeline::with_trace(t, "x", std::move(aw));
};
static_assert(!braced_start_async_span<void_aw>);
static_assert(!empty_braces_with_span<void_aw>);
static_assert(!braced_with_trace<void_aw>);
static_assert(!braced_with_trace_on<void_aw>);
static_assert(field_arguments<void_aw>);
}  // namespace

TEST_CASE("coro: fields as beeline::field arguments, inside one co_await expression, reach the span") {
  memory_tracer t;
  asio::io_context ioc;
  std::string detail = "dynamic";
  run_traced(t, ioc, "root", [&]() -> awaitable<void> {
    const int v = co_await beeline::start_async_span(
        "fields", beeline::field{"k", 1}, beeline::field{"detail", detail}, []() -> awaitable<int> {
          co_await sleep_for(0ms);
          co_return 4;
        }());
    CHECK(v == 4);
    co_await beeline::with_span("no_fields", sleep_for(0ms));
    // A named factory is copied, not moved from: it can start a second span.
    auto factory = [tag = std::string("kept")](beeline::span& s) -> awaitable<void> {
      s.add_field("tag", tag);
      co_return;
    };
    co_await beeline::start_async_span("factory_1", factory);
    co_await beeline::start_async_span("factory_2", beeline::field{"n", 2}, factory);
    co_await beeline::with_trace(t.tracer, "second_trace", beeline::field{"n", 2.5}, sleep_for(0ms));
  });
  const auto evs = t.events();
  CHECK(named(evs, "fields").raw("k") == "1");
  CHECK(named(evs, "fields").str("detail") == "dynamic");
  CHECK(named(evs, "fields").parent_id() == named(evs, "root").span_id());
  CHECK(named(evs, "no_fields").parent_id() == named(evs, "root").span_id());
  CHECK(named(evs, "factory_1").str("tag") == "kept");
  CHECK(named(evs, "factory_2").str("tag") == "kept");
  CHECK(named(evs, "factory_2").raw("n") == "2");
  CHECK(named(evs, "second_trace").raw("n") == "2.5");
  CHECK(named(evs, "second_trace").trace_id() != named(evs, "root").trace_id());
}
