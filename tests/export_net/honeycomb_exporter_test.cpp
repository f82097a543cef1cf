// The Honeycomb exporter against a real loopback HTTP(S) server whose answers each test chooses: what goes
// over the wire, what the tracer and the exporter count for every kind of backend failure, that flush and
// shutdown keep their deadlines, that the application never waits for the network, and that after a backend
// recovers every span not counted dropped arrives exactly once. Last, the batch body is compared with what
// the real libhoney (npm, 4.3.1) sends for the same events.
#include "export/http_client.hpp"
#include "export_net/loopback_server.hpp"
#include "support.hpp"

#include <beeline/http_exporter.hpp>
#include <beeline/tracer.hpp>

#include <simdjson.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using beeline::test::json_kind;
using beeline::test::loopback_server;
using beeline::test::recorded_request;
using beeline::test::reply;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

/// Milliseconds since `t0`.
long long ms_since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count();
}

/// The tracer's own log lines, kept for assertions (and off stderr).
struct log_lines {
  std::mutex m;
  std::vector<std::string> lines;
  bool contains(std::string_view text) {
    std::lock_guard lk(m);
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }
  std::string all() {
    std::lock_guard lk(m);
    std::string out;
    for (const auto& l : lines)
      out += l + "\n";
    return out;
  }
};

/// Exporter options for tests: short timeouts and backoffs, so every failure settles in well under a second.
beeline::honeycomb_exporter_options fast_options(const std::string& url) {
  beeline::honeycomb_exporter_options o;
  o.api_host = url;
  o.write_key = "test-write-key";
  o.http.connect_timeout = 1s;
  o.http.request_timeout = 1s;
  o.http.retry.max_attempts = 4;
  o.http.retry.initial_backoff = 5ms;
  o.http.retry.max_backoff = 20ms;
  o.http.retry.max_elapsed = 2s;
  o.http.retry.max_retry_after = 2s;
  return o;
}

/// A tracer whose exporter is the Honeycomb exporter; only a flush (or a full batch) makes it send.
struct net_tracer {
  std::shared_ptr<log_lines> log = std::make_shared<log_lines>();
  std::shared_ptr<beeline::http_exporter> exporter;
  beeline::tracer tracer;

  explicit net_tracer(beeline::honeycomb_exporter_options o, beeline::config cfg = {})
      : exporter(beeline::make_honeycomb_exporter(std::move(o))),
        tracer(with(std::move(cfg), exporter, log)) {}

  /// Starts and finishes `n` root spans named `<prefix>-<i>`; returns their span ids.
  std::vector<std::string> produce(int n, const std::string& prefix = "span") {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      beeline::span s = tracer.start_trace(prefix + "-" + std::to_string(i), {{"i", i}});
      ids.push_back(s.span_id());
      s.finish();
    }
    return ids;
  }

 private:
  static beeline::config with(beeline::config cfg, std::shared_ptr<beeline::http_exporter> e,
                              std::shared_ptr<log_lines> log) {
    cfg.exporter = std::move(e);
    if (cfg.dataset.empty()) cfg.dataset = "net-test";
    cfg.service_name = "net-svc";
    cfg.local_hostname = "test-host";
    if (cfg.send_interval == beeline::config{}.send_interval) cfg.send_interval = std::chrono::hours(1);
    cfg.logger = [log](beeline::log_level, std::string_view m) {
      std::lock_guard lk(log->m);
      log->lines.emplace_back(m);
    };
    return cfg;
  }
};

/// One element of a Honeycomb batch body.
struct wire_event {
  std::vector<std::string> keys;  ///< the element's own keys, in order
  std::string time;
  std::uint64_t samplerate = 0;
  std::map<std::string, std::string> data;  ///< key -> minified JSON text

  std::string str(const std::string& key) const {
    const auto it = data.find(key);
    if (it == data.end() || it->second.size() < 2) return {};
    return it->second.substr(1, it->second.size() - 2);
  }
};

/// A batch body parsed; throws on anything but an array of objects.
std::vector<wire_event> parse_batch(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(simdjson::padded_string(body)).get_array().get(arr) != simdjson::SUCCESS)
    throw std::runtime_error("batch body is not a JSON array: " + body.substr(0, 200));
  std::vector<wire_event> out;
  for (simdjson::dom::element el : arr) {
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) throw std::runtime_error("element is not an object");
    wire_event w;
    for (auto [k, v] : obj) {
      w.keys.emplace_back(k);
      if (k == "time") {
        std::string_view t;
        if (v.get_string().get(t) == simdjson::SUCCESS) w.time = t;
      } else if (k == "samplerate") {
        if (v.get_uint64().get(w.samplerate) != simdjson::SUCCESS) w.samplerate = 0;
      } else if (k == "data") {
        simdjson::dom::object d;
        if (v.get_object().get(d) != simdjson::SUCCESS) throw std::runtime_error("data is not an object");
        for (auto [dk, dv] : d)
          w.data[std::string(dk)] = simdjson::minify(dv);
      }
    }
    out.push_back(std::move(w));
  }
  return out;
}

/// Span ids in the requests the server answered with a 2xx status (what arrived), with repeats.
std::vector<std::string> arrived_span_ids(const loopback_server& server) {
  std::vector<std::string> ids;
  for (const recorded_request& r : server.requests()) {
    if (r.answered < 200 || r.answered >= 300) continue;
    for (const wire_event& e : parse_batch(r.body))
      ids.push_back(e.str("trace.span_id"));
  }
  return ids;
}

/// Events in every request the server read (answered or not).
std::size_t events_in_requests(const loopback_server& server) {
  std::size_t n = 0;
  for (const recorded_request& r : server.requests())
    n += beeline::test::json_array_size(r.body);
  return n;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
  const auto end = clock_type::now() + limit;
  while (clock_type::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

/// RFC 3339 UTC (`...T12:34:56[.fraction]Z`) as milliseconds since the epoch (the fraction cut); -1 if not.
long long rfc3339_ms(const std::string& s) {
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return -1;
  long long ms = static_cast<long long>(timegm(&tm)) * 1000;
  std::string_view frac(rest);
  if (frac.starts_with('.')) {
    frac.remove_prefix(1);
    int digits = 0;
    int value = 0;
    while (!frac.empty() && frac.front() >= '0' && frac.front() <= '9') {
      if (digits < 3) value = value * 10 + (frac.front() - '0');
      ++digits;
      frac.remove_prefix(1);
    }
    if (digits == 0) return -1;
    for (int d = digits; d < 3; ++d)
      value *= 10;
    ms += value;
  }
  return frac == "Z" ? ms : -1;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// What goes over the wire

TEST_CASE("honeycomb net: a batch is POSTed to /1/batch/<dataset> with the key, JSON type and user agent") {
  loopback_server server;
  net_tracer t(fast_options(server.url()));
  {
    beeline::span root = t.tracer.start_trace("root", {{"str", "text"}, {"int", 42}, {"dbl", 2.5}});
    root.add_field("flag", true);
    root.add_field("nothing", nullptr);
    root.add_field("obj", beeline::raw_json{R"({"a":[1,"b",null]})"});
  }
  t.produce(4, "plain");
  const auto before = std::chrono::system_clock::now();
  const beeline::flush_result fr = t.tracer.flush_sync(5s);
  CHECK(fr.complete);
  CHECK(fr.exported == 5);

  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 1);
  const recorded_request& r = reqs[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/1/batch/net-test");
  CHECK(r.header("X-Honeycomb-Team") == "test-write-key");
  CHECK(r.header_count("X-Honeycomb-Team") == 1);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.header("User-Agent").starts_with("beeline-cpp/"));
  CHECK(r.header("Host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(r.header("Content-Length") == std::to_string(r.body.size()));
  CHECK(r.answered == 200);

  const std::vector<wire_event> evs = parse_batch(r.body);
  REQUIRE(evs.size() == 5);
  for (const wire_event& e : evs) {
    CHECK(e.keys == std::vector<std::string>{"time", "samplerate", "data"});
    CHECK(e.samplerate == 1);
    const long long ms = rfc3339_ms(e.time);
    CHECK(ms > 0);
    const long long now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count();
    CHECK(std::llabs(ms - now_ms) < 60'000);
    CHECK(e.str("service_name") == "net-svc");
    CHECK(e.str("meta.local_hostname") == "test-host");
    CHECK(e.str("trace.trace_id").size() == 32);
    CHECK(e.str("trace.span_id").size() == 16);
    CHECK(e.str("meta.span_type") == "root");
    CHECK(e.data.count("duration_ms") == 1);
    CHECK(e.data.count("dataset") == 0);
  }
  const wire_event& root = evs[0];
  CHECK(root.str("name") == "root");
  CHECK(root.data.at("str") == "\"text\"");
  CHECK(root.data.at("int") == "42");
  CHECK(root.data.at("dbl") == "2.5");
  CHECK(root.data.at("flag") == "true");
  CHECK(root.data.at("nothing") == "null");
  CHECK(root.data.at("obj") == R"({"a":[1,"b",null]})");
  CHECK(evs[4].str("name") == "plain-3");
  CHECK(evs[4].data.at("i") == "3");

  const beeline::stats s = t.tracer.stats();
  CHECK(s.exported == 5);
  CHECK(s.dropped_exporter == 0);
  const beeline::http_exporter_stats hs = t.exporter->stats();
  CHECK(hs.batches == 1);
  CHECK(hs.requests == 1);
  CHECK(hs.retries == 0);
  CHECK(hs.connections == 1);
  CHECK(hs.status_2xx == 1);
  CHECK(hs.events_sent == 5);
  CHECK(hs.events_rejected == 0);
  CHECK(hs.events_failed == 0);
  CHECK(hs.bad_responses == 0);
  CHECK(hs.bytes_sent == r.body.size());
}

TEST_CASE("honeycomb net: a dataset with spaces and a slash is percent-encoded in the path") {
  loopback_server server;
  beeline::config cfg;
  cfg.dataset = "my data/set+1";
  net_tracer t(fast_options(server.url()), cfg);
  t.produce(2);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/1/batch/my%20data%2Fset%2B1");
  CHECK(t.tracer.stats().exported == 2);
}

TEST_CASE("honeycomb net: an api_host with a base path prefixes the batch path; extra headers are sent") {
  loopback_server server;
  auto o = fast_options(server.url() + "/proxy/honeycomb/");
  o.http.headers = {{"X-Tenant", "blue"}, {"Authorization", "Bearer abc"}};
  net_tracer t(o);
  t.produce(1);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].target == "/proxy/honeycomb/1/batch/net-test");
  CHECK(reqs[0].header("X-Tenant") == "blue");
  CHECK(reqs[0].header("Authorization") == "Bearer abc");
  CHECK(reqs[0].header("X-Honeycomb-Team") == "test-write-key");
}

TEST_CASE("honeycomb net: an api_host that is not an http(s) URL is refused when the exporter is made") {
  auto o = fast_options("127.0.0.1:8080");
  CHECK_THROWS_AS(beeline::make_honeycomb_exporter(o), std::invalid_argument);
  o.api_host = "ftp://127.0.0.1";
  CHECK_THROWS_AS(beeline::make_honeycomb_exporter(o), std::invalid_argument);
  // [FAILS: parse_http_url accepts any five digits; the bad port surfaces only later, as a connect failure
  // per batch]
  o.api_host = "http://127.0.0.1:99999";
  CHECK_THROWS_AS(beeline::make_honeycomb_exporter(o), std::invalid_argument);
}

TEST_CASE("honeycomb net: events of two datasets in one batch go in two requests") {
  loopback_server server;
  beeline::config cfg;
  cfg.dataset = "alpha";
  cfg.batch_size = 100;
  net_tracer t(fast_options(server.url()), cfg);
  t.produce(2, "a");
  beeline::trace_context upstream;
  upstream.trace_id = "0af7651916cd43dd8448eb211c80319c";
  upstream.parent_id = "b7ad6b7169203331";
  upstream.dataset = "beta";
  { beeline::span sub = t.tracer.start_trace("b-0", {}, upstream); }
  t.produce(1, "a2");
  REQUIRE(t.tracer.flush_sync(5s).complete);

  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 2);
  std::map<std::string, std::vector<wire_event>> by_target;
  for (const auto& r : reqs)
    by_target[r.target] = parse_batch(r.body);
  REQUIRE(by_target.count("/1/batch/alpha") == 1);
  REQUIRE(by_target.count("/1/batch/beta") == 1);
  const auto& alpha = by_target["/1/batch/alpha"];
  const auto& beta = by_target["/1/batch/beta"];
  REQUIRE(alpha.size() == 3);
  CHECK(alpha[0].str("name") == "a-0");
  CHECK(alpha[1].str("name") == "a-1");
  CHECK(alpha[2].str("name") == "a2-0");
  REQUIRE(beta.size() == 1);
  CHECK(beta[0].str("name") == "b-0");
  CHECK(beta[0].str("trace.trace_id") == upstream.trace_id);
  CHECK(beta[0].str("trace.parent_id") == upstream.parent_id);
  CHECK(beta[0].str("meta.span_type") == "subroot");

  CHECK(t.tracer.stats().exported == 4);
  const auto hs = t.exporter->stats();
  CHECK(hs.batches == 1);
  CHECK(hs.requests == 2);
  CHECK(hs.events_sent == 4);
}

TEST_CASE("honeycomb net: one keep-alive connection carries every batch when max_in_flight is 1") {
  loopback_server server;
  auto o = fast_options(server.url());
  o.http.max_in_flight = 1;
  net_tracer t(o);
  constexpr int batches = 25;
  for (int b = 0; b < batches; ++b) {
    t.produce(3, "b" + std::to_string(b));
    REQUIRE(t.tracer.flush_sync(5s).complete);
  }
  const auto reqs = server.requests();
  CHECK(reqs.size() == batches);
  CHECK(server.connections() == 1);
  for (const auto& r : reqs)
    CHECK(r.connection == 1);
  const auto hs = t.exporter->stats();
  CHECK(hs.connections == 1);
  CHECK(hs.requests == batches);
  CHECK(hs.status_2xx == batches);
  CHECK(t.tracer.stats().exported == 3 * batches);
}

TEST_CASE("honeycomb net: sequential batches reuse one connection even when max_in_flight is 4") {
  loopback_server server;
  net_tracer t(fast_options(server.url()));
  for (int b = 0; b < 10; ++b) {
    t.produce(2, "b" + std::to_string(b));
    REQUIRE(t.tracer.flush_sync(5s).complete);
  }
  CHECK(server.request_count() == 10);
  CHECK(server.connections() == 1);
  CHECK(t.exporter->stats().connections == 1);
}

TEST_CASE("honeycomb net: a kept-alive connection the server closed is replaced; nothing lost or doubled") {
  // The server closes after each response without saying so (an idle timeout racing the next request).
  loopback_server server([](const recorded_request& r) {
    reply rep = reply::honeycomb_ok(r);
    rep.close_after = true;
    return rep;
  });
  net_tracer t(fast_options(server.url()));
  constexpr int batches = 8;
  for (int b = 0; b < batches; ++b) {
    t.produce(2, "b" + std::to_string(b));
    REQUIRE(t.tracer.flush_sync(5s).complete);
  }
  CHECK(server.request_count() == batches);
  CHECK(server.connections() == batches);
  const auto ids = arrived_span_ids(server);
  CHECK(ids.size() == 2 * batches);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
  const auto s = t.tracer.stats();
  CHECK(s.exported == 2 * batches);
  CHECK(s.dropped_exporter == 0);
  const auto hs = t.exporter->stats();
  CHECK(hs.retries == 0);  // a stale keep-alive connection is not the backend failing
  CHECK(hs.status_2xx == batches);
  CHECK(hs.connections == batches);
}

// ---------------------------------------------------------------------------------------------------------
// What the backend answers

TEST_CASE("honeycomb net: events the backend refuses one by one are counted dropped with the reason") {
  loopback_server server([](const recorded_request& r) {
    return reply::honeycomb_statuses(
        r, [](std::size_t i) { return i % 2 == 1; }, "event dropped: too big");
  });
  net_tracer t(fast_options(server.url()));
  t.produce(10);
  const auto fr = t.tracer.flush_sync(5s);
  CHECK(fr.complete);
  CHECK(fr.exported == 5);
  CHECK(fr.dropped == 5);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 5);
  CHECK(s.dropped_exporter == 5);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_2xx == 1);
  CHECK(hs.events_sent == 5);
  CHECK(hs.events_rejected == 5);
  CHECK(hs.events_failed == 0);
  CHECK(hs.retries == 0);
  CHECK(server.request_count() == 1);
  INFO(t.log->all());
  CHECK(t.log->contains("status 400"));
  CHECK(t.log->contains("event dropped: too big"));
}

TEST_CASE("honeycomb net: a 500 drops the batch without retrying") {
  loopback_server server([](const recorded_request&) { return reply::with_status(500); });
  net_tracer t(fast_options(server.url()));
  t.produce(6);
  const auto t0 = clock_type::now();
  const auto fr = t.tracer.flush_sync(5s);
  CHECK(fr.complete);
  CHECK(ms_since(t0) < 1000);
  CHECK(fr.dropped == 6);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 6);
  const auto hs = t.exporter->stats();
  CHECK(hs.requests == 1);
  CHECK(hs.retries == 0);
  CHECK(hs.status_5xx == 1);
  CHECK(hs.events_failed == 6);
  CHECK(server.request_count() == 1);
  INFO(t.log->all());
  CHECK(t.log->contains("HTTP 500"));
}

TEST_CASE("honeycomb net: a 400 drops the batch without retrying") {
  loopback_server server([](const recorded_request&) { return reply::with_status(400, "bad request"); });
  net_tracer t(fast_options(server.url()));
  t.produce(3);
  CHECK(t.tracer.flush_sync(5s).complete);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 3);
  const auto hs = t.exporter->stats();
  CHECK(hs.requests == 1);
  CHECK(hs.retries == 0);
  CHECK(hs.status_4xx == 1);
  CHECK(hs.status_429 == 0);
  CHECK(server.request_count() == 1);
}

TEST_CASE("honeycomb net: a 503 is retried with backoff until the backend answers") {
  std::atomic<int> seen{0};
  loopback_server server([&](const recorded_request& r) {
    return ++seen <= 2 ? reply::with_status(503) : reply::honeycomb_ok(r);
  });
  net_tracer t(fast_options(server.url()));
  t.produce(4);
  const auto t0 = clock_type::now();
  const auto fr = t.tracer.flush_sync(5s);
  CHECK(fr.complete);
  CHECK(ms_since(t0) < 1000);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 4);
  CHECK(s.dropped_exporter == 0);
  const auto hs = t.exporter->stats();
  CHECK(hs.requests == 3);
  CHECK(hs.retries == 2);
  CHECK(hs.status_5xx == 2);
  CHECK(hs.status_2xx == 1);
  CHECK(server.request_count() == 3);
  // The same body every time, and it arrived once.
  const auto reqs = server.requests();
  CHECK(reqs[0].body == reqs[2].body);
  CHECK(arrived_span_ids(server).size() == 4);
}

TEST_CASE("honeycomb net: retries stop after max_attempts and the batch is dropped") {
  loopback_server server([](const recorded_request&) { return reply::with_status(503); });
  auto o = fast_options(server.url());
  o.http.retry.max_attempts = 3;
  net_tracer t(o);
  t.produce(5);
  CHECK(t.tracer.flush_sync(5s).complete);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 5);
  const auto hs = t.exporter->stats();
  CHECK(hs.requests == 3);
  CHECK(hs.retries == 2);
  CHECK(hs.status_5xx == 3);
  CHECK(server.request_count() == 3);
  INFO(t.log->all());
  CHECK(t.log->contains("gave up after 3 attempts"));
}

TEST_CASE("honeycomb net: retries stop when max_elapsed is spent") {
  loopback_server server([](const recorded_request&) { return reply::with_status(502); });
  auto o = fast_options(server.url());
  o.http.retry.max_attempts = 1000;
  o.http.retry.initial_backoff = 20ms;
  o.http.retry.max_backoff = 20ms;
  o.http.retry.max_elapsed = 300ms;
  net_tracer t(o);
  t.produce(2);
  const auto t0 = clock_type::now();
  CHECK(t.tracer.flush_sync(5s).complete);
  const auto took = ms_since(t0);
  CHECK(took >= 250);
  CHECK(took < 1500);
  CHECK(t.tracer.stats().dropped_exporter == 2);
  const auto hs = t.exporter->stats();
  CHECK(hs.retries >= 5);
  CHECK(hs.retries < 40);
}

TEST_CASE("honeycomb net: a 429 with Retry-After: 0 is retried at once") {
  std::atomic<int> seen{0};
  loopback_server server([&](const recorded_request& r) {
    return ++seen == 1 ? reply::too_many_requests("0") : reply::honeycomb_ok(r);
  });
  net_tracer t(fast_options(server.url()));
  t.produce(3);
  const auto t0 = clock_type::now();
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(ms_since(t0) < 500);
  CHECK(t.tracer.stats().exported == 3);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_429 == 1);
  CHECK(hs.retries == 1);
  CHECK(hs.status_2xx == 1);
  CHECK(arrived_span_ids(server).size() == 3);
}

TEST_CASE("honeycomb net: a 429 with Retry-After: 1 waits a second before retrying") {
  std::atomic<int> seen{0};
  loopback_server server([&](const recorded_request& r) {
    return ++seen == 1 ? reply::too_many_requests("1") : reply::honeycomb_ok(r);
  });
  net_tracer t(fast_options(server.url()));
  t.produce(3);
  const auto t0 = clock_type::now();
  CHECK(t.tracer.flush_sync(5s).complete);
  const auto took = ms_since(t0);
  CHECK(took >= 950);
  CHECK(took < 2000);
  CHECK(t.tracer.stats().exported == 3);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_429 == 1);
  CHECK(hs.retries == 1);
}

TEST_CASE("honeycomb net: a Retry-After beyond max_retry_after gives up at once") {
  loopback_server server([](const recorded_request&) { return reply::too_many_requests("1"); });
  auto o = fast_options(server.url());
  o.http.retry.max_retry_after = 500ms;
  net_tracer t(o);
  t.produce(3);
  const auto t0 = clock_type::now();
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(ms_since(t0) < 500);
  CHECK(t.tracer.stats().dropped_exporter == 3);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_429 == 1);
  CHECK(hs.retries == 0);
  CHECK(server.request_count() == 1);
  INFO(t.log->all());
  CHECK(t.log->contains("Retry-After"));
}

TEST_CASE(
    "honeycomb net: a 200 with a garbage body: not sent again, its spans counted failed with the reason") {
  loopback_server server([](const recorded_request&) { return reply::garbage(); });
  net_tracer t(fast_options(server.url()));
  t.produce(4);
  CHECK(t.tracer.flush_sync(5s).complete);
  const auto s = t.tracer.stats();
  // Honeycomb took the request (resending could duplicate it), but whether it took each event is unknown.
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 4);
  const auto hs = t.exporter->stats();
  CHECK(hs.events_failed == 4);
  CHECK(hs.bad_responses == 1);
  INFO(t.log->all());
  CHECK(t.log->contains("not a list of per-event statuses: '<html>this is not {json'"));
  CHECK(hs.status_2xx == 1);
  CHECK(hs.retries == 0);
  CHECK(server.request_count() == 1);
}

TEST_CASE("honeycomb net: a response body that never ends times out; the batch is not sent twice") {
  // A Content-Length within max_response_bytes: the client waits for the body until request_timeout.
  loopback_server server([](const recorded_request&) { return reply::endless(50'000); });
  auto o = fast_options(server.url());
  o.http.request_timeout = 300ms;
  net_tracer t(o);
  t.produce(4);
  const auto t0 = clock_type::now();
  const auto fr = t.tracer.flush_sync(5s);
  const auto took = ms_since(t0);
  CHECK(fr.complete);
  CHECK(took >= 250);
  CHECK(took < 1500);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);  // the 200 status arrived, the per-event statuses did not
  CHECK(s.dropped_exporter == 4);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_2xx == 1);
  CHECK(hs.timeouts == 1);
  CHECK(hs.retries == 0);
  // One response, unreadable once. [FAILS: 2. http_client counts the failed body read, then
  // honeycomb_exporter counts the incomplete body again as unreadable.]
  CHECK(hs.bad_responses == 1);
  CHECK(server.request_count() == 1);
}

TEST_CASE("honeycomb net: a 200 announcing a body beyond max_response_bytes is not sent again") {
  // Headers with a large Content-Length, then a stall: the client must not wait and must not resend a batch
  // the backend accepted. [FAILS: Beast reports body_limit while reading the header; the client takes it for
  // a transport failure and retries]
  loopback_server server([](const recorded_request&) { return reply::endless(1'000'000); });
  auto o = fast_options(server.url());
  o.http.request_timeout = 300ms;
  net_tracer t(o);
  t.produce(4);
  const auto t0 = clock_type::now();
  const auto fr = t.tracer.flush_sync(5s);
  CHECK(fr.complete);
  CHECK(ms_since(t0) < 1500);
  CHECK(server.request_count() == 1);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 4);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_2xx == 1);
  CHECK(hs.retries == 0);
  CHECK(hs.bad_responses == 1);
  INFO(t.log->all());
  CHECK(
      t.log->contains("per-event statuses unread: response body of 1000000 bytes, over the limit of 65536"));
}

TEST_CASE("honeycomb net: a 10 MB response is not read and the batch is not sent twice") {
  // [FAILS: as above, the body limit is hit at the header; the accepted batch is retried]
  loopback_server server([](const recorded_request&) { return reply::huge(10 * 1024 * 1024); });
  net_tracer t(fast_options(server.url()));
  t.produce(4);
  const auto t0 = clock_type::now();
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(ms_since(t0) < 1000);
  CHECK(server.request_count() == 1);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);  // taken by the backend, but each event's status is unknown
  CHECK(s.dropped_exporter == 4);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_2xx == 1);
  CHECK(hs.retries == 0);
  CHECK(hs.bad_responses == 1);
  // The unread rest makes the connection unusable: the next batch opens a new one and is delivered.
  server.set_behaviour(reply::honeycomb_ok);
  const std::size_t before = server.request_count();
  t.produce(2, "next");
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(server.request_count() == before + 1);
  CHECK(server.connections() == t.exporter->stats().connections);
}

TEST_CASE("honeycomb net: a reset in the middle of a 200 response: delivered, counted once") {
  loopback_server server([](const recorded_request&) { return reply::reset_mid(1000, 100); });
  net_tracer t(fast_options(server.url()));
  t.produce(4);
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(server.request_count() == 1);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);  // the 200 arrived before the reset, the per-event statuses did not
  CHECK(s.dropped_exporter == 4);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_2xx == 1);
  CHECK(hs.transport_errors == 1);
  CHECK(hs.retries == 0);
  CHECK(hs.bad_responses == 1);  // [FAILS: 2, counted by the client and again by the exporter]
}

TEST_CASE("honeycomb net: a reset before any answer is retried on a new connection") {
  std::atomic<int> seen{0};
  loopback_server server(
      [&](const recorded_request& r) { return ++seen == 1 ? reply::reset_now() : reply::honeycomb_ok(r); });
  net_tracer t(fast_options(server.url()));
  t.produce(4);
  CHECK(t.tracer.flush_sync(5s).complete);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 4);
  CHECK(s.dropped_exporter == 0);
  const auto hs = t.exporter->stats();
  CHECK(hs.transport_errors == 1);
  CHECK(hs.retries == 1);
  CHECK(hs.connections == 2);
  CHECK(server.connections() == 2);
  CHECK(arrived_span_ids(server).size() == 4);
}

TEST_CASE("honeycomb net: refused connections are counted connect failures and the batch is dropped") {
  const std::uint16_t port = beeline::test::unused_port();
  auto o = fast_options("http://127.0.0.1:" + std::to_string(port));
  o.http.retry.max_attempts = 3;
  net_tracer t(o);
  t.produce(5);
  const auto t0 = clock_type::now();
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(ms_since(t0) < 1000);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 5);
  const auto hs = t.exporter->stats();
  CHECK(hs.connect_failures == 3);
  CHECK(hs.connections == 0);
  CHECK(hs.requests == 3);
  CHECK(hs.retries == 2);
  CHECK(hs.events_failed == 5);
}

// ---------------------------------------------------------------------------------------------------------
// Deadlines: a backend that never answers

TEST_CASE("honeycomb net: a flush against a backend that never answers returns by its deadline") {
  loopback_server server([](const recorded_request&) { return reply::never(); });
  auto o = fast_options(server.url());
  o.http.request_timeout = 600ms;
  net_tracer t(o);
  t.produce(5);
  auto t0 = clock_type::now();
  const auto fr = t.tracer.flush_sync(300ms);
  const auto took = ms_since(t0);
  CHECK_FALSE(fr.complete);
  CHECK(took >= 250);
  CHECK(took < 1000);
  CHECK(server.wait_for_requests(1, 2s));

  // The backend recovers: the timed-out request is sent again and arrives once.
  server.set_behaviour(reply::honeycomb_ok);
  t0 = clock_type::now();
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(ms_since(t0) < 2000);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 5);
  CHECK(s.dropped_exporter == 0);
  const auto hs = t.exporter->stats();
  CHECK(hs.timeouts == 1);
  CHECK(hs.retries == 1);
  const auto ids = arrived_span_ids(server);
  CHECK(ids.size() == 5);
  CHECK(server.request_count() == 2);
  CHECK(server.requests()[0].answered == 0);
}

TEST_CASE("honeycomb net: shutdown returns by its deadline while a request hangs; the batch is dropped") {
  loopback_server server([](const recorded_request&) { return reply::never(); });
  auto o = fast_options(server.url());
  o.http.request_timeout = 10s;  // only shutdown can end the request in time
  o.http.retry.max_elapsed = 30s;
  net_tracer t(o);
  t.produce(5);
  // Make sure the request is out before shutting down.
  CHECK_FALSE(t.tracer.flush_sync(100ms).complete);
  REQUIRE(server.wait_for_requests(1, 2s));
  const auto t0 = clock_type::now();
  const auto fr = t.tracer.shutdown(300ms);
  const auto took = ms_since(t0);
  CHECK_FALSE(fr.complete);
  CHECK(took >= 250);
  CHECK(took < 1000);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 5);
  CHECK(s.exported + s.dropped() == 5);
}

TEST_CASE("honeycomb net: shutdown during a Retry-After wait returns by its deadline; the batch is dropped") {
  loopback_server server([](const recorded_request&) { return reply::too_many_requests("1"); });
  net_tracer t(fast_options(server.url()));
  t.produce(3);
  CHECK(server.request_count() == 0);                // nothing is sent before a flush
  CHECK_FALSE(t.tracer.flush_sync(100ms).complete);  // sends, gets the 429, waits a second
  const auto t0 = clock_type::now();
  CHECK_FALSE(t.tracer.shutdown(100ms).complete);
  CHECK(ms_since(t0) < 600);
  CHECK(server.request_count() == 1);
  const auto s = t.tracer.stats();
  CHECK(s.dropped_exporter == 3);
  CHECK(t.exporter->stats().retries == 0);
}

TEST_CASE("honeycomb net: shutdown returns by its deadline while the worker waits for an in-flight slot") {
  // max_in_flight 1 and a hanging request: the export worker blocks in export_batch for the second batch.
  // [FAILS: ~2.5 s. tracer::shutdown joins the worker, which waits in http_client::submit for a free slot
  // until the hanging request times out; nothing tells the exporter to stop before the join. With more
  // batches popped it waits request_timeout once per batch.]
  loopback_server server([](const recorded_request&) { return reply::never(); });
  auto o = fast_options(server.url());
  o.http.max_in_flight = 1;
  o.http.request_timeout = 2500ms;
  o.http.retry.max_attempts = 1;
  beeline::config cfg;
  cfg.batch_size = 5;
  cfg.send_interval = 10ms;  // the worker takes what was finished every 10 ms
  net_tracer t(o, cfg);
  t.produce(5, "first");
  REQUIRE(server.wait_for_requests(1, 2s));
  t.produce(5, "second");  // a full batch: the worker takes it and waits for the slot
  std::this_thread::sleep_for(50ms);
  const auto t0 = clock_type::now();
  t.tracer.shutdown(300ms);
  const auto took = ms_since(t0);
  CHECK(took < 1000);
  const auto s = t.tracer.stats();
  CHECK(s.exported + s.dropped() == 10);
}

TEST_CASE("honeycomb net: max_in_flight bounds the requests outstanding at once") {
  loopback_server server([](const recorded_request&) { return reply::never(); });
  auto o = fast_options(server.url());
  o.http.max_in_flight = 2;
  o.http.request_timeout = 800ms;
  beeline::config cfg;
  cfg.batch_size = 5;
  cfg.send_interval = 10ms;
  net_tracer t(o, cfg);
  t.produce(40);
  CHECK(server.wait_for_requests(2, 2s));
  std::this_thread::sleep_for(100ms);
  CHECK(server.request_count() == 2);
  CHECK(server.connections() == 2);
  // The backend recovers: the two timed-out requests are sent again, the six waiting batches follow.
  server.set_behaviour(reply::honeycomb_ok);
  CHECK(t.tracer.flush_sync(10s).complete);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 40);
  const auto ids = arrived_span_ids(server);
  CHECK(ids.size() == 40);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 40);
  const auto hs = t.exporter->stats();
  CHECK(hs.timeouts == 2);
  CHECK(hs.retries == 2);
  CHECK(hs.connections <= 4);
}

TEST_CASE("honeycomb net: async_flush completes on the export worker thread, as tracer.hpp documents") {
  // The answer comes 50 ms late, so the batch settles on the HTTP client's thread after the worker moved on.
  // [FAILS: the completion runs on the HTTP client's thread (tracer_core::settled -> complete_waiters),
  // under the settle queue's lock; a completion that blocks stalls every request.]
  loopback_server server([](const recorded_request& r) {
    std::this_thread::sleep_for(50ms);
    return reply::honeycomb_ok(r);
  });
  std::mutex m;
  std::thread::id worker;
  beeline::config cfg;
  cfg.presend = [&](beeline::event&) {
    std::lock_guard lk(m);
    worker = std::this_thread::get_id();
  };
  net_tracer t(fast_options(server.url()), cfg);
  t.produce(2);
  std::promise<std::thread::id> done;
  t.tracer.async_flush(clock_type::now() + 5s,
                       [&](beeline::flush_result) { done.set_value(std::this_thread::get_id()); });
  auto f = done.get_future();
  REQUIRE(f.wait_for(5s) == std::future_status::ready);
  const std::thread::id completed_on = f.get();
  std::lock_guard lk(m);
  CHECK(completed_on == worker);
}

// ---------------------------------------------------------------------------------------------------------
// The application never waits; recovery delivers exactly once

TEST_CASE("honeycomb net: application threads never wait for a hanging backend; a full queue counts drops",
          "[concurrency]") {
  loopback_server server([](const recorded_request&) { return reply::never(); });
  auto o = fast_options(server.url());
  o.http.max_in_flight = 2;
  o.http.request_timeout = 500ms;
  o.http.retry.max_elapsed = 10s;
  o.http.retry.max_attempts = 100;
  beeline::config cfg;
  cfg.queue_capacity = 1024;
  cfg.batch_size = 100;
  cfg.send_interval = 10ms;
  net_tracer t(o, cfg);

  constexpr int threads = 2;
  constexpr int per_thread = 4000;
  std::vector<std::thread> producers;
  std::vector<long long> max_ns(threads, 0);
  std::vector<std::vector<std::string>> ids(threads);
  for (int k = 0; k < threads; ++k) {
    producers.emplace_back([&, k] {
      for (int i = 0; i < per_thread; ++i) {
        const auto t0 = clock_type::now();
        beeline::span s = t.tracer.start_trace("p" + std::to_string(k), {{"i", i}});
        ids[k].push_back(s.span_id());
        s.finish();
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count();
        max_ns[k] = std::max(max_ns[k], static_cast<long long>(ns));
      }
    });
  }
  for (auto& p : producers)
    p.join();
  const long long worst_ms = *std::max_element(max_ns.begin(), max_ns.end()) / 1'000'000;
  INFO("slowest start+finish: " << worst_ms << " ms");
  CHECK(worst_ms < (sanitized ? 200 : 50));

  constexpr std::uint64_t produced = threads * per_thread;
  const auto during = t.tracer.stats();
  CHECK(during.dropped_queue_full > 0);
  CHECK(during.enqueued + during.dropped_queue_full == produced);
  // Memory is bounded by the queue, plus what the worker and the in-flight requests hold.
  CHECK(during.enqueued <= cfg.queue_capacity + (o.http.max_in_flight + 1) * cfg.batch_size + cfg.batch_size);
  CHECK(server.request_count() <= o.http.max_in_flight);

  // The backend recovers: every span not counted dropped arrives exactly once.
  server.set_behaviour(reply::honeycomb_ok);
  CHECK(t.tracer.flush_sync(20s).complete);
  const auto s = t.tracer.stats();
  const auto arrived = arrived_span_ids(server);
  const std::set<std::string> unique(arrived.begin(), arrived.end());
  CHECK(unique.size() == arrived.size());
  CHECK(arrived.size() == s.exported);
  CHECK(s.exported + s.dropped() == produced);
  std::set<std::string> all;
  for (const auto& v : ids)
    all.insert(v.begin(), v.end());
  for (const auto& id : unique)
    CHECK(all.count(id) == 1);
}

TEST_CASE("honeycomb net: after the backend recovers, every span not dropped arrives exactly once",
          "[concurrency]") {
  std::atomic<bool> failing{true};
  loopback_server server(
      [&](const recorded_request& r) { return failing ? reply::with_status(503) : reply::honeycomb_ok(r); });
  auto o = fast_options(server.url());
  o.http.retry.max_attempts = 50;
  o.http.retry.initial_backoff = 5ms;
  o.http.retry.max_backoff = 40ms;
  o.http.retry.max_elapsed = 400ms;  // early batches give up before the recovery, later ones make it
  beeline::config cfg;
  cfg.batch_size = 50;
  cfg.send_interval = 5ms;
  net_tracer t(o, cfg);

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> produced{0};
  std::vector<std::thread> producers;
  for (int k = 0; k < 2; ++k) {
    producers.emplace_back([&, k] {
      int i = 0;
      while (!stop) {
        beeline::span s = t.tracer.start_trace("r" + std::to_string(k), {{"i", i++}});
        s.finish();
        ++produced;
        if (i % 50 == 0) std::this_thread::sleep_for(1ms);
      }
    });
  }
  std::this_thread::sleep_for(700ms);
  failing = false;
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& p : producers)
    p.join();
  REQUIRE(t.tracer.flush_sync(20s).complete);

  const auto s = t.tracer.stats();
  const auto arrived = arrived_span_ids(server);
  const std::set<std::string> unique(arrived.begin(), arrived.end());
  INFO("produced " << produced << ", exported " << s.exported << ", dropped_exporter " << s.dropped_exporter
                   << ", dropped_queue_full " << s.dropped_queue_full);
  CHECK(s.dropped_exporter > 0);  // batches gave up while failing
  CHECK(s.exported > 0);
  CHECK(unique.size() == arrived.size());
  CHECK(arrived.size() == s.exported);
  CHECK(s.exported + s.dropped() == produced);
  const auto hs = t.exporter->stats();
  CHECK(hs.retries > 0);
  CHECK(hs.events_sent == s.exported);
  CHECK(hs.events_failed == s.dropped_exporter);
}

// ---------------------------------------------------------------------------------------------------------
// TLS

TEST_CASE("honeycomb net: https with the self-signed certificate as ca_file delivers") {
  beeline::test::self_signed_certificate cert;
  loopback_server server(cert.files());
  auto o = fast_options(server.url());
  REQUIRE(o.api_host.starts_with("https://127.0.0.1:"));
  o.http.ca_file = cert.files().cert_file;
  net_tracer t(o);
  for (int b = 0; b < 3; ++b) {
    t.produce(3, "tls" + std::to_string(b));
    CHECK(t.tracer.flush_sync(5s).complete);
  }
  const auto s = t.tracer.stats();
  CHECK(s.exported == 9);
  CHECK(s.dropped_exporter == 0);
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].target == "/1/batch/net-test");
  CHECK(reqs[0].header("X-Honeycomb-Team") == "test-write-key");
  CHECK(parse_batch(reqs[0].body).size() == 3);
  CHECK(server.connections() == 1);  // TLS connections are kept alive too
  const auto hs = t.exporter->stats();
  CHECK(hs.connections == 1);
  CHECK(hs.connect_failures == 0);
}

TEST_CASE("honeycomb net: https to localhost verifies the certificate's DNS name") {
  beeline::test::self_signed_certificate cert;
  loopback_server server(cert.files());
  auto o = fast_options("https://localhost:" + std::to_string(server.port()));
  o.http.ca_file = cert.files().cert_file;
  net_tracer t(o);
  t.produce(2);
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(t.tracer.stats().exported == 2);
  CHECK(server.request_count() == 1);
}

TEST_CASE("honeycomb net: https verified against the system CAs fails the handshake; the batch is dropped") {
  beeline::test::self_signed_certificate cert;
  loopback_server server(cert.files());
  auto o = fast_options(server.url());
  o.http.retry.max_attempts = 2;  // ca_file empty: the system's CAs, which do not know this certificate
  net_tracer t(o);
  t.produce(3);
  CHECK(t.tracer.flush_sync(5s).complete);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 3);
  const auto hs = t.exporter->stats();
  CHECK(hs.connect_failures == 2);
  CHECK(hs.connections == 0);
  CHECK(server.request_count() == 0);
  CHECK(eventually([&] { return server.handshake_failures() == 2; }, 2s));
  INFO(t.log->all());
  CHECK(t.log->contains("TLS handshake"));
}

TEST_CASE("honeycomb net: a TLS server that never handshakes is bounded by connect_timeout") {
  beeline::test::self_signed_certificate cert;
  loopback_server server(cert.files());
  server.set_silent(true);
  auto o = fast_options(server.url());
  o.http.ca_file = cert.files().cert_file;
  o.http.connect_timeout = 300ms;
  o.http.retry.max_attempts = 2;
  net_tracer t(o);
  t.produce(3);
  const auto t0 = clock_type::now();
  CHECK(t.tracer.flush_sync(5s).complete);
  const auto took = ms_since(t0);
  CHECK(took >= 550);
  CHECK(took < 1500);
  const auto s = t.tracer.stats();
  CHECK(s.dropped_exporter == 3);
  const auto hs = t.exporter->stats();
  CHECK(hs.connect_failures == 2);
  CHECK(hs.connections == 0);
  CHECK(server.connections() == 2);
  CHECK(server.request_count() == 0);
}

TEST_CASE("honeycomb net: https with verify_peer off accepts the self-signed certificate") {
  beeline::test::self_signed_certificate cert;
  loopback_server server(cert.files());
  auto o = fast_options(server.url());
  o.http.verify_peer = false;
  net_tracer t(o);
  t.produce(2);
  CHECK(t.tracer.flush_sync(5s).complete);
  CHECK(t.tracer.stats().exported == 2);
}

// ---------------------------------------------------------------------------------------------------------
// libhoney

namespace {

/// Runs a command; its standard output, and whether it exited with 0.
std::pair<std::string, bool> run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return {out, false};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  return {out, pclose(p) == 0};
}

std::string node_command(const std::string& args) {
  return std::string("'") + BEELINE_NODE_EXECUTABLE + "' '" + BEELINE_LIBHONEY_SCRIPT + "' " + args;
}

/// An object by value (a range-for over `get_object().value()` would outlive its temporary result).
simdjson::dom::object as_object(simdjson::dom::element e) {
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) throw std::runtime_error("not a JSON object");
  return o;
}

/// Compares two JSON values: same kinds, same keys, same values (numbers by value); `path` names mismatches.
void compare_json(simdjson::dom::element a, simdjson::dom::element b, const std::string& path,
                  std::vector<std::string>& diffs) {
  const std::string ka = json_kind(a), kb = json_kind(b);
  if (ka != kb) {
    diffs.push_back(path + ": kind " + ka + " vs " + kb);
    return;
  }
  if (ka == "object") {
    std::map<std::string, simdjson::dom::element> ma, mb;
    for (auto [k, v] : as_object(a))
      ma.emplace(std::string(k), v);
    for (auto [k, v] : as_object(b))
      mb.emplace(std::string(k), v);
    for (const auto& [k, v] : ma) {
      if (!mb.count(k)) {
        diffs.push_back(path + "." + k + ": only in ours");
        continue;
      }
      compare_json(v, mb.at(k), path + "." + k, diffs);
    }
    for (const auto& [k, v] : mb)
      if (!ma.count(k)) diffs.push_back(path + "." + k + ": only in libhoney's");
  } else if (ka == "array") {
    const auto aa = a.get_array().value(), ab = b.get_array().value();
    if (aa.size() != ab.size()) {
      diffs.push_back(path + ": array sizes differ");
      return;
    }
    std::size_t i = 0;
    auto ib = ab.begin();
    for (simdjson::dom::element ea : aa) {
      compare_json(ea, *ib, path + "[" + std::to_string(i) + "]", diffs);
      ++ib;
      ++i;
    }
  } else if (ka == "number") {
    const bool ints = a.is_int64() && b.is_int64();
    const bool same = ints ? a.get_int64().value() == b.get_int64().value()
                           : a.get_double().value() == b.get_double().value();
    if (!same) diffs.push_back(path + ": " + simdjson::minify(a) + " vs " + simdjson::minify(b));
  } else if (simdjson::minify(a) != simdjson::minify(b)) {
    diffs.push_back(path + ": " + simdjson::minify(a) + " vs " + simdjson::minify(b));
  }
}

/// A JSON text value as beeline sets it on an event.
beeline::value to_value(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      return beeline::value(e.get_int64().value());
    case simdjson::dom::element_type::UINT64:
      return beeline::value(e.get_uint64().value());
    case simdjson::dom::element_type::DOUBLE:
      return beeline::value(e.get_double().value());
    case simdjson::dom::element_type::STRING:
      return beeline::value(std::string(e.get_string().value()));
    case simdjson::dom::element_type::BOOL:
      return beeline::value(e.get_bool().value());
    case simdjson::dom::element_type::NULL_VALUE:
      return beeline::value(nullptr);
    default:
      return beeline::value::json(simdjson::minify(e));
  }
}

/// The body with every `"time":"..."` value cut to milliseconds (`.mmmZ`), for a byte comparison.
std::string times_to_ms(std::string body) {
  const std::string key = "\"time\":\"";
  for (std::size_t at = body.find(key); at != std::string::npos; at = body.find(key, at + 1)) {
    const std::size_t start = at + key.size();
    const std::size_t end = body.find('"', start);
    const std::string t = body.substr(start, end - start);
    const std::size_t dot = t.find('.');
    std::string frac = dot == std::string::npos ? "" : t.substr(dot + 1, t.size() - dot - 2);
    frac = (frac + "000").substr(0, 3);
    const std::string cut = t.substr(0, dot == std::string::npos ? t.size() - 1 : dot) + "." + frac + "Z";
    body.replace(start, end - start, cut);
  }
  return body;
}

}  // namespace

TEST_CASE("libhoney: the batch body and headers match what libhoney 4.3.1 sends for the same events",
          "[libhoney]") {
  // The known events, from the script.
  const auto [known_text, known_ok] = run(node_command("--print-events"));
  REQUIRE(known_ok);
  simdjson::dom::parser known_parser;
  simdjson::dom::array known;
  REQUIRE(known_parser.parse(simdjson::padded_string(known_text)).get_array().get(known) ==
          simdjson::SUCCESS);
  struct known_event {
    std::uint32_t samplerate;
    std::vector<std::pair<std::string, beeline::value>> data;
  };
  std::map<std::string, known_event> by_name;
  std::vector<std::string> names;
  for (simdjson::dom::element e : known) {
    known_event k;
    k.samplerate = static_cast<std::uint32_t>(e["samplerate"].get_uint64().value());
    std::string name;
    for (auto [key, val] : as_object(e["data"].value())) {
      k.data.emplace_back(std::string(key), to_value(val));
      if (key == "name") name = std::string(val.get_string().value());
    }
    names.push_back(name);
    by_name.emplace(name, std::move(k));
  }
  REQUIRE(names.size() == 3);

  // The same events through our tracer: a presend hook makes each event's fields exactly the known ones.
  loopback_server server;
  auto o = fast_options(server.url());
  o.write_key = "interop-write-key";
  beeline::config cfg;
  cfg.dataset = "interop";
  cfg.batch_size = 100;
  cfg.presend = [&](beeline::event& ev) {
    const auto it = by_name.find(std::string(ev.name()));
    if (it == by_name.end()) return;
    std::vector<std::string> existing;
    for (std::size_t i = 0; i < ev.field_count(); ++i)
      existing.emplace_back(ev.field_at(i).key);
    for (const auto& k : existing)
      ev.remove(k);
    for (const auto& [key, val] : it->second.data)
      ev.set(key, val.view());
    ev.set_sample_rate(it->second.samplerate);
  };
  net_tracer t(o, cfg);
  for (const auto& name : names)
    beeline::span s = t.tracer.start_trace(name);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  REQUIRE(server.request_count() == 1);
  const recorded_request ours = server.requests()[0];

  // libhoney sends the same events (with our timestamps and our trace ids) to the same server.
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("beeline-libhoney-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string ours_file = (dir / "ours.json").string();
  std::ofstream(ours_file) << ours.body;
  const auto [node_out, node_ok] = run(node_command("--url '" + server.url() + "' --align '" + ours_file +
                                                    "' --dataset interop --write-key interop-write-key"));
  std::filesystem::remove_all(dir);
  INFO("node: " << node_out);
  REQUIRE(node_ok);
  CHECK(node_out.find("\"responses\":[202,202,202]") != std::string::npos);  // our server's answer suits it
  REQUIRE(server.request_count() == 2);
  const recorded_request theirs = server.requests()[1];

  // Request line and headers.
  CHECK(ours.method == theirs.method);
  CHECK(ours.target == theirs.target);
  CHECK(ours.target == "/1/batch/interop");
  for (const char* h : {"X-Honeycomb-Team", "Content-Type", "Host", "Content-Length", "User-Agent"}) {
    INFO(h);
    CHECK(ours.header_count(h) == 1);
    CHECK(theirs.header_count(h) == 1);
  }
  CHECK(ours.header("X-Honeycomb-Team") == theirs.header("X-Honeycomb-Team"));
  CHECK(ours.header("Content-Type") == theirs.header("Content-Type"));
  CHECK(ours.header("Host") == theirs.header("Host"));
  CHECK(theirs.header("User-Agent").starts_with("libhoney-js/4.3.1"));
  CHECK(ours.header("User-Agent").starts_with("beeline-cpp/"));
  // Only transport headers differ: libhoney (superagent) also offers gzip and says keep-alive.
  std::set<std::string> only_theirs;
  for (const auto& [k, v] : theirs.headers) {
    std::string lower(k);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (ours.header_count(k) == 0) only_theirs.insert(lower);
  }
  for (const auto& h : only_theirs)
    CHECK((h == "accept-encoding" || h == "connection"));

  // The bodies: same structure, keys, kinds and values; times equal to the millisecond.
  simdjson::dom::parser pa, pb;
  simdjson::dom::array a, b;
  REQUIRE(pa.parse(simdjson::padded_string(ours.body)).get_array().get(a) == simdjson::SUCCESS);
  REQUIRE(pb.parse(simdjson::padded_string(theirs.body)).get_array().get(b) == simdjson::SUCCESS);
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  std::vector<std::string> diffs;
  auto ib = b.begin();
  for (std::size_t i = 0; i < 3; ++i, ++ib) {
    simdjson::dom::element ea = a.at(i).value(), eb = *ib;
    std::vector<std::string> keys_a, keys_b;
    for (auto [k, v] : as_object(ea))
      keys_a.emplace_back(k);
    for (auto [k, v] : as_object(eb))
      keys_b.emplace_back(k);
    CHECK(keys_a == std::vector<std::string>{"time", "samplerate", "data"});
    CHECK(keys_a == keys_b);
    const std::string ta(ea["time"].get_string().value()), tb(eb["time"].get_string().value());
    CHECK(rfc3339_ms(ta) > 0);
    CHECK(rfc3339_ms(ta) == rfc3339_ms(tb));
    CHECK(ea["samplerate"].get_uint64().value() == eb["samplerate"].get_uint64().value());
    CHECK(ea["samplerate"].get_uint64().value() == (i == 1 ? 5u : 1u));
    compare_json(ea["data"].value(), eb["data"].value(), "[" + std::to_string(i) + "].data", diffs);
  }
  INFO("ours:   " << ours.body);
  INFO("theirs: " << theirs.body);
  for (const auto& d : diffs)
    UNSCOPED_INFO(d);
  CHECK(diffs.empty());
  // Byte for byte, once the times are cut to libhoney's milliseconds.
  CHECK(times_to_ms(ours.body) == theirs.body);
}

// ---------------------------------------------------------------------------------------------------------
// Found in review

TEST_CASE("honeycomb net: a request Beast refuses to build (a header over 64 KiB) fails its batch, no hang") {
  loopback_server server;
  auto o = fast_options(server.url());
  o.http.headers = {{"X-Big", std::string(70000, 'a')}};
  net_tracer t(o);
  t.produce(3);
  const auto r = t.tracer.flush_sync(5s);
  CHECK(r.complete);  // settled (as failed), not stuck in flight
  CHECK(t.tracer.stats().dropped_exporter == 3);
  CHECK(server.request_count() == 0);
  const auto start = std::chrono::steady_clock::now();
  t.tracer.shutdown(2s);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
}

TEST_CASE("honeycomb net: a batch sent during shutdown is waited for until the deadline, not cut off") {
  // The first request is answered at once; later ones after 300 ms.
  std::atomic<int> seen{0};
  loopback_server server([&](const recorded_request& r) {
    if (seen++ > 0) std::this_thread::sleep_for(300ms);
    return reply::honeycomb_ok(r);
  });
  net_tracer t(fast_options(server.url()));
  t.produce(2, "first");
  REQUIRE(t.tracer.flush_sync(5s).complete);
  t.produce(2, "late");  // queued, not flushed: the worker sends it while stopping
  const auto start = std::chrono::steady_clock::now();
  const auto r = t.tracer.shutdown(5s);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.complete);
  CHECK(took < 3s);
  CHECK(t.tracer.stats().exported == 4);
  CHECK(t.tracer.stats().dropped_exporter == 0);
}

TEST_CASE("honeycomb net: shutdown keeps its deadline while the worker waits for a connection") {
  // One connection; every request after the first hangs for longer than the test may take.
  std::atomic<int> seen{0};
  loopback_server server([&](const recorded_request& r) {
    if (seen++ > 0) return reply::never();
    return reply::honeycomb_ok(r);
  });
  auto o = fast_options(server.url());
  o.http.max_in_flight = 1;
  o.http.request_timeout = 10s;
  beeline::config cfg;
  cfg.batch_size = 1;  // one span per batch: the worker soon waits for the only connection
  net_tracer t(o, cfg);
  t.produce(1, "first");
  REQUIRE(t.tracer.flush_sync(5s).complete);
  t.produce(3, "stuck");
  const auto start = std::chrono::steady_clock::now();
  t.tracer.shutdown(500ms);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 1);
  CHECK(s.exported + s.dropped() == 4);
}

// ---------------------------------------------------------------------------------------------------------
// Nothing lost without a count: per-event statuses of large batches

TEST_CASE("honeycomb net: statuses of a batch beyond 64 KiB are read; every span is delivered or counted") {
  // 50 spans with 100 span events each: 5,050 events per request, whose status list (~76 KB when every event
  // is taken) is longer than the default max_response_bytes.
  const bool refuse_some = GENERATE(false, true);
  const auto refused = [refuse_some](std::size_t i) { return refuse_some && i % 2 == 1; };
  loopback_server server([&](const recorded_request& r) {
    return reply::honeycomb_statuses(r, refused, "event dropped: throttled");
  });
  beeline::config cfg;
  cfg.batch_size = 50;
  net_tracer t(fast_options(server.url()), cfg);
  constexpr int spans = 150;
  for (int i = 0; i < spans; ++i) {
    beeline::span s = t.tracer.start_trace("big-" + std::to_string(i));
    for (int k = 0; k < 100; ++k)
      s.add_event("tick", {{"k", k}});
    s.finish();
  }
  REQUIRE(t.tracer.flush_sync(10s).complete);
  // What the backend took: the spans (not their span events) it answered 202 for.
  std::size_t delivered = 0;
  std::size_t largest_response = 0;
  for (const recorded_request& r : server.requests()) {
    const auto events = parse_batch(r.body);
    largest_response = std::max(largest_response, reply::honeycomb_statuses(r, refused, "x").body.size());
    for (std::size_t i = 0; i < events.size(); ++i)
      if (events[i].data.count("meta.annotation_type") == 0 && !refused(i)) ++delivered;
  }
  CHECK(largest_response > 64 * 1024);
  const auto s = t.tracer.stats();
  const auto hs = t.exporter->stats();
  INFO(t.log->all());
  CHECK(s.exported == delivered);
  CHECK(s.exported + s.dropped() == spans);  // produced = delivered + counted
  CHECK(hs.bad_responses == 0);
  if (refuse_some) {
    CHECK(delivered < spans);
    CHECK(s.dropped_exporter == spans - delivered);
    CHECK(hs.events_rejected > s.dropped_exporter);  // span events refused too
    CHECK(t.log->contains("event dropped: throttled"));
  } else {
    CHECK(delivered == spans);
  }
}

TEST_CASE("honeycomb net: a status list with entries missing counts the spans without a status as failed") {
  loopback_server server([](const recorded_request&) {
    return reply::with_status(200, R"([{"status":202},{"status":202},{"nothing":1}])");
  });
  net_tracer t(fast_options(server.url()));
  t.produce(5);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 2);
  CHECK(s.dropped_exporter == 3);
  CHECK(t.exporter->stats().bad_responses == 1);
  INFO(t.log->all());
  CHECK(t.log->contains("no readable status for 3 spans (3 statuses for 5 events)"));
}

TEST_CASE(
    "honeycomb net: a 200 whose body shutdown cuts off counts in status_2xx; its spans count as failed") {
  loopback_server server([](const recorded_request&) { return reply::endless(50'000, 10); });
  auto o = fast_options(server.url());
  o.http.request_timeout = 10s;  // only shutdown ends the body's read
  net_tracer t(o);
  t.produce(4);
  CHECK_FALSE(t.tracer.flush_sync(200ms).complete);
  const auto t0 = clock_type::now();
  CHECK_FALSE(t.tracer.shutdown(200ms).complete);
  CHECK(ms_since(t0) < 1000);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 4);
  const auto hs = t.exporter->stats();
  CHECK(hs.status_2xx == 1);
  CHECK(hs.requests == 1);
  CHECK(server.request_count() == 1);
}

// ---------------------------------------------------------------------------------------------------------
// Logging: at once, with the reason, and rate-limited

namespace {

std::size_t lines_containing(log_lines& log, std::string_view text) {
  std::lock_guard lk(log.m);
  return static_cast<std::size_t>(
      std::count_if(log.lines.begin(), log.lines.end(),
                    [&](const std::string& l) { return l.find(text) != std::string::npos; }));
}

// The first number after `prefix` in the first line containing it; -1 if none.
long long number_after(log_lines& log, std::string_view prefix) {
  std::lock_guard lk(log.m);
  for (const std::string& l : log.lines)
    if (const auto at = l.find(prefix); at != std::string::npos)
      return std::atoll(l.c_str() + at + prefix.size());
  return -1;
}

}  // namespace

TEST_CASE("honeycomb net: a failing backend is logged once per reason and interval, with counts") {
  loopback_server server([](const recorded_request&) { return reply::with_status(500, "internal error"); });
  beeline::config cfg;
  cfg.batch_size = 10;
  cfg.log_interval = std::chrono::hours(1);
  net_tracer t(fast_options(server.url()), cfg);
  t.produce(200);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  CHECK(t.tracer.stats().dropped_exporter == 200);
  CHECK(server.request_count() >= 20);
  INFO(t.log->all());
  CHECK(lines_containing(*t.log, "HTTP 500") == 1);
  const long long first = number_after(*t.log, "exporter dropped ");
  CHECK(first > 0);
  CHECK(t.log->contains("events: HTTP 500: internal error"));
  // What was only counted is summed up when the tracer shuts down.
  t.tracer.shutdown(1s);
  CHECK(lines_containing(*t.log, "HTTP 500") == 2);
  CHECK(number_after(*t.log, "exporter dropped events: HTTP 500: internal error (and ") == 200 - first);
}

TEST_CASE("honeycomb net: a failure reason quiet for an interval is logged in full again") {
  loopback_server server([](const recorded_request&) { return reply::with_status(500, "internal error"); });
  beeline::config cfg;
  cfg.log_interval = 50ms;
  net_tracer t(fast_options(server.url()), cfg);
  t.produce(2);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  std::this_thread::sleep_for(80ms);
  t.produce(3);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  INFO(t.log->all());
  CHECK(t.log->contains("exporter dropped 2 of 2 events: HTTP 500: internal error"));
  CHECK(t.log->contains("exporter dropped 3 of 3 events: HTTP 500: internal error"));
}

TEST_CASE(
    "honeycomb net: spans dropped for a full queue are logged with their count, while the worker waits") {
  loopback_server server([](const recorded_request&) { return reply::never(); });
  auto o = fast_options(server.url());
  o.http.max_in_flight = 1;
  o.http.request_timeout = 300ms;
  o.http.retry.max_attempts = 1;
  beeline::config cfg;
  cfg.queue_capacity = 64;
  cfg.batch_size = 8;
  cfg.log_interval = std::chrono::hours(1);
  net_tracer t(o, cfg);
  t.produce(2000);
  REQUIRE(t.tracer.stats().dropped_queue_full > 0);
  // The worker waits for the only connection; the drops are logged when a request settles.
  CHECK(eventually([&] { return t.log->contains("export queue full"); }, 3s));
  t.tracer.shutdown(200ms);
  const auto s = t.tracer.stats();
  INFO(t.log->all());
  CHECK(lines_containing(*t.log, "export queue full") <= 2);
  const long long first = number_after(*t.log, "export queue full (64 spans): dropped ");
  const long long rest = number_after(*t.log, "export queue full: spans dropped (and ");
  CHECK(first > 0);
  CHECK(first + std::max(rest, 0LL) == static_cast<long long>(s.dropped_queue_full));
}

TEST_CASE(
    "honeycomb net: the first failed attempt is logged at once with the status and the start of the body") {
  std::atomic<int> seen{0};
  loopback_server server([&](const recorded_request& r) {
    return ++seen <= 2 ? reply::with_status(503, "overloaded, try later") : reply::honeycomb_ok(r);
  });
  net_tracer t(fast_options(server.url()));
  t.produce(3);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  CHECK(t.tracer.stats().exported == 3);
  INFO(t.log->all());
  CHECK(t.log->contains("export attempt failed, retrying: HTTP 503: overloaded, try later"));
  CHECK(lines_containing(*t.log, "export attempt failed") == 1);  // the second within the interval: counted
}

TEST_CASE("honeycomb net: a refused connection is logged at the first attempt, and the final drop with it") {
  const std::uint16_t port = beeline::test::unused_port();
  auto o = fast_options("http://127.0.0.1:" + std::to_string(port));
  o.http.retry.max_attempts = 3;
  net_tracer t(o);
  t.produce(5);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  INFO(t.log->all());
  CHECK(t.log->contains("export attempt failed, retrying: connect: Connection refused"));
  CHECK(t.log->contains(
      "exporter dropped 5 of 5 events: connect: Connection refused (gave up after 3 attempts)"));
}

TEST_CASE("honeycomb net: a shutdown that cuts retries short reports the backend's last error") {
  loopback_server server([](const recorded_request&) { return reply::with_status(503, "maintenance"); });
  auto o = fast_options(server.url());
  o.http.retry.initial_backoff = 5s;
  o.http.retry.max_backoff = 5s;
  o.http.retry.max_elapsed = 30s;
  net_tracer t(o);
  t.produce(3);
  CHECK_FALSE(t.tracer.flush_sync(200ms).complete);  // answered 503, waiting to retry
  REQUIRE(server.request_count() == 1);
  const auto t0 = clock_type::now();
  CHECK_FALSE(t.tracer.shutdown(200ms).complete);
  CHECK(ms_since(t0) < 1000);
  CHECK(t.tracer.stats().dropped_exporter == 3);
  INFO(t.log->all());
  CHECK(t.log->contains(
      "exporter dropped 3 of 3 events: HTTP 503: maintenance (then shut down before retrying)"));
  CHECK_FALSE(t.log->contains("events: exporter shut down"));
}

// ---------------------------------------------------------------------------------------------------------
// Host name lookups

namespace {

/// While alive, clients made resolve host names with `f`.
struct resolver_override {
  explicit resolver_override(beeline::detail::resolve_function f) {
    beeline::detail::set_resolve_function_for_tests(std::move(f));
  }
  ~resolver_override() { beeline::detail::set_resolve_function_for_tests({}); }
};

/// A lookup that blocks until released (or 10 s), then answers 127.0.0.1; counts its calls.
struct blocking_lookup {
  std::shared_ptr<std::promise<void>> release = std::make_shared<std::promise<void>>();
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  beeline::detail::resolve_function function() const {
    return [gate = release->get_future().share(), calls = calls](const std::string&) {
      ++*calls;
      gate.wait_for(10s);
      return beeline::detail::resolved_host{{"127.0.0.1"}, {}};
    };
  }
  ~blocking_lookup() { release->set_value(); }
};

}  // namespace

TEST_CASE("honeycomb net: a host name is looked up and its address connected to") {
  loopback_server server;
  resolver_override r([](const std::string& host) {
    beeline::detail::resolved_host h;
    if (host == "collector.test")
      h.addresses = {"127.0.0.1"};
    else
      h.error = "unknown host";
    return h;
  });
  net_tracer t(fast_options("http://collector.test:" + std::to_string(server.port())));
  t.produce(3);
  REQUIRE(t.tracer.flush_sync(5s).complete);
  CHECK(t.tracer.stats().exported == 3);
  REQUIRE(server.request_count() == 1);
  CHECK(server.requests()[0].header("Host") == "collector.test:" + std::to_string(server.port()));
}

TEST_CASE("honeycomb net: shutdown keeps its deadline while a host name lookup hangs") {
  loopback_server server;
  blocking_lookup lookup;
  resolver_override r(lookup.function());
  auto o = fast_options("http://slow-dns.test:" + std::to_string(server.port()));
  o.http.connect_timeout = 10s;
  net_tracer t(o);
  t.produce(3);
  CHECK_FALSE(t.tracer.flush_sync(100ms).complete);
  REQUIRE(eventually([&] { return *lookup.calls == 1; }));
  const auto t0 = clock_type::now();
  CHECK_FALSE(t.tracer.shutdown(300ms).complete);
  const auto took = ms_since(t0);
  CHECK(took >= 250);
  CHECK(took < 1000);
  const auto s = t.tracer.stats();
  CHECK(s.exported == 0);
  CHECK(s.dropped_exporter == 3);
  CHECK(server.request_count() == 0);
}

TEST_CASE("honeycomb net: a hanging host name lookup is bounded by connect_timeout; retries share it") {
  loopback_server server;
  blocking_lookup lookup;
  resolver_override r(lookup.function());
  auto o = fast_options("http://slow-dns.test:" + std::to_string(server.port()));
  o.http.connect_timeout = 200ms;
  o.http.retry.max_attempts = 2;
  net_tracer t(o);
  t.produce(3);
  const auto t0 = clock_type::now();
  REQUIRE(t.tracer.flush_sync(5s).complete);
  CHECK(ms_since(t0) < 1500);
  CHECK(t.tracer.stats().dropped_exporter == 3);
  const auto hs = t.exporter->stats();
  CHECK(hs.connect_failures == 2);
  CHECK(*lookup.calls == 1);  // the retry waits for the lookup already running
  INFO(t.log->all());
  CHECK(t.log->contains("resolve slow-dns.test: timed out"));
}
