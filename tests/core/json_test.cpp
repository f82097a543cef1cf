// The private JSON writer: string escaping and UTF-8 repair, numbers, RFC 3339 timestamps, JSON validation.
#include "core/json.hpp"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>

using beeline::detail::append_json_double;
using beeline::detail::append_json_int;
using beeline::detail::append_json_string;
using beeline::detail::append_rfc3339_utc;
using beeline::detail::is_valid_json;

namespace {

constexpr std::string_view fffd = "\xEF\xBF\xBD";

struct escaped {
  std::string out;
  bool valid;
};

escaped escape(std::string_view s) {
  escaped e;
  e.valid = append_json_string(e.out, s);
  return e;
}

std::string repeat_fffd(int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s.append(fffd);
  return s;
}

std::string in_quotes(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string dbl(double d) {
  std::string out;
  append_json_double(out, d);
  return out;
}

std::string rfc3339(std::int64_t ns) {
  std::string out;
  append_rfc3339_utc(out, ns);
  return out;
}

}  // namespace

// ---- append_json_string: escaping ----

TEST_CASE("json: plain ASCII is quoted unchanged", "[json]") {
  const auto e = escape("hello, world 123 ~{}[]");
  CHECK(e.valid);
  CHECK(e.out == R"("hello, world 123 ~{}[]")");
  CHECK(escape("").out == R"("")");
}

TEST_CASE("json: string is appended after existing output", "[json]") {
  std::string out = "{\"k\":";
  CHECK(append_json_string(out, "v"));
  CHECK(out == R"({"k":"v")");
}

TEST_CASE("json: quotes and backslashes are escaped", "[json]") {
  const auto e = escape(R"(say "hi" \ C:\path)");
  CHECK(e.valid);
  CHECK(e.out == R"("say \"hi\" \\ C:\\path")");
  CHECK(escape("\"").out == R"("\"")");
  CHECK(escape("\\").out == R"("\\")");
  CHECK(escape("/").out == R"("/")");  // solidus needs no escape
}

TEST_CASE("json: common control characters use their short escapes", "[json]") {
  const auto e = escape("a\nb\rc\td\be\ff");
  CHECK(e.valid);
  CHECK(e.out == R"("a\nb\rc\td\be\ff")");
}

TEST_CASE("json: other control characters become \\u00XX with lowercase hex", "[json]") {
  CHECK(escape(std::string_view("\0", 1)).out == R"("\u0000")");
  CHECK(escape("\x01").out == R"("\u0001")");
  CHECK(escape("\x0b").out == R"("\u000b")");
  CHECK(escape("\x1f").out == R"("\u001f")");
  CHECK(escape("x\x1by").out == R"("x\u001by")");
  CHECK(escape("\x1f").valid);
  // DEL (0x7f) is not a JSON control character: copied verbatim.
  CHECK(escape("\x7f").out == "\"\x7f\"");
  // Every byte below 0x20 yields valid JSON that decodes to the original byte.
  for (int c = 0; c < 0x20; ++c) {
    const std::string in(1, static_cast<char>(c));
    const auto out = escape(in).out;
    INFO("byte " << c << " -> " << out);
    CHECK(is_valid_json(out));
    simdjson::dom::parser p;
    std::string_view decoded;
    REQUIRE(p.parse(out).get_string().get(decoded) == simdjson::SUCCESS);
    CHECK(decoded == in);
  }
}

TEST_CASE("json: a byte that needs escaping is found at every position of a long string", "[json]") {
  // The scan reads eight bytes at a time: put each byte value at each lane of three words, and between them.
  const auto expected = [](unsigned char c) -> std::string {
    switch (c) {
      case '"':
        return "\\\"";
      case '\\':
        return "\\\\";
      case '\n':
        return "\\n";
      case '\r':
        return "\\r";
      case '\t':
        return "\\t";
      case '\b':
        return "\\b";
      case '\f':
        return "\\f";
      default:
        break;
    }
    if (c < 0x20) {
      static constexpr char hex[] = "0123456789abcdef";
      return std::string("\\u00") + hex[c >> 4] + hex[c & 0xf];
    }
    if (c >= 0x80) return std::string(fffd);  // a lone byte above ASCII is invalid UTF-8
    return std::string(1, static_cast<char>(c));
  };
  for (int c = 0; c < 256; ++c) {
    for (std::size_t at = 0; at < 24; ++at) {
      std::string in(24, 'a');
      in[at] = static_cast<char>(c);
      const auto e = escape(in);
      const std::string want = "\"" + std::string(at, 'a') + expected(static_cast<unsigned char>(c)) +
                               std::string(23 - at, 'a') + "\"";
      INFO("byte " << c << " at " << at);
      REQUIRE(e.out == want);
      CHECK(e.valid == (c < 0x80));
    }
  }
  // Two in one word, and one in the last, partial word.
  CHECK(escape("abc\"de\\fghijklmnopq\n").out == R"("abc\"de\\fghijklmnopq\n")");
}

TEST_CASE(
    "json: strings and keys of every length up to 40, with a byte to escape at every position, are written "
    "alike to a std::string and a text_buffer",
    "[json]") {
  // The all-clean check reads 16 bytes at a time with the last block overlapping, and shorter strings as two
  // overlapping words: every length and every position crosses each of those cases and their edges.
  using beeline::detail::append_json_key;
  using beeline::detail::text_buffer;
  const unsigned char probes[] = {0x00, 0x1f, '"', '\\', 0x80, 0xc3, 0xff, 0x20, 0x7e, 0x7f};
  const auto clean = [](unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; };
  for (std::size_t len = 0; len <= 40; ++len) {
    for (std::size_t at = 0; at < std::max<std::size_t>(len, 1); ++at) {
      for (const unsigned char c : probes) {
        std::string in(len, 'x');
        if (len) in[at] = static_cast<char>(c);
        INFO("length " << len << ", byte " << int(c) << " at " << at);
        std::string as_string = "[";
        text_buffer as_buffer;
        as_buffer.push_back('[');
        const bool v1 = append_json_string(as_string, in);
        const bool v2 = append_json_string(as_buffer, in);
        REQUIRE(v1 == v2);
        REQUIRE(std::string(as_buffer.view()) == as_string);
        // A string that needs nothing escaped is copied as it is.
        if (len == 0 || clean(c))
          REQUIRE(as_string == "[\"" + in + "\"");
        else
          REQUIRE(as_string != "[\"" + in + "\"");
        std::string key_string;
        text_buffer key_buffer;
        REQUIRE(append_json_key(key_string, in, false) == append_json_key(key_buffer, in, false));
        REQUIRE(std::string(key_buffer.view()) == key_string);
        REQUIRE(key_string == "," + as_string.substr(1) + ":");
      }
    }
  }
}

TEST_CASE(
    "json: a text_buffer keeps its contents as it grows, resizes as a string does, and gives memory back "
    "when trimmed",
    "[json]") {
  beeline::detail::text_buffer b;
  std::string want;
  for (int i = 0; i < 5000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    b.append(piece);
    want += piece;
  }
  b.append(3, 'z');
  want += "zzz";
  REQUIRE(std::string(b.view()) == want);
  CHECK(b.capacity() >= want.size());
  b.trim(1024);  // still holds more than that: kept
  CHECK(std::string(b.view()) == want);
  b.clear();
  b.trim(1024);
  CHECK(b.capacity() == 1024);
  b.append("abc");
  CHECK(b.view() == "abc");
  // resize as std::string's: shorter drops the end (the OTLP encoder's rollback), longer appends zeros.
  b.resize(1);
  CHECK(b.view() == "a");
  b.resize(3);
  CHECK(b.view() == std::string_view("a\0\0", 3));
}

// ---- append_json_string: UTF-8 ----

TEST_CASE("json: valid multi-byte UTF-8 is copied unchanged", "[json]") {
  const std::string_view samples[] = {
      "\xC3\xA9",          // é, 2 bytes
      "\xC2\x80",          // U+0080, smallest 2-byte
      "\xDF\xBF",          // U+07FF
      "\xE0\xA0\x80",      // U+0800, smallest 3-byte
      "\xE4\xB8\xAD",      // 中
      "\xED\x9F\xBF",      // U+D7FF, just below the surrogates
      "\xEE\x80\x80",      // U+E000, just above the surrogates
      "\xEF\xBF\xBF",      // U+FFFF
      "\xF0\x90\x80\x80",  // U+10000, smallest 4-byte
      "\xF0\x9F\x90\x9D",  // 🐝
      "\xF4\x8F\xBF\xBF",  // U+10FFFF, the largest code point
      "tr\xC3\xA9"
      "ce-\xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x90\x9D!",
  };
  for (std::string_view s : samples) {
    INFO("input bytes: " << s.size());
    const auto e = escape(s);
    CHECK(e.valid);
    CHECK(e.out == in_quotes(s));
  }
}

TEST_CASE("json: lone continuation byte becomes U+FFFD", "[json]") {
  const auto e = escape("\x80");
  CHECK_FALSE(e.valid);
  CHECK(e.out == in_quotes(fffd));
  const auto mid = escape(
      "a\xBF"
      "b");
  CHECK_FALSE(mid.valid);
  CHECK(mid.out == in_quotes("a" + std::string(fffd) + "b"));
}

TEST_CASE("json: each byte of an overlong encoding becomes U+FFFD", "[json]") {
  // '/' encoded in 2, 3 and 4 bytes.
  CHECK(escape("\xC0\xAF").out == in_quotes(repeat_fffd(2)));
  CHECK_FALSE(escape("\xC0\xAF").valid);
  CHECK(escape("\xC1\xBF").out == in_quotes(repeat_fffd(2)));
  CHECK(escape("\xE0\x80\xAF").out == in_quotes(repeat_fffd(3)));
  CHECK_FALSE(escape("\xE0\x80\xAF").valid);
  CHECK(escape("\xE0\x9F\xBF").out == in_quotes(repeat_fffd(3)));  // U+07FF in 3 bytes
  CHECK(escape("\xF0\x80\x80\xAF").out == in_quotes(repeat_fffd(4)));
  CHECK(escape("\xF0\x8F\xBF\xBF").out == in_quotes(repeat_fffd(4)));  // U+FFFF in 4 bytes
  CHECK_FALSE(escape("\xF0\x8F\xBF\xBF").valid);
}

TEST_CASE("json: UTF-16 surrogate encoded in UTF-8 becomes U+FFFD", "[json]") {
  CHECK(escape("\xED\xA0\x80").out == in_quotes(repeat_fffd(3)));  // U+D800
  CHECK(escape("\xED\xBF\xBF").out == in_quotes(repeat_fffd(3)));  // U+DFFF
  CHECK_FALSE(escape("\xED\xA0\x80").valid);
  // A CESU-8 style surrogate pair: six replacement characters.
  CHECK(escape("\xED\xA0\xBD\xED\xB0\x9D").out == in_quotes(repeat_fffd(6)));
}

TEST_CASE("json: truncated multi-byte sequence becomes U+FFFD", "[json]") {
  CHECK(escape("\xE4\xB8").out == in_quotes(repeat_fffd(2)));
  CHECK_FALSE(escape("\xE4\xB8").valid);
  CHECK(escape("\xC3").out == in_quotes(repeat_fffd(1)));
  CHECK(escape("\xF0\x9F\x90").out == in_quotes(repeat_fffd(3)));
  // Cut short by an ASCII byte: the ASCII byte survives.
  CHECK(escape("\xE4\xB8x").out == in_quotes(repeat_fffd(2) + "x"));
  CHECK(escape("\xF0\x9F\"").out == in_quotes(repeat_fffd(2) + "\\\""));
  // A valid sequence right after a broken one is kept.
  CHECK(escape("\xE4\xC3\xA9").out == in_quotes(std::string(fffd) + "\xC3\xA9"));
}

TEST_CASE("json: code points above U+10FFFF become U+FFFD", "[json]") {
  CHECK(escape("\xF4\x90\x80\x80").out == in_quotes(repeat_fffd(4)));  // U+110000
  CHECK_FALSE(escape("\xF4\x90\x80\x80").valid);
  CHECK(escape("\xF5\x80\x80\x80").out == in_quotes(repeat_fffd(4)));
  CHECK(escape("\xF7\xBF\xBF\xBF").out == in_quotes(repeat_fffd(4)));
  CHECK(escape("\xFE").out == in_quotes(repeat_fffd(1)));
  CHECK(escape("\xFF").out == in_quotes(repeat_fffd(1)));
}

TEST_CASE("json: invalid bytes are replaced while surrounding text is kept", "[json]") {
  const auto e = escape("ok \xC3\xA9 \xFF \"q\"\n");
  CHECK_FALSE(e.valid);
  CHECK(e.out == in_quotes("ok \xC3\xA9 " + std::string(fffd) + " \\\"q\\\"\\n"));
}

TEST_CASE("json: escaping any bytes gives valid JSON that reads back as the input when it was valid UTF-8",
          "[json]") {
  std::mt19937 rng(20240101);
  // Bias towards bytes that start or continue multi-byte sequences and towards control characters.
  const auto random_byte = [&]() -> char {
    switch (rng() % 4) {
      case 0:
        return static_cast<char>(rng() % 0x20);
      case 1:
        return static_cast<char>(0x20 + rng() % 0x60);
      case 2:
        return static_cast<char>(0x80 + rng() % 0x40);
      default:
        return static_cast<char>(0xC0 + rng() % 0x40);
    }
  };
  simdjson::dom::parser parser;
  int valid_inputs = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in(rng() % 12, '\0');
    for (char& c : in)
      c = random_byte();
    // Insert well-formed sequences too, so the valid path is exercised.
    if (iter % 3 == 0) in.insert(rng() % (in.size() + 1), "\xF0\x9F\x90\x9D\xE4\xB8\xAD");
    const bool utf8_ok = simdjson::validate_utf8(in.data(), in.size());
    std::string out;
    const bool ret = append_json_string(out, in);
    INFO("iteration " << iter);
    REQUIRE(ret == utf8_ok);
    REQUIRE(is_valid_json(out));
    std::string_view decoded;
    REQUIRE(parser.parse(out).get_string().get(decoded) == simdjson::SUCCESS);
    if (utf8_ok) {
      ++valid_inputs;
      REQUIRE(decoded == in);
    } else {
      REQUIRE(decoded.find(fffd) != std::string_view::npos);
    }
  }
  CHECK(valid_inputs > 1000);
}

// ---- append_json_double / append_json_int ----

TEST_CASE("json: doubles use the shortest form that reads back exactly", "[json]") {
  CHECK(dbl(0.1) == "0.1");
  CHECK(dbl(1.5) == "1.5");
  CHECK(dbl(-2.25) == "-2.25");
  CHECK(dbl(0.1 + 0.2) == "0.30000000000000004");
  CHECK(dbl(1.0 / 3.0) == "0.3333333333333333");
  CHECK(dbl(123456.789) == "123456.789");
  CHECK(dbl(0.011618) == "0.011618");

  const double samples[] = {0.0,
                            -0.0,
                            1.0,
                            1e21,
                            1e-7,
                            5e-324,
                            2.2250738585072014e-308,
                            std::numeric_limits<double>::max(),
                            -std::numeric_limits<double>::max(),
                            9007199254740993.0,
                            18446744073709551615.0,
                            3.141592653589793,
                            2.718281828459045e-200,
                            6.02214076e23};
  for (double d : samples) {
    const std::string s = dbl(d);
    INFO(d << " -> " << s);
    CHECK(is_valid_json(s));
    CHECK(std::strtod(s.c_str(), nullptr) == d);
    // Shortest: no representation with fewer significant digits reads back as the same double.
    std::string mantissa;
    for (char c : s.substr(0, s.find_first_of("eE")))
      if (c >= '0' && c <= '9') mantissa.push_back(c);
    mantissa.erase(0, mantissa.find_first_not_of('0'));
    mantissa.erase(mantissa.find_last_not_of('0') + 1);
    const int digits = static_cast<int>(mantissa.size());
    if (d != 0 && digits > 1) {
      char shorter[64];
      std::snprintf(shorter, sizeof shorter, "%.*g", digits - 1, d);
      CHECK(std::strtod(shorter, nullptr) != d);
    }
  }
}

TEST_CASE("json: doubles are written as JavaScript's JSON.stringify writes them", "[json]") {
  // ECMAScript Number::toString: plain notation for 1e-7 <= |d| < 1e21, exponent form with a sign beyond.
  CHECK(dbl(1.0) == "1");
  CHECK(dbl(-0.0) == "0");
  CHECK(dbl(100.0) == "100");
  CHECK(dbl(1e20) == "100000000000000000000");
  CHECK(dbl(1e21) == "1e+21");
  CHECK(dbl(1.5e21) == "1.5e+21");
  CHECK(dbl(123456789012345680000.0) == "123456789012345680000");
  CHECK(dbl(18446744073709551615.0) == "18446744073709552000");
  CHECK(dbl(0.000001) == "0.000001");
  CHECK(dbl(1e-7) == "1e-7");
  CHECK(dbl(1.25e-7) == "1.25e-7");
  CHECK(dbl(0.00000123) == "0.00000123");
  CHECK(dbl(-1e-7) == "-1e-7");
  CHECK(dbl(5e-324) == "5e-324");
  CHECK(dbl(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
  CHECK(dbl(6.02214076e23) == "6.02214076e+23");
}

TEST_CASE("json: random doubles round-trip exactly and are valid JSON", "[json]") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 5000; ++i) {
    std::uint64_t bits = rng();
    double d;
    static_assert(sizeof d == sizeof bits);
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string s = dbl(d);
    INFO(s);
    REQUIRE(is_valid_json(s));
    REQUIRE(std::strtod(s.c_str(), nullptr) == d);
  }
}

TEST_CASE("json: a duration in ms from ns is written as the general double writer writes ns / 1e6",
          "[json]") {
  const auto fast = [](std::int64_t ns) {
    std::string out;
    beeline::detail::append_json_ms_from_ns(out, ns);
    return out;
  };
  const auto general = [](std::int64_t ns) { return dbl(static_cast<double>(ns) / 1e6); };
  const std::int64_t edges[] = {0,
                                1,
                                9,
                                10,
                                999'999,
                                1'000'000,
                                1'000'001,
                                1'500'000,
                                123'456'789,
                                100'000'000'000,
                                999'999'999'999'999,
                                1'000'000'000'000'000,
                                1'000'000'000'000'001,
                                std::numeric_limits<std::int64_t>::max(),
                                -1,
                                -1'500'000,
                                std::numeric_limits<std::int64_t>::min()};
  for (const std::int64_t ns : edges) {
    INFO(ns);
    CHECK(fast(ns) == general(ns));
  }
  CHECK(fast(1) == "0.000001");
  CHECK(fast(1'234'500) == "1.2345");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    // Spread over every magnitude a duration has, from a nanosecond to past the fast path's bound.
    const auto ns = static_cast<std::int64_t>(rng() >> (rng() % 64));
    INFO(ns);
    REQUIRE(fast(ns) == general(ns));
  }
}

TEST_CASE("json: NaN and infinities become null", "[json]") {
  CHECK(dbl(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(dbl(-std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(dbl(std::numeric_limits<double>::infinity()) == "null");
  CHECK(dbl(-std::numeric_limits<double>::infinity()) == "null");
  std::string out = "[";
  append_json_double(out, std::numeric_limits<double>::infinity());
  out += "]";
  CHECK(out == "[null]");
  CHECK(is_valid_json(out));
}

TEST_CASE("json: integers are written in full", "[json]") {
  const auto i = [](std::int64_t v) {
    std::string out;
    append_json_int(out, v);
    return out;
  };
  CHECK(i(0) == "0");
  CHECK(i(-1) == "-1");
  CHECK(i(42) == "42");
  CHECK(i(std::numeric_limits<std::int64_t>::max()) == "9223372036854775807");
  CHECK(i(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
}

// ---- append_rfc3339_utc ----

TEST_CASE("json: RFC 3339 timestamps of the epoch and around it", "[json]") {
  CHECK(rfc3339(0) == "1970-01-01T00:00:00.000000000Z");
  CHECK(rfc3339(1) == "1970-01-01T00:00:00.000000001Z");
  CHECK(rfc3339(999'999'999) == "1970-01-01T00:00:00.999999999Z");
  CHECK(rfc3339(1'000'000'000) == "1970-01-01T00:00:01.000000000Z");
}

TEST_CASE("json: RFC 3339 timestamps before the epoch borrow a second", "[json]") {
  CHECK(rfc3339(-1) == "1969-12-31T23:59:59.999999999Z");
  CHECK(rfc3339(-999'999'999) == "1969-12-31T23:59:59.000000001Z");
  CHECK(rfc3339(-1'000'000'000) == "1969-12-31T23:59:59.000000000Z");
  CHECK(rfc3339(-1'000'000'001) == "1969-12-31T23:59:58.999999999Z");
  CHECK(rfc3339(-2'203'891'200'000'000'000) == "1900-03-01T00:00:00.000000000Z");
  CHECK(rfc3339(-2'203'891'201'000'000'000) == "1900-02-28T23:59:59.000000000Z");  // 1900 is not a leap year
}

TEST_CASE("json: RFC 3339 timestamps of known instants with nanosecond digits", "[json]") {
  CHECK(rfc3339(1'704'067'200'123'456'789) == "2024-01-01T00:00:00.123456789Z");
  CHECK(rfc3339(1'709'210'096'000'000'005) == "2024-02-29T12:34:56.000000005Z");
  CHECK(rfc3339(951'868'799'999'999'999) == "2000-02-29T23:59:59.999999999Z");
  CHECK(rfc3339(1'234'567'890'100'000'000) == "2009-02-13T23:31:30.100000000Z");
  CHECK(rfc3339(std::numeric_limits<std::int64_t>::max()) == "2262-04-11T23:47:16.854775807Z");
  CHECK(rfc3339(std::numeric_limits<std::int64_t>::min()) == "1677-09-21T00:12:43.145224192Z");
}

TEST_CASE("json: RFC 3339 timestamp is appended to existing output", "[json]") {
  std::string out = "t=";
  append_rfc3339_utc(out, 0);
  CHECK(out == "t=1970-01-01T00:00:00.000000000Z");
}

// ---- is_valid_json ----

TEST_CASE("json: is_valid_json accepts complete JSON values of every type", "[json]") {
  const std::string_view ok[] = {"{}",
                                 "[]",
                                 R"({"a":[1,2,{"b":null}],"c":"d"})",
                                 R"("string")",
                                 "0",
                                 "-1.5e3",
                                 "true",
                                 "false",
                                 "null",
                                 " [1, 2] \n",
                                 R"("\u00e9\ud83d\udc1d")",
                                 "\"\xC3\xA9\""};
  for (std::string_view s : ok) {
    INFO(s);
    CHECK(is_valid_json(s));
  }
}

TEST_CASE("json: is_valid_json rejects malformed or incomplete text", "[json]") {
  const std::string_view bad[] = {"",
                                  " ",
                                  "{",
                                  "[1,]",
                                  R"({"a":1,})",
                                  "{'a':1}",
                                  R"({"a" 1})",
                                  "tru",
                                  "nul",
                                  "NaN",
                                  "Infinity",
                                  "01",
                                  "1.",
                                  R"("unterminated)",
                                  "\"raw\nnewline\"",
                                  "\"\xFF\"",
                                  R"("\x41")",
                                  "[1] [2]",
                                  "{} x"};
  for (std::string_view s : bad) {
    INFO("'" << s << "'");
    CHECK_FALSE(is_valid_json(s));
  }
}
