// Counters a user can read to see what the tracer did with their spans, and what `flush` reports.
#pragma once

#include <cstdint>

namespace beeline {

/// A snapshot of the tracer's counters since it was created. Every span that finished is, eventually, either
/// exported or counted in exactly one `dropped_*` counter.
struct stats {
  std::uint64_t enqueued = 0;                ///< spans accepted into the export queue
  std::uint64_t exported = 0;                ///< events the exporter reported as delivered
  std::uint64_t dropped_queue_full = 0;      ///< spans dropped because the export queue was full
  std::uint64_t dropped_sampler = 0;         ///< spans the sampler (deterministic or hook) did not keep
  std::uint64_t dropped_presend = 0;         ///< events the presend hook dropped
  std::uint64_t dropped_hook_error = 0;      ///< events dropped because a user hook threw
  std::uint64_t dropped_exporter = 0;        ///< events the exporter failed to deliver
  std::uint64_t dropped_after_shutdown = 0;  ///< spans finished after the tracer shut down
  std::uint64_t truncated_values = 0;        ///< string values cut to `config::max_value_bytes`
  std::uint64_t truncated_keys = 0;          ///< keys cut to `config::max_key_bytes`
  /// fields refused: past `config::max_fields_per_span` or `max_span_bytes`, or a key that cutting to
  /// `config::max_key_bytes` would make empty, one of the tracer's own, or another field's
  std::uint64_t dropped_fields = 0;
  std::uint64_t invalid_json_values = 0;   ///< `raw_json` values that were not valid JSON (sent as null)
  std::uint64_t invalid_utf8_values = 0;   ///< strings with invalid UTF-8 (bad bytes sent as U+FFFD)
  std::uint64_t spans_outside_trace = 0;   ///< `start_span` calls with no active trace (no span made)
  std::uint64_t context_outside_span = 0;  ///< `add_context` calls with no current span (nothing added)
  std::uint64_t spans_not_started = 0;  ///< spans refused: every record or trace state in use (memory bound)
  std::uint64_t out_of_order_finishes = 0;  ///< spans finished while a span started after them was open

  /// Every span or event that was not exported, whatever the reason.
  std::uint64_t dropped() const noexcept {
    return dropped_queue_full + dropped_sampler + dropped_presend + dropped_hook_error + dropped_exporter +
           dropped_after_shutdown;
  }
};

/// What a flush saw happen to the spans finished before it was called.
struct flush_result {
  bool complete = false;       ///< every span finished before the call was exported or dropped
  std::uint64_t exported = 0;  ///< events exported while the flush waited
  std::uint64_t dropped = 0;   ///< spans or events dropped while the flush waited
};

}  // namespace beeline
