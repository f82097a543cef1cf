// Private: the small JSON writer the encoders share. Appends to a reused std::string, never throws on bad
// input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace beeline::detail {

/// Appends `s` as a quoted JSON string. Invalid UTF-8 bytes become U+FFFD; returns false if there were any.
bool append_json_string(std::string& out, std::string_view s);
/// Appends a number in the shortest form that reads back exactly; NaN and infinities become null.
void append_json_double(std::string& out, double d);
void append_json_int(std::string& out, std::int64_t i);
/// Whether `text` is one complete, valid JSON value.
bool is_valid_json(std::string_view text);
/// Appends an RFC 3339 UTC timestamp with nanoseconds: 2026-11-26T04:26:14.123456789Z.
void append_rfc3339_utc(std::string& out, std::int64_t unix_ns);

}  // namespace beeline::detail
