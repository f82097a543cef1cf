// Private: checking a configured CA file when an exporter is made, so a path that cannot be used is refused
// at `init` instead of failing every request later.
#pragma once

#include <string>

namespace beeline::detail {

/// Whether `path` can be read and holds at least one PEM certificate; otherwise false with `error` saying
/// why.
bool check_ca_file(const std::string& path, std::string& error);

}  // namespace beeline::detail
