#include <beeline/value.hpp>

namespace beeline {

bool operator==(const field_value& a, const field_value& b) noexcept {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case value_kind::null:
      return true;
    case value_kind::boolean:
      return a.num_.b == b.num_.b;
    case value_kind::integer:
      return a.num_.i == b.num_.i;
    case value_kind::floating:
      return a.num_.d == b.num_.d;
    case value_kind::string:
    case value_kind::json:
      return a.str_ == b.str_;
  }
  return false;
}

value::value(field_value v) : kind_(v.kind()) {
  switch (v.kind()) {
    case value_kind::null:
      break;
    case value_kind::boolean:
      num_.b = v.as_bool();
      break;
    case value_kind::integer:
      num_.i = v.as_int();
      break;
    case value_kind::floating:
      num_.d = v.as_double();
      break;
    case value_kind::string:
    case value_kind::json:
      text_.assign(v.as_string());
      break;
  }
}

value value::json(std::string text) {
  value v;
  v.kind_ = value_kind::json;
  v.text_ = std::move(text);
  return v;
}

field_value value::view() const noexcept {
  switch (kind_) {
    case value_kind::null:
      return {};
    case value_kind::boolean:
      return num_.b;
    case value_kind::integer:
      return num_.i;
    case value_kind::floating:
      return num_.d;
    case value_kind::string:
      return std::string_view(text_);
    case value_kind::json:
      return raw_json{text_};
  }
  return {};
}

}  // namespace beeline
