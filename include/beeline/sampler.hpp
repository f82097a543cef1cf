// The Beeline's deterministic sampler: the same trace id gets the same decision in every service and
// language.
#pragma once

#include <cstdint>
#include <string_view>

namespace beeline {

/// The largest hash prefix kept at `sample_rate`: JavaScript's `((2^32 - 1) / rate) >>> 0`, reproduced
/// exactly (so rate 0 gives 0, and rates below 1 wrap around as they do in Node).
std::uint32_t deterministic_upper_bound(double sample_rate) noexcept;

/// Whether a trace is kept at `sample_rate`: the first four bytes of SHA-1(trace id), big-endian, are at most
/// `deterministic_upper_bound(sample_rate)`. Identical to the Node Beeline's decision for every id and rate.
bool deterministic_keep(std::string_view trace_id, double sample_rate) noexcept;

}  // namespace beeline
