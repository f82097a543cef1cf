// Private: asking for a cache line before writing it.
#pragma once

namespace beeline::detail {

/// Asks for the line holding `p` in the state that allows writing it. `__builtin_prefetch(p, 1)` emits
/// PREFETCHW only when the compiler targets an ISA that has it, which the default x86-64 target does not: it
/// falls back to PREFETCHT0, which fetches a line another core last wrote in the shared state, so the first
/// store to it still waits for that core to give it up. PREFETCHW is emitted directly: a CPU without it runs
/// its opcode (0F 0D) as a no-op, as Intel's did before Broadwell.
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

}  // namespace beeline::detail
