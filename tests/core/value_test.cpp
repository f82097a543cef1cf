// field_value (borrowed) and value (owned): which JSON kind each C++ argument becomes, and equality.
#include <beeline/value.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

using beeline::field;
using beeline::field_value;
using beeline::fields;
using beeline::raw_json;
using beeline::value;
using beeline::value_kind;

namespace {

// What a `fields` argument turns its values into, as `add_context({{...}})` sees them.
value_kind kind_in_fields(fields f) {
  return f.begin()->value.kind();
}

}  // namespace

TEST_CASE("value: a default field_value and nullptr are null", "[value]") {
  CHECK(field_value().kind() == value_kind::null);
  CHECK(field_value().is_null());
  CHECK(field_value(nullptr).kind() == value_kind::null);
  CHECK(field_value(nullptr).is_null());
  STATIC_REQUIRE(field_value().kind() == value_kind::null);
}

TEST_CASE("value: bool becomes a boolean", "[value]") {
  const field_value t(true);
  const field_value f(false);
  CHECK(t.kind() == value_kind::boolean);
  CHECK(t.as_bool());
  CHECK(f.kind() == value_kind::boolean);
  CHECK_FALSE(f.as_bool());
  CHECK_FALSE(t.is_null());
}

TEST_CASE("value: a string literal is a string, not a bool", "[value]") {
  // const char* converts to bool by a standard conversion; the const char* overload must win.
  const field_value v("yes");
  CHECK(v.kind() == value_kind::string);
  CHECK(v.as_string() == "yes");
  CHECK(kind_in_fields({{"k", "text"}}) == value_kind::string);
  const char* p = "pointer";
  CHECK(field_value(p).kind() == value_kind::string);
  CHECK(field_value(p).as_string() == "pointer");
  CHECK(value("owned").kind() == value_kind::string);
  CHECK(value("owned").view().as_string() == "owned");
  // A bool still is a bool inside a fields list.
  CHECK(kind_in_fields({{"k", false}}) == value_kind::boolean);
}

TEST_CASE("value: a null const char* is null, not an empty string", "[value]") {
  const char* p = nullptr;
  const field_value v(p);
  CHECK(v.kind() == value_kind::null);
  CHECK(v.as_string().empty());
  CHECK(value(p).kind() == value_kind::null);
}

TEST_CASE("value: std::string and string_view are borrowed strings", "[value]") {
  const std::string s = "hello world";
  const field_value from_string(s);
  CHECK(from_string.kind() == value_kind::string);
  CHECK(from_string.as_string() == "hello world");
  CHECK(from_string.as_string().data() == s.data());  // a view, not a copy

  const std::string_view sv = std::string_view(s).substr(6);
  const field_value from_view(sv);
  CHECK(from_view.kind() == value_kind::string);
  CHECK(from_view.as_string() == "world");
  CHECK(from_view.as_string().data() == s.data() + 6);

  // Embedded NUL bytes are part of the string.
  const std::string with_nul("a\0b", 3);
  CHECK(field_value(with_nul).as_string().size() == 3);
  CHECK(kind_in_fields({{"k", s}}) == value_kind::string);
}

TEST_CASE("value: signed and unsigned integers become integers", "[value]") {
  CHECK(field_value(42).kind() == value_kind::integer);
  CHECK(field_value(42).as_int() == 42);
  CHECK(field_value(-7).as_int() == -7);
  CHECK(field_value(static_cast<short>(-3)).as_int() == -3);
  CHECK(field_value(static_cast<signed char>(-100)).as_int() == -100);
  CHECK(field_value(static_cast<unsigned char>(200)).as_int() == 200);
  CHECK(field_value(4000000000u).kind() == value_kind::integer);
  CHECK(field_value(4000000000u).as_int() == 4000000000);
  CHECK(field_value(std::numeric_limits<std::int64_t>::min()).as_int() ==
        std::numeric_limits<std::int64_t>::min());
  CHECK(field_value(std::numeric_limits<std::int64_t>::max()).as_int() ==
        std::numeric_limits<std::int64_t>::max());
  CHECK(field_value(std::uint64_t{5}).kind() == value_kind::integer);
  CHECK(field_value(std::uint64_t{5}).as_int() == 5);
  STATIC_REQUIRE(field_value(7L).kind() == value_kind::integer);
}

TEST_CASE("value: uint64 up to INT64_MAX stays an integer", "[value]") {
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const field_value v(max);
  CHECK(v.kind() == value_kind::integer);
  CHECK(v.as_int() == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("value: uint64 above INT64_MAX becomes a double, never a negative integer", "[value]") {
  constexpr auto above = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1;
  const field_value v(above);
  CHECK(v.kind() == value_kind::floating);
  CHECK(v.as_double() == 9223372036854775808.0);

  const field_value top(std::numeric_limits<std::uint64_t>::max());
  CHECK(top.kind() == value_kind::floating);
  CHECK(top.as_double() == 18446744073709551615.0);
  CHECK(top.as_double() > 0);

  // The owned value follows the same rule.
  const value owned(std::numeric_limits<std::uint64_t>::max());
  CHECK(owned.kind() == value_kind::floating);
  CHECK(owned.view().as_double() == 18446744073709551615.0);
  STATIC_REQUIRE(field_value(std::numeric_limits<std::uint64_t>::max()).kind() == value_kind::floating);
}

TEST_CASE("value: float and double become floating", "[value]") {
  CHECK(field_value(1.5).kind() == value_kind::floating);
  CHECK(field_value(1.5).as_double() == 1.5);
  CHECK(field_value(0.25f).kind() == value_kind::floating);
  CHECK(field_value(0.25f).as_double() == 0.25);
  CHECK(field_value(-0.0).kind() == value_kind::floating);
  CHECK(kind_in_fields({{"k", 2.0}}) == value_kind::floating);
}

TEST_CASE("value: raw_json is kept as JSON text", "[value]") {
  const field_value v(raw_json{R"({"a":[1,2]})"});
  CHECK(v.kind() == value_kind::json);
  CHECK(v.as_string() == R"({"a":[1,2]})");
  const value owned = value::json("[1,2,3]");
  CHECK(owned.kind() == value_kind::json);
  CHECK(owned.view().kind() == value_kind::json);
  CHECK(owned.view().as_string() == "[1,2,3]");
}

TEST_CASE("value: field_value equality compares kind and content", "[value]") {
  CHECK(field_value() == field_value(nullptr));
  CHECK(field_value(true) == field_value(true));
  CHECK_FALSE(field_value(true) == field_value(false));
  CHECK(field_value(3) == field_value(3L));
  CHECK_FALSE(field_value(3) == field_value(4));
  CHECK(field_value(2.5) == field_value(2.5f));
  CHECK_FALSE(field_value(2.5) == field_value(2.25));

  // Strings compare by content, not by address.
  const std::string a = "same";
  const std::string b = "same";
  CHECK(field_value(a) == field_value(b));
  CHECK(field_value(a) == field_value("same"));
  CHECK_FALSE(field_value(a) == field_value("other"));

  // Different kinds are never equal, even with "equal" content.
  CHECK_FALSE(field_value(1) == field_value(1.0));
  CHECK_FALSE(field_value(true) == field_value(1));
  CHECK_FALSE(field_value(0) == field_value());
  CHECK_FALSE(field_value("") == field_value());
  CHECK_FALSE(field_value("[1]") == field_value(raw_json{"[1]"}));
  CHECK(field_value(raw_json{"[1]"}) == field_value(raw_json{"[1]"}));
  CHECK_FALSE(field_value("true") == field_value(true));
}

TEST_CASE("value: value owns a copy of the string it is given", "[value]") {
  value owned;
  {
    std::string temp = "temporary text that is long enough to live on the heap";
    owned = value(field_value(temp));
    temp.assign(temp.size(), 'x');
  }
  CHECK(owned.kind() == value_kind::string);
  CHECK(owned.view().as_string() == "temporary text that is long enough to live on the heap");

  std::string src = "moved";
  const value from_string(src);
  src = "changed";
  CHECK(from_string.view().as_string() == "moved");
  CHECK(from_string.view().as_string().data() != src.data());
}

TEST_CASE("value: value converts every kind like field_value and views it back", "[value]") {
  CHECK(value().kind() == value_kind::null);
  CHECK(value(nullptr).view().is_null());
  CHECK(value(true).kind() == value_kind::boolean);
  CHECK(value(true).view().as_bool());
  CHECK(value(-12).kind() == value_kind::integer);
  CHECK(value(-12).view().as_int() == -12);
  CHECK(value(0.5).kind() == value_kind::floating);
  CHECK(value(0.5).view().as_double() == 0.5);
  CHECK(value(std::string("s")).kind() == value_kind::string);

  // Copying a borrowed value keeps kind and content, for every kind.
  const field_value samples[] = {field_value(),      field_value(false), field_value(99),
                                 field_value(1e300), field_value("str"), field_value(raw_json{"{}"})};
  for (const field_value& fv : samples) {
    const value v(fv);
    CHECK(v.kind() == fv.kind());
    CHECK(v.view() == fv);
  }
}

TEST_CASE("value: value equality compares kind and content", "[value]") {
  CHECK(value(1) == value(1));
  CHECK_FALSE(value(1) == value(2));
  CHECK_FALSE(value(1) == value(1.0));
  CHECK(value("a") == value(std::string("a")));
  CHECK_FALSE(value("a") == value::json("a"));
  CHECK(value::json("[1]") == value::json("[1]"));
  CHECK(value() == value(nullptr));
  CHECK_FALSE(value() == value(false));

  const beeline::owned_field f1{"k", value(1)};
  const beeline::owned_field f2{"k", value(1)};
  const beeline::owned_field f3{"k", value(2)};
  const beeline::owned_field f4{"j", value(1)};
  CHECK(f1 == f2);
  CHECK_FALSE(f1 == f3);
  CHECK_FALSE(f1 == f4);
  const beeline::field_list l1{f1, f3};
  const beeline::field_list l2{f1, f3};
  const beeline::field_list l3{f3, f1};
  CHECK(l1 == l2);
  CHECK_FALSE(l1 == l3);
}

TEST_CASE("value: a fields list keeps keys and values in order", "[value]") {
  const std::string name = "n";
  const fields f = {{"a", 1}, {"b", "two"}, {"c", name}, {"d", nullptr}, {"e", raw_json{"[]"}}};
  REQUIRE(f.size() == 5);
  const field* it = f.begin();
  CHECK(it[0].key == "a");
  CHECK(it[0].value == field_value(1));
  CHECK(it[1].key == "b");
  CHECK(it[1].value == field_value("two"));
  CHECK(it[2].value.as_string().data() == name.data());
  CHECK(it[3].value.is_null());
  CHECK(it[4].value.kind() == value_kind::json);
}
