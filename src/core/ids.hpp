// Private: random ids and their hex form.
#pragma once

#include <cstdint>
#include <string_view>

namespace beeline::detail {

/// A non-zero 64-bit random number from this thread's generator (xoshiro256**, seeded from the OS).
std::uint64_t random_id() noexcept;

/// Writes 16 lowercase hex digits.
void to_hex16(std::uint64_t v, char* out) noexcept;

/// Parses exactly 16 hex digits (either case); false otherwise.
bool from_hex16(std::string_view s, std::uint64_t& out) noexcept;

}  // namespace beeline::detail
