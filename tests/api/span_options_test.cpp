// Span options (OpenTelemetry's SpanOptions): kind, links, start time and root, through start_span and
// start_trace, as the Honeycomb encoding shows them (`span.kind`, link annotations, time and duration_ms).
#include "support.hpp"

#include <catch2/catch.hpp>

#include <array>

using beeline::test::memory_tracer;
using namespace std::chrono_literals;

TEST_CASE("span options: kind sets span.kind, after the fields, on start_span and start_trace") {
  memory_tracer t;
  {
    beeline::span root =
        t.tracer.start_trace("request", {}, beeline::span_options{.kind = beeline::span_kind::server});
    beeline::span call = beeline::start_span("call", {{"span.kind", "internal"}, {"k", 1}},
                                             {.kind = beeline::span_kind::client});
    beeline::span plain = beeline::start_span("plain", {}, {});
  }
  const auto evs = t.events();
  CHECK(memory_tracer::by_name(evs, "request").str("span.kind") == "server");
  CHECK(memory_tracer::by_name(evs, "call").str("span.kind") == "client");
  CHECK(memory_tracer::by_name(evs, "call").raw("k") == "1");
  CHECK_FALSE(memory_tracer::by_name(evs, "plain").has("span.kind"));
}

TEST_CASE("span options: links become link annotations of the span, with their attributes") {
  memory_tracer t;
  const std::array<beeline::field, 1> attributes{{{"link.reason", "batch"}}};
  const std::array<beeline::span_link, 3> links{{
      {"7f042f75651d9782dcff93a45fa99be0", "c998e73e5420f609", attributes},
      {"", "c998e73e5420f609"},  // no trace id: skipped
      {"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"},
  }};
  std::string span_id;
  {
    beeline::span root = t.tracer.start_trace("request", {}, beeline::span_options{.links = links});
    span_id = root.span_id();
  }
  const auto evs = t.events();
  std::vector<const beeline::test::exported*> found;
  for (const auto& e : evs)
    if (e.has("meta.annotation_type")) found.push_back(&e);
  REQUIRE(found.size() == 2);
  CHECK(found[0]->str("meta.annotation_type") == "link");
  CHECK(found[0]->parent_id() == span_id);
  CHECK(found[0]->str("trace.link.trace_id") == "7f042f75651d9782dcff93a45fa99be0");
  CHECK(found[0]->str("trace.link.span_id") == "c998e73e5420f609");
  CHECK(found[0]->str("link.reason") == "batch");
  CHECK(found[1]->str("trace.link.trace_id") == "0af7651916cd43dd8448eb211c80319c");
  CHECK_FALSE(found[1]->has("link.reason"));
}

TEST_CASE("span options: a start time in the past moves the span's start and lengthens its duration") {
  memory_tracer t;
  const auto started = std::chrono::system_clock::now() - 5s;
  {
    beeline::span root = t.tracer.start_trace("request");
    beeline::span late = beeline::start_span("late", {}, {.start_time = started});
  }
  const auto evs = t.events();
  const double duration = memory_tracer::by_name(evs, "late").num("duration_ms");
  CHECK(duration >= 4990);
  CHECK(duration < 6000);
  CHECK(memory_tracer::by_name(evs, "request").num("duration_ms") < 1000);
}

TEST_CASE("span options: root starts a new trace instead of a child, and the old span is current after it") {
  memory_tracer t;
  std::string outer_trace, outer_span;
  {
    beeline::span root = t.tracer.start_trace("request");
    outer_trace = root.trace_id();
    outer_span = root.span_id();
    {
      beeline::span detached = beeline::start_span("detached", {}, {.root = true});
      CHECK(detached.trace_id() != outer_trace);
      beeline::span inside = beeline::start_span("inside-detached");
    }
    beeline::span after = beeline::start_span("after");
  }
  const auto evs = t.events();
  const auto& detached = memory_tracer::by_name(evs, "detached");
  CHECK(detached.trace_id() != outer_trace);
  CHECK(detached.parent_id().empty());
  CHECK(detached.span_type() == "root");
  CHECK(memory_tracer::by_name(evs, "inside-detached").trace_id() == detached.trace_id());
  CHECK(memory_tracer::by_name(evs, "inside-detached").parent_id() == detached.span_id());
  CHECK(memory_tracer::by_name(evs, "after").trace_id() == outer_trace);
  CHECK(memory_tracer::by_name(evs, "after").parent_id() == outer_span);
}

TEST_CASE("span options: start_trace with root ignores the upstream context; without, continues it") {
  memory_tracer t;
  beeline::trace_context upstream;
  upstream.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  upstream.parent_id = "00f067aa0ba902b7";
  {
    beeline::span s = t.tracer.start_trace("continued", {}, upstream, {.kind = beeline::span_kind::consumer});
  }
  { beeline::span s = t.tracer.start_trace("fresh", {}, upstream, {.root = true}); }
  const auto evs = t.events();
  const auto& continued = memory_tracer::by_name(evs, "continued");
  CHECK(continued.trace_id() == upstream.trace_id);
  CHECK(continued.parent_id() == upstream.parent_id);
  CHECK(continued.str("span.kind") == "consumer");
  const auto& fresh = memory_tracer::by_name(evs, "fresh");
  CHECK(fresh.trace_id() != upstream.trace_id);
  CHECK(fresh.parent_id().empty());
}

TEST_CASE("span options: outside a trace, start_span with root and no global tracer is inert") {
  beeline::span s = beeline::start_span("nothing", {}, {.kind = beeline::span_kind::server, .root = true});
  CHECK_FALSE(s.valid());
}

TEST_CASE("span options: the global start_trace and start_span take them; root outside a trace uses init's") {
  REQUIRE_FALSE(beeline::is_initialized());
  auto sink = std::make_shared<beeline::memory_exporter>();
  beeline::config cfg;
  cfg.exporter = sink;
  cfg.service_name = "global-options";
  REQUIRE(beeline::init(cfg));
  beeline::trace_context upstream;
  upstream.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  upstream.parent_id = "00f067aa0ba902b7";
  {
    beeline::span root = beeline::start_trace("global-root", {}, {.kind = beeline::span_kind::server});
    beeline::span child = beeline::start_span("global-child", {}, {.kind = beeline::span_kind::client});
  }
  {
    beeline::span cont =
        beeline::start_trace("continued", {}, upstream, {.kind = beeline::span_kind::consumer});
  }
  { beeline::span alone = beeline::start_span("alone", {}, {.root = true}); }  // no current trace
  REQUIRE(beeline::shutdown(std::chrono::seconds(5)).complete);
  std::vector<beeline::test::exported> evs;
  for (auto& l : sink->lines())
    evs.emplace_back(l);
  REQUIRE(evs.size() == 4);
  CHECK(memory_tracer::by_name(evs, "global-root").str("span.kind") == "server");
  CHECK(memory_tracer::by_name(evs, "global-child").str("span.kind") == "client");
  CHECK(memory_tracer::by_name(evs, "global-child").parent_id() ==
        memory_tracer::by_name(evs, "global-root").span_id());
  CHECK(memory_tracer::by_name(evs, "continued").trace_id() == upstream.trace_id);
  CHECK(memory_tracer::by_name(evs, "continued").str("span.kind") == "consumer");
  CHECK(memory_tracer::by_name(evs, "alone").parent_id().empty());
  CHECK(memory_tracer::by_name(evs, "alone").span_type() == "root");
}
