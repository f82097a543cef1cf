// Names the library's own threads, so `top -H`, `perf` and debuggers show which thread is the tracer's.
#pragma once

#if defined(__linux__)
#include <pthread.h>
#endif

namespace beeline::detail {

/// Names the calling thread (Linux keeps the first 15 bytes). Best effort: a failure changes nothing else.
inline void name_this_thread(const char* name) noexcept {
#if defined(__linux__)
  (void)pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

}  // namespace beeline::detail
