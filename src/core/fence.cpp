#include "core/fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

namespace beeline::detail {

namespace {
long membarrier(int cmd) noexcept {
  return syscall(SYS_membarrier, cmd, 0, 0);
}
}  // namespace

void asymmetric_fences_init() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer does not model membarrier: keep full fences on both sides so it checks the protocol.
    return;
#else
    const long supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
    if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0) return;
    asymmetric_fences.store(true, std::memory_order_seq_cst);
#endif
  });
}

// Registered during static initialisation, for the task slots' handshake (src/api/context.cpp); before that
// (handlers run by another library's static constructors) `asymmetric_fences` reads false, the safe choice.
[[maybe_unused]] const bool registered_at_start = (asymmetric_fences_init(), true);

void heavy_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Once the process is registered the call has no failure left to report (the kernel refuses only unknown
  // or unregistered commands).
  if (asymmetric_fences.load(std::memory_order_relaxed)) membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
}

}  // namespace beeline::detail
