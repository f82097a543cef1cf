#include "core/tick_clock.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

namespace beeline::detail {

tick_calibration tick_state;

namespace {

bool kernel_uses_tsc() {
#if defined(__x86_64__)
  // BEELINE_TICK_CLOCK=steady forces the steady clock, as on a machine whose clock source is not the TSC
  // (kvm-clock, hpet, ...): read once, at the first tracer's start.
  if (const char* forced = std::getenv("BEELINE_TICK_CLOCK"); forced && std::strcmp(forced, "steady") == 0)
    return false;
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string source;
  return f && (f >> source) && source == "tsc";
#else
  return false;
#endif
}

}  // namespace

void init_tick_clock() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(__x86_64__)
    bool tsc = false;
    try {
      tsc = kernel_uses_tsc();
    } catch (...) {
    }
    if (!tsc) return;
    tick_state.tsc_origin = __rdtsc();
    tick_state.steady_origin_ns = steady_clock_ns();
    // A first rate over ~2 ms; recalibrate_tick_clock() lengthens the baseline as the process runs.
    std::int64_t now;
    std::uint64_t t;
    do {
      now = steady_clock_ns();
      t = __rdtsc();
    } while (now - tick_state.steady_origin_ns < 2'000'000);
    if (t <= tick_state.tsc_origin) return;
    tick_state.ns_per_tick.store(static_cast<double>(now - tick_state.steady_origin_ns) /
                                     static_cast<double>(t - tick_state.tsc_origin),
                                 std::memory_order_relaxed);
    tick_state.use_tsc.store(true, std::memory_order_release);
#endif
  });
}

void recalibrate_tick_clock() noexcept {
#if defined(__x86_64__)
  if (!tick_state.use_tsc.load(std::memory_order_acquire)) return;
  const std::int64_t now = steady_clock_ns();
  const std::uint64_t t = __rdtsc();
  if (t <= tick_state.tsc_origin || now - tick_state.steady_origin_ns < 2'000'000) return;
  // Several workers may race here; each stores a valid rate over the same origin, so any of them is fine.
  tick_state.ns_per_tick.store(
      static_cast<double>(now - tick_state.steady_origin_ns) / static_cast<double>(t - tick_state.tsc_origin),
      std::memory_order_relaxed);
#endif
}

}  // namespace beeline::detail
