// Shared by the benchmarks that encode without sending: a batch as the Honeycomb exporter's request body.
#pragma once

#include <beeline/exporter.hpp>

#include <span>
#include <string>

namespace bench {
/// Appends `batch` as a Honeycomb batch body: a JSON array of events, without per-event datasets.
inline void append_honeycomb_batch(std::string& out, std::span<const beeline::event> batch) {
  out.push_back('[');
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (i) out.push_back(',');
    beeline::append_event_json(batch[i], out, false);
  }
  out.push_back(']');
}
}  // namespace bench
