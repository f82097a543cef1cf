// What `init` reads from the environment: the OpenTelemetry SDK variables (`OTEL_*`) and the Beeline's
// (`HONEYCOMB_*`), each used only where the config leaves the value unset. Reading goes through a lookup
// function, so tests give their own environment instead of changing the process's.
#pragma once

#include <beeline/config.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace beeline::detail {

/// A variable's value, or nullopt when it is not set.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

/// Reads the process environment (`getenv`).
std::optional<std::string> process_env(std::string_view name);

/// What the environment decided besides the config's values.
struct env_outcome {
  bool disabled = false;  ///< `OTEL_SDK_DISABLED=true`: no tracer is made
};

/// Completes `cfg` from the environment: explicit values in `cfg` win, then the environment, then the
/// library's defaults. A malformed value is reported (warning) through `report` and ignored, never fatal.
/// May throw `std::invalid_argument` only where making an exporter the environment asked for fails after its
/// settings were checked (as `init` fails for a bad explicit setting).
env_outcome apply_environment(config& cfg, const env_lookup& lookup, const log_hook& report);

}  // namespace beeline::detail
