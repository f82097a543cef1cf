// Private: how application threads wake the export worker without a lock and without lost wake-ups.
//
// A counter the worker sleeps on with a Linux futex. The worker reads the counter, re-checks its conditions,
// then sleeps only if the counter is unchanged; a notify in between bumps it, so the sleep returns at once. A
// condition variable notified without its mutex can lose exactly that wake-up, which let the queue back up.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace beeline::detail {

class wake_signal {
 public:
  /// The value to pass to `wait_until`, read before re-checking the conditions to sleep on.
  std::uint32_t prepare() const noexcept { return seq_.load(std::memory_order_seq_cst); }

  /// Sleeps until notified after `prepare` returned `seen`, or until `deadline`.
  void wait_until(std::uint32_t seen, std::chrono::steady_clock::time_point deadline) noexcept {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<std::time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    // Spurious returns (EINTR, EAGAIN) are fine: the caller re-checks its conditions.
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
  }

  /// Wakes the sleeper, if any.
  void notify() noexcept {
    seq_.fetch_add(1, std::memory_order_seq_cst);
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

 private:
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  std::atomic<std::uint32_t> seq_{0};
};

}  // namespace beeline::detail
