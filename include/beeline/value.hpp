// Field values: what a span, a trace or a propagated context can carry.
//
// `field_value` is a cheap non-owning view used for arguments (`add_context({{"user", name}})`): strings are
// borrowed for the duration of the call and copied into the span. `value` is the owning counterpart, used
// where a value must outlive the call (trace-level context, `trace_context`). Both cover JSON's types: null,
// bool, 64-bit integer, double, string, and nested JSON (arrays and objects) kept verbatim as JSON text.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beeline {

/// Marks a string as JSON text (an array, object or any JSON value) to be embedded as JSON rather than quoted
/// (written compact, as JSON.stringify(JSON.parse(text)) would write it).
/// Invalid JSON is replaced by null on export and counted in `stats::invalid_json_values`.
struct raw_json {
  std::string_view text;
};

/// The JSON type of a field value.
enum class value_kind : std::uint8_t { null, boolean, integer, floating, string, json };

/// A borrowed field value; cheap to copy, valid as long as the string it views.
class field_value {
 public:
  constexpr field_value() noexcept = default;
  constexpr field_value(std::nullptr_t) noexcept {}
  constexpr field_value(bool b) noexcept : kind_(value_kind::boolean) { num_.b = b; }
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) constexpr field_value(T i) noexcept {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      // Values above INT64_MAX cannot be an int64 in JSON readers that use one; keep them as a double.
      if (i > static_cast<T>(std::numeric_limits<std::int64_t>::max())) {
        kind_ = value_kind::floating;
        num_.d = static_cast<double>(i);
        return;
      }
    }
    kind_ = value_kind::integer;
    num_.i = static_cast<std::int64_t>(i);
  }
  template <std::floating_point T>
  constexpr field_value(T d) noexcept : kind_(value_kind::floating) {
    num_.d = static_cast<double>(d);
  }
  constexpr field_value(std::string_view s) noexcept : kind_(value_kind::string), str_(s) {}
  constexpr field_value(const char* s) noexcept
      : kind_(s ? value_kind::string : value_kind::null), str_(s ? s : "") {}
  field_value(const std::string& s) noexcept : kind_(value_kind::string), str_(s) {}
  constexpr field_value(raw_json j) noexcept : kind_(value_kind::json), str_(j.text) {}

  constexpr value_kind kind() const noexcept { return kind_; }
  constexpr bool is_null() const noexcept { return kind_ == value_kind::null; }
  /// The boolean; meaningful when kind() == boolean.
  constexpr bool as_bool() const noexcept { return num_.b; }
  /// The integer; meaningful when kind() == integer.
  constexpr std::int64_t as_int() const noexcept { return num_.i; }
  /// The double; meaningful when kind() == floating.
  constexpr double as_double() const noexcept { return num_.d; }
  /// The string, or the JSON text when kind() == json.
  constexpr std::string_view as_string() const noexcept { return str_; }

  friend bool operator==(const field_value& a, const field_value& b) noexcept;

 private:
  value_kind kind_ = value_kind::null;
  union {
    bool b;
    std::int64_t i;
    double d;
  } num_{.i = 0};
  std::string_view str_;
};

/// A key and a borrowed value: the element of every `fields` argument.
struct field {
  std::string_view key;
  field_value value;
};

/// The argument type of `start_span`, `add_context` and friends: `{{"key", value}, ...}`.
using fields = std::initializer_list<field>;

/// An owned field value.
class value {
 public:
  value() = default;
  /// Copies a borrowed value.
  explicit value(field_value v);
  value(std::nullptr_t) {}
  value(bool b) : value(field_value(b)) {}
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) value(T i) : value(field_value(i)) {}
  template <std::floating_point T>
  value(T d) : value(field_value(d)) {}
  value(std::string s) : kind_(value_kind::string), text_(std::move(s)) {}
  value(const char* s) : value(field_value(s)) {}
  /// Nested JSON kept as text.
  static value json(std::string text);

  value_kind kind() const noexcept { return kind_; }
  /// A borrowed view of this value, valid while this value lives and is not modified.
  field_value view() const noexcept;

  friend bool operator==(const value& a, const value& b) noexcept { return a.view() == b.view(); }

 private:
  value_kind kind_ = value_kind::null;
  union {
    bool b;
    std::int64_t i;
    double d;
  } num_{.i = 0};
  std::string text_;
};

/// An owned key/value pair.
struct owned_field {
  std::string key;
  beeline::value value;
  friend bool operator==(const owned_field&, const owned_field&) = default;
};

/// Owned fields in insertion order (keys unique).
using field_list = std::vector<owned_field>;

}  // namespace beeline
