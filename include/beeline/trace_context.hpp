// The part of a trace that crosses process boundaries: what propagation headers carry in and out.
#pragma once

#include <beeline/value.hpp>

#include <cstdint>
#include <string>

namespace beeline {

/// A trace as seen from outside the process: the ids a downstream service continues from, the Honeycomb
/// dataset, and the trace-level fields (the Beeline's `customContext`). Ids are kept verbatim, so ids from
/// other tracers (AWS `1-...`, uuids) survive a round trip.
struct trace_context {
  std::string trace_id;          ///< the trace id; 32 lowercase hex for traces this library starts
  std::string parent_id;         ///< the span id of the span to continue from (16 lowercase hex for ours)
  std::string dataset;           ///< Honeycomb dataset carried by classic-key propagation; empty if none
  field_list fields;             ///< trace-level fields; keys are used verbatim (no `app.` prefix added)
  std::uint8_t trace_flags = 1;  ///< W3C trace flags (bit 0: sampled)
  std::string tracestate;  ///< W3C tracestate (normalized as OpenTelemetry does when read by w3c::unmarshal)

  friend bool operator==(const trace_context&, const trace_context&) = default;
};

}  // namespace beeline
