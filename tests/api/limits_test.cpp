// Bad input stays bounded: oversized values, too many fields, invalid UTF-8, invalid JSON.
#include "support.hpp"

#include <catch2/catch.hpp>

using beeline::test::memory_tracer;

TEST_CASE("limits: a string longer than max_value_bytes is cut at a UTF-8 boundary and counted") {
  beeline::config cfg;
  cfg.max_value_bytes = 10;
  memory_tracer t(cfg);
  {
    beeline::span root = t.tracer.start_trace("root");
    // 9 ASCII bytes then a 3-byte character: cutting at 10 would split it.
    beeline::add_context({{"long", "123456789\xE2\x82\xAC"}, {"short", "ok"}});
  }
  const auto evs = t.events();
  CHECK(evs[0].str("long") == "123456789");
  CHECK(evs[0].str("short") == "ok");
  CHECK(t.tracer.stats().truncated_values == 1);
  CHECK(t.tracer.stats().invalid_utf8_values == 0);
}

TEST_CASE("limits: max_value_bytes cuts values only, never keys; the span's name keeps its key") {
  for (const std::size_t max : {std::size_t{0}, std::size_t{2}}) {
    CAPTURE(max);
    beeline::config cfg;
    cfg.max_value_bytes = max;
    memory_tracer t(cfg);
    { beeline::span root = t.tracer.start_trace("root", {{"user_key", "abcdef"}, {"n", 1}}); }
    const auto evs = t.events();
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].str("name") == std::string("root").substr(0, max));
    CHECK(evs[0].str("user_key") == std::string("abcdef").substr(0, max));
    CHECK(evs[0].raw("n") == "1");
    CHECK_FALSE(evs[0].has(""));
    CHECK_FALSE(evs[0].has("na"));
    CHECK(evs[0].line().find("\"name\":") != std::string::npos);
    CHECK(t.tracer.stats().truncated_values == 2);
    CHECK(t.tracer.stats().truncated_keys == 0);
  }
}

TEST_CASE(
    "limits: keys past max_key_bytes are cut and counted; tracer keys are never cut; cut keys never "
    "collide silently") {
  beeline::config cfg;
  cfg.max_key_bytes = 4;
  memory_tracer t(cfg);
  {
    beeline::span root = t.tracer.start_trace("root", {{"user_id", 1}, {"user_name", 2}, {"namespace", 3}});
    beeline::add_context({{"user_id", 4}});  // the same key again: replaces
    beeline::span child = beeline::start_span("child", {{"abcdefgh", "x"}});
    beeline::remove_context("abcdefgh");            // found by the key it was set with
    beeline::add_trace_context({{"long", "cut"}});  // "app.long" is cut too
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 2);
  const auto& root = memory_tracer::by_name(evs, "root");
  const auto& child = memory_tracer::by_name(evs, "child");
  CHECK(root.raw("user") == "4");  // "user_name" did not take it over
  CHECK(root.name() == "root");    // "namespace" would have become "name": refused
  CHECK(root.has("service_name"));
  CHECK(root.has("trace.trace_id"));
  CHECK(root.has("duration_ms"));
  CHECK_FALSE(child.has("abcd"));
  CHECK(child.str("app.") == "cut");  // "app.long" cut to 4 bytes
  const beeline::stats s = t.tracer.stats();
  CHECK(s.truncated_keys == 4);  // user_id twice, abcdefgh, app.long
  CHECK(s.dropped_fields == 2);  // user_name, namespace
}

TEST_CASE(
    "limits: fields past max_fields_per_span are refused and counted; replacing a field is always allowed") {
  beeline::config cfg;
  cfg.max_fields_per_span = 4;  // name + 3
  memory_tracer t(cfg);
  {
    beeline::span root = t.tracer.start_trace("root", {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}});
    root.add_field("a", 10);
  }
  const auto evs = t.events();
  CHECK(evs[0].raw("a") == "10");
  CHECK(evs[0].has("c"));
  CHECK_FALSE(evs[0].has("d"));
  CHECK_FALSE(evs[0].has("e"));
  CHECK(t.tracer.stats().dropped_fields == 2);
  // The tracer's own fields are always there, whatever the user's fields used up.
  CHECK(evs[0].str("service_name") == "test-service");
  CHECK(evs[0].has("meta.beeline_version"));
}

TEST_CASE("limits: a 10 MB value costs at most the limit") {
  memory_tracer t;
  const std::string huge(10 * 1024 * 1024, 'x');
  { beeline::span root = t.tracer.start_trace("root", {{"huge", huge}}); }
  const auto evs = t.events();
  CHECK(evs[0].str("huge").size() == 64 * 1024);
  CHECK(evs[0].line().size() < 70 * 1024);
}

TEST_CASE("bad input: invalid UTF-8 is replaced by U+FFFD on the wire and counted") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root", {{"bytes", std::string_view("a\xff\xfe"
                                                                                  "b",
                                                                                  4)}});
  }
  const auto evs = t.events();
  CHECK(evs[0].str("bytes") ==
        "a\xEF\xBF\xBD\xEF\xBF\xBD"
        "b");
  CHECK(t.tracer.stats().invalid_utf8_values == 1);
}

TEST_CASE("bad input: control characters and quotes in keys and values are escaped") {
  memory_tracer t;
  { beeline::span root = t.tracer.start_trace("root", {{"k\"\n", std::string_view("v\0\x1f\\", 4)}}); }
  const auto evs = t.events();
  CHECK(evs[0].str("k\"\n") == std::string("v\0\x1f\\", 4));
}

TEST_CASE("bad input: raw JSON is embedded when valid and sent as null (counted) when not") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root", {{"good", beeline::raw_json{R"({"a":[1,{"b":null}]})"}},
                                                       {"bad", beeline::raw_json{"{oops"}}});
  }
  const auto evs = t.events();
  CHECK(evs[0].raw("good") == R"({"a":[1,{"b":null}]})");
  CHECK(evs[0].raw("bad") == "null");
  CHECK(t.tracer.stats().invalid_json_values == 1);
}

TEST_CASE("bad input: NaN and infinity are sent as null") {
  memory_tracer t;
  { beeline::span root = t.tracer.start_trace("root", {{"nan", std::nan("")}, {"inf", 1.0 / 0.0}}); }
  const auto evs = t.events();
  CHECK(evs[0].raw("nan") == "null");
  CHECK(evs[0].raw("inf") == "null");
}

TEST_CASE("bad input: a huge upstream trace id is bounded") {
  memory_tracer t;
  beeline::trace_context up;
  up.trace_id = std::string(100000, 'a');
  up.parent_id = std::string(100000, 'b');
  { beeline::span root = t.tracer.start_trace("root", {}, up); }
  const auto evs = t.events();
  CHECK(evs[0].trace_id().size() == 256);
  CHECK(evs[0].parent_id().size() == 256);
}

TEST_CASE("limits: a trace's field updates are bounded; past the bound updates are refused and counted") {
  beeline::config cfg;
  cfg.max_fields_per_span = 2;  // each version holds at most 2 fields; a trace keeps at most 16 x 2 entries
  std::vector<std::string> logged;
  cfg.logger = [&](beeline::log_level, std::string_view m) { logged.emplace_back(m); };
  memory_tracer t(cfg);
  {
    beeline::span root = t.tracer.start_trace("root");
    for (int i = 0; i < 100; ++i)
      beeline::add_trace_context({{"a", i}, {"b", i}});
  }
  const auto evs = t.events();
  CHECK(evs[0].raw("app.a") == "15");  // 16 versions of 2 entries fit
  CHECK(t.tracer.stats().dropped_fields == 2 * 84);
  REQUIRE(logged.size() == 1);  // logged once, not once per refused update
  CHECK(logged[0].find("add_trace_context") != std::string::npos);
}

TEST_CASE("limits: overwriting one field over and over stays within max_span_bytes, counted") {
  beeline::config cfg;
  cfg.max_span_bytes = 256 * 1024;
  memory_tracer t(cfg);
  const std::string chunk(60 * 1024, 'p');
  {
    beeline::span root = t.tracer.start_trace("root");
    for (int i = 0; i < 1000; ++i)
      root.add_field("progress", chunk);  // 60 MB if nothing were bounded
    root.add_field("last", "kept?");
  }
  const auto evs = t.events();
  CHECK(evs[0].line().size() < 300 * 1024);
  CHECK(t.tracer.stats().truncated_values > 0);
}

TEST_CASE("limits: trace-level values are cut like span values and a trace's updates are bounded in bytes") {
  beeline::config cfg;
  cfg.max_value_bytes = 1024;
  cfg.max_span_bytes = 64 * 1024;  // a trace keeps at most 4 x this over all versions of its fields
  std::vector<std::string> logged;
  cfg.logger = [&](beeline::log_level, std::string_view m) { logged.emplace_back(m); };
  memory_tracer t(cfg);
  const std::string blob(60 * 1024, 'b');
  {
    beeline::span root = t.tracer.start_trace("root");
    for (int i = 0; i < 3000; ++i)
      beeline::add_trace_context({{"blob", blob}, {"i", i}});
  }
  const auto evs = t.events();
  CHECK(evs[0].str("app.blob").size() == 1024);
  CHECK(std::stoi(evs[0].raw("app.i")) < 3000);  // later updates were refused...
  CHECK(t.tracer.stats().dropped_fields > 0);    // ...and counted
  CHECK(logged.size() == 1);
}
