// Shared by the benchmark programs' reporters: time-unit conversion.
#pragma once

#include <benchmark/benchmark.h>

namespace bench {
/// A Google Benchmark time in nanoseconds.
inline double to_ns(double t, benchmark::TimeUnit unit) {
  switch (unit) {
    case benchmark::kSecond:
      return t * 1e9;
    case benchmark::kMillisecond:
      return t * 1e6;
    case benchmark::kMicrosecond:
      return t * 1e3;
    case benchmark::kNanosecond:
      return t;
  }
  return t;
}
}  // namespace bench
