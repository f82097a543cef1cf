// The span clock: ticks (the TSC where the kernel uses it, else steady nanoseconds) convert to steady time.
#include "core/tick_clock.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace beeline::detail;

TEST_CASE("tick clock: ticks convert to the steady clock within a fraction of a millisecond") {
  init_tick_clock();
  for (int i = 0; i < 5; ++i) {
    const std::int64_t before = steady_clock_ns();
    const std::uint64_t t = ticks_now();
    const std::int64_t after = steady_clock_ns();
    const std::int64_t converted = ticks_to_steady_ns(t);
    CHECK(converted >= before - 200'000);
    CHECK(converted <= after + 200'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    recalibrate_tick_clock();
  }
}

TEST_CASE("tick clock: a measured interval matches the steady clock to within 1%") {
  init_tick_clock();
  const std::uint64_t t0 = ticks_now();
  const std::int64_t s0 = steady_clock_ns();
  while (steady_clock_ns() - s0 < 20'000'000) {
  }
  const std::int64_t s1 = steady_clock_ns();
  const std::uint64_t t1 = ticks_now();
  recalibrate_tick_clock();
  const double measured = static_cast<double>(ticks_to_steady_ns(t1) - ticks_to_steady_ns(t0));
  const double expected = static_cast<double>(s1 - s0);
  CHECK(measured == Approx(expected).epsilon(0.01));
}
