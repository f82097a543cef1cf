// Private: stack symbolization set-up shared by the client and stacktrace.cpp.
#pragma once

namespace beeline::highlight::detail {

/// Resolves one stack so the symbolizer has read the program's debug information before the first error
/// needs it. Called on a client's own thread; cheap after the first call in the process.
void warm_up_symbolizer() noexcept;

}  // namespace beeline::highlight::detail
