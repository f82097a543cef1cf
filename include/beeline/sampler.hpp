// Samplers. The Beeline's deterministic sampler: the same trace id gets the same decision in every service
// and language. The OpenTelemetry SDK samplers (`OTEL_TRACES_SAMPLER`): decided once when a trace starts, and
// the decision travels downstream in the W3C sampled flag.
#pragma once

#include <beeline/trace_context.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beeline {

/// The largest hash prefix kept at `sample_rate`: JavaScript's `((2^32 - 1) / rate) >>> 0`, reproduced
/// exactly (so rate 0 gives 0, and rates below 1 wrap around as they do in Node).
std::uint32_t deterministic_upper_bound(double sample_rate) noexcept;

/// Whether a trace is kept at `sample_rate`: the first four bytes of SHA-1(trace id), big-endian, are at most
/// `deterministic_upper_bound(sample_rate)`. Identical to the Node Beeline's decision for every id and rate.
bool deterministic_keep(std::string_view trace_id, double sample_rate) noexcept;

/// One of the OpenTelemetry SDK samplers, by its `OTEL_TRACES_SAMPLER` name.
struct otel_sampler {
  enum class kind : std::uint8_t {
    always_on,                ///< keep every trace
    always_off,               ///< keep none
    traceidratio,             ///< keep `ratio` of the traces, by trace id (`traceidratio_keep`)
    parentbased_always_on,    ///< an upstream parent's sampled flag decides; a root is kept
    parentbased_always_off,   ///< an upstream parent's sampled flag decides; a root is dropped
    parentbased_traceidratio  ///< an upstream parent's sampled flag decides; a root by `traceidratio_keep`
  };
  kind sampler = kind::parentbased_always_on;
  double ratio = 1;  ///< for the two `traceidratio` kinds; clamped to [0, 1]

  friend bool operator==(const otel_sampler&, const otel_sampler&) = default;
};

/// The decision of `traceidratio` as the OpenTelemetry Go SDK makes it: the trace id's last 16 hex digits
/// (its lower 8 bytes, big-endian) shifted right by one are below `ratio * 2^63`. Ratios of 1 and above keep
/// every trace, 0 and below (and NaN) none. An id that is not 32 hex digits (an upstream AWS or custom id) is
/// decided by `deterministic_keep(id, 1 / ratio)` instead, so it is still the same decision in every service.
bool traceidratio_keep(std::string_view trace_id, double ratio) noexcept;

/// Whether a new trace is kept. `upstream` is the context it continues (nullptr, or an empty trace id, for a
/// root); the `parentbased_*` samplers follow its sampled flag (bit 0 of `trace_flags`).
bool otel_sample(const otel_sampler& s, std::string_view trace_id, const trace_context* upstream) noexcept;

/// The Honeycomb sample rate a kept trace's events carry: `1 / ratio`, rounded, when the ratio decided,
/// else 1.
std::uint32_t otel_sample_rate(const otel_sampler& s, const trace_context* upstream) noexcept;

/// Reads `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` values (names as the specification spells them,
/// ASCII case-insensitive, surrounding spaces ignored). nullopt, with the reason in `error`, for an unknown
/// or unsupported name. A ratio argument that is missing, not a number or outside [0, 1] gives ratio 1 (the
/// specification's default), with the reason in `error` when it was set.
std::optional<otel_sampler> parse_otel_sampler(std::string_view name, std::string_view arg,
                                               std::string& error);

}  // namespace beeline
