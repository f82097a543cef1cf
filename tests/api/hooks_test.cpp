// Sampling (deterministic and hook), the presend hook, and hooks that throw.
#include "support.hpp"

#include <beeline/sampler.hpp>

#include <catch2/catch.hpp>

#include <set>

using beeline::test::memory_tracer;

TEST_CASE("sampling: the deterministic sampler keeps whole traces, exactly the Beeline's decisions") {
  beeline::config cfg;
  cfg.sample_rate = 4;
  memory_tracer t(cfg);
  std::set<std::string> kept_expected;
  for (int i = 0; i < 400; ++i) {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span child = beeline::start_span("child");
    if (beeline::deterministic_keep(root.trace_id(), 4)) kept_expected.insert(root.trace_id());
  }
  const auto evs = t.events();
  std::map<std::string, int> per_trace;
  for (const auto& e : evs) {
    ++per_trace[e.trace_id()];
    CHECK(e.samplerate() == 4);
  }
  CHECK(per_trace.size() == kept_expected.size());
  for (const auto& [id, n] : per_trace) {
    CHECK(kept_expected.count(id) == 1);
    CHECK(n == 2);  // root and child together
  }
  // About one in four, and every dropped span counted.
  CHECK(kept_expected.size() > 60);
  CHECK(kept_expected.size() < 140);
  CHECK(t.tracer.stats().dropped_sampler == 2 * (400 - kept_expected.size()));
}

TEST_CASE("sampling: a sampler hook decides per event and sets the sample rate") {
  beeline::config cfg;
  cfg.sample_rate = 1000;  // ignored: the hook replaces the deterministic sampler
  cfg.sampler = [](const beeline::event& ev) {
    CHECK(ev.get("trace.trace_id").has_value());
    return beeline::sampler_decision{ev.name() != "noisy", ev.name() == "rare" ? 10u : 1u};
  };
  memory_tracer t(cfg);
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::with_span("noisy", {}, [] {});
    beeline::with_span("rare", {}, [] {});
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 2);
  CHECK(memory_tracer::by_name(evs, "rare").samplerate() == 10);
  CHECK(memory_tracer::by_name(evs, "root").samplerate() == 1);
  CHECK(t.tracer.stats().dropped_sampler == 1);
}

TEST_CASE("presend: the hook sees every field and may edit or drop an event") {
  beeline::config cfg;
  cfg.presend = [](beeline::event& ev) {
    CHECK(ev.get("service_name").has_value());
    CHECK(ev.get("app.user").has_value());
    CHECK(ev.get("duration_ms")->kind() == beeline::value_kind::floating);
    if (ev.name() == "secret") {
      ev.drop();
      return;
    }
    ev.remove("password");
    ev.set("scrubbed", true);
    ev.set("trace.span_id", "forged");  // reserved: ignored
    CHECK_FALSE(ev.remove("trace.trace_id"));
  };
  memory_tracer t(cfg);
  std::string span_id;
  {
    beeline::span root = t.tracer.start_trace("root", {{"password", "hunter2"}});
    span_id = root.span_id();
    beeline::add_trace_context({{"user", "u1"}});
    beeline::with_span("secret", {}, [] {});
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 1);
  CHECK_FALSE(evs[0].has("password"));
  CHECK(evs[0].raw("scrubbed") == "true");
  CHECK(evs[0].span_id() == span_id);
  CHECK(t.tracer.stats().dropped_presend == 1);
}

TEST_CASE("hooks: a reused record starts with no drop and no sample rate from the span it held before") {
  // The worker's part of a record (drop mark, sample rate, cached ids) is not cleared when the record is
  // reused; the worker sets it afresh for every span it processes.
  beeline::config cfg;
  cfg.sampler = [](const beeline::event& ev) {
    return beeline::sampler_decision{true, ev.name() == "secret" ? 10u : 1u};
  };
  cfg.presend = [](beeline::event& ev) {
    if (ev.name() == "secret") ev.drop();
  };
  memory_tracer t(cfg);
  for (int round = 0; round < 3; ++round) {
    {
      beeline::span root = t.tracer.start_trace("root");
      for (int i = 0; i < 50; ++i)
        beeline::with_span("secret", {}, [] {});
    }
    REQUIRE(t.tracer.flush_sync(std::chrono::seconds(10)).complete);
    {
      beeline::span root = t.tracer.start_trace("root");
      for (int i = 0; i < 50; ++i)
        beeline::with_span("kept", {}, [] {});
    }
    REQUIRE(t.tracer.flush_sync(std::chrono::seconds(10)).complete);
  }
  const auto evs = t.events();
  std::size_t kept = 0;
  for (const auto& e : evs) {
    CHECK(e.name() != "secret");
    CHECK(e.samplerate() == 1);
    kept += e.name() == "kept";
  }
  CHECK(kept == 150);
  CHECK(evs.size() == 156);  // and the six roots
  CHECK(t.tracer.stats().dropped_presend == 150);
}

TEST_CASE("hooks: an exception in a hook is caught, counted and drops only that event") {
  beeline::config cfg;
  std::vector<std::string> logged;
  cfg.logger = [&](beeline::log_level, std::string_view m) { logged.emplace_back(m); };
  cfg.presend = [](beeline::event& ev) {
    if (ev.name() == "bad") throw std::runtime_error("hook bug");
  };
  cfg.sampler = [](const beeline::event& ev) -> beeline::sampler_decision {
    if (ev.name() == "bad_sampler") throw 42;
    return {};
  };
  memory_tracer t(cfg);
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::with_span("bad", {}, [] {});
    beeline::with_span("bad_sampler", {}, [] {});
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].name() == "root");
  CHECK(t.tracer.stats().dropped_hook_error == 2);
  REQUIRE(logged.size() >= 2);
  CHECK(logged[0].find("hook bug") != std::string::npos);
}

TEST_CASE("sampling: a rate below 1 is treated as 1, with a warning") {
  beeline::config cfg;
  cfg.sample_rate = 0;
  std::vector<std::string> logged;
  cfg.logger = [&](beeline::log_level, std::string_view m) { logged.emplace_back(m); };
  memory_tracer t(cfg);
  for (int i = 0; i < 20; ++i)
    beeline::span r = t.tracer.start_trace("r");
  CHECK(t.events().size() == 20);
  REQUIRE(logged.size() == 1);
  CHECK(logged[0].find("sample_rate") != std::string::npos);
}
