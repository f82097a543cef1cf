// Private: the small JSON writer the encoders share. Appends to a reused std::string, never throws on bad
// input.
#pragma once

#include <beeline/value.hpp>

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace beeline::detail {

/// Appends `s` as a quoted JSON string. Invalid UTF-8 bytes become U+FFFD; returns false if there were any.
bool append_json_string(std::string& out, std::string_view s);
/// Appends an object member's key and its colon (`"key":`), after a comma unless `first`. Returns false if
/// the key held invalid UTF-8 (written as U+FFFD).
bool append_json_key(std::string& out, std::string_view key, bool first = false);
/// Appends a number as JavaScript's JSON.stringify does (the shortest form that reads back exactly, plain
/// notation from 1e-7 to 1e21, `1e+21` style beyond); NaN and infinities become null.
void append_json_double(std::string& out, double d);
void append_json_int(std::string& out, std::int64_t i);
/// Appends `ns / 1e6` exactly as `append_json_double(out, static_cast<double>(ns) / 1e6)` does (a duration in
/// milliseconds), without the general shortest-digits search for the durations that need none.
void append_json_ms_from_ns(std::string& out, std::int64_t ns);
/// `text` with ".0" after every integer literal beyond int64 (negative) or uint64 (positive), and `null` for
/// every number beyond a double's range (JavaScript reads Infinity, which JSON.stringify writes as null).
/// simdjson refuses integers beyond 64 bits, which JSON allows and JSON.stringify writes (1e20 is
/// `100000000000000000000`); widened, they read as the doubles JavaScript would read. Only for text simdjson
/// rejected with NUMBER_ERROR (3.0 reports big integers so).
std::string widen_big_integers(std::string_view text);
/// Parses `text` (retrying once with `widen_big_integers` when simdjson refuses a number) into `root`.
simdjson::error_code parse_json(simdjson::dom::parser& parser, std::string_view text,
                                simdjson::dom::element& root);
/// Writes a parsed value compact, as JSON.stringify(JSON.parse(text)) would: numbers in JavaScript's
/// notation.
void append_js_json(std::string& out, const simdjson::dom::element& el);
/// The same from text; false (and nothing written) if `text` is not JSON.
bool append_js_json(std::string& out, std::string_view text);
/// Appends a field value as JSON: nested JSON compact, as JSON.stringify(JSON.parse(text)) writes it, or null
/// (setting `invalid_json`) if it is not JSON. Returns false if a string held invalid UTF-8 (written as
/// U+FFFD).
bool append_json_value(std::string& out, field_value v, bool& invalid_json);
/// Whether `text` is one complete, valid JSON value.
bool is_valid_json(std::string_view text);
/// Appends an RFC 3339 UTC timestamp with nanoseconds: 2026-11-26T04:26:14.123456789Z.
void append_rfc3339_utc(std::string& out, std::int64_t unix_ns);

}  // namespace beeline::detail
