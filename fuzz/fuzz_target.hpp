// What every fuzz target shares: a failed property aborts, so libFuzzer keeps the input and prints the stack.
#pragma once

#include "propagation_properties.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace beeline::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Aborts with the message unless it is empty (every property held).
inline void require(const std::string& failure) {
  if (failure.empty()) return;
  std::fprintf(stderr, "\n== property failed ==\n%s\n", failure.c_str());
  std::abort();
}

}  // namespace beeline::fuzz
