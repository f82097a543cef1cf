// The propagation codecs. Every function takes arbitrary bytes and answers with a value or nullopt plus a
// counted reason; nothing here throws on bad input (only std::bad_alloc can escape, from the result strings).
#include <beeline/propagation.hpp>

#include "core/json.hpp"
#include "core/percent.hpp"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <limits>

namespace beeline {
namespace {

char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// JavaScript's String.prototype.trim over the ASCII whitespace it removes (header values are ASCII).
bool is_js_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_js_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_js_space(s.back()))
    s.remove_suffix(1);
  return s;
}

bool is_hex_lower(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_hex_any(char c) noexcept {
  return is_hex_lower(c) || (c >= 'A' && c <= 'F');
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool all_zero(std::string_view s) noexcept {
  return s.find_first_not_of('0') == std::string_view::npos;
}

// An OpenTelemetry-style id: exactly `n` hex digits (either case), not all zero.
bool hex_id(std::string_view id, std::size_t n) noexcept {
  if (id.size() != n || all_zero(id)) return false;
  for (char c : id)
    if (!is_hex_any(c)) return false;
  return true;
}

// An id as the Beeline formats carry them verbatim: 1..max_id_bytes visible ASCII characters, none of which
// would end a clause of the header it travels in.
bool usable_id(std::string_view id, std::string_view forbidden) noexcept {
  if (id.empty() || id.size() > propagation::max_id_bytes) return false;
  for (char c : id)
    if (c <= ' ' || c >= 0x7f || forbidden.find(c) != std::string_view::npos) return false;
  return true;
}

}  // namespace

namespace propagation {
namespace {

std::array<std::array<std::atomic<std::uint64_t>, reject_reason_count>, format_count> counters;

std::nullopt_t reject(format f, reject_reason r) noexcept {
  counters[static_cast<std::size_t>(f)][static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

}  // namespace

std::uint64_t rejection_counts::of(format f) const noexcept {
  std::uint64_t n = 0;
  for (std::uint64_t c : counts[static_cast<std::size_t>(f)])
    n += c;
  return n;
}

std::uint64_t rejection_counts::total() const noexcept {
  std::uint64_t n = 0;
  for (std::size_t f = 0; f < format_count; ++f)
    n += of(static_cast<format>(f));
  return n;
}

rejection_counts rejections() noexcept {
  rejection_counts out;
  for (std::size_t f = 0; f < format_count; ++f)
    for (std::size_t r = 0; r < reject_reason_count; ++r)
      out.counts[f][r] = counters[f][r].load(std::memory_order_relaxed);
  return out;
}

std::optional<std::string_view> header_view::get(std::string_view name) const {
  struct state {
    std::string_view name;
    std::optional<std::string_view> found;
  } st{name, std::nullopt};
  visit_(obj_, &st, [](void* p, std::string_view n, std::string_view v) {
    auto* s = static_cast<state*>(p);
    if (!iequals(n, s->name)) return true;
    s->found = v;
    return false;
  });
  return st.found;
}

void header_view::for_each(std::string_view name, const std::function<bool(std::string_view)>& fn) const {
  struct state {
    std::string_view name;
    const std::function<bool(std::string_view)>* fn;
  } st{name, &fn};
  visit_(obj_, &st, [](void* p, std::string_view n, std::string_view v) {
    auto* s = static_cast<state*>(p);
    return iequals(n, s->name) ? (*s->fn)(v) : true;
  });
}

}  // namespace propagation

using propagation::format;
using propagation::max_header_bytes;
using propagation::max_id_bytes;
using propagation::reject;
using propagation::reject_reason;

namespace {

// ---- base64 (RFC 4648): written with padding; read in the standard or URL-safe alphabet, padding optional
// ----

constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void append_base64(std::string& out, std::string_view in) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    const char quad[4] = {b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63], b64_alphabet[(v >> 6) & 63],
                          b64_alphabet[v & 63]};
    out.append(quad, 4);
  }
  if (const std::size_t rest = in.size() - i; rest) {
    const std::uint32_t v = (byte(i) << 16) | (rest == 2 ? byte(i + 1) << 8 : 0);
    const char quad[4] = {b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63],
                          rest == 2 ? b64_alphabet[(v >> 6) & 63] : '=', '='};
    out.append(quad, 4);
  }
}

int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// False for a character outside both alphabets, padding anywhere but the end, or a length no encoder makes.
bool decode_base64(std::string_view in, std::string& out) {
  while (!in.empty() && in.back() == '=' && in.size() % 4 != 1)
    in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  // Sized once, written through a pointer; the spare capacity is simdjson's padding (parse_context_json).
  const std::size_t n = in.size() / 4 * 3 + (in.size() % 4 ? in.size() % 4 - 1 : 0);
  out.reserve(n + simdjson::SIMDJSON_PADDING);
  out.resize(n);
  char* w = out.data();
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = base64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *w++ = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return true;
}

// ---- percent-encoding, as JavaScript's encodeURIComponent / decodeURIComponent ----

bool uri_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '!' || c == '~' || c == '*' || c == '\'' || c == '(' || c == ')';
}

void append_uri_component(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (uri_unreserved(c)) {
      out.push_back(ch);
    } else {
      const char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
      out.append(esc, 3);
    }
  }
}

// The length of the valid UTF-8 sequence at s[i] (1 for ASCII), or 0.
std::size_t utf8_length_at(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const std::size_t left = s.size() - i;
  const auto cont = [&](std::size_t k) { return (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if ((c == 0xE0 && b(i + 1) < 0xA0) || (c == 0xED && b(i + 1) >= 0xA0)) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if ((c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90)) return 0;
    return 4;
  }
  return 0;
}

bool valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length_at(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

bool has_control(std::string_view s) noexcept {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

namespace detail {

// False for a `%` not followed by two hex digits, or a result that is not UTF-8 (decodeURIComponent throws).
bool decode_uri_component(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (in.size() - i < 3) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return valid_utf8(out);
}

}  // namespace detail

namespace {

// ---- the Honeycomb context: trace fields as one JSON object ----

void append_field_json(std::string& out, field_value v) {
  bool invalid_json =
      false;  // nested text that is not JSON goes as null, as JSON.stringify would never write it
  detail::append_json_value(out, v, invalid_json);
}

// Whether JavaScript treats `key` as an array index ("0" to "4294967294", no leading zeros): such keys come
// first in an object's key order, ascending, whatever order they were set in.
bool js_index_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return false;
  std::uint64_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v < 4294967295u;
}

// The fields in JavaScript's key order (what Object.keys and JSON.stringify give for the same object).
std::vector<const owned_field*> js_key_order(const field_list& fields) {
  std::vector<const owned_field*> order;
  order.reserve(fields.size());
  for (const owned_field& f : fields)
    if (js_index_key(f.key)) order.push_back(&f);
  std::sort(order.begin(), order.end(), [](const owned_field* a, const owned_field* b) {
    return a->key.size() != b->key.size() ? a->key.size() < b->key.size() : a->key < b->key;
  });
  for (const owned_field& f : fields)
    if (!js_index_key(f.key)) order.push_back(&f);
  return order;
}

void append_context_json(std::string& out, const field_list& fields) {
  out.push_back('{');
  bool first = true;
  for (const owned_field* fp : js_key_order(fields)) {
    const owned_field& f = *fp;
    if (!first) out.push_back(',');
    first = false;
    detail::append_json_string(out, f.key);
    out.push_back(':');
    append_field_json(out, f.value.view());
  }
  out.push_back('}');
}

// Sets `key` to `v`: a repeated key keeps its first position and takes the last value, as JSON.parse does.
void set_field(field_list& fields, std::string_view key, value v) {
  for (owned_field& f : fields)
    if (f.key == key) {
      f.value = std::move(v);
      return;
    }
  fields.push_back({std::string(key), std::move(v)});
}

enum class json_result { object, not_object, invalid };

// `text` must have simdjson::SIMDJSON_PADDING bytes of capacity beyond its size (decode_base64 leaves them).
json_result parse_context_json(const std::string& text, field_list& fields) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err =
      parser.parse(text.data(), text.size(), text.capacity() - text.size() < simdjson::SIMDJSON_PADDING)
          .get(root);
  if (err == simdjson::NUMBER_ERROR) err = detail::parse_json(parser, text, root);
  if (err != simdjson::SUCCESS) return json_result::invalid;
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return json_result::not_object;
  fields.reserve(obj.size());
  for (const auto member : obj) {
    const std::string_view key = member.key;
    const simdjson::dom::element el = member.value;
    switch (el.type()) {
      case simdjson::dom::element_type::STRING:
        set_field(fields, key, value(std::string(el.get_string().value_unsafe())));
        break;
      case simdjson::dom::element_type::INT64:
        set_field(fields, key, value(el.get_int64().value_unsafe()));
        break;
      case simdjson::dom::element_type::UINT64:
        set_field(fields, key, value(el.get_uint64().value_unsafe()));
        break;
      case simdjson::dom::element_type::DOUBLE:
        set_field(fields, key, value(el.get_double().value_unsafe()));
        break;
      case simdjson::dom::element_type::BOOL:
        set_field(fields, key, value(el.get_bool().value_unsafe()));
        break;
      case simdjson::dom::element_type::NULL_VALUE:
        set_field(fields, key, value(nullptr));
        break;
      case simdjson::dom::element_type::ARRAY:
      case simdjson::dom::element_type::OBJECT: {
        std::string nested;
        detail::append_js_json(nested, el);
        set_field(fields, key, value::json(std::move(nested)));
      } break;
    }
  }
  return json_result::object;
}

// A header value too long to look at.
bool oversized(std::string_view value) noexcept {
  return value.size() > max_header_bytes;
}

// Calls fn(piece) for each piece of `s` between separators.
template <class F>
void split(std::string_view s, char sep, F&& fn) {
  std::size_t start = 0;
  while (true) {
    const std::size_t end = s.find(sep, start);
    fn(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return;
    start = end + 1;
  }
}

// `key=value` at the first `=`; no `=` gives the whole piece as key and an empty value.
std::pair<std::string_view, std::string_view> key_value(std::string_view piece) noexcept {
  const std::size_t eq = piece.find('=');
  if (eq == std::string_view::npos) return {piece, {}};
  return {piece.substr(0, eq), piece.substr(eq + 1)};
}

// JavaScript's String(v) for a trace field written into a header: nullopt for nested values.
std::optional<std::string> js_string(field_value v) {
  std::string out;
  switch (v.kind()) {
    case value_kind::null:
      return "null";
    case value_kind::boolean:
      return v.as_bool() ? "true" : "false";
    case value_kind::integer:
      detail::append_json_int(out, v.as_int());
      return out;
    case value_kind::floating:
      if (v.as_double() != v.as_double()) return "NaN";
      if (v.as_double() == std::numeric_limits<double>::infinity()) return "Infinity";
      if (v.as_double() == -std::numeric_limits<double>::infinity()) return "-Infinity";
      detail::append_json_double(out, v.as_double());
      return out;
    case value_kind::string:
      return std::string(v.as_string());
    case value_kind::json:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

namespace {

// The parser and propagation hooks of a format carried in one header.
template <std::optional<trace_context> (*Unmarshal)(std::string_view)>
propagation::parser_hook single_header_parser(std::string_view name) {
  return [name](const propagation::header_view& h) -> std::optional<trace_context> {
    const auto v = h.get(name);
    if (!v) return std::nullopt;
    return Unmarshal(*v);
  };
}

template <std::optional<std::string> (*Marshal)(const trace_context&)>
propagation::propagation_hook single_header_propagation(std::string_view name) {
  return [name](const trace_context& ctx) {
    propagation::header_list out;
    if (auto v = Marshal(ctx)) out.emplace_back(std::string(name), std::move(*v));
    return out;
  };
}

}  // namespace

// ================================ Honeycomb ================================

namespace honeycomb {

namespace {
constexpr std::string_view id_forbidden = ",;=";
}

bool marshal_to(std::string& out, const trace_context& ctx, bool propagate_dataset) {
  if (!usable_id(ctx.trace_id, id_forbidden) || !usable_id(ctx.parent_id, id_forbidden)) return false;
  out.append("1;trace_id=");
  out.append(ctx.trace_id);
  out.append(",parent_id=");
  out.append(ctx.parent_id);
  // A dataset the receiving side would refuse (not UTF-8, control characters, too long) is left out; the ids
  // still go.
  if (propagate_dataset && !ctx.dataset.empty() && ctx.dataset.size() <= max_id_bytes &&
      !has_control(ctx.dataset) && valid_utf8(ctx.dataset)) {
    out.append(",dataset=");
    append_uri_component(out, ctx.dataset);
  }
  out.append(",context=");
  std::string json;
  append_context_json(json, ctx.fields);
  append_base64(out, json);
  return true;
}

std::optional<std::string> marshal(const trace_context& ctx, bool propagate_dataset) {
  std::string out;
  if (!marshal_to(out, ctx, propagate_dataset)) return std::nullopt;
  return out;
}

std::optional<trace_context> unmarshal(std::string_view value, bool propagate_dataset) {
  constexpr format f = format::honeycomb;
  if (oversized(value)) return reject(f, reject_reason::oversized);
  const std::string_view header = trim(value);
  const std::size_t semi = header.find(';');
  if (header.substr(0, semi) != "1")
    return reject(
        f, semi == std::string_view::npos && header != "1" && header.find(',') != std::string_view::npos
               ? reject_reason::malformed
               : reject_reason::unsupported_version);
  if (semi == std::string_view::npos) return reject(f, reject_reason::malformed);
  std::string_view payload = header.substr(semi + 1);
  payload =
      payload.substr(0, payload.find(';'));  // anything after a second `;` is ignored, as in the Beeline

  std::string_view trace_id, parent_id, dataset, context;
  bool has_dataset = false;
  split(payload, ',', [&](std::string_view clause) {
    const auto [k, v] = key_value(clause);
    if (k == "trace_id") {
      trace_id = v;
    } else if (k == "parent_id") {
      parent_id = v;
    } else if (k == "dataset") {
      dataset = v;
      has_dataset = true;
    } else if (k == "context") {
      context = trim(v);  // spaces around the base64 are not part of it (Node's decoder skips them too)
    }
  });
  if (!usable_id(trace_id, id_forbidden) || !usable_id(parent_id, id_forbidden))
    return reject(f, reject_reason::invalid_id);

  trace_context ctx;
  bool dataset_dropped = false;
  if (propagate_dataset && has_dataset) {
    std::string decoded;
    if (!detail::decode_uri_component(dataset, decoded) || has_control(decoded))
      return reject(f, reject_reason::invalid_encoding);
    if (decoded.size() > max_id_bytes) {
      dataset_dropped = true;  // counted once the header is accepted; the trace continues in our dataset
    } else {
      ctx.dataset = std::move(decoded);
    }
  }
  if (!context.empty()) {
    thread_local std::string json;
    if (!decode_base64(context, json)) return reject(f, reject_reason::invalid_encoding);
    switch (parse_context_json(json, ctx.fields)) {
      case json_result::object:
        break;
      case json_result::not_object:  // the ids still hold: continue the trace without its fields
        reject(f, reject_reason::invalid_json);
        ctx.fields.clear();
        break;
      case json_result::invalid:
        return reject(f, reject_reason::invalid_json);
    }
  }
  if (dataset_dropped) reject(f, reject_reason::invalid_id);
  ctx.trace_id = trace_id;
  ctx.parent_id = parent_id;
  return ctx;
}

propagation::parser_hook parser_hook(bool propagate_dataset) {
  return [propagate_dataset](const propagation::header_view& h) -> std::optional<trace_context> {
    const auto v = h.get(header);
    if (!v) return std::nullopt;
    return unmarshal(*v, propagate_dataset);
  };
}

propagation::propagation_hook propagation_hook(bool propagate_dataset) {
  return [propagate_dataset](const trace_context& ctx) {
    propagation::header_list out;
    if (auto v = marshal(ctx, propagate_dataset)) out.emplace_back(std::string(header), std::move(*v));
    return out;
  };
}

}  // namespace honeycomb

// ================================ W3C ================================

namespace w3c {

std::optional<traceparent> parse_traceparent(std::string_view v) noexcept {
  constexpr format f = format::w3c;
  if (oversized(v)) return reject(f, reject_reason::oversized);
  // OpenTelemetry's /^\s?(version)-(trace id)-(span id)-(flags)(-.*)?\s?$/, without a regex.
  if (!v.empty() && is_js_space(v.front())) v.remove_prefix(1);
  if (v.size() < traceparent_size || v[2] != '-' || v[35] != '-' || v[52] != '-')
    return reject(f, reject_reason::malformed);
  const auto hex_run = [&](std::size_t from, std::size_t n) {
    for (std::size_t i = from; i < from + n; ++i)
      if (!is_hex_lower(v[i])) return false;
    return true;
  };
  if (!hex_run(0, 2) || !hex_run(53, 2)) return reject(f, reject_reason::malformed);
  if (v.substr(0, 2) == "ff") return reject(f, reject_reason::unsupported_version);
  if (!hex_run(3, 32) || !hex_run(36, 16) || all_zero(v.substr(3, 32)) || all_zero(v.substr(36, 16)))
    return reject(f, reject_reason::invalid_id);
  traceparent tp;
  tp.version = static_cast<std::uint8_t>(hex_value(v[0]) * 16 + hex_value(v[1]));
  tp.flags = static_cast<std::uint8_t>(hex_value(v[53]) * 16 + hex_value(v[54]));
  std::string_view rest = v.substr(traceparent_size);
  if (!rest.empty() && is_js_space(rest.back())) rest.remove_suffix(1);  // the trailing \s?
  if (!rest.empty()) {
    // Only a later version may carry more, after a `-`; `.` in the regex matches anything but line breaks.
    if (tp.version == 0 || rest.front() != '-' || rest.find_first_of("\r\n") != std::string_view::npos)
      return reject(f, reject_reason::malformed);
  }
  std::copy_n(v.data() + 3, 32, tp.trace_id.data());
  std::copy_n(v.data() + 36, 16, tp.span_id.data());
  return tp;
}

void format_traceparent(const traceparent& tp, char (&out)[traceparent_size]) noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  std::copy_n(tp.trace_id.data(), 32, out + 3);
  out[35] = '-';
  std::copy_n(tp.span_id.data(), 16, out + 36);
  out[52] = '-';
  out[53] = hex[tp.flags >> 4];
  out[54] = hex[tp.flags & 15];
}

namespace {

bool key_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

// key = lcalpha 0*255(keychar) / (lcalpha / DIGIT) 0*240(keychar) "@" lcalpha 0*13(keychar)
bool valid_key(std::string_view k) noexcept {
  const std::size_t at = k.find('@');
  const auto run_ok = [](std::string_view s) {
    for (char c : s)
      if (!key_char(c)) return false;
    return true;
  };
  if (at == std::string_view::npos)
    return !k.empty() && k.size() <= 256 && k[0] >= 'a' && k[0] <= 'z' && run_ok(k.substr(1));
  const std::string_view tenant = k.substr(0, at);
  const std::string_view system = k.substr(at + 1);
  return !tenant.empty() && tenant.size() <= 241 &&
         ((tenant[0] >= 'a' && tenant[0] <= 'z') || (tenant[0] >= '0' && tenant[0] <= '9')) &&
         run_ok(tenant.substr(1)) && !system.empty() && system.size() <= 14 && system[0] >= 'a' &&
         system[0] <= 'z' && run_ok(system.substr(1));
}

// value = 0*255(chr) nblk-chr, chr = %x20-2B / %x2D-3C / %x3E-7E, nblk-chr without the space
bool valid_value(std::string_view v) noexcept {
  if (v.empty() || v.size() > 256 || v.back() == ' ') return false;
  for (char c : v)
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  return true;
}

constexpr std::size_t max_tracestate_members = 32;
// The combined length every vendor should carry; a longer list is cut to it, whole members at a time.
constexpr std::size_t max_tracestate_bytes = 512;
// Members longer than this go first when a list is cut (W3C Trace Context, "tracestate Limits").
constexpr std::size_t large_tracestate_member = 128;

bool ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && ows(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && ows(s.back()))
    s.remove_suffix(1);
  return s;
}

// What normalize_tracestate dropped.
enum class tracestate_loss { none, invalid, cut };

// The valid members of `raw`, trimmed and joined with `,` (OpenTelemetry's serialization for valid input).
// Invalid members, repeated keys (the first, left-most, is the newest entry and is kept) and members past the
// 32nd are dropped. A list still over 512 bytes is cut as W3C Trace Context asks: members over 128 bytes are
// removed first, then members from the end, until it fits. A value over max_header_bytes is not read at all.
std::string normalize_tracestate(std::string_view raw, tracestate_loss& loss) {
  loss = tracestate_loss::none;
  std::string out;
  if (raw.size() > max_header_bytes) {
    loss = tracestate_loss::cut;
    return out;
  }
  std::array<std::string_view, max_tracestate_members> members;
  std::size_t count = 0;
  std::size_t joined = 0;  // the length of the members joined with `,`
  split(raw, ',', [&](std::string_view member) {
    member = trim_ows(member);
    if (member.empty()) return;  // empty list members are allowed
    const std::size_t eq = member.find('=');
    if (eq == std::string_view::npos || !valid_key(member.substr(0, eq)) ||
        !valid_value(member.substr(eq + 1))) {
      loss = tracestate_loss::invalid;
      return;
    }
    const std::string_view key = member.substr(0, eq + 1);  // with the `=`, so `a` is not a prefix of `ab`
    for (std::size_t i = 0; i < count; ++i)
      if (members[i].starts_with(key)) {
        loss = tracestate_loss::invalid;
        return;
      }
    if (count == max_tracestate_members) {
      loss = tracestate_loss::invalid;
      return;
    }
    joined += member.size() + (count ? 1 : 0);
    members[count++] = member;
  });
  const auto remove = [&](std::size_t i) {
    joined -= members[i].size() + (count > 1 ? 1 : 0);
    std::copy(members.begin() + i + 1, members.begin() + count, members.begin() + i);
    --count;
    loss = tracestate_loss::cut;
  };
  for (std::size_t i = count; joined > max_tracestate_bytes && i-- > 0;)
    if (members[i].size() > large_tracestate_member) remove(i);
  while (joined > max_tracestate_bytes)
    remove(count - 1);
  out.reserve(joined);
  for (std::size_t i = 0; i < count; ++i) {
    if (i) out.push_back(',');
    out.append(members[i]);
  }
  return out;
}

}  // namespace

bool valid_tracestate(std::string_view value) noexcept {
  if (value.size() > max_tracestate_bytes) return false;
  tracestate_loss loss = tracestate_loss::none;
  try {
    normalize_tracestate(value, loss);
  } catch (...) {
    return false;
  }
  return loss == tracestate_loss::none;
}

std::optional<trace_context> unmarshal(std::string_view traceparent_value, std::string_view tracestate) {
  const auto tp = parse_traceparent(traceparent_value);
  if (!tp) return std::nullopt;
  trace_context ctx;
  ctx.trace_id.assign(tp->trace_id_hex());
  ctx.parent_id.assign(tp->span_id_hex());
  ctx.trace_flags = tp->flags;
  if (!tracestate.empty()) {
    tracestate_loss loss = tracestate_loss::none;
    ctx.tracestate = normalize_tracestate(tracestate, loss);
    if (loss != tracestate_loss::none)
      reject(format::w3c, loss == tracestate_loss::cut ? reject_reason::oversized : reject_reason::malformed);
  }
  return ctx;
}

std::optional<std::string> marshal(const trace_context& ctx) {
  if (!hex_id(ctx.trace_id, 32) || !hex_id(ctx.parent_id, 16)) return std::nullopt;
  traceparent tp;
  std::transform(ctx.trace_id.begin(), ctx.trace_id.end(), tp.trace_id.begin(), ascii_lower);
  std::transform(ctx.parent_id.begin(), ctx.parent_id.end(), tp.span_id.begin(), ascii_lower);
  tp.flags = ctx.trace_flags;
  char buf[traceparent_size];
  format_traceparent(tp, buf);
  return std::string(buf, traceparent_size);
}

propagation::parser_hook parser_hook() {
  return [](const propagation::header_view& h) -> std::optional<trace_context> {
    const auto tp = h.get(traceparent_header);
    if (!tp) return std::nullopt;
    std::string state;  // several tracestate headers are one list
    h.for_each(tracestate_header, [&](std::string_view v) {
      if (!state.empty()) state.push_back(',');
      state.append(v.substr(0, max_header_bytes + 1 - std::min(state.size(), max_header_bytes)));
      return state.size() <= max_header_bytes;
    });
    return unmarshal(*tp, state);
  };
}

propagation::propagation_hook propagation_hook() {
  return [](const trace_context& ctx) {
    propagation::header_list out;
    if (auto v = marshal(ctx)) {
      out.emplace_back(std::string(traceparent_header), std::move(*v));
      if (!ctx.tracestate.empty()) {  // its valid members, normalized, as OpenTelemetry sends them
        tracestate_loss loss = tracestate_loss::none;
        std::string state = normalize_tracestate(ctx.tracestate, loss);
        if (!state.empty()) out.emplace_back(std::string(tracestate_header), std::move(state));
      }
    }
    return out;
  };
}

}  // namespace w3c

// ================================ AWS (the Beeline's) ================================

namespace aws {

namespace {
constexpr std::string_view id_forbidden = ";=";

std::string_view trim_ows_aws(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// A custom field the header can carry as `;key=value`.
bool writable(std::string_view s, bool is_key) noexcept {
  if (is_key && s.empty()) return false;
  // The reader trims spaces around keys and values, so they would not come back.
  if (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t'))
    return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == ';' || c == '=')
      return false;
  return true;
}
}  // namespace

std::optional<std::string> marshal(const trace_context& ctx) {
  if (!usable_id(ctx.trace_id, id_forbidden) || !usable_id(ctx.parent_id, id_forbidden)) return std::nullopt;
  std::string out;
  out.reserve(16 + ctx.trace_id.size() + ctx.parent_id.size());
  out.append("Root=").append(ctx.trace_id).append(";Parent=").append(ctx.parent_id);
  for (const owned_field* fp : js_key_order(ctx.fields)) {
    const owned_field& f = *fp;
    const auto v = js_string(f.value.view());
    // A field named like an id would take the ids over at the next hop.
    if (iequals(f.key, "root") || iequals(f.key, "parent") || iequals(f.key, "self")) continue;
    if (!v || !writable(f.key, true) || !writable(*v, false)) continue;
    out.append(";").append(f.key).append("=").append(*v);
  }
  return out;
}

std::optional<trace_context> unmarshal(std::string_view value) {
  constexpr format f = format::aws;
  if (oversized(value)) return reject(f, reject_reason::oversized);
  value = trim(value);  // as the other codecs: a trailing line break or spaces around the value are not in it
  if (has_control(value)) return reject(f, reject_reason::invalid_encoding);
  if (!valid_utf8(value)) return reject(f, reject_reason::invalid_encoding);
  std::string_view root, parent, self;
  trace_context ctx;
  split(value, ';', [&](std::string_view segment) {
    segment = trim_ows_aws(segment);
    if (segment.empty()) return;
    auto [k, v] = key_value(segment);
    k = trim_ows_aws(k);
    v = trim_ows_aws(v);
    if (iequals(k, "root")) {
      root = v;
    } else if (iequals(k, "parent")) {
      parent = v;
    } else if (iequals(k, "self")) {
      self = v;
    } else if (!k.empty() && segment.find('=') != std::string_view::npos) {
      set_field(ctx.fields, k, beeline::value(std::string(v)));
    }
  });
  if (root.empty()) return reject(f, reject_reason::invalid_id);
  const std::string_view parent_id = !parent.empty() ? parent : !self.empty() ? self : root;
  if (!usable_id(root, id_forbidden) || !usable_id(parent_id, id_forbidden))
    return reject(f, reject_reason::invalid_id);
  ctx.trace_id = root;
  ctx.parent_id = parent_id;
  return ctx;
}

propagation::parser_hook parser_hook() {
  return single_header_parser<unmarshal>(header);
}

propagation::propagation_hook propagation_hook() {
  return single_header_propagation<marshal>(header);
}

}  // namespace aws

// ================================ X-Ray (OpenTelemetry's) ================================

namespace xray {

std::optional<std::string> marshal(const trace_context& ctx) {
  if (!hex_id(ctx.trace_id, 32) || !hex_id(ctx.parent_id, 16)) return std::nullopt;
  std::string out;
  out.reserve(72);
  out.append("Root=1-").append(ctx.trace_id, 0, 8).append("-").append(ctx.trace_id, 8, 24);
  out.append(";Parent=").append(ctx.parent_id);
  out.append((ctx.trace_flags & 1) ? ";Sampled=1" : ";Sampled=0");
  return out;
}

std::optional<trace_context> unmarshal(std::string_view value) {
  constexpr format f = format::xray;
  if (oversized(value)) return reject(f, reject_reason::oversized);
  value = trim(value);  // as the other codecs: a trailing line break or spaces around the value are not in it
  if (has_control(value)) return reject(f, reject_reason::invalid_encoding);
  std::optional<std::string_view> root, parent;
  std::optional<std::uint8_t> sampled;
  bool bad_flag = false;
  split(value, ';', [&](std::string_view part) {
    part = trim(part);
    const std::size_t eq = part.find('=');
    const std::string_view v = eq == std::string_view::npos ? part : part.substr(eq + 1);
    // OpenTelemetry matches the keys by prefix, case-sensitively.
    if (part.starts_with("Root")) {
      root = v;
    } else if (part.starts_with("Parent")) {
      parent = v;
    } else if (part.starts_with("Sampled")) {
      if (v == "1") {
        sampled = 1;
      } else if (v == "0") {
        sampled = 0;
      } else if (v != "?") {
        bad_flag = true;
      }
    }
  });
  if (bad_flag) return reject(f, reject_reason::malformed);
  // Root: 1-<8 hex>-<24 hex>, not all zero; the W3C-style id is the 32 digits.
  if (!root || root->size() != 35 || (*root)[0] != '1' || (*root)[1] != '-' || (*root)[10] != '-')
    return reject(f, reject_reason::invalid_id);
  std::string trace_id;
  trace_id.reserve(32);
  trace_id.append(root->substr(2, 8)).append(root->substr(11, 24));
  if (!hex_id(trace_id, 32)) return reject(f, reject_reason::invalid_id);
  if (!parent || !hex_id(*parent, 16)) return reject(f, reject_reason::invalid_id);
  trace_context ctx;
  ctx.trace_id = std::move(trace_id);
  ctx.parent_id = *parent;
  ctx.trace_flags = sampled.value_or(1);
  return ctx;
}

propagation::parser_hook parser_hook() {
  return single_header_parser<unmarshal>(header);
}

propagation::propagation_hook propagation_hook() {
  return single_header_propagation<marshal>(header);
}

}  // namespace xray

// ================================ W3C Baggage ================================

namespace baggage {

namespace {

// A trace field as baggage text: strings as they are, scalars as JavaScript's String() writes them, nested
// JSON as its text.
std::optional<std::string> entry_text(field_value v) {
  if (v.kind() == value_kind::json) return std::string(v.as_string());
  return js_string(v);
}

}  // namespace

std::optional<std::string> marshal(const field_list& fields) {
  std::string out;
  std::string member;
  std::size_t taken = 0;
  for (const owned_field& f : fields) {
    // An empty key cannot be read back; bytes that are not UTF-8 have no percent-encoding JavaScript would
    // write or read.
    if (f.key.empty() || !valid_utf8(f.key)) continue;
    const auto text = entry_text(f.value.view());
    if (!text || !valid_utf8(*text)) continue;
    member.clear();
    append_uri_component(member, f.key);
    member.push_back('=');
    append_uri_component(member, *text);
    if (member.size() > max_member_bytes) continue;
    if (taken++ == max_members) break;
    if (out.size() + (out.empty() ? 0 : 1) + member.size() > max_bytes) continue;
    if (!out.empty()) out.push_back(',');
    out.append(member);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

field_list unmarshal(std::string_view list) {
  constexpr format f = format::baggage;
  field_list out;
  bool cut = false;
  if (list.size() > max_bytes) {
    // Only whole members within the limit are read.
    const std::size_t comma = list.rfind(',', max_bytes);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
    cut = true;
  }
  out.reserve(std::min<std::size_t>(static_cast<std::size_t>(std::count(list.begin(), list.end(), ',')) + 1,
                                    max_members));
  std::string key;
  std::string text;
  split(list, ',', [&](std::string_view member) {
    if (trim(member).empty()) return;  // an empty member (`a=1,,b=2`, a trailing comma) carries nothing
    if (member.size() > max_member_bytes) {
      reject(f, reject_reason::oversized);
      return;
    }
    const std::string_view pair = member.substr(0, member.find(';'));
    const std::size_t eq = pair.find('=');
    const std::string_view k = trim(pair.substr(0, eq));
    if (eq == std::string_view::npos || k.empty()) {
      reject(f, reject_reason::malformed);
      return;
    }
    const std::string_view v = trim(pair.substr(eq + 1));
    if (has_control(k) || has_control(v) || !detail::decode_uri_component(k, key) ||
        !detail::decode_uri_component(v, text)) {
      reject(f, reject_reason::invalid_encoding);
      return;
    }
    if (out.size() >= max_members &&
        std::none_of(out.begin(), out.end(), [&](const owned_field& o) { return o.key == key; })) {
      cut = true;
      return;
    }
    set_field(out, key, value(text));
  });
  if (cut) reject(f, reject_reason::oversized);
  return out;
}

field_list from_headers(const propagation::header_view& headers) {
  // One header (the usual case) is read where it lies; several are joined into one list, of which more than
  // the limit is never copied: one byte past it is kept, so `unmarshal` sees (and counts) the cut.
  std::string_view first;
  std::string joined;
  std::size_t count = 0;
  headers.for_each(header, [&](std::string_view v) {
    if (++count == 1) {
      first = v;
      return true;
    }
    if (count == 2) joined.assign(first.substr(0, max_bytes + 1));
    joined.push_back(',');
    joined.append(v.substr(0, max_bytes + 1 - std::min(joined.size(), max_bytes + 1)));
    return joined.size() <= max_bytes;
  });
  if (count == 0) return {};
  return unmarshal(count == 1 ? first : std::string_view(joined));
}

propagation::parser_hook parser_hook() {
  return [](const propagation::header_view& h) -> std::optional<trace_context> {
    field_list entries = from_headers(h);
    if (entries.empty()) return std::nullopt;
    trace_context ctx;
    ctx.fields = std::move(entries);
    return ctx;
  };
}

propagation::propagation_hook propagation_hook() {
  return [](const trace_context& ctx) {
    propagation::header_list out;
    if (auto v = marshal(ctx.fields)) out.emplace_back(std::string(header), std::move(*v));
    return out;
  };
}

}  // namespace baggage

// ================================ Highlight ================================

namespace highlight {

namespace {
bool usable_part(std::string_view s) noexcept {
  return usable_id(s, "/");
}
}  // namespace

std::optional<std::string> marshal(const request_ids& ids) {
  if (!usable_part(ids.secure_session_id) || !usable_part(ids.request_id)) return std::nullopt;
  std::string out;
  out.reserve(ids.secure_session_id.size() + 1 + ids.request_id.size());
  out.append(ids.secure_session_id).append("/").append(ids.request_id);
  return out;
}

std::optional<request_ids> unmarshal(std::string_view value) {
  constexpr format f = format::highlight;
  if (oversized(value)) return reject(f, reject_reason::oversized);
  value = trim(value);
  const std::size_t slash = value.find('/');
  if (slash == std::string_view::npos || value.find('/', slash + 1) != std::string_view::npos)
    return reject(f, reject_reason::malformed);
  const std::string_view session = value.substr(0, slash);
  const std::string_view request = value.substr(slash + 1);
  if (!usable_part(session) || !usable_part(request)) return reject(f, reject_reason::invalid_id);
  return request_ids{std::string(session), std::string(request)};
}

std::optional<request_ids> from_headers(const propagation::header_view& headers) {
  const auto v = headers.get(header);
  if (!v) return std::nullopt;
  return unmarshal(*v);
}

}  // namespace highlight

namespace propagation {

std::optional<trace_context> parse_default(const header_view& headers, bool propagate_dataset) {
  // An empty X-Honeycomb-Trace counts as absent, as in the Beeline.
  if (const auto hc = headers.get(honeycomb::header); hc && !hc->empty())
    return honeycomb::unmarshal(*hc, propagate_dataset);
  return w3c::parser_hook()(headers);
}

}  // namespace propagation

namespace {

propagation::parser_hook parser_of(propagation::propagator p, bool propagate_dataset) {
  switch (p) {
    case propagation::propagator::tracecontext:
      return w3c::parser_hook();
    case propagation::propagator::xray:
      return xray::parser_hook();
    case propagation::propagator::aws:
      return aws::parser_hook();
    case propagation::propagator::honeycomb:
      // An empty X-Honeycomb-Trace counts as absent, as in the Beeline: the next propagator may read the
      // request.
      return [propagate_dataset](const propagation::header_view& h) -> std::optional<trace_context> {
        const auto v = h.get(honeycomb::header);
        if (!v || v->empty()) return std::nullopt;
        return honeycomb::unmarshal(*v, propagate_dataset);
      };
    case propagation::propagator::baggage:
      break;
  }
  return nullptr;
}

propagation::propagation_hook propagation_of(propagation::propagator p, bool propagate_dataset) {
  switch (p) {
    case propagation::propagator::tracecontext:
      return w3c::propagation_hook();
    case propagation::propagator::xray:
      return xray::propagation_hook();
    case propagation::propagator::aws:
      return aws::propagation_hook();
    case propagation::propagator::honeycomb:
      return honeycomb::propagation_hook(propagate_dataset);
    case propagation::propagator::baggage:
      return baggage::propagation_hook();
  }
  return nullptr;
}

}  // namespace

namespace propagation {

std::vector<propagator> parse_propagators(std::string_view text, std::vector<std::string>& unknown) {
  static constexpr std::pair<std::string_view, propagator> names[] = {
      {"tracecontext", propagator::tracecontext},
      {"baggage", propagator::baggage},
      {"xray", propagator::xray},
      {"honeycomb", propagator::honeycomb},
      {"aws", propagator::aws},
  };
  std::vector<propagator> out;
  split(text, ',', [&](std::string_view name) {
    name = trim(name);
    if (name.empty() || iequals(name, "none")) return;
    for (const auto& [n, p] : names)
      if (iequals(name, n)) {
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
        return;
      }
    unknown.emplace_back(name);
  });
  return out;
}

parser_hook composite_parser_hook(std::vector<propagator> list, bool propagate_dataset) {
  std::vector<parser_hook> parsers;
  bool with_baggage = false;
  for (propagator p : list) {
    if (p == propagator::baggage)
      with_baggage = true;
    else
      parsers.push_back(parser_of(p, propagate_dataset));
  }
  return [parsers = std::move(parsers), with_baggage](const header_view& h) -> std::optional<trace_context> {
    std::optional<trace_context> ctx;
    for (const parser_hook& parse : parsers)
      if ((ctx = parse(h))) break;
    if (!with_baggage) return ctx;
    field_list entries = baggage::from_headers(h);
    if (entries.empty()) return ctx;
    if (!ctx) {
      ctx.emplace();
      ctx->fields = std::move(entries);
      return ctx;
    }
    ctx->fields.reserve(ctx->fields.size() + entries.size());
    for (owned_field& e : entries)
      if (std::none_of(ctx->fields.begin(), ctx->fields.end(),
                       [&](const owned_field& o) { return o.key == e.key; }))
        ctx->fields.push_back(std::move(e));
    return ctx;
  };
}

propagation_hook composite_propagation_hook(std::vector<propagator> list, bool propagate_dataset) {
  std::vector<propagation_hook> writers;
  for (propagator p : list)
    writers.push_back(propagation_of(p, propagate_dataset));
  return [writers = std::move(writers)](const trace_context& ctx) {
    header_list out;
    for (const propagation_hook& write : writers)
      for (auto& h : write(ctx))
        out.push_back(std::move(h));
    return out;
  };
}

}  // namespace propagation

}  // namespace beeline
