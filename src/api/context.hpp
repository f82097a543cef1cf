// Private: helpers over the current slot shared by the API functions.
#pragma once

#include <beeline/detail/context.hpp>
#include <beeline/span.hpp>
#include <beeline/tracer.hpp>

#include "core/span_record.hpp"

namespace beeline::detail {

struct span_access {
  static span_record* record(const span& s) noexcept { return s.rec_; }
  static span make(span_record* rec) noexcept { return span(rec); }
};

struct tracer_access {
  static tracer_core& core(tracer& t) noexcept { return *t.core_; }
};

/// The innermost open span of the slot (stale entries, finished elsewhere, are popped), or null.
span_record* live_top(slot& s) noexcept;

/// The trace the slot is in (its innermost open span's, else its base's), or null.
trace_state* current_trace(slot& s) noexcept;

/// Makes `rec` the innermost open span of `s`.
void push_span(slot& s, span_record* rec) noexcept;

/// Task slots allocated so far, in use or free (for tests: a leak shows as growth).
std::size_t slot_pool_capacity() noexcept;

}  // namespace beeline::detail
