#include "core/json.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <new>

namespace beeline::detail {
namespace {

// The length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not one (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const std::size_t left = s.size() - i;
  const auto cont = [&](std::size_t k) { return (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// How many leading bytes of `s` go into a JSON string as they are: printable ASCII other than `"` and `\`.
// Eight bytes at a time; a word with any byte to look at is finished byte by byte.
std::size_t verbatim_prefix(const char* s, std::size_t n) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  // Each term has a byte's high bit set where that byte is below 0x20, is `"`, or is `\` (exact for
  // bytes below 0x80, which is all that matters once `w & highs` catches the others).
  const auto below = [](std::uint64_t w, std::uint64_t k) { return (w - ones * k) & ~w; };
  const auto equal = [&](std::uint64_t w, std::uint64_t k) { return below(w ^ (ones * k), 1); };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s + i, 8);
    if ((w | below(w, 0x20) | equal(w, '"') | equal(w, '\\')) & highs) break;
  }
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
  }
  return i;
}

// Whether all of `s` goes into a JSON string as it is (nearly every key and value). Sixteen bytes at a time
// (SSE2, which every x86-64 has), the last block overlapping the one before it; a string shorter than that is
// read as two overlapping words, so no byte is looked at on its own and nothing past the string is read.
bool all_verbatim(const char* s, std::size_t n) noexcept {
#if defined(__SSE2__)
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  // A signed byte below 0x20 is a control character or any byte from 0x80 up.
  const auto clean16 = [](__m128i v) {
    const __m128i bad = _mm_or_si128(
        _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return _mm_movemask_epi8(bad) == 0;
  };
  if (n >= 16) {
    for (std::size_t i = 0; i + 16 < n; i += 16)
      if (!clean16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)))) return false;
    return clean16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16)));
  }
  std::uint64_t lo, hi;
  if (n >= 8) {
    std::memcpy(&lo, s, 8);
    std::memcpy(&hi, s + n - 8, 8);
  } else if (n >= 4) {
    std::uint32_t a, b;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + n - 4, 4);
    lo = a | static_cast<std::uint64_t>(b) << 32;
    hi = lo;
  } else {  // up to three bytes, in a word of plain letters
    lo = ones * 'a';
    for (std::size_t i = 0; i < n; ++i)
      lo = (lo & ~(0xffULL << (8 * i))) | static_cast<std::uint64_t>(static_cast<unsigned char>(s[i]))
                                              << (8 * i);
    hi = lo;
  }
  return clean16(_mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo)));
#else
  return verbatim_prefix(s, n) == n;
#endif
}

}  // namespace

template <class Out>
bool append_json_string(Out& out, std::string_view s) {
  if (all_verbatim(s.data(), s.size())) [[likely]] {  // one copy between the quotes
    char* d = extend(out, s.size() + 2);
    d[0] = '"';
    copy_bytes(d + 1, s.data(), s.size());
    d[s.size() + 1] = '"';
    return true;
  }
  std::size_t i = verbatim_prefix(s.data(), s.size());
  static constexpr char hex[] = "0123456789abcdef";
  bool valid = true;
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of bytes copied verbatim
  const auto flush_run = [&] { out.append(s.data() + run, i - run); };
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      i += verbatim_prefix(s.data() + i, s.size() - i);
      continue;
    }
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n) {
        i += n;
        continue;
      }
      flush_run();
      out.append("\xEF\xBF\xBD");  // U+FFFD for each invalid byte
      valid = false;
      run = ++i;
      continue;
    }
    flush_run();
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        out.append(esc, 6);
      }
    }
    run = ++i;
  }
  flush_run();
  out.push_back('"');
  return valid;
}

template <class Out>
bool append_json_key(Out& out, std::string_view key, bool first) {
  if (all_verbatim(key.data(), key.size())) [[likely]] {  // one copy for `,"key":`
    const std::size_t lead = first ? 0 : 1;
    char* d = extend(out, lead + key.size() + 3);
    if (!first) *d++ = ',';
    *d++ = '"';
    copy_bytes(d, key.data(), key.size());
    d[key.size()] = '"';
    d[key.size() + 1] = ':';
    return true;
  }
  if (!first) out.push_back(',');
  const bool valid = append_json_string(out, key);
  out.push_back(':');
  return valid;
}

template <class Out>
void append_json_double(Out& out, double d) {
  if (!std::isfinite(d)) {
    out.append("null");
    return;
  }
  if (d == 0) {  // both zeros: JavaScript prints -0 as 0
    out.push_back('0');
    return;
  }
  // ECMAScript's Number::toString, as JSON.stringify writes numbers: the shortest digits that read back
  // exactly (d1..dk, value 0.d1..dk x 10^n), then plain notation for 1e-7 < |d| < 1e21, exponent otherwise.
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));  // [-]d[.ddd]e[+-]xx
  std::size_t pos = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    pos = 1;
  }
  const std::size_t e = sci.find('e');
  char digits[24];
  std::size_t k = 0;
  for (std::size_t i = pos; i < e; ++i)
    if (sci[i] != '.') digits[k++] = sci[i];
  int exp10 = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exp10);
  const int n = exp10 + 1;
  const int kk = static_cast<int>(k);
  if (kk <= n && n <= 21) {
    out.append(digits, k);
    out.append(static_cast<std::size_t>(n - kk), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits + n, static_cast<std::size_t>(kk - n));
  } else if (-6 < n && n <= 0) {
    out.append("0.");
    out.append(static_cast<std::size_t>(-n), '0');
    out.append(digits, k);
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits + 1, k - 1);
    }
    out.push_back('e');
    out.push_back(n - 1 < 0 ? '-' : '+');
    fmt::format_to(std::back_inserter(out), "{}", n - 1 < 0 ? 1 - n : n - 1);
  }
}

template <class Out>
void append_json_ms_from_ns(Out& out, std::int64_t ns) {
  // Below 1e15 ns the decimal ns / 1e6 has at most 15 significant digits, so it reads back as the double
  // nearest it, and no shorter decimal does (two decimals of 15 digits or fewer never share a double): it is
  // the shortest form, which JavaScript prints in plain notation from 0.000001 up.
  if (ns <= 0 || ns >= 1'000'000'000'000'000) {
    append_json_double(out, static_cast<double>(ns) / 1e6);
    return;
  }
  char buf[32];
  char* d = std::to_chars(buf, buf + sizeof buf, ns / 1'000'000).ptr;
  auto frac = static_cast<unsigned>(ns % 1'000'000);
  if (frac) {
    char digits[6];
    for (int k = 5; k >= 0; --k, frac /= 10)
      digits[k] = static_cast<char>('0' + frac % 10);
    int len = 6;
    while (digits[len - 1] == '0')
      --len;
    *d++ = '.';
    std::memcpy(d, digits, static_cast<std::size_t>(len));
    d += len;
  }
  out.append(buf, static_cast<std::size_t>(d - buf));
}

template <class Out>
void append_json_int(Out& out, std::int64_t i) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, i);
  out.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

namespace {

// Whether an integer literal (optional `-`, then digits) is within int64 (negative) or uint64 (positive).
bool fits_64_bits(std::string_view literal) noexcept {
  const bool negative = !literal.empty() && literal[0] == '-';
  std::string_view digits = literal.substr(negative ? 1 : 0);
  while (digits.size() > 1 && digits[0] == '0')
    digits.remove_prefix(1);
  const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
  return digits.size() < limit.size() || (digits.size() == limit.size() && digits <= limit);
}

}  // namespace

std::string widen_big_integers(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out.push_back(text[i + 1]);
        i += 2;
        continue;
      }
      in_string = c != '"';
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out.push_back(c);
      ++i;
      continue;
    }
    if ((c >= '0' && c <= '9') || c == '-') {
      std::size_t j = i + 1;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9')
        ++j;
      const bool fraction_or_exponent =
          j < text.size() && (text[j] == '.' || text[j] == 'e' || text[j] == 'E');
      if (!fraction_or_exponent) {
        out.append(text, i, j - i);
        if (!fits_64_bits(text.substr(i, j - i))) out.append(".0");
        i = j;
        continue;
      }
      // A fraction or exponent: beyond a double's range JavaScript reads Infinity, which JSON.stringify
      // writes as null.
      std::size_t k = j;
      while (k < text.size() && ((text[k] >= '0' && text[k] <= '9') || text[k] == '.' || text[k] == 'e' ||
                                 text[k] == 'E' || text[k] == '+' || text[k] == '-'))
        ++k;
      const std::string literal(text.substr(i, k - i));
      const double d = std::strtod(literal.c_str(), nullptr);
      out.append(std::isinf(d) ? std::string_view("null") : std::string_view(literal));
      i = k;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

template <class Out>
void append_js_json(Out& out, const simdjson::dom::element& el) {
  switch (el.type()) {
    case simdjson::dom::element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      simdjson::dom::array items;
      if (el.get_array().get(items) != simdjson::SUCCESS) break;
      for (const simdjson::dom::element item : items) {
        if (!first) out.push_back(',');
        first = false;
        append_js_json(out, item);
      }
      out.push_back(']');
      break;
    }
    case simdjson::dom::element_type::OBJECT: {
      out.push_back('{');
      bool first = true;
      simdjson::dom::object members;
      if (el.get_object().get(members) != simdjson::SUCCESS) break;
      for (const auto member : members) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, member.key);
        out.push_back(':');
        append_js_json(out, member.value);
      }
      out.push_back('}');
      break;
    }
    case simdjson::dom::element_type::STRING:
      append_json_string(out, el.get_string().value_unsafe());
      break;
    case simdjson::dom::element_type::INT64:
      append_json_int(out, el.get_int64().value_unsafe());
      break;
    case simdjson::dom::element_type::UINT64:
      fmt::format_to(std::back_inserter(out), "{}", el.get_uint64().value_unsafe());
      break;
    case simdjson::dom::element_type::DOUBLE:
      append_json_double(out, el.get_double().value_unsafe());
      break;
    case simdjson::dom::element_type::BOOL:
      out.append(el.get_bool().value_unsafe() ? "true" : "false");
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      out.append("null");
      break;
  }
}

simdjson::error_code parse_json(simdjson::dom::parser& parser, std::string_view text,
                                simdjson::dom::element& root) {
  // Copied into a per-thread buffer with simdjson's padding (it keeps its capacity: no allocation per value).
  thread_local std::string padded;
  padded.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  padded.assign(text);
  auto err = parser.parse(padded.data(), padded.size(), false).get(root);
  if (err == simdjson::NUMBER_ERROR)
    err = parser.parse(simdjson::padded_string(widen_big_integers(text))).get(root);
  return err;
}

template <class Out>
bool append_js_json(Out& out, std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parse_json(parser, text, root) != simdjson::SUCCESS) return false;
  append_js_json(out, root);
  return true;
}

template <class Out>
bool append_json_value(Out& out, field_value v, bool& invalid_json) {
  switch (v.kind()) {
    case value_kind::null:
      out.append("null");
      break;
    case value_kind::boolean:
      out.append(v.as_bool() ? "true" : "false");
      break;
    case value_kind::integer:
      append_json_int(out, v.as_int());
      break;
    case value_kind::floating:
      append_json_double(out, v.as_double());
      break;
    case value_kind::string:
      return append_json_string(out, v.as_string());
    case value_kind::json:
      if (!append_js_json(out, v.as_string())) {
        invalid_json = true;
        out.append("null");
      }
      break;
  }
  return true;
}

bool is_valid_json(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parse_json(parser, text, root) == simdjson::SUCCESS;
}

template <class Out>
void append_rfc3339_utc(Out& out, std::int64_t unix_ns) {
  std::int64_t secs = unix_ns / 1'000'000'000;
  std::int64_t nanos = unix_ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --secs;
  }
  // Spans of one batch mostly share their second: the date and time are formatted once per second per thread.
  thread_local std::int64_t cached_secs = INT64_MIN;
  thread_local char prefix[32];
  thread_local std::size_t prefix_len = 0;
  if (secs != cached_secs) {
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const auto r =
        fmt::format_to_n(prefix, sizeof prefix, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    prefix_len = std::min(r.size, sizeof prefix);
    cached_secs = secs;
  }
  char digits[10];
  for (int k = 8; k >= 0; --k) {
    digits[k] = static_cast<char>('0' + nanos % 10);
    nanos /= 10;
  }
  digits[9] = 'Z';
  out.append(prefix, prefix_len);
  out.append(digits, 10);
}

void text_buffer::grow(std::size_t n) {
  std::size_t cap = std::max<std::size_t>({2 * capacity_, size_ + n, 256});
  char* p = static_cast<char*>(std::realloc(data_, cap));
  if (!p) throw std::bad_alloc();
  data_ = p;
  capacity_ = cap;
}

void move_into(text_buffer& buffer, std::string& out) {
  out.append(buffer.data(), buffer.size());
  buffer.clear();
  buffer.trim(64 * 1024);
}

void text_buffer::trim(std::size_t keep) noexcept {
  if (capacity_ <= keep || size_ > keep) return;
  if (char* p = static_cast<char*>(std::realloc(data_, keep))) {
    data_ = p;
    capacity_ = keep;
  }
}

#define BEELINE_JSON_WRITER(Out)                                     \
  template bool append_json_string(Out&, std::string_view);          \
  template bool append_json_key(Out&, std::string_view, bool);       \
  template void append_json_double(Out&, double);                    \
  template void append_json_int(Out&, std::int64_t);                 \
  template void append_json_ms_from_ns(Out&, std::int64_t);          \
  template void append_js_json(Out&, const simdjson::dom::element&); \
  template bool append_js_json(Out&, std::string_view);              \
  template bool append_json_value(Out&, field_value, bool&);         \
  template void append_rfc3339_utc(Out&, std::int64_t);
BEELINE_JSON_WRITER(std::string)
BEELINE_JSON_WRITER(text_buffer)
#undef BEELINE_JSON_WRITER

}  // namespace beeline::detail
