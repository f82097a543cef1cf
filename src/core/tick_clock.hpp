// Private: the clock spans read at start and finish.
//
// Where the kernel itself keeps time with the TSC (its clock source is "tsc": invariant and synchronised
// across CPUs), a span reads the TSC directly, about a third of the cost of clock_gettime here; ticks become
// steady-clock nanoseconds on the export worker, with a rate measured against the steady clock and refined
// over the process's life. Anywhere else a tick is simply a steady-clock nanosecond; the environment variable
// BEELINE_TICK_CLOCK=steady chooses that path on a TSC machine too (to measure it, or to rule the TSC out).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace beeline::detail {

struct tick_calibration {
  std::atomic<bool> use_tsc{false};
  std::uint64_t tsc_origin = 0;
  std::int64_t steady_origin_ns = 0;
  std::atomic<double> ns_per_tick{1.0};
};

/// The process-wide calibration; `init_tick_clock` fills it once.
extern tick_calibration tick_state;

/// Decides TSC or steady clock and measures the TSC rate (about 2 ms, once per process). Thread-safe.
void init_tick_clock() noexcept;
/// Refines the TSC rate against the steady clock; called by export workers between batches.
void recalibrate_tick_clock() noexcept;

inline std::int64_t steady_clock_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Now, in ticks. Cheap enough for every span start and finish.
inline std::uint64_t ticks_now() noexcept {
#if defined(__x86_64__)
  if (tick_state.use_tsc.load(std::memory_order_relaxed)) return __rdtsc();
#endif
  return static_cast<std::uint64_t>(steady_clock_ns());
}

/// Ticks to steady-clock nanoseconds.
inline std::int64_t ticks_to_steady_ns(std::uint64_t ticks) noexcept {
  if (!tick_state.use_tsc.load(std::memory_order_relaxed)) return static_cast<std::int64_t>(ticks);
  const double rate = tick_state.ns_per_tick.load(std::memory_order_relaxed);
  const auto delta = static_cast<double>(static_cast<std::int64_t>(ticks - tick_state.tsc_origin));
  return tick_state.steady_origin_ns + static_cast<std::int64_t>(delta * rate);
}

}  // namespace beeline::detail
