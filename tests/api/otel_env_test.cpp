// What init reads from the environment (OTEL_*, HONEYCOMB_*): precedence (config, then environment, then
// defaults), malformed values reported and ignored, the exporter choice, and the samplers and propagators the
// environment chooses, seen through a tracer. The environment is given as a map, except in the last tests,
// which set the process's own (single-threaded, before any tracer is made) to check that init reads it.
#include "api/otel_env.hpp"
#include "support.hpp"

#include <beeline/http_exporter.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using beeline::test::memory_tracer;

namespace {

struct env_run {
  std::map<std::string, std::string> vars;
  std::vector<std::pair<beeline::log_level, std::string>> log;

  beeline::detail::env_outcome apply(beeline::config& cfg) {
    return beeline::detail::apply_environment(
        cfg,
        [this](std::string_view name) -> std::optional<std::string> {
          const auto it = vars.find(std::string(name));
          if (it == vars.end()) return std::nullopt;
          return it->second;
        },
        [this](beeline::log_level level, std::string_view message) { log.emplace_back(level, message); });
  }
  // How many warnings mention `text`.
  std::size_t warnings(std::string_view text) const {
    std::size_t n = 0;
    for (const auto& [level, m] : log)
      n += level == beeline::log_level::warning && m.find(text) != std::string::npos;
    return n;
  }
  bool logged(std::string_view text) const {
    for (const auto& [level, m] : log)
      if (m.find(text) != std::string::npos) return true;
    return false;
  }
};

beeline::config quiet() {
  beeline::config cfg;
  cfg.logger = [](beeline::log_level, std::string_view) {};
  return cfg;
}

bool is_http(const beeline::config& cfg) {
  return std::dynamic_pointer_cast<beeline::http_exporter>(cfg.exporter) != nullptr;
}

std::map<std::string, std::string> to_map(const beeline::propagation::header_list& h) {
  return {h.begin(), h.end()};
}

}  // namespace

TEST_CASE("env: OTEL_SDK_DISABLED=true in any case disables; other values warn and do not", "[otel_env]") {
  for (const char* yes : {"true", "TRUE", " True "}) {
    env_run e{{{"OTEL_SDK_DISABLED", yes}}};
    beeline::config cfg;
    CHECK(e.apply(cfg).disabled);
    CHECK(e.log.empty());
  }
  for (const char* no : {"false", "1", "yes", ""}) {
    env_run e{{{"OTEL_SDK_DISABLED", no}}};
    beeline::config cfg;
    CHECK_FALSE(e.apply(cfg).disabled);
    CHECK(e.warnings("OTEL_SDK_DISABLED") == (std::string_view(no) == "1" || std::string_view(no) == "yes"));
  }
}

TEST_CASE("env: with nothing set the config stays as it was", "[otel_env]") {
  env_run e;
  beeline::config cfg;
  CHECK_FALSE(e.apply(cfg).disabled);
  const beeline::config defaults;
  CHECK(cfg.exporter == nullptr);
  CHECK(cfg.write_key.empty());
  CHECK(cfg.service_name.empty());
  CHECK_FALSE(cfg.trace_sampler);
  CHECK_FALSE(cfg.http_trace_parser_hook);
  CHECK_FALSE(cfg.http_trace_propagation_hook);
  CHECK(cfg.queue_capacity == defaults.queue_capacity);
  CHECK(cfg.batch_size == defaults.batch_size);
  CHECK(cfg.send_interval == defaults.send_interval);
  CHECK(cfg.http.request_timeout == defaults.http.request_timeout);
  CHECK(e.log.empty());
}

TEST_CASE("env: service name from the config, else OTEL_SERVICE_NAME, else service.name of the resource",
          "[otel_env]") {
  env_run e{
      {{"OTEL_SERVICE_NAME", "from-env"}, {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from%20resource"}}};
  beeline::config cfg;
  cfg.service_name = "from-config";
  e.apply(cfg);
  CHECK(cfg.service_name == "from-config");
  cfg.service_name.clear();
  e.apply(cfg);
  CHECK(cfg.service_name == "from-env");
  e.vars.erase("OTEL_SERVICE_NAME");
  cfg.service_name.clear();
  e.apply(cfg);
  CHECK(cfg.service_name == "from resource");
}

TEST_CASE("env: a malformed OTEL_RESOURCE_ATTRIBUTES is ignored whole, with a warning", "[otel_env]") {
  // `%FF` decodes to a byte that is not UTF-8: decodeURIComponent (OpenTelemetry JS) refuses it too.
  for (const char* bad : {"service.name=svc,broken", "service.name=svc,k=%zz", "service.name=svc,=v",
                          "service.name=svc,k=%FF"}) {
    env_run e{{{"OTEL_RESOURCE_ATTRIBUTES", bad}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(cfg.service_name.empty());
    CHECK(e.warnings("OTEL_RESOURCE_ATTRIBUTES") == 1);
  }
}

TEST_CASE("env: HONEYCOMB_* fill the Honeycomb settings the config leaves empty", "[otel_env]") {
  env_run e{
      {{"HONEYCOMB_WRITEKEY", "envkey"}, {"HONEYCOMB_DATASET", "envds"}, {"HONEYCOMB_API_HOST", "http://h"}}};
  beeline::config cfg;
  cfg.dataset = "mine";
  e.apply(cfg);
  CHECK(cfg.write_key == "envkey");
  CHECK(cfg.dataset == "mine");
  CHECK(cfg.api_host == "http://h");
  CHECK(cfg.exporter == nullptr);  // the tracer makes the Honeycomb exporter from the key
}

TEST_CASE("env: OTEL_TRACES_SAMPLER applies unless the config samples; bad values warn", "[otel_env]") {
  using k = beeline::otel_sampler::kind;
  env_run e{{{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0.25"}}};
  beeline::config cfg;
  e.apply(cfg);
  CHECK(cfg.trace_sampler == beeline::otel_sampler{k::parentbased_traceidratio, 0.25});

  beeline::config rate;
  rate.sample_rate = 10;
  e.apply(rate);
  CHECK_FALSE(rate.trace_sampler);
  CHECK(e.logged("OTEL_TRACES_SAMPLER is ignored"));

  beeline::config own;
  own.trace_sampler = beeline::otel_sampler{k::always_off, 1};
  e.apply(own);
  CHECK(own.trace_sampler == beeline::otel_sampler{k::always_off, 1});

  env_run bad{{{"OTEL_TRACES_SAMPLER", "xray_remote"}}};
  beeline::config b;
  bad.apply(b);
  CHECK_FALSE(b.trace_sampler);
  CHECK(bad.warnings("xray_remote") == 1);

  env_run bad_arg{{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "2"}}};
  beeline::config a;
  bad_arg.apply(a);
  CHECK(a.trace_sampler == beeline::otel_sampler{k::traceidratio, 1});
  CHECK(bad_arg.warnings("OTEL_TRACES_SAMPLER_ARG") == 1);
}

TEST_CASE("env: OTEL_BSP_* set the queue and batch settings the config leaves at their defaults",
          "[otel_env]") {
  env_run e{{{"OTEL_BSP_MAX_QUEUE_SIZE", "2048"},
             {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"},
             {"OTEL_BSP_SCHEDULE_DELAY", "5000"},
             {"OTEL_BSP_EXPORT_TIMEOUT", "30000"}}};
  beeline::config cfg;
  e.apply(cfg);
  CHECK(cfg.queue_capacity == 2048);
  CHECK(cfg.batch_size == 512);
  CHECK(cfg.send_interval == std::chrono::milliseconds(5000));
  CHECK(cfg.http.request_timeout == std::chrono::milliseconds(30000));
  CHECK(e.log.empty());

  beeline::config own;
  own.queue_capacity = 100;
  own.batch_size = 10;
  own.send_interval = std::chrono::milliseconds(7);
  own.http.request_timeout = std::chrono::milliseconds(3);
  e.apply(own);
  CHECK(own.queue_capacity == 100);
  CHECK(own.batch_size == 10);
  CHECK(own.send_interval == std::chrono::milliseconds(7));
  CHECK(own.http.request_timeout == std::chrono::milliseconds(3));

  env_run bad{{{"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
               {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-5"},
               {"OTEL_BSP_SCHEDULE_DELAY", "soon"},
               {"OTEL_BSP_EXPORT_TIMEOUT", "1.5"}}};
  beeline::config b;
  bad.apply(b);
  const beeline::config defaults;
  CHECK(b.queue_capacity == defaults.queue_capacity);
  CHECK(b.batch_size == defaults.batch_size);
  CHECK(b.send_interval == defaults.send_interval);
  CHECK(b.http.request_timeout == defaults.http.request_timeout);
  CHECK(bad.warnings("OTEL_BSP_") == 4);
}

TEST_CASE("env: the exporter is the config's, else OTEL_TRACES_EXPORTER's, else OTLP when an endpoint is set",
          "[otel_env]") {
  SECTION("otlp") {
    env_run e{{{"OTEL_TRACES_EXPORTER", "otlp"}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(is_http(cfg));
  }
  SECTION("an endpoint alone means OTLP") {
    for (const char* var : {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}) {
      env_run e{{{var, "http://127.0.0.1:4318"}}};
      beeline::config cfg;
      e.apply(cfg);
      CHECK(is_http(cfg));
    }
  }
  SECTION("a metrics or logs endpoint does not choose an exporter for spans") {
    env_run e{{{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:4318/m"},
               {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://127.0.0.1:4318/l"}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(cfg.exporter == nullptr);
  }
  SECTION("OTEL_TRACES_EXPORTER wins over an endpoint, and over HONEYCOMB_WRITEKEY") {
    env_run e{{{"OTEL_TRACES_EXPORTER", "none"},
               {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
               {"HONEYCOMB_WRITEKEY", "k"}}};
    beeline::config cfg;
    e.apply(cfg);
    REQUIRE(cfg.exporter);
    CHECK_FALSE(is_http(cfg));
  }
  SECTION("an endpoint wins over HONEYCOMB_WRITEKEY, which then does not choose the exporter") {
    env_run e{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"}, {"HONEYCOMB_WRITEKEY", "k"}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(is_http(cfg));
    CHECK(e.logged("HONEYCOMB_WRITEKEY does not choose the exporter"));
  }
  SECTION("the config's exporter or write key wins") {
    env_run e{{{"OTEL_TRACES_EXPORTER", "otlp"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"}}};
    beeline::config cfg;
    auto mine = std::make_shared<beeline::memory_exporter>();
    cfg.exporter = mine;
    e.apply(cfg);
    CHECK(cfg.exporter == mine);
    beeline::config keyed;
    keyed.write_key = "mykey";
    e.apply(keyed);
    CHECK(keyed.exporter == nullptr);  // Honeycomb, made by the tracer
  }
  SECTION("unknown exporters and bad endpoints are warned about and ignored") {
    env_run e{{{"OTEL_TRACES_EXPORTER", "zipkin"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(cfg.exporter == nullptr);
    CHECK(e.warnings("zipkin") == 1);
    CHECK(e.warnings("OTEL_EXPORTER_OTLP_ENDPOINT") == 1);
  }
  SECTION("a bad traces endpoint falls back to the general one") {
    env_run e{{{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "not a url"},
               {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(is_http(cfg));
    CHECK(e.warnings("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == 1);
  }
  SECTION("several exporters: the first is used, with a warning") {
    env_run e{{{"OTEL_TRACES_EXPORTER", "otlp,console"}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(is_http(cfg));
    CHECK(e.warnings("one exporter is supported") == 1);
  }
  SECTION("malformed OTLP settings are warned about one by one and ignored") {
    env_run e{{{"OTEL_TRACES_EXPORTER", "otlp"},
               {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
               {"OTEL_EXPORTER_OTLP_COMPRESSION", "br"},
               {"OTEL_EXPORTER_OTLP_TIMEOUT", "ten"},
               {"OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"},
               {"OTEL_EXPORTER_OTLP_HEADERS", "a=1,broken,b=%zz"}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(is_http(cfg));
    CHECK(e.warnings("OTEL_EXPORTER_OTLP_PROTOCOL") == 1);
    CHECK(e.warnings("OTEL_EXPORTER_OTLP_COMPRESSION") == 1);
    CHECK(e.warnings("OTEL_EXPORTER_OTLP_TIMEOUT") == 1);
    CHECK(e.warnings("OTEL_EXPORTER_OTLP_CERTIFICATE") == 1);
    CHECK(e.warnings("OTEL_EXPORTER_OTLP_HEADERS") == 2);
  }
  SECTION("a malformed header is named by its key, its value never logged") {
    env_run e{{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
               {"OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=sec%zzret,s3cr3t,x-b=sec%0Aret"}}};
    beeline::config cfg;
    e.apply(cfg);
    CHECK(is_http(cfg));
    CHECK(e.warnings("OTEL_EXPORTER_OTLP_HEADERS") == 3);
    CHECK(e.warnings("x-honeycomb-team") == 1);
    CHECK(e.warnings("x-b") == 1);
    CHECK_FALSE(e.logged("sec"));
    CHECK_FALSE(e.logged("s3cr3t"));
  }
}

TEST_CASE("env: console writes JSON lines to jsonl_path, none sends nothing", "[otel_env]") {
  const auto path =
      std::filesystem::temp_directory_path() / ("beeline_otel_env_" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  for (const char* choice : {"none", "console"}) {
    env_run e{{{"OTEL_TRACES_EXPORTER", choice}}};
    beeline::config cfg = quiet();
    cfg.jsonl_path = path.string();
    e.apply(cfg);
    beeline::tracer t(cfg);
    { beeline::span root = t.start_trace(choice); }
    CHECK(t.flush_sync(std::chrono::seconds(10)).complete);
    t.shutdown(std::chrono::seconds(5));
    CHECK(t.stats().exported == 1);
  }
  std::ifstream in(path);
  std::string line, all;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    all += line;
  }
  CHECK(lines == 1);
  CHECK(all.find("\"name\":\"console\"") != std::string::npos);
  std::filesystem::remove(path);
}

TEST_CASE("env: OTEL_PROPAGATORS chooses the headers written and read; the config's hooks win",
          "[otel_env]") {
  env_run e{{{"OTEL_PROPAGATORS", "tracecontext,baggage"}}};
  beeline::config a_cfg = quiet();
  a_cfg.service_name = "a";
  e.apply(a_cfg);
  REQUIRE(a_cfg.http_trace_parser_hook);
  REQUIRE(a_cfg.http_trace_propagation_hook);
  beeline::config b_cfg = a_cfg;
  b_cfg.service_name = "b";
  memory_tracer a(a_cfg);
  memory_tracer b(b_cfg);

  std::map<std::string, std::string> headers;
  std::string call_id;
  {
    beeline::span root = a.tracer.start_trace("frontend");
    beeline::add_trace_context({{"user", 7}, {"plan", "pro"}});
    const auto ctx = beeline::get_trace_context();
    REQUIRE(ctx);
    call_id = ctx->parent_id;
    headers = to_map(a.tracer.propagation_headers(*ctx));
  }
  CHECK(headers.size() == 2);
  CHECK(headers["baggage"] == "app.user=7,app.plan=pro");
  REQUIRE(headers.count("traceparent"));
  CHECK(headers["traceparent"].ends_with("-01"));

  const auto upstream = b.tracer.parse_trace_context(headers);
  REQUIRE(upstream);
  { beeline::span root = b.tracer.start_trace("backend", {}, *upstream); }
  const auto evs = b.events();
  const auto& backend = memory_tracer::by_name(evs, "backend");
  CHECK(backend.parent_id() == call_id);
  CHECK(backend.str("app.user") == "7");  // baggage values are strings
  CHECK(backend.str("app.plan") == "pro");

  // Baggage alone: a new trace that starts with the fields.
  const auto only =
      b.tracer.parse_trace_context(std::map<std::string, std::string>{{"baggage", "app.user=8"}});
  REQUIRE(only);
  { beeline::span root = b.tracer.start_trace("fresh", {}, *only); }
  const auto evs2 = b.events();
  const auto& fresh = memory_tracer::by_name(evs2, "fresh");
  CHECK(fresh.parent_id().empty());
  CHECK(fresh.str("app.user") == "8");

  // A hook the config sets is kept.
  beeline::config own = quiet();
  own.http_trace_propagation_hook = beeline::xray::propagation_hook();
  e.apply(own);
  beeline::trace_context ctx{"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "", {}, 1, ""};
  CHECK(own.http_trace_propagation_hook(ctx).at(0).first == "X-Amzn-Trace-Id");
  REQUIRE(own.http_trace_parser_hook);  // the one the config left unset comes from the environment

  // none: nothing written or read.
  env_run none{{{"OTEL_PROPAGATORS", "none"}}};
  beeline::config n = quiet();
  none.apply(n);
  REQUIRE(n.http_trace_propagation_hook);
  CHECK(n.http_trace_propagation_hook(ctx).empty());

  // Only unknown names: the default propagation stays, with warnings.
  env_run unknown{{{"OTEL_PROPAGATORS", "b3,jaeger"}}};
  beeline::config u = quiet();
  unknown.apply(u);
  CHECK_FALSE(u.http_trace_parser_hook);
  CHECK_FALSE(u.http_trace_propagation_hook);
  CHECK(unknown.warnings("b3") >= 1);
  CHECK(unknown.warnings("jaeger") >= 1);
}

TEST_CASE("env: the sampler decides when the trace starts and the sampled flag travels", "[otel_env]") {
  using k = beeline::otel_sampler::kind;
  SECTION("always_off keeps nothing and propagates flags 00") {
    beeline::config cfg = quiet();
    cfg.trace_sampler = beeline::otel_sampler{k::always_off, 1};
    cfg.http_trace_propagation_hook = beeline::w3c::propagation_hook();
    memory_tracer t(cfg);
    {
      beeline::span root = t.tracer.start_trace("root");
      beeline::span child = beeline::start_span("child");
      const auto h = t.tracer.propagation_headers(*beeline::get_trace_context());
      REQUIRE(h.size() == 1);
      CHECK(h[0].second.ends_with("-00"));
    }
    CHECK(t.events().empty());
    CHECK(t.tracer.stats().dropped_sampler == 2);
  }
  SECTION("parent-based: the upstream flag decides") {
    beeline::config cfg = quiet();
    cfg.trace_sampler = beeline::otel_sampler{k::parentbased_always_on, 1};
    memory_tracer t(cfg);
    beeline::trace_context up{"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "", {}, 0, ""};
    { beeline::span root = t.tracer.start_trace("unsampled", {}, up); }
    up.trace_flags = 1;
    { beeline::span root = t.tracer.start_trace("sampled", {}, up); }
    { beeline::span root = t.tracer.start_trace("root"); }
    const auto evs = t.events();
    REQUIRE(evs.size() == 2);
    CHECK(memory_tracer::by_name(evs, "sampled").samplerate() == 1);
    CHECK(memory_tracer::by_name(evs, "root").samplerate() == 1);
  }
  SECTION("traceidratio: kept traces carry the sample rate 1 / ratio") {
    beeline::config cfg = quiet();
    cfg.trace_sampler = beeline::otel_sampler{k::traceidratio, 0.25};
    memory_tracer t(cfg);
    for (int i = 0; i < 400; ++i) {
      beeline::span root = t.tracer.start_trace("r");
    }
    const auto evs = t.events();
    CHECK(evs.size() > 50);
    CHECK(evs.size() < 150);
    for (const auto& ev : evs) {
      CHECK(ev.samplerate() == 4);
      CHECK(beeline::traceidratio_keep(ev.trace_id(), 0.25));
    }
    CHECK(t.tracer.stats().dropped_sampler == 400 - evs.size());
  }
}

// These set the process environment: Catch runs test cases one at a time, and no tracer is running here.
TEST_CASE("env: init with OTEL_SDK_DISABLED=true returns true and leaves tracing off", "[otel_env]") {
  REQUIRE_FALSE(beeline::is_initialized());
  ::setenv("OTEL_SDK_DISABLED", "true", 1);
  std::vector<std::string> log;
  beeline::config cfg;
  cfg.logger = [&](beeline::log_level, std::string_view m) { log.emplace_back(m); };
  const bool ok = beeline::init(cfg);
  ::unsetenv("OTEL_SDK_DISABLED");
  CHECK(ok);
  CHECK_FALSE(beeline::is_initialized());
  beeline::span s = beeline::start_trace("nothing");
  CHECK_FALSE(s);
  REQUIRE(log.size() == 1);
  CHECK(log[0].find("OTEL_SDK_DISABLED") != std::string::npos);
}

TEST_CASE("env: init reads the process environment", "[otel_env]") {
  REQUIRE_FALSE(beeline::is_initialized());
  ::setenv("OTEL_SERVICE_NAME", "env-service", 1);
  ::setenv("OTEL_TRACES_EXPORTER", "none", 1);
  ::setenv("OTEL_TRACES_SAMPLER", "always_off", 1);
  ::setenv("OTEL_BSP_SCHEDULE_DELAY", "bad", 1);
  std::vector<std::string> log;
  beeline::config cfg;
  cfg.logger = [&](beeline::log_level, std::string_view m) { log.emplace_back(m); };
  const bool ok = beeline::init(cfg);
  for (const char* v :
       {"OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_BSP_SCHEDULE_DELAY"})
    ::unsetenv(v);
  REQUIRE(ok);
  CHECK(beeline::global_tracer()->service_name() == "env-service");
  { beeline::span root = beeline::start_trace("dropped"); }
  beeline::flush_sync(std::chrono::seconds(10));
  CHECK(beeline::get_stats().dropped_sampler == 1);
  CHECK(beeline::get_stats().exported == 0);
  beeline::shutdown(std::chrono::seconds(5));
  REQUIRE(log.size() == 1);
  CHECK(log[0].find("OTEL_BSP_SCHEDULE_DELAY") != std::string::npos);
}

TEST_CASE("env: apply_environment completes a config for a tracer built without init", "[otel_env]") {
  ::setenv("OTEL_SERVICE_NAME", "env-service", 1);
  ::setenv("OTEL_TRACES_EXPORTER", "none", 1);
  ::setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "many", 1);
  std::vector<std::string> log;
  beeline::config cfg;
  cfg.logger = [&](beeline::log_level, std::string_view m) { log.emplace_back(m); };
  beeline::config named = cfg;
  named.service_name = "explicit";
  const bool on = beeline::apply_environment(cfg);
  const bool named_on = beeline::apply_environment(named);
  ::setenv("OTEL_SDK_DISABLED", "true", 1);
  beeline::config off;
  const bool off_on = beeline::apply_environment(off);
  for (const char* v :
       {"OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_SDK_DISABLED"})
    ::unsetenv(v);
  CHECK(on);
  CHECK(named_on);
  CHECK_FALSE(off_on);
  CHECK(cfg.service_name == "env-service");
  CHECK(named.service_name == "explicit");  // the config's own value wins
  REQUIRE(cfg.exporter);                    // `none`: the discard exporter, so spans count as exported
  beeline::tracer tr(cfg);
  { beeline::span root = tr.start_trace("discarded"); }
  REQUIRE(tr.flush_sync(std::chrono::seconds(10)).complete);
  CHECK(tr.stats().exported == 1);
  REQUIRE(log.size() == 2);  // the malformed batch size, once per call that read it
  CHECK(log[0].find("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") != std::string::npos);
}
