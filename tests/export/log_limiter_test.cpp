// The log limiter behind the tracer's and Highlight's failure lines: the first occurrence of a reason in
// full, then one summary per reason and interval with the counts, quiet reasons forgotten, and a bounded
// number of reasons.
#include "export/log_limiter.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using beeline::detail::log_limiter;
using namespace std::chrono_literals;

namespace {

struct captured {
  std::vector<std::string> lines;
  log_limiter::sink sink() {
    return [this](beeline::log_level, std::string_view m) { lines.emplace_back(m); };
  }
};

void fail(log_limiter& l, captured& c, std::string_view reason, std::uint64_t events,
          log_limiter::clock::time_point at) {
  l.note(
      c.sink(), beeline::log_level::warning, reason, events, "events", "batches",
      [&] { return "dropped " + std::to_string(events) + " events: " + std::string(reason); }, at);
}

}  // namespace

TEST_CASE("log limiter: the first occurrence at once, then one summary per interval with counts") {
  log_limiter l(10s);
  captured c;
  const auto t0 = log_limiter::clock::now();
  fail(l, c, "HTTP 500", 50, t0);
  REQUIRE(c.lines == std::vector<std::string>{"dropped 50 events: HTTP 500"});
  for (int i = 1; i <= 400; ++i)
    fail(l, c, "HTTP 500", 50, t0 + i * 10ms);  // 4 s of failures: counted only
  CHECK(c.lines.size() == 1);
  CHECK(l.next_due() == t0 + 10s);
  l.tick(c.sink(), false, t0 + 9s);
  CHECK(c.lines.size() == 1);
  l.tick(c.sink(), false, t0 + 10s);
  REQUIRE(c.lines.size() == 2);
  CHECK(c.lines[1] == "HTTP 500 (and 20000 more events in 400 batches in the last 10.0 s)");
  CHECK(l.next_due() == log_limiter::clock::time_point::max());
}

TEST_CASE(
    "log limiter: reasons are limited separately; a reason quiet for an interval is logged in full again") {
  log_limiter l(1s);
  captured c;
  const auto t0 = log_limiter::clock::now();
  fail(l, c, "HTTP 500", 1, t0);
  fail(l, c, "connect: Connection refused", 2, t0 + 1ms);
  CHECK(c.lines.size() == 2);
  fail(l, c, "HTTP 500", 3, t0 + 2s);  // an interval later, nothing pending: in full
  REQUIRE(c.lines.size() == 3);
  CHECK(c.lines[2] == "dropped 3 events: HTTP 500");
  fail(l, c, "HTTP 500", 4, t0 + 2100ms);
  l.tick(c.sink(), true, t0 + 2200ms);  // final: every pending summary now
  REQUIRE(c.lines.size() == 4);
  CHECK(c.lines[3] == "HTTP 500 (and 4 more events in 1 batches in the last 0.2 s)");
}

TEST_CASE("log limiter: beyond max_reasons, new reasons share one summary") {
  log_limiter l(1h, 2);
  captured c;
  const auto t0 = log_limiter::clock::now();
  fail(l, c, "a", 1, t0);
  fail(l, c, "b", 1, t0);
  for (int i = 0; i < 100; ++i)
    fail(l, c, "changing detail " + std::to_string(i), 1, t0);
  l.tick(c.sink(), true, t0 + 1s);
  INFO(c.lines.size());
  CHECK(c.lines.size() <= 4);
  CHECK(c.lines.back().find("other reasons (and ") != std::string::npos);
}
