// The current span is per thread (per task): traces on different threads never see each other.
#include "api/context.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

using beeline::test::memory_tracer;

TEST_CASE("context: a trace on one thread is invisible on another", "[concurrency]") {
  memory_tracer t;
  beeline::span root = t.tracer.start_trace("main_root");
  bool other_saw_trace = true;
  std::thread([&] {
    other_saw_trace = beeline::trace_active();
    beeline::span s = beeline::start_span("should_not_exist");
    CHECK_FALSE(s.valid());
  }).join();
  CHECK_FALSE(other_saw_trace);
  CHECK(beeline::trace_active());
  root.finish();
  CHECK(t.events().size() == 1);
}

TEST_CASE("context: a span handle moved to another thread is finished there without disturbing either thread",
          "[concurrency]") {
  memory_tracer t;
  beeline::span root = t.tracer.start_trace("root");
  beeline::span child = beeline::start_span("child");
  std::thread([c = std::move(child)]() mutable { c.finish(); }).join();
  // The child was finished elsewhere: the root is current again here.
  beeline::span next = beeline::start_span("next");
  next.finish();
  root.finish();
  const auto evs = t.events();
  REQUIRE(evs.size() == 3);
  CHECK(memory_tracer::by_name(evs, "next").parent_id() == memory_tracer::by_name(evs, "root").span_id());
  CHECK(memory_tracer::by_name(evs, "child").parent_id() == memory_tracer::by_name(evs, "root").span_id());
}

TEST_CASE("context: a function bound on one thread runs in that trace on another", "[concurrency]") {
  memory_tracer t;
  std::string parent_id;
  std::function<void()> work;
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span parent = beeline::start_span("parent");
    parent_id = parent.span_id();
    work = beeline::bind_function_to_trace([] { beeline::with_span("on_worker", {}, [] {}); });
    std::thread(work).join();
  }
  const auto evs = t.events();
  CHECK(memory_tracer::by_name(evs, "on_worker").parent_id() == parent_id);
  // A child started on another thread still marks its parent as having children.
  CHECK(memory_tracer::by_name(evs, "parent").span_type() == "mid");
}

TEST_CASE(
    "context: a bound function outliving its trace's spans still parents correctly, and marks nothing") {
  memory_tracer t;
  std::function<void()> late;
  std::string holder_span;
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span holder = beeline::start_span("holder");
    holder_span = holder.span_id();
    late = beeline::bind_function_to_trace([] { beeline::with_span("late_child", {}, [] {}); });
  }
  // The holder was exported as a leaf and its record went back to the pool; open many spans so it is reused.
  const auto first = t.events();
  CHECK(memory_tracer::by_name(first, "holder").span_type() == "leaf");
  t.sink->clear();
  {
    beeline::span other = t.tracer.start_trace("other");
    // Siblings, each a child of "other" with no children of its own, all open at once.
    auto open_sibling = beeline::bind_function_to_trace([] { return beeline::start_span("open_filler"); });
    std::vector<beeline::span> open;
    for (int i = 0; i < 50; ++i)
      open.push_back(open_sibling());
    late();  // must not mark whichever open span now occupies the old root's record
  }
  const auto evs = t.events();
  int leaves = 0;
  for (const auto& e : evs)
    leaves += e.name() == "open_filler" && e.span_type() == "leaf";
  CHECK(leaves == 50);  // no reused record was wrongly marked as having children
  CHECK(memory_tracer::by_name(evs, "late_child").parent_id() == holder_span);
}

TEST_CASE("context: add_context in a bound function with no span of its own is counted, not misapplied") {
  memory_tracer t;
  std::function<void()> cb;
  {
    beeline::span root = t.tracer.start_trace("root");
    cb = beeline::bind_function_to_trace([] { beeline::add_context({{"x", 1}}); });
  }
  cb();
  const auto evs = t.events();
  CHECK_FALSE(evs.at(0).has("x"));
  CHECK(t.tracer.stats().context_outside_span == 1);
}

TEST_CASE("context: add_context with no span of the task's own logs one warning with the fix") {
  beeline::config cfg;
  std::vector<std::string> logged;
  cfg.logger = [&](beeline::log_level level, std::string_view m) {
    if (level == beeline::log_level::warning) logged.emplace_back(m);
  };
  memory_tracer t(cfg);
  std::function<void()> cb;
  {
    beeline::span root = t.tracer.start_trace("root");
    cb = beeline::bind_function_to_trace([] { beeline::add_context({{"x", 1}}); });
  }
  cb();
  cb();
  cb();
  CHECK(t.tracer.stats().context_outside_span == 3);
  REQUIRE(logged.size() == 1);
  CHECK(logged[0].find("add_context called in a task with no span of its own") != std::string::npos);
  CHECK(logged[0].find("bind_function_to_trace") != std::string::npos);
  CHECK(logged[0].find("Fix: start a span in the task") != std::string::npos);
  CHECK(logged[0].find("add_trace_context") != std::string::npos);
}

TEST_CASE("context: a slot whose last owner leaves while another thread runs a handler in it is recycled",
          "[concurrency]") {
  using beeline::detail::claim_guard;
  using beeline::detail::slot_handle;
  // Each round, one thread runs a "handler" in a task's slot while the other drops the task's last owner. In
  // even rounds the handler is still inside when the owner leaves (so leaving the handler must recycle); in
  // odd rounds the two race freely. Exactly one side must recycle each time: a lost recycle leaks a slot per
  // round and grows the pool by thousands.
  constexpr int rounds = 20000;
  const std::size_t before = beeline::detail::slot_pool_capacity();
  std::atomic<int> published{-1};
  std::atomic<int> entered{-1};
  std::atomic<int> released{-1};
  std::vector<slot_handle> handles(rounds);
  std::thread runner([&] {
    for (int i = 0; i < rounds; ++i) {
      while (published.load(std::memory_order_acquire) < i) {
      }
      const slot_handle borrowed = handles[static_cast<std::size_t>(i)].borrow();
      if (i % 2 == 0) {
        claim_guard guard(borrowed);
        entered.store(i, std::memory_order_release);
        while (released.load(std::memory_order_acquire) < i) {
        }
      } else {
        entered.store(i, std::memory_order_release);
        claim_guard guard(borrowed);
      }
    }
  });
  for (int i = 0; i < rounds; ++i) {
    handles[static_cast<std::size_t>(i)] = slot_handle::make_owning({});
    published.store(i, std::memory_order_release);
    while (entered.load(std::memory_order_acquire) < i) {
    }
    handles[static_cast<std::size_t>(i)] = slot_handle();  // the last owner leaves
    released.store(i, std::memory_order_release);
  }
  runner.join();
  CHECK(beeline::detail::slot_pool_capacity() - before <= 256);
}
