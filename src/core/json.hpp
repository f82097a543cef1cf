// Private: the small JSON writer the encoders share. Appends to a reused std::string or `text_buffer`, never
// throws on bad input.
#pragma once

#include <beeline/value.hpp>

#include "core/short_copy.hpp"

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace beeline::detail {

/// A growing byte buffer for encoders. Unlike std::string, growing it does not fill the new bytes first:
/// `extend` hands out room that the caller writes, which is how the JSON writer below copies a key or a
/// string once (a std::string's `resize` writes zeros over the room, through a call, before the copy).
class text_buffer {
 public:
  using value_type = char;
  text_buffer() = default;
  text_buffer(const text_buffer&) = delete;
  text_buffer& operator=(const text_buffer&) = delete;
  ~text_buffer() { std::free(data_); }

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  const char* data() const noexcept { return data_; }
  std::string_view view() const noexcept { return {data_, size_}; }
  void clear() noexcept { size_ = 0; }
  /// `n` more bytes at the end, for the caller to write; throws std::bad_alloc if it cannot grow.
  char* extend(std::size_t n) {
    if (capacity_ - size_ < n) grow(n);
    char* p = data_ + size_;
    size_ += n;
    return p;
  }
  void push_back(char c) { *extend(1) = c; }
  void append(const char* p, std::size_t n) { copy_bytes(extend(n), p, n); }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void append(const char* s) { append(std::string_view(s)); }
  void append(std::size_t n, char c) {
    char* d = extend(n);
    for (std::size_t i = 0; i < n; ++i)
      d[i] = c;
  }
  /// As std::string's: shorter drops the end, longer appends zeros.
  void resize(std::size_t n) {
    if (n <= size_) {
      size_ = n;
      return;
    }
    append(n - size_, '\0');
  }
  /// Gives back memory beyond `keep` bytes (after an unusually large event).
  void trim(std::size_t keep) noexcept;

 private:
  void grow(std::size_t n);
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// Appends what `buffer` holds to `out` and empties it, giving back its memory beyond 64 KiB (after an
/// unusually large event): how an encoder that writes each event into a buffer of its thread's hands it to a
/// body.
void move_into(text_buffer& buffer, std::string& out);

/// `n` more bytes at the end of `out`, for the caller to write.
inline char* extend(std::string& out, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + n);
  return out.data() + at;
}
inline char* extend(text_buffer& out, std::size_t n) {
  return out.extend(n);
}

// Each function below is defined for both `Out = std::string` and `Out = text_buffer`.

/// Appends `s` as a quoted JSON string. Invalid UTF-8 bytes become U+FFFD; returns false if there were any.
template <class Out>
bool append_json_string(Out& out, std::string_view s);
/// Appends an object member's key and its colon (`"key":`), after a comma unless `first`. Returns false if
/// the key held invalid UTF-8 (written as U+FFFD).
template <class Out>
bool append_json_key(Out& out, std::string_view key, bool first = false);
/// Appends a number as JavaScript's JSON.stringify does (the shortest form that reads back exactly, plain
/// notation from 1e-7 to 1e21, `1e+21` style beyond); NaN and infinities become null.
template <class Out>
void append_json_double(Out& out, double d);
template <class Out>
void append_json_int(Out& out, std::int64_t i);
/// Appends `ns / 1e6` exactly as `append_json_double(out, static_cast<double>(ns) / 1e6)` does (a duration in
/// milliseconds), without the general shortest-digits search for the durations that need none.
template <class Out>
void append_json_ms_from_ns(Out& out, std::int64_t ns);
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
template <class Out>
void append_js_json(Out& out, const simdjson::dom::element& el);
/// The same from text; false (and nothing written) if `text` is not JSON.
template <class Out>
bool append_js_json(Out& out, std::string_view text);
/// Appends a field value as JSON: nested JSON compact, as JSON.stringify(JSON.parse(text)) writes it, or null
/// (setting `invalid_json`) if it is not JSON. Returns false if a string held invalid UTF-8 (written as
/// U+FFFD).
template <class Out>
bool append_json_value(Out& out, field_value v, bool& invalid_json);
/// Whether `text` is one complete, valid JSON value.
bool is_valid_json(std::string_view text);
/// Appends an RFC 3339 UTC timestamp with nanoseconds: 2026-11-26T04:26:14.123456789Z.
template <class Out>
void append_rfc3339_utc(Out& out, std::int64_t unix_ns);

#define BEELINE_JSON_WRITER(Out)                                            \
  extern template bool append_json_string(Out&, std::string_view);          \
  extern template bool append_json_key(Out&, std::string_view, bool);       \
  extern template void append_json_double(Out&, double);                    \
  extern template void append_json_int(Out&, std::int64_t);                 \
  extern template void append_json_ms_from_ns(Out&, std::int64_t);          \
  extern template void append_js_json(Out&, const simdjson::dom::element&); \
  extern template bool append_js_json(Out&, std::string_view);              \
  extern template bool append_json_value(Out&, field_value, bool&);         \
  extern template void append_rfc3339_utc(Out&, std::int64_t);
BEELINE_JSON_WRITER(std::string)
BEELINE_JSON_WRITER(text_buffer)
#undef BEELINE_JSON_WRITER

}  // namespace beeline::detail
