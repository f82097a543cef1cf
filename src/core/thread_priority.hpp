// Lowering the scheduling priority of the tracer's own threads (the export worker, the HTTP client), so that
// on a busy machine the application's threads run first: exporting waits for idle CPU, and if it falls too
// far behind the queue fills and spans are dropped and counted, instead of the application slowing down.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace beeline::detail {

/// Adds `nice` (0 to 19) to the calling thread's nice value (Linux: per thread). Best effort: a failure (a
/// sandbox refusing it) leaves the priority as it was.
inline void lower_this_thread_priority(int nice) noexcept {
  if (nice <= 0) return;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  const int current = ::getpriority(PRIO_PROCESS, tid);
  ::setpriority(PRIO_PROCESS, tid, current + (nice > 19 ? 19 : nice));
}

}  // namespace beeline::detail
