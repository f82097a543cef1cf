// The synchronous Beeline API, checked on the exported JSON.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <span>
#include <stdexcept>
#include <vector>

using beeline::test::exported;
using beeline::test::memory_tracer;

namespace {
bool is_hex(const std::string& s, std::size_t n) {
  return s.size() == n && std::regex_match(s, std::regex("^[0-9a-f]+$"));
}
}  // namespace

TEST_CASE("trace: root, mid and leaf spans carry the Beeline's field names and parent ids") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root", {{"root.field", 1}});
    beeline::span mid = beeline::start_span("mid");
    beeline::span leaf = beeline::start_span("leaf", {{"k", "v"}});
    beeline::finish_span(leaf);
    beeline::finish_span(mid);
    beeline::finish_trace(root);
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 3);
  const auto& root = memory_tracer::by_name(evs, "root");
  const auto& mid = memory_tracer::by_name(evs, "mid");
  const auto& leaf = memory_tracer::by_name(evs, "leaf");

  CHECK(is_hex(root.trace_id(), 32));
  CHECK(is_hex(root.span_id(), 16));
  CHECK(mid.trace_id() == root.trace_id());
  CHECK(leaf.trace_id() == root.trace_id());
  CHECK_FALSE(root.has("trace.parent_id"));
  CHECK(mid.parent_id() == root.span_id());
  CHECK(leaf.parent_id() == mid.span_id());
  CHECK(root.span_type() == "root");
  CHECK(mid.span_type() == "mid");
  CHECK(leaf.span_type() == "leaf");
  CHECK(root.raw("root.field") == "1");
  CHECK(leaf.str("k") == "v");
  for (const auto* e : {&root, &mid, &leaf}) {
    CHECK(e->str("service_name") == "test-service");
    CHECK(e->str("service.name") == "test-service");
    CHECK(e->str("meta.local_hostname") == "test-host");
    CHECK(e->str("meta.beeline_version") == std::string(beeline::version()));
    CHECK(e->num("duration_ms") >= 0);
    CHECK(e->samplerate() == 1);
    // RFC 3339 with nanoseconds: sub-millisecond precision.
    CHECK(std::regex_match(e->time(), std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$)")));
  }
  // Spans are exported in finish order.
  CHECK(evs[0].name() == "leaf");
  CHECK(evs[2].name() == "root");
}

TEST_CASE("trace: duration_ms is fractional milliseconds of the span's real duration") {
  memory_tracer t;
  std::chrono::steady_clock::time_point before;
  {
    beeline::span root = t.tracer.start_trace("timed");
    before = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - before < std::chrono::milliseconds(3)) {
    }
  }
  // The span started just before `before` and ended just after the loop: between 3 ms and the wall time plus
  // the (sub-millisecond) cost of starting it.
  const auto wall =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - before).count() + 1.0;
  const auto evs = t.events();
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].num("duration_ms") >= 3.0);
  CHECK(evs[0].num("duration_ms") <= wall);
  CHECK(evs[0].raw("duration_ms").find('.') != std::string::npos);
}

TEST_CASE("trace: the timestamp is the span's wall-clock start") {
  memory_tracer t;
  const auto now = std::chrono::system_clock::now();
  { beeline::span root = t.tracer.start_trace("when"); }
  const auto evs = t.events();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char prefix[32];
  std::strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M", &tm);
  CHECK(evs[0].time().rfind(prefix, 0) == 0);
}

TEST_CASE(
    "trace: continuing an upstream trace keeps its ids, marks a subroot and applies its fields unprefixed") {
  memory_tracer t;
  beeline::trace_context up;
  up.trace_id = "1-67891233-abcdef012345678912345678";
  up.parent_id = "c998e73e5420f609";
  up.fields = {{"traceLevel", beeline::value("field")}, {"nested", beeline::value::json(R"({"a":[1,2]})")}};
  {
    beeline::span root = t.tracer.start_trace("sub", {}, up);
    beeline::span child = beeline::start_span("child");
  }
  const auto evs = t.events();
  const auto& root = memory_tracer::by_name(evs, "sub");
  const auto& child = memory_tracer::by_name(evs, "child");
  CHECK(root.trace_id() == up.trace_id);
  CHECK(root.parent_id() == "c998e73e5420f609");
  CHECK(root.span_type() == "subroot");
  CHECK(root.str("traceLevel") == "field");
  CHECK(root.raw("nested") == R"({"a":[1,2]})");
  CHECK(child.str("traceLevel") == "field");
  CHECK(child.parent_id() == root.span_id());
}

TEST_CASE("add_trace_context: app.-prefixed fields land on every span that finishes afterwards") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span early = beeline::start_span("early");
    beeline::finish_span(early);
    beeline::span late = beeline::start_span("late");  // started before, finished after add_trace_context
    beeline::add_trace_context({{"userID", 7}, {"plan", "pro"}});
    beeline::finish_span(late);
    beeline::span after = beeline::start_span("after");
    beeline::finish_span(after);
  }
  const auto evs = t.events();
  CHECK_FALSE(memory_tracer::by_name(evs, "early").has("app.userID"));
  for (const char* n : {"late", "after", "root"}) {
    INFO(n);
    CHECK(memory_tracer::by_name(evs, n).raw("app.userID") == "7");
    CHECK(memory_tracer::by_name(evs, n).str("app.plan") == "pro");
    CHECK_FALSE(memory_tracer::by_name(evs, n).has("userID"));
  }
}

TEST_CASE("add_trace_context: a trace-level field wins over a span field of the same name") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root", {{"app.x", "span"}});
    beeline::add_trace_context({{"x", "trace"}});
  }
  CHECK(t.events()[0].str("app.x") == "trace");
}

TEST_CASE("add_context: adds to the current span only, keys verbatim; remove_context removes") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span child = beeline::start_span("child");
    beeline::add_context({{"db.rows", 3}, {"ok", true}, {"ratio", 0.5}, {"none", nullptr}});
    beeline::add_field("single", "one");
    beeline::add_context({{"gone", 1}});
    beeline::remove_context("gone");
    beeline::finish_span(child);
    beeline::add_context({{"on_root", "yes"}});
  }
  const auto evs = t.events();
  const auto& child = memory_tracer::by_name(evs, "child");
  const auto& root = memory_tracer::by_name(evs, "root");
  CHECK(child.raw("db.rows") == "3");
  CHECK(child.raw("ok") == "true");
  CHECK(child.raw("ratio") == "0.5");
  CHECK(child.raw("none") == "null");
  CHECK(child.str("single") == "one");
  CHECK_FALSE(child.has("gone"));
  CHECK_FALSE(child.has("on_root"));
  CHECK(root.str("on_root") == "yes");
  CHECK_FALSE(root.has("db.rows"));
}

TEST_CASE("span.add_context: adds to that span even when it is not current; later values replace earlier") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span child = beeline::start_span("child");
    root.add_context({{"from_child_scope", 1}}).add_field("k", "first");
    root.add_field("k", "second");
    child.add_field("tmp", 1);
    child.remove_context("tmp");
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 2);
  const auto& root = memory_tracer::by_name(evs, "root");
  CHECK(root.raw("from_child_scope") == "1");
  CHECK(root.str("k") == "second");
  CHECK(root.raw("k") == "\"second\"");
}

TEST_CASE("span.add_context from an array: applied in order (a later value replaces an earlier one)") {
  memory_tracer t;
  std::string root_id;
  {
    beeline::span root = t.tracer.start_trace("root");
    root_id = root.trace_id();
    const std::string built = "built at run time";
    std::vector<beeline::field> f{
        {"a", 1}, {"b", built}, {"a", 2}, {"trace.trace_id", "forged"}, {"c", true}};
    root.add_context(std::span<const beeline::field>(f)).add_context(std::span<const beeline::field>());
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].raw("a") == "2");
  CHECK(evs[0].str("b") == "built at run time");
  CHECK(evs[0].raw("c") == "true");
  CHECK(evs[0].trace_id() == root_id);
}

TEST_CASE("fields: user values cannot overwrite the reserved trace fields") {
  memory_tracer t;
  std::string root_id;
  {
    beeline::span root = t.tracer.start_trace("root", {{"trace.trace_id", "forged"}, {"duration_ms", "x"}});
    root_id = root.trace_id();
    beeline::add_context({{"trace.parent_id", "forged"}, {"meta.span_type", "forged"}});
  }
  const auto e = t.events().at(0);
  CHECK(e.trace_id() == root_id);
  CHECK_FALSE(e.has("trace.parent_id"));
  CHECK(e.span_type() == "root");
  CHECK(e.raw("duration_ms") != "\"x\"");
  // Each key appears once in the JSON text.
  CHECK(e.line().find("\"trace.trace_id\"") == e.line().rfind("\"trace.trace_id\""));
}

TEST_CASE("with_span: the callable's value passes through and the span covers it") {
  memory_tracer t;
  int r = 0;
  {
    beeline::span root = t.tracer.start_trace("root");
    r = beeline::with_span("work", {{"n", 2}}, [] { return 21 * 2; });
    beeline::with_span("with_arg", {}, [](beeline::span& s) { s.add_field("got_span", true); });
    std::string moved = beeline::with_span("string", {}, [] { return std::string("value"); });
    CHECK(moved == "value");
    int x = 5;
    int& ref = beeline::with_span("ref", {}, [&]() -> int& { return x; });
    CHECK(&ref == &x);
  }
  CHECK(r == 42);
  const auto evs = t.events();
  CHECK(memory_tracer::by_name(evs, "work").parent_id() == memory_tracer::by_name(evs, "root").span_id());
  CHECK(memory_tracer::by_name(evs, "work").raw("n") == "2");
  CHECK(memory_tracer::by_name(evs, "with_arg").raw("got_span") == "true");
}

TEST_CASE("with_span: an exception passes through, is recorded on the span, and the span is finished once") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root");
    CHECK_THROWS_AS(
        beeline::with_span("fails", {}, []() -> int { throw std::invalid_argument("bad input"); }),
        std::invalid_argument);
    beeline::add_context({{"after", true}});  // current is the root again
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 2);
  const auto& fails = memory_tracer::by_name(evs, "fails");
  CHECK(fails.str("error") == "std::invalid_argument");
  CHECK(fails.str("error_detail") == "bad input");
  CHECK(memory_tracer::by_name(evs, "root").raw("after") == "true");
}

TEST_CASE("with_trace: a whole trace around a callable, value and exception passing through") {
  memory_tracer t;
  const int v = t.tracer.with_trace("job", {{"kind", "batch"}}, [] {
    beeline::with_span("step", {}, [] {});
    return 7;
  });
  CHECK(v == 7);
  CHECK_THROWS_AS(t.tracer.with_trace("job2", {}, [] { throw std::runtime_error("boom"); }),
                  std::runtime_error);
  CHECK_FALSE(beeline::trace_active());
  const auto evs = t.events();
  REQUIRE(evs.size() == 3);
  CHECK(memory_tracer::by_name(evs, "step").parent_id() == memory_tracer::by_name(evs, "job").span_id());
  CHECK(memory_tracer::by_name(evs, "job2").str("error_detail") == "boom");
  CHECK(memory_tracer::by_name(evs, "job2").trace_id() != memory_tracer::by_name(evs, "job").trace_id());
}

TEST_CASE("timers: finish_timer adds <name>_ms to the span current at finish; with_timer passes the value") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root");
    const beeline::timer tm = beeline::start_timer("db");
    CHECK(tm.name() == "db");
    beeline::span child = beeline::start_span("child");
    beeline::finish_timer(tm);  // child is current
    beeline::finish_span(child);
    const int v = beeline::with_timer("compute", [] { return 3; });
    CHECK(v == 3);
    CHECK_THROWS(beeline::with_timer("throws", [] { throw std::runtime_error("x"); }));
  }
  const auto evs = t.events();
  const auto& child = memory_tracer::by_name(evs, "child");
  const auto& root = memory_tracer::by_name(evs, "root");
  CHECK(child.num("db_ms") >= 0);
  CHECK_FALSE(root.has("db_ms"));
  CHECK(root.num("compute_ms") >= 0);
  CHECK(root.num("throws_ms") >= 0);
}

TEST_CASE("bind_function_to_trace: the bound function runs in the trace current when it was bound") {
  memory_tracer t;
  std::function<void()> callback;
  std::string root_span;
  {
    beeline::span root = t.tracer.start_trace("root");
    root_span = root.span_id();
    beeline::span query = beeline::start_span("query");
    callback = beeline::bind_function_to_trace([] {
      CHECK(beeline::trace_active());
      beeline::with_span("on_rows", {}, [] {});
    });
    beeline::finish_span(query);
    beeline::finish_trace(root);
  }
  CHECK_FALSE(beeline::trace_active());
  callback();  // called later, outside any trace
  CHECK_FALSE(beeline::trace_active());
  const auto evs = t.events();
  const auto& on_rows = memory_tracer::by_name(evs, "on_rows");
  CHECK(on_rows.parent_id() == memory_tracer::by_name(evs, "query").span_id());
  CHECK(on_rows.trace_id() == memory_tracer::by_name(evs, "root").trace_id());
}

TEST_CASE("bind_function_to_trace: arguments and results pass through") {
  memory_tracer t;
  beeline::span root = t.tracer.start_trace("root");
  auto add = beeline::bind_function_to_trace([](int a, int b) { return a + b; });
  CHECK(add(2, 3) == 5);
}

TEST_CASE("run_without_trace: no trace inside, the trace restored after") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root");
    const int v = beeline::run_without_trace([] {
      CHECK_FALSE(beeline::trace_active());
      beeline::span s = beeline::start_span("invisible");
      CHECK_FALSE(s.valid());
      beeline::add_context({{"lost", 1}});
      return 9;
    });
    CHECK(v == 9);
    CHECK(beeline::trace_active());
    beeline::span visible = beeline::start_span("visible");
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 2);
  CHECK_FALSE(memory_tracer::by_name(evs, "root").has("lost"));
}

TEST_CASE("get_trace_context: trace id, current span, dataset and trace fields; nullopt outside a trace") {
  memory_tracer t(beeline::config{.dataset = "my-dataset"});
  CHECK_FALSE(beeline::get_trace_context().has_value());
  beeline::span root = t.tracer.start_trace("root");
  beeline::add_trace_context({{"userID", 1}});
  beeline::span child = beeline::start_span("child");
  const auto ctx = beeline::get_trace_context();
  REQUIRE(ctx.has_value());
  CHECK(ctx->trace_id == root.trace_id());
  CHECK(ctx->parent_id == child.span_id());
  CHECK(ctx->dataset == "my-dataset");
  REQUIRE(ctx->fields.size() == 1);
  CHECK(ctx->fields[0].key == "app.userID");
  CHECK(ctx->fields[0].value == beeline::value(1));
}

TEST_CASE("start_span outside a trace returns an inert span that accepts every call") {
  CHECK_FALSE(beeline::trace_active());
  beeline::span s = beeline::start_span("orphan", {{"a", 1}});
  CHECK_FALSE(s.valid());
  CHECK(s.trace_id().empty());
  s.add_context({{"b", 2}}).remove_context("b");
  beeline::add_context({{"c", 3}});
  beeline::add_trace_context({{"d", 4}});
  beeline::finish_span(s);
  beeline::finish_span(s);  // twice is fine
}

TEST_CASE("finish: a span finished twice or after a move is exported once") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span moved = std::move(root);
    CHECK_FALSE(root.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    moved.finish();
    moved.finish();
    beeline::finish_trace(moved);
  }
  CHECK(t.events().size() == 1);
}

TEST_CASE("finish out of order: later spans attach to the innermost span still open, and it is counted") {
  memory_tracer t;
  {
    beeline::span root = t.tracer.start_trace("root");
    beeline::span a = beeline::start_span("a");
    beeline::span b = beeline::start_span("b");
    beeline::finish_span(a);                     // a finished while its child b is open
    beeline::span c = beeline::start_span("c");  // b is the innermost open span
    beeline::finish_span(c);
    beeline::finish_span(b);
  }
  const auto evs = t.events();
  REQUIRE(evs.size() == 4);
  CHECK(memory_tracer::by_name(evs, "c").parent_id() == memory_tracer::by_name(evs, "b").span_id());
  CHECK(memory_tracer::by_name(evs, "b").parent_id() == memory_tracer::by_name(evs, "a").span_id());
  CHECK(t.tracer.stats().out_of_order_finishes == 1);
}

TEST_CASE("the tracer's own instance is used for spans of its traces, whatever the global tracer") {
  memory_tracer a;
  memory_tracer b;
  {
    beeline::span ra = a.tracer.start_trace("in_a");
    beeline::span child = beeline::start_span("child_a");
  }
  { beeline::span rb = b.tracer.start_trace("in_b"); }
  CHECK(a.events().size() == 2);
  CHECK(b.events().size() == 1);
}

TEST_CASE("global: init, is_initialized, second init ignored, shutdown flushes and allows init again") {
  REQUIRE_FALSE(beeline::is_initialized());
  auto sink = std::make_shared<beeline::memory_exporter>();
  beeline::config cfg;
  cfg.exporter = sink;
  cfg.service_name = "global-svc";
  CHECK(beeline::init(cfg));
  CHECK(beeline::is_initialized());
  CHECK(beeline::global_tracer() != nullptr);
  beeline::config other;
  other.service_name = "ignored";
  CHECK_FALSE(beeline::init(other));
  const int v = beeline::with_trace("global_root", {}, [] {
    beeline::with_span("global_child", {}, [] {});
    return 1;
  });
  CHECK(v == 1);
  const auto r = beeline::shutdown(std::chrono::seconds(5));
  CHECK(r.complete);
  CHECK(r.exported == 2);
  CHECK_FALSE(beeline::is_initialized());
  const auto lines = sink->lines();
  REQUIRE(lines.size() == 2);
  CHECK(beeline::test::exported(lines[1]).str("service_name") == "global-svc");
  // Without a tracer every call is a no-op.
  beeline::span none = beeline::start_trace("nothing");
  CHECK_FALSE(none.valid());
  CHECK(beeline::flush_sync(std::chrono::milliseconds(10)).complete);
  CHECK(beeline::get_stats().exported == 2);  // the final counters of the tracer shutdown stopped
}

namespace {
/// What `init` logged, and whether it configured the tracer, for a configuration with a capturing logger.
struct init_outcome {
  bool initialized = false;
  std::vector<std::string> errors;
};
init_outcome try_init(beeline::config cfg) {
  init_outcome out;
  auto errors = std::make_shared<std::vector<std::string>>();
  cfg.logger = [errors](beeline::log_level level, std::string_view m) {
    if (level == beeline::log_level::error) errors->emplace_back(m);
  };
  out.initialized = beeline::init(cfg);
  out.errors = *errors;
  if (beeline::is_initialized()) beeline::shutdown();
  return out;
}
}  // namespace

TEST_CASE("global: init refuses an api_host, ca_file or jsonl_path it cannot use, saying why") {
  REQUIRE_FALSE(beeline::is_initialized());
  const auto refused = [](beeline::config cfg, const std::string& why) {
    CAPTURE(why);
    const init_outcome o = try_init(cfg);
    CHECK_FALSE(o.initialized);
    CHECK_FALSE(beeline::is_initialized());  // nothing goes to stdout instead
    REQUIRE(o.errors.size() == 1);
    CHECK(o.errors[0] == "init failed: " + why);
    cfg.logger = [](beeline::log_level, std::string_view) {};
    CHECK_THROWS_AS(beeline::init_or_throw(cfg), std::invalid_argument);
    CHECK_THROWS_WITH(beeline::init_or_throw(cfg), why);
    CHECK_FALSE(beeline::is_initialized());
  };
  beeline::config hc;
  hc.write_key = "key";
  hc.logger = [](beeline::log_level, std::string_view) {};

  beeline::config cfg = hc;
  cfg.api_host = "api.honeycomb.io";
  refused(cfg, "bad api_host: no scheme in URL 'api.honeycomb.io'");
  cfg.api_host = "ftp://api.honeycomb.io";
  refused(cfg, "bad api_host: unsupported scheme in URL 'ftp://api.honeycomb.io'");
  cfg.write_key.clear();  // without a key too: the user asked for that host
  refused(cfg, "bad api_host: unsupported scheme in URL 'ftp://api.honeycomb.io'");

  cfg = hc;
  cfg.api_host = "https://127.0.0.1:9";
  cfg.http.ca_file = "/nonexistent-dir/ca.pem";
  refused(cfg, "honeycomb exporter: cannot read CA file /nonexistent-dir/ca.pem: No such file or directory");
  const std::string not_pem = "/tmp/beeline-not-a-certificate-" + std::to_string(::getpid()) + ".pem";
  {
    std::FILE* f = std::fopen(not_pem.c_str(), "w");
    REQUIRE(f);
    std::fputs("not a certificate\n", f);
    std::fclose(f);
  }
  cfg.http.ca_file = not_pem;
  const init_outcome o = try_init(cfg);
  std::remove(not_pem.c_str());
  CHECK_FALSE(o.initialized);
  REQUIRE(o.errors.size() == 1);
  CHECK(o.errors[0].starts_with("init failed: honeycomb exporter: cannot load CA file " + not_pem + ": "));

  cfg = beeline::config{};
  cfg.jsonl_path = "/nonexistent-dir/spans.jsonl";
  refused(cfg, "cannot open jsonl_path /nonexistent-dir/spans.jsonl: No such file or directory");

  // A good configuration still initializes (and a later init may follow a refused one).
  cfg.jsonl_path = "/dev/null";
  const init_outcome ok = try_init(cfg);
  CHECK(ok.initialized);
  CHECK(ok.errors.empty());
}

TEST_CASE("global: get_stats after shutdown gives the final counters, until the next init") {
  REQUIRE_FALSE(beeline::is_initialized());
  beeline::config cfg;
  cfg.exporter = std::make_shared<beeline::memory_exporter>();
  cfg.presend = [](beeline::event& ev) {
    if (ev.name() == "dropped") ev.drop();
  };
  REQUIRE(beeline::init(cfg));
  { beeline::span kept = beeline::start_trace("kept"); }
  { beeline::span dropped = beeline::start_trace("dropped"); }
  beeline::span late = beeline::start_trace("late");  // still open when the tracer stops
  CHECK(beeline::shutdown(std::chrono::seconds(5)).complete);
  late.finish();

  const beeline::stats s = beeline::get_stats();
  CHECK(s.enqueued == 2);
  CHECK(s.exported == 1);
  CHECK(s.dropped_presend == 1);
  CHECK(s.dropped_after_shutdown == 1);
  CHECK(s.dropped() == 2);

  // A new tracer starts from zero.
  beeline::config next;
  next.exporter = beeline::make_discard_exporter();
  REQUIRE(beeline::init(next));
  CHECK(beeline::get_stats().exported == 0);
  CHECK(beeline::get_stats().enqueued == 0);
  CHECK(beeline::shutdown().complete);
}

TEST_CASE("global: init takes the write key, dataset and API host from the environment when not configured") {
  REQUIRE_FALSE(beeline::is_initialized());
  ::setenv("HONEYCOMB_DATASET", "env-dataset", 1);
  beeline::config cfg;
  cfg.exporter = beeline::make_discard_exporter();
  CHECK(beeline::init(cfg));
  ::unsetenv("HONEYCOMB_DATASET");
  REQUIRE(beeline::global_tracer() != nullptr);
  CHECK(beeline::global_tracer()->dataset() == "env-dataset");
  {
    beeline::span root = beeline::start_trace("r");
    CHECK(beeline::get_trace_context()->dataset == "env-dataset");
  }
  CHECK(beeline::flush_sync(std::chrono::steady_clock::now() + std::chrono::seconds(5)).complete);
  CHECK(beeline::get_stats().exported == 1);
  CHECK(beeline::shutdown().complete);
}
