// Private: an asymmetric pair of memory fences, for a protocol whose one side runs on every span and whose
// other side runs once (a producer publishing a span and then checking "stopped", against the shutdown that
// sets "stopped" and then drains what was published).
//
// Each side stores one variable and then loads the other; for one of them to see the other's store, both
// need a full fence between the store and the load. A full fence on the span path is a locked instruction,
// which on x86 also waits for every store the span made to reach its cache line: lines the export worker read
// on the other core, far away when the host places the two virtual CPUs apart. With Linux's `membarrier`
// the rare side pays instead: `heavy_fence` makes every running thread of the process execute a full fence,
// so the frequent side needs only a compiler barrier (`light_fence`). Where `membarrier` is not available
// both are full fences.
#pragma once

#include <atomic>

namespace beeline::detail {

/// Whether `heavy_fence` uses `membarrier` (registered on first call of `asymmetric_fences_init`).
inline std::atomic<bool> asymmetric_fences{false};

/// Registers the process for expedited `membarrier`; harmless to call again.
void asymmetric_fences_init() noexcept;

/// The frequent side's fence: a compiler barrier when the rare side uses `membarrier`.
inline void light_fence() noexcept {
  if (asymmetric_fences.load(std::memory_order_relaxed)) [[likely]]
    std::atomic_signal_fence(std::memory_order_seq_cst);
  else
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// The rare side's fence: orders this thread's earlier stores before later loads on every thread that runs
/// `light_fence`.
void heavy_fence() noexcept;

}  // namespace beeline::detail
