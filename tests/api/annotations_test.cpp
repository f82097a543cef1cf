// Span events and links: kept with the span, exported as Honeycomb annotation events after it, and bounded.
#include "support.hpp"

#include <catch2/catch.hpp>

using beeline::test::memory_tracer;

TEST_CASE("annotations: span events and links go out as Honeycomb annotation events of their span") {
  memory_tracer t;
  std::string span_id, trace_id;
  {
    beeline::span root = t.tracer.start_trace("request");
    trace_id = root.trace_id();
    beeline::span work = beeline::start_span("work");
    span_id = work.span_id();
    work.add_event("cache.miss", {{"key", "user:42"}, {"attempt", 2}});
    beeline::trace_context other;
    other.trace_id = "7f042f75651d9782dcff93a45fa99be0";
    other.parent_id = "c998e73e5420f609";
    work.add_link(other, {{"link.reason", "batch"}});
    work.add_event("done");
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 5);  // request, work, and work's three annotations
  std::vector<const beeline::test::exported*> annotations;
  for (const auto& e : evs)
    if (e.has("meta.annotation_type")) annotations.push_back(&e);
  REQUIRE(annotations.size() == 3);
  const auto& miss = *annotations[0];
  CHECK(miss.str("meta.annotation_type") == "span_event");
  CHECK(miss.name() == "cache.miss");
  CHECK(miss.parent_id() == span_id);
  CHECK(miss.trace_id() == trace_id);
  CHECK(miss.str("key") == "user:42");
  CHECK(miss.raw("attempt") == "2");
  CHECK(miss.raw("duration_ms") == "0");
  CHECK(miss.str("service_name") == "test-service");
  const auto& link = *annotations[1];
  CHECK(link.str("meta.annotation_type") == "link");
  CHECK(link.parent_id() == span_id);
  CHECK(link.str("trace.link.trace_id") == "7f042f75651d9782dcff93a45fa99be0");
  CHECK(link.str("trace.link.span_id") == "c998e73e5420f609");
  CHECK(link.str("link.reason") == "batch");
  CHECK_FALSE(link.has("name"));
  CHECK(annotations[2]->name() == "done");
  // The span event's time lies within its span.
  const beeline::test::exported* work = nullptr;
  for (const auto& e : evs)
    if (!e.has("meta.annotation_type") && e.name() == "work") work = &e;
  REQUIRE(work);
  CHECK(miss.time() >= work->time());
  CHECK(t.tracer.stats().exported == 2);  // spans, not annotations
}

TEST_CASE("annotations: bounded like fields, counted when refused") {
  beeline::config cfg;
  cfg.max_fields_per_span = 4;
  memory_tracer t(cfg);
  {
    beeline::span root = t.tracer.start_trace("request");
    for (int i = 0; i < 10; ++i)
      root.add_event("tick", {{"i", i}});
    root.add_link("", "x");  // no trace id: not a link, ignored
  }
  const auto evs = t.events();
  CHECK(evs.size() == 1 + 4);
  CHECK(t.tracer.stats().dropped_fields >= 6);
}

TEST_CASE("annotations: an inert span ignores them") {
  beeline::span inert;
  inert.add_event("nothing").add_link("a", "b");
  CHECK_FALSE(inert.valid());
}
