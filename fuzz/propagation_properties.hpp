// The properties every propagation codec keeps for any input bytes, checked by the fuzz targets
// (fuzz/*_fuzz.cpp) and by the deterministic mutation test (tests/core/propagation_mutation_test.cpp). Each
// `check_*` runs one input through a codec and returns what broke, or an empty string.
//
// Everything checked comes from the contract in include/beeline/propagation.hpp:
// - nullopt adds exactly one count to `rejections()`, for the codec's format; an accepted value adds none,
// except
//   the documented cases (invalid W3C `tracestate` members dropped, a Honeycomb context that is not an
//   object, a Honeycomb dataset over `max_id_bytes`);
// - a value over `max_header_bytes` is rejected as `oversized`, and nothing within the limit is;
// - accepted ids are non-empty and at most `max_id_bytes`; W3C and X-Ray ids are hex of their length, not all
//   zero;
// - what unmarshal accepts, marshal writes (or refuses for a reason marshal documents), and reading that back
//   gives the same context, or, where a format normalises (numbers in JSON, fields AWS leaves out), a context
//   that writes the same header again;
// - marshal refuses exactly the contexts its documentation names, and counts nothing;
// - hooks, `header_view` and `parse_default` agree with the codecs they wrap.
// W3C `traceparent` and `tracestate` are also compared with reference readers written from the header's
// description and the W3C grammar.
#pragma once

#include <beeline/propagation.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beeline::fuzz {

namespace prop = beeline::propagation;

// ---------------------------------------------------------------------------------------------------------------
// Text

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_lower_alpha(char c) {
  return c >= 'a' && c <= 'z';
}
inline bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline bool is_lower_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}
inline bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}
inline bool is_ascii(char c) {
  return static_cast<unsigned char>(c) < 0x80;
}
inline bool is_printable_ascii(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u < 0x7f;
}
/// JavaScript's `\s` over ASCII: what OpenTelemetry's traceparent pattern allows once before and after, and
/// what String.prototype.trim removes.
inline bool is_js_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = ascii_lower(c);
  return out;
}
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}
inline bool all_chars(std::string_view s, bool (*pred)(char)) {
  return std::all_of(s.begin(), s.end(), pred);
}
inline bool any_char(std::string_view s, bool (*pred)(char)) {
  return std::any_of(s.begin(), s.end(), pred);
}

/// Well-formed UTF-8: no stray continuation bytes, overlong forms, surrogates or code points past U+10FFFF.
inline bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1;
      cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2;
      cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3;
      cp = lead & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr std::uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

/// `n` hex digits (`lowercase_only`: no A-F), not all zero.
inline bool hex_id(std::string_view s, std::size_t n, bool lowercase_only) {
  if (s.size() != n || !all_chars(s, lowercase_only ? is_lower_hex : is_hex)) return false;
  return s.find_first_not_of('0') != std::string_view::npos;
}

/// `s` as a C string literal, for failure messages; a long one is shortened in the middle.
inline std::string c_literal(std::string_view s) {
  constexpr std::size_t head = 240;
  constexpr std::size_t tail = 80;
  const auto quote = [](std::string& out, std::string_view part) {
    static constexpr char digits[] = "0123456789abcdef";
    for (const char c : part) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (u >= 0x20 && u < 0x7f) {
        out += c;
      } else {
        // \xNN followed by a hex digit would read on; "" splits the literal there.
        out += "\\x";
        out += digits[u >> 4];
        out += digits[u & 15];
        out += "\"\"";
      }
    }
  };
  std::string out = "\"";
  if (s.size() <= head + tail) {
    quote(out, s);
  } else {
    quote(out, s.substr(0, head));
    out += "\" ... (" + std::to_string(s.size()) + " bytes in all) ... \"";
    quote(out, s.substr(s.size() - tail));
  }
  out += '"';
  return out;
}

inline std::string describe(const trace_context& c) {
  std::string out = "{trace_id=" + c_literal(c.trace_id) + " parent_id=" + c_literal(c.parent_id);
  if (!c.dataset.empty()) out += " dataset=" + c_literal(c.dataset);
  out += " flags=" + std::to_string(c.trace_flags);
  if (!c.tracestate.empty()) out += " tracestate=" + c_literal(c.tracestate);
  out += " fields=[";
  for (const owned_field& f : c.fields) {
    out += c_literal(f.key) + ":" + std::to_string(static_cast<int>(f.value.kind())) + ":" +
           c_literal(f.value.view().as_string()) + " ";
  }
  out += "]}";
  return out;
}

inline std::string describe(const std::optional<trace_context>& c) {
  return c ? describe(*c) : std::string("nullopt");
}

inline std::string describe(const std::optional<std::string>& s) {
  return s ? c_literal(*s) : std::string("nullopt");
}

inline std::string_view reason_name(prop::reject_reason r) {
  switch (r) {
    case prop::reject_reason::oversized:
      return "oversized";
    case prop::reject_reason::malformed:
      return "malformed";
    case prop::reject_reason::unsupported_version:
      return "unsupported_version";
    case prop::reject_reason::invalid_id:
      return "invalid_id";
    case prop::reject_reason::invalid_encoding:
      return "invalid_encoding";
    case prop::reject_reason::invalid_json:
      return "invalid_json";
  }
  return "?";
}

inline std::string_view format_name(prop::format f) {
  switch (f) {
    case prop::format::honeycomb:
      return "honeycomb";
    case prop::format::w3c:
      return "w3c";
    case prop::format::aws:
      return "aws";
    case prop::format::xray:
      return "xray";
    case prop::format::highlight:
      return "highlight";
    case prop::format::baggage:
      return "baggage";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------------------------
// Counters

/// What one call did to `rejections()`.
struct count_change {
  std::uint64_t added = 0;  ///< counts added, over every format and reason
  int cells = 0;            ///< (format, reason) cells that changed
  prop::format format{};    ///< the last cell that changed
  prop::reject_reason reason{};
  bool went_down = false;  ///< a count decreased (never allowed)
  /// Counts added per format and reason.
  std::array<std::array<std::uint64_t, prop::reject_reason_count>, prop::format_count> delta{};
  bool is_one(prop::format f) const { return added == 1 && cells == 1 && format == f && !went_down; }
  bool is_one(prop::format f, prop::reject_reason r) const { return is_one(f) && reason == r; }
  bool none() const { return added == 0 && cells == 0 && !went_down; }
  std::uint64_t in(prop::format f, prop::reject_reason r) const {
    return delta[static_cast<std::size_t>(f)][static_cast<std::size_t>(r)];
  }
  friend bool operator==(const count_change&, const count_change&) = default;
};

inline bool sums_agree(const prop::rejection_counts& c) {
  std::uint64_t total = 0;
  for (std::size_t f = 0; f < prop::format_count; ++f) {
    std::uint64_t of_format = 0;
    for (std::size_t r = 0; r < prop::reject_reason_count; ++r)
      of_format += c.counts[f][r];
    if (c.of(static_cast<prop::format>(f)) != of_format) return false;
    total += of_format;
  }
  return c.total() == total;
}

inline count_change diff(const prop::rejection_counts& before, const prop::rejection_counts& after) {
  count_change out;
  if (std::memcmp(&before.counts, &after.counts, sizeof before.counts) == 0) return out;  // the usual case
  for (std::size_t f = 0; f < prop::format_count; ++f) {
    for (std::size_t r = 0; r < prop::reject_reason_count; ++r) {
      const std::uint64_t a = before.counts[f][r];
      const std::uint64_t b = after.counts[f][r];
      if (a == b) continue;
      ++out.cells;
      out.format = static_cast<prop::format>(f);
      out.reason = static_cast<prop::reject_reason>(r);
      if (b < a) {
        out.went_down = true;
      } else {
        out.added += b - a;
        out.delta[f][r] = b - a;
      }
    }
  }
  return out;
}

inline std::string describe(const count_change& c) {
  if (c.none()) return "no count";
  std::string out = std::to_string(c.added) + " count(s) in " + std::to_string(c.cells) + " cell(s), last " +
                    std::string(format_name(c.format)) + "/" + std::string(reason_name(c.reason));
  if (c.went_down) out += ", a count went down";
  return out;
}

/// Runs `fn` and stores what it did to the counters in `change` (unless `on` is false: then `change` shows
/// none, which the quick checks use for calls whose counting a full check covers).
template <class Fn>
auto counted(count_change& change, Fn&& fn, bool on = true) {
  if (!on) {
    change = {};
    return fn();
  }
  const prop::rejection_counts before = prop::rejections();
  auto result = fn();
  change = diff(before, prop::rejections());
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Findings

/// The first property that failed for one input, with the input for the message.
class findings {
 public:
  findings(std::string_view codec, std::string_view input) : codec_(codec), input_(input) {}
  /// For W3C: the traceparent is the input, the tracestate goes with it.
  findings(std::string_view codec, std::string_view input, std::string_view tracestate)
      : codec_(codec), input_(input), tracestate_(tracestate), has_tracestate_(true) {}

  void expect(bool cond, std::string_view what) {
    if (!cond && what_.empty()) what_ = what.empty() ? "(unnamed property)" : std::string(what);
  }
  /// `describe()` is called only when `cond` fails, so expensive messages cost nothing on the good path.
  template <class Describe>
  requires std::invocable<Describe>
  void expect(bool cond, Describe&& describe) {
    if (!cond && what_.empty()) what_ = describe();
  }

  /// Empty when every property held; otherwise the codec, the input and what broke.
  std::string message() const {
    if (what_.empty()) return {};
    if (has_tracestate_)
      return std::string(codec_) + ": traceparent " + c_literal(input_) + ", tracestate " +
             c_literal(tracestate_) + ": " + what_;
    return std::string(codec_) + ": input " + c_literal(input_) + ": " + what_;
  }

 private:
  std::string_view codec_;
  std::string_view input_;
  std::string_view tracestate_;
  bool has_tracestate_ = false;
  std::string what_;
};

/// How much to check per input. The fuzz targets check everything; the mutation test checks everything on
/// some inputs and the core properties (counts, invariants, one round trip) on the rest, to stay quick under
/// sanitizers.
struct check_depth {
  bool full = true;               ///< also: both dataset modes, hooks, marshal_to, the counters' sums
  bool propagate_dataset = true;  ///< the dataset mode checked when not `full`
};

/// `of(format)` and `total()` agree with the cells.
inline void expect_sums_agree(findings& out) {
  out.expect(sums_agree(prop::rejections()), "rejections().of(format) or total() disagree with the counts");
}

/// nullopt from `f`: exactly one count, for `f`, and `oversized` exactly when the value is over the limit.
inline void expect_rejection_counted(findings& out, const count_change& c, prop::format f, std::size_t size,
                                     std::string_view call) {
  out.expect(c.is_one(f), [&] {
    return std::string(call) + " returned nullopt but the counters show " + describe(c) +
           " (expected exactly one count, for " + std::string(format_name(f)) + ")";
  });
  if (!c.is_one(f)) return;
  out.expect((c.reason == prop::reject_reason::oversized) == (size > prop::max_header_bytes), [&] {
    return std::string(call) + " rejected a value of " + std::to_string(size) + " bytes as " +
           std::string(reason_name(c.reason)) +
           " (oversized is for values over max_header_bytes, and only them)";
  });
}

inline void expect_no_count(findings& out, const count_change& c, std::string_view call) {
  out.expect(c.none(),
             [&] { return std::string(call) + " should count nothing, counters show " + describe(c); });
}

/// Ids of any accepted context: present and bounded.
inline void expect_bounded_ids(findings& out, const trace_context& c) {
  out.expect(!c.trace_id.empty() && !c.parent_id.empty(),
             [&] { return "accepted with an empty id: " + describe(c); });
  out.expect(c.trace_id.size() <= prop::max_id_bytes && c.parent_id.size() <= prop::max_id_bytes,
             [&] { return "accepted an id longer than max_id_bytes: " + describe(c); });
}

inline void expect_unique_keys(findings& out, const field_list& fields) {
  for (std::size_t i = 0; i < fields.size(); ++i)
    for (std::size_t j = i + 1; j < fields.size(); ++j)
      out.expect(fields[i].key != fields[j].key,
                 [&] { return "two fields with the key " + c_literal(fields[i].key); });
}

/// Field lists with the same keys and values, in any order (JSON.stringify writes integer-like keys first),
/// but for numbers written in JSON as integers being read back as such (1.0 -> 1).
inline bool same_fields(const field_list& a, const field_list& b) {
  if (a.size() != b.size()) return false;
  for (const owned_field& fa : a) {
    const auto it = std::find_if(b.begin(), b.end(), [&](const owned_field& fb) { return fb.key == fa.key; });
    if (it == b.end()) return false;
    const field_value x = fa.value.view();
    const field_value y = it->value.view();
    if (x == y) continue;
    const auto number = [](const field_value& v) -> std::optional<double> {
      if (v.kind() == value_kind::integer) return static_cast<double>(v.as_int());
      if (v.kind() == value_kind::floating) return v.as_double();
      return std::nullopt;
    };
    const auto nx = number(x);
    const auto ny = number(y);
    if (!nx || !ny || *nx != *ny) return false;
  }
  return true;
}

using header_pairs = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------------------------
// Contexts from bytes, for the marshal checks

/// A context made from arbitrary bytes: lines are the trace id, the parent id, the dataset, the tracestate,
/// the flags (the first byte; none: 1), then fields as pairs of lines, a key then a kind letter and the value
/// (`s` string, `i` integer, `d` double, `b` boolean, `n` null, `j` JSON text). Keys are kept unique (first
/// wins), as `field_list` requires.
inline trace_context context_from_bytes(std::string_view bytes) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0;;) {
    const std::size_t nl = bytes.find('\n', start);
    lines.push_back(bytes.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  const auto line = [&](std::size_t i) { return i < lines.size() ? lines[i] : std::string_view(); };
  trace_context c;
  c.trace_id = line(0);
  c.parent_id = line(1);
  c.dataset = line(2);
  c.tracestate = line(3);
  if (!line(4).empty()) c.trace_flags = static_cast<std::uint8_t>(line(4)[0]);
  std::set<std::string_view> keys;
  for (std::size_t i = 5; i + 1 < lines.size(); i += 2) {
    const std::string_view key = lines[i];
    const std::string_view v = lines[i + 1];
    if (!keys.insert(key).second) continue;
    const char kind = v.empty() ? 's' : v[0];
    const std::string_view text = v.empty() ? v : v.substr(1);
    value val;
    switch (kind) {
      case 'i': {
        std::int64_t n = 0;
        std::from_chars(text.data(), text.data() + text.size(), n);
        val = value(n);
        break;
      }
      case 'd': {
        double d = 0;
        std::from_chars(text.data(), text.data() + text.size(), d);
        val = value(d);
        break;
      }
      case 'b':
        val = value(text == "true" || text == "1");
        break;
      case 'n':
        val = value(nullptr);
        break;
      case 'j':
        val = value::json(std::string(text));
        break;
      default:
        val = value(std::string(text));
        break;
    }
    c.fields.push_back({std::string(key), std::move(val)});
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Honeycomb

/// What `honeycomb::marshal` documents it writes: non-empty, bounded, none of `,` `;` `=`, controls,
/// non-ASCII. A space is refused too: the reader trims the header, so an id cannot carry one (the header does
/// not say so).
inline bool honeycomb_id_writable(std::string_view id) {
  if (id.empty() || id.size() > prop::max_id_bytes) return false;
  for (const char c : id)
    if (c == ',' || c == ';' || c == '=' || c == ' ' || is_control(c) || !is_ascii(c)) return false;
  return true;
}

/// A dataset `honeycomb::marshal` writes (and `unmarshal` reads back): UTF-8 without controls, bounded.
/// Others are left out of the header.
inline bool honeycomb_dataset_writable(std::string_view dataset) {
  return !dataset.empty() && dataset.size() <= prop::max_id_bytes && valid_utf8(dataset) &&
         !any_char(dataset, is_control);
}

/// `honeycomb::marshal` of a context, then reading it back.
inline void check_honeycomb_marshal(findings& out, const trace_context& ctx, bool propagate_dataset,
                                    bool full) {
  count_change mc;
  const std::optional<std::string> m = counted(
      mc, [&] { return honeycomb::marshal(ctx, propagate_dataset); }, full);
  expect_no_count(out, mc, "honeycomb::marshal");
  const bool writable = honeycomb_id_writable(ctx.trace_id) && honeycomb_id_writable(ctx.parent_id);
  out.expect(m.has_value() == writable, [&] {
    return std::string(m ? "honeycomb::marshal wrote ids it documents it refuses: "
                         : "honeycomb::marshal refused a context with no documented reason: ") +
           describe(ctx);
  });

  if (full) {
    std::string buf = "prefix:";
    const bool to_ok = honeycomb::marshal_to(buf, ctx, propagate_dataset);
    out.expect(to_ok == m.has_value() && buf == (m ? "prefix:" + *m : std::string("prefix:")), [&] {
      return "honeycomb::marshal_to disagrees with marshal: " + c_literal(buf) + " vs " + describe(m);
    });
    const prop::header_list hl = honeycomb::propagation_hook(propagate_dataset)(ctx);
    if (m)
      out.expect(hl.size() == 1 && iequals(hl[0].first, honeycomb::header) && hl[0].second == *m,
                 "honeycomb::propagation_hook does not give the one header marshal gives");
    else
      out.expect(hl.empty(), "honeycomb::propagation_hook gave headers for a context marshal refuses");
  }
  if (!m) return;

  out.expect(m->starts_with("1;"), [&] { return "honeycomb::marshal wrote " + c_literal(*m); });
  out.expect(all_chars(*m, is_printable_ascii),
             [&] { return "honeycomb::marshal wrote a byte that is not printable ASCII: " + c_literal(*m); });
  count_change rc;
  const std::optional<trace_context> back = counted(
      rc, [&] { return honeycomb::unmarshal(*m, propagate_dataset); }, full);
  if (m->size() > prop::max_header_bytes) {
    // A context too large for the limit writes a header its own reader refuses; that is the documented bound.
    out.expect(!back && (!full || rc.is_one(prop::format::honeycomb, prop::reject_reason::oversized)),
               "an oversized header marshal wrote was not rejected as oversized");
    return;
  }
  out.expect(back.has_value() && rc.none(), [&] {
    return "reading back what honeycomb::marshal wrote failed (" + describe(rc) + "): " + c_literal(*m) +
           " from " + describe(ctx);
  });
  if (!back) return;
  out.expect(back->trace_id == ctx.trace_id && back->parent_id == ctx.parent_id, [&] {
    return "honeycomb ids changed through marshal and unmarshal: " + describe(ctx) + " -> " + describe(*back);
  });
  const std::string expected_dataset =
      propagate_dataset && honeycomb_dataset_writable(ctx.dataset) ? ctx.dataset : std::string();
  out.expect(back->dataset == expected_dataset, [&] {
    return "honeycomb dataset changed through marshal and unmarshal: " + describe(ctx) + " -> " +
           c_literal(*m) + " -> " + describe(*back);
  });
  // Keys that are not UTF-8 are written with U+FFFD in place of their bad bytes, so two of them can become
  // one key, which the reader then merges; only then may the header change on a second trip.
  std::size_t repaired_keys = 0;
  for (const owned_field& f : ctx.fields)
    if (!valid_utf8(f.key) || f.key.find("\xEF\xBF\xBD") != std::string::npos) ++repaired_keys;
  if (repaired_keys >= 2) return;
  const std::optional<std::string> again = honeycomb::marshal(*back, propagate_dataset);
  out.expect(again == m, [&] {
    return "honeycomb: marshal(unmarshal(h)) != h for h = marshal(ctx): " + c_literal(*m) + " then " +
           describe(again);
  });
}

/// `honeycomb::unmarshal` of one header value (in both dataset modes when `full`), then everything that
/// follows from it. `accepted`, when given, is set to whether the value was read.
inline std::string check_honeycomb(std::string_view value, const check_depth& depth = {},
                                   bool* accepted = nullptr) {
  findings out("honeycomb", value);
  std::array<std::optional<trace_context>, 2> by_mode;
  for (const bool pd : {false, true}) {
    if (!depth.full && pd != depth.propagate_dataset) continue;
    count_change c;
    std::optional<trace_context> r = counted(c, [&] { return honeycomb::unmarshal(value, pd); });
    by_mode[pd] = r;
    if (accepted) *accepted = r.has_value();
    if (!r) {
      expect_rejection_counted(out, c, prop::format::honeycomb, value.size(), "honeycomb::unmarshal");
      continue;
    }
    // Counted though accepted, as documented: a context that is not an object (its fields dropped), a dataset
    // over max_id_bytes (dropped); once each at most, nothing else.
    const bool context_dropped = c.in(prop::format::honeycomb, prop::reject_reason::invalid_json) == 1;
    const bool dataset_dropped = c.in(prop::format::honeycomb, prop::reject_reason::invalid_id) == 1;
    out.expect(!c.went_down && c.added == (context_dropped ? 1u : 0u) + (dataset_dropped ? 1u : 0u), [&] {
      return "honeycomb::unmarshal accepted, yet the counters show " + describe(c) +
             " (only a non-object context, honeycomb/invalid_json, and a dataset over max_id_bytes, "
             "honeycomb/invalid_id, may be counted)";
    });
    out.expect(!context_dropped || r->fields.empty(), "a dropped non-object context left fields");
    out.expect(!dataset_dropped || (pd && r->dataset.empty()),
               "a dataset was counted as dropped, yet kept (or read without propagate_dataset)");
    out.expect(value.size() <= prop::max_header_bytes, "accepted a value over max_header_bytes");
    expect_bounded_ids(out, *r);
    expect_unique_keys(out, r->fields);
    out.expect(pd || r->dataset.empty(), "dataset read although propagate_dataset is false");
    out.expect(r->tracestate.empty() && r->trace_flags == 1,
               [&] { return "honeycomb set W3C flags or tracestate: " + describe(*r); });

    // Everything unmarshal accepts, marshal writes, unless an id holds a character marshal documents it
    // refuses.
    count_change mc;
    const std::optional<std::string> m = counted(
        mc, [&] { return honeycomb::marshal(*r, pd); }, depth.full);
    expect_no_count(out, mc, "honeycomb::marshal");
    const bool writable = honeycomb_id_writable(r->trace_id) && honeycomb_id_writable(r->parent_id);
    out.expect(m.has_value() == writable, [&] {
      return std::string(
                 m ? "honeycomb::marshal wrote ids it documents it refuses: "
                   : "honeycomb::marshal refused what unmarshal accepted, with no documented reason: ") +
             describe(*r);
    });
    if (m && m->size() <= prop::max_header_bytes) {
      count_change rc;
      const std::optional<trace_context> back = counted(
          rc, [&] { return honeycomb::unmarshal(*m, pd); }, depth.full);
      out.expect(back.has_value() && rc.none(), [&] {
        return "reading back marshal(unmarshal(x)) failed (" + describe(rc) + "): " + c_literal(*m);
      });
      if (back) {
        out.expect(
            back->trace_id == r->trace_id && back->parent_id == r->parent_id && back->dataset == r->dataset &&
                back->trace_flags == r->trace_flags && back->tracestate == r->tracestate,
            [&] { return "honeycomb round trip changed " + describe(*r) + " into " + describe(*back); });
        out.expect(same_fields(back->fields, r->fields), [&] {
          return "honeycomb round trip changed the fields: " + describe(*r) + " -> " + c_literal(*m) +
                 " -> " + describe(*back);
        });
        if (depth.full) {  // the header is a fixed point (the quick check stops at the context)
          const std::optional<std::string> again = honeycomb::marshal(*back, pd);
          out.expect(again == m, [&] {
            return "honeycomb: marshal(unmarshal(marshal(c))) != marshal(c): " + c_literal(*m) + " then " +
                   describe(again) + ", c = " + describe(*r);
          });
        }
      }
    }
  }
  if (!depth.full) return out.message();

  // The dataset is only read with propagate_dataset: without it, nothing can fail that did not fail with it.
  if (by_mode[1]) {
    out.expect(by_mode[0].has_value(), "accepted with propagate_dataset, rejected without");
    if (by_mode[0]) {
      trace_context with = *by_mode[1];
      with.dataset.clear();
      out.expect(with == *by_mode[0], [&] {
        return "the two dataset modes read different contexts: " + describe(by_mode[0]) + " vs " +
               describe(by_mode[1]);
      });
    }
  }
  const header_pairs h{{std::string(honeycomb::header), std::string(value)}};
  for (const bool pd : {false, true})
    out.expect(honeycomb::parser_hook(pd)(prop::header_view(h)) == by_mode[pd],
               "honeycomb::parser_hook disagrees with unmarshal");
  expect_sums_agree(out);
  return out.message();
}

// ---------------------------------------------------------------------------------------------------------------
// W3C

enum class verdict { accept, reject, unsure };

/// A `traceparent` reader written from the header's description (OpenTelemetry JS's rules): one optional
/// space (any of JavaScript's `\s`) before and after; version two lowercase hex digits, not `ff`; ids
/// lowercase hex, not all zero; flags two lowercase hex digits; version 00 ends there, a later version may go
/// on after a `-`
/// (`unsure`: how far a later version's extra fields are checked is the implementation's choice).
inline verdict reference_traceparent(std::string_view s, std::uint8_t* flags) {
  if (s.size() > prop::max_header_bytes) return verdict::reject;
  if (!s.empty() && is_js_space(s.front())) s.remove_prefix(1);
  if (s.size() < w3c::traceparent_size) return verdict::reject;
  const std::string_view version = s.substr(0, 2);
  if (!all_chars(version, is_lower_hex) || version == "ff") return verdict::reject;
  if (s[2] != '-' || s[35] != '-' || s[52] != '-') return verdict::reject;
  if (!hex_id(s.substr(3, 32), 32, true) || !hex_id(s.substr(36, 16), 16, true)) return verdict::reject;
  const std::string_view f = s.substr(53, 2);
  if (!all_chars(f, is_lower_hex)) return verdict::reject;
  *flags = static_cast<std::uint8_t>(std::stoi(std::string(f), nullptr, 16));
  const std::string_view rest = s.substr(55);
  if (rest.empty() || (rest.size() == 1 && is_js_space(rest[0]))) return verdict::accept;
  if (version == "00" || rest.front() != '-') return verdict::reject;
  return verdict::unsure;
}

/// The combined tracestate length W3C asks every vendor to carry; the codec cuts a longer list to it.
inline constexpr std::size_t tracestate_limit = 512;

/// What the header says `w3c::unmarshal` keeps of a tracestate, written from the W3C grammar and its
/// "tracestate Limits": the valid members (`key=value` with the grammar's keys and values), at most 32, the
/// first of a repeated key, trimmed of spaces and tabs; while they joined with `,` are longer than
/// `tracestate_limit`, a member over 128 bytes (the last such) is removed, and once none is left, the last
/// member. Nothing of a value over `max_header_bytes`. `clean`: nothing was dropped; `cut`: the length limit
/// dropped something.
inline std::string reference_tracestate(std::string_view s, bool& clean, bool* cut = nullptr) {
  // Plain loops: the mutation test runs this 100,000 times in an unoptimized build.
  const auto key_chars = [](std::string_view k) {
    for (const char c : k)
      if (!(is_lower_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/')) return false;
    return true;
  };
  const auto valid_key = [&](std::string_view k) {
    const std::size_t at = k.find('@');
    if (at == std::string_view::npos)
      return !k.empty() && k.size() <= 256 && is_lower_alpha(k[0]) && key_chars(k);
    const std::string_view tenant = k.substr(0, at);
    const std::string_view system = k.substr(at + 1);
    return !tenant.empty() && tenant.size() <= 241 && (is_lower_alpha(tenant[0]) || is_digit(tenant[0])) &&
           key_chars(tenant) && !system.empty() && system.size() <= 14 && is_lower_alpha(system[0]) &&
           key_chars(system);
  };
  const auto valid_value = [](std::string_view v) {
    if (v.empty() || v.size() > 256 || v.back() == ' ') return false;
    for (const char c : v)
      if (!is_printable_ascii(c) || c == ',' || c == '=') return false;
    return true;
  };
  clean = true;
  if (cut) *cut = false;
  std::string out;
  if (s.size() > prop::max_header_bytes) {
    clean = false;
    if (cut) *cut = true;
    return out;
  }
  std::vector<std::string_view> kept;
  std::vector<std::string_view> keys;
  for (std::size_t start = 0; start <= s.size();) {
    std::size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    std::string_view m = s.substr(start, comma - start);
    start = comma + 1;
    while (!m.empty() && (m.front() == ' ' || m.front() == '\t'))
      m.remove_prefix(1);
    while (!m.empty() && (m.back() == ' ' || m.back() == '\t'))
      m.remove_suffix(1);
    if (m.empty()) continue;  // empty members are allowed
    const std::size_t eq = m.find('=');
    const std::string_view key = m.substr(0, eq);
    bool keep =
        eq != std::string_view::npos && kept.size() < 32 && valid_key(key) && valid_value(m.substr(eq + 1));
    for (std::size_t i = 0; keep && i < keys.size(); ++i)
      keep = keys[i] != key;  // the first of a repeated key
    if (!keep) {
      clean = false;
      continue;
    }
    keys.push_back(key);
    kept.push_back(m);
  }
  const auto joined_size = [&] {
    std::size_t n = kept.empty() ? 0 : kept.size() - 1;
    for (const std::string_view m : kept)
      n += m.size();
    return n;
  };
  while (joined_size() > tracestate_limit) {
    std::size_t victim = kept.size() - 1;
    for (std::size_t i = kept.size(); i-- > 0;)
      if (kept[i].size() > 128) {
        victim = i;
        break;
      }
    kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(victim));
    clean = false;
    if (cut) *cut = true;
  }
  for (const std::string_view m : kept) {
    if (!out.empty()) out += ',';
    out += m;
  }
  return out;
}

inline std::string w3c_text(const w3c::traceparent& tp) {
  char buf[w3c::traceparent_size];
  w3c::format_traceparent(tp, buf);
  return std::string(buf, sizeof buf);
}

/// The W3C propagation hook: traceparent as marshal writes it (`m`), then the valid members of the context's
/// tracestate, normalized, when there are any (never a control character other than a tab: CR LF in a header
/// value would start another header).
inline void check_w3c_hook(findings& out, const trace_context& ctx, const std::string& m,
                           const prop::header_list& hl) {
  const bool has_state = hl.size() == 2 && iequals(hl[1].first, w3c::tracestate_header);
  out.expect(!hl.empty() && iequals(hl[0].first, w3c::traceparent_header) && hl[0].second == m &&
                 hl.size() == (has_state ? 2u : 1u),
             "w3c::propagation_hook does not give traceparent as marshal does, then at most tracestate");
  bool clean = true;
  const std::string state = reference_tracestate(ctx.tracestate, clean);
  out.expect(has_state == !state.empty(), [&] {
    return std::string("w3c::propagation_hook ") + (has_state ? "wrote" : "left out") +
           " the tracestate of " + c_literal(ctx.tracestate);
  });
  if (has_state) {
    out.expect(hl[1].second == state, [&] {
      return "w3c::propagation_hook wrote the tracestate " + c_literal(hl[1].second) + ", expected " +
             c_literal(state);
    });
    out.expect(std::none_of(hl[1].second.begin(), hl[1].second.end(),
                            [](char c) { return is_control(c) && c != '\t'; }),
               [&] {
                 return "w3c::propagation_hook wrote a tracestate with a control character: " +
                        c_literal(hl[1].second);
               });
  }
}

/// `w3c::marshal` of a context, then reading it back.
inline void check_w3c_marshal(findings& out, const trace_context& ctx, bool full) {
  count_change mc;
  const std::optional<std::string> m = counted(
      mc, [&] { return w3c::marshal(ctx); }, full);
  expect_no_count(out, mc, "w3c::marshal");
  const bool writable = hex_id(ctx.trace_id, 32, false) && hex_id(ctx.parent_id, 16, false);
  out.expect(m.has_value() == writable, [&] {
    return std::string(m ? "w3c::marshal wrote ids it documents it refuses: "
                         : "w3c::marshal refused ids it documents it writes: ") +
           describe(ctx);
  });
  const prop::header_list hl = full ? w3c::propagation_hook()(ctx) : prop::header_list();
  if (!m) {
    out.expect(hl.empty(), "w3c::propagation_hook gave headers for a context marshal refuses");
    return;
  }
  static constexpr char digits[] = "0123456789abcdef";
  const std::string expected = "00-" + ascii_lower(ctx.trace_id) + "-" + ascii_lower(ctx.parent_id) + "-" +
                               digits[ctx.trace_flags >> 4] + digits[ctx.trace_flags & 15];
  out.expect(*m == expected,
             [&] { return "w3c::marshal wrote " + c_literal(*m) + ", expected " + expected; });
  if (full) check_w3c_hook(out, ctx, *m, hl);
  count_change rc;
  const std::optional<trace_context> back = counted(
      rc, [&] { return w3c::unmarshal(*m); }, full);
  out.expect(back && rc.none(),
             [&] { return "reading back what w3c::marshal wrote failed: " + c_literal(*m); });
  if (back)
    out.expect(back->trace_id == ascii_lower(ctx.trace_id) && back->parent_id == ascii_lower(ctx.parent_id) &&
                   back->trace_flags == ctx.trace_flags,
               [&] { return "w3c round trip changed " + describe(ctx) + " into " + describe(*back); });
}

/// `w3c::unmarshal(traceparent, tracestate)` and the lower-level pieces it is made of. `accepted`, when
/// given, is set to whether the traceparent was read.
inline std::string check_w3c(std::string_view traceparent, std::string_view tracestate,
                             const check_depth& depth = {}, bool* accepted = nullptr) {
  findings out("w3c", traceparent, tracestate);

  // The low-level parser: against the reference, and through format and parse again.
  std::uint8_t ref_flags = 0;
  const verdict ref = reference_traceparent(traceparent, &ref_flags);
  count_change pc;
  const std::optional<w3c::traceparent> tp = counted(
      pc, [&] { return w3c::parse_traceparent(traceparent); }, depth.full);
  // parse_traceparent may count its own rejections (unmarshal is built on it), but never an acceptance.
  out.expect(pc.none() || (!tp && pc.is_one(prop::format::w3c)),
             [&] { return "w3c::parse_traceparent changed the counters: " + describe(pc); });
  if (ref != verdict::unsure && traceparent.size() <= prop::max_header_bytes)
    out.expect(tp.has_value() == (ref == verdict::accept), [&] {
      return std::string("w3c::parse_traceparent ") + (tp ? "accepted" : "rejected") +
             " what the reference parser (the header's description) " + (tp ? "rejects" : "accepts");
    });
  if (tp) {
    out.expect(
        hex_id(tp->trace_id_hex(), 32, true) && hex_id(tp->span_id_hex(), 16, true) && tp->version != 0xff,
        "w3c::parse_traceparent gave ids that are not lowercase hex, or all zero, or version ff");
    if (ref == verdict::accept) {
      const std::string_view body =
          !traceparent.empty() && is_js_space(traceparent[0]) ? traceparent.substr(1) : traceparent;
      out.expect(tp->trace_id_hex() == body.substr(3, 32) && tp->span_id_hex() == body.substr(36, 16) &&
                     tp->flags == ref_flags,
                 "w3c::parse_traceparent's ids or flags differ from the text");
    }
    if (depth.full) {
      const std::string text = w3c_text(*tp);
      const std::optional<w3c::traceparent> again = w3c::parse_traceparent(text);
      out.expect(
          again && again->trace_id == tp->trace_id && again->span_id == tp->span_id &&
              again->flags == tp->flags && again->version == 0,
          [&] { return "format_traceparent then parse_traceparent changed the value: " + c_literal(text); });
    }
  }

  // valid_tracestate: nothing of the value would be dropped (the header: at most 32 members, the grammar's
  // keys and values, no repeated key). Over the 512-byte limit it may say either.
  bool ts_clean = true;
  bool ts_cut = false;
  const std::string ts_kept = reference_tracestate(tracestate, ts_clean, &ts_cut);
  if (depth.full && tracestate.size() <= tracestate_limit)
    out.expect(w3c::valid_tracestate(tracestate) == ts_clean, [&] {
      return std::string("w3c::valid_tracestate says ") + (ts_clean ? "invalid" : "valid") +
             " where the grammar says otherwise: " + c_literal(tracestate);
    });

  count_change c;
  const std::optional<trace_context> r = counted(c, [&] { return w3c::unmarshal(traceparent, tracestate); });
  if (accepted) *accepted = r.has_value();
  if (traceparent.size() <= prop::max_header_bytes)
    out.expect(r.has_value() == tp.has_value(),
               "w3c::unmarshal and w3c::parse_traceparent disagree on acceptance");
  if (!r) {
    expect_rejection_counted(out, c, prop::format::w3c, traceparent.size(), "w3c::unmarshal");
  } else {
    expect_bounded_ids(out, *r);
    out.expect(hex_id(r->trace_id, 32, true) && hex_id(r->parent_id, 16, true), [&] {
      return "w3c::unmarshal accepted ids that are not lowercase hex of 32/16: " + describe(*r);
    });
    if (tp)
      out.expect(r->trace_id == tp->trace_id_hex() && r->parent_id == tp->span_id_hex() &&
                     r->trace_flags == tp->flags,
                 "w3c::unmarshal and w3c::parse_traceparent read different ids or flags");
    out.expect(r->dataset.empty() && r->fields.empty(), "w3c::unmarshal set a dataset or fields");
    // tracestate: its valid members kept, normalized; anything dropped counted once (w3c/oversized when the
    // length limit cut members, else w3c/malformed).
    out.expect(r->tracestate == ts_kept, [&] {
      return "w3c::unmarshal kept the tracestate " + c_literal(r->tracestate) + ", expected " +
             c_literal(ts_kept);
    });
    if (ts_clean) {
      expect_no_count(out, c, "w3c::unmarshal with a valid or no tracestate");
    } else {
      const prop::reject_reason why =
          ts_cut ? prop::reject_reason::oversized : prop::reject_reason::malformed;
      out.expect(c.is_one(prop::format::w3c, why), [&] {
        return "dropping from a tracestate should count once as w3c/" + std::string(reason_name(why)) +
               ", counters show " + describe(c);
      });
    }
    // What was read writes back and reads back the same.
    count_change mc;
    const std::optional<std::string> m = counted(
        mc, [&] { return w3c::marshal(*r); }, depth.full);
    expect_no_count(out, mc, "w3c::marshal");
    out.expect(m.has_value(),
               [&] { return "w3c::marshal refused what unmarshal accepted: " + describe(*r); });
    if (m && tp) out.expect(*m == w3c_text(*tp), "w3c::marshal and format_traceparent write different text");
    if (m) {
      count_change rc;
      // The kept tracestate is read back unchanged too (checked fully; the quick check reads the ids only).
      const std::string_view state = depth.full ? std::string_view(r->tracestate) : std::string_view();
      const std::optional<trace_context> back = counted(
          rc, [&] { return w3c::unmarshal(*m, state); }, depth.full);
      trace_context expected = *r;
      if (!depth.full) expected.tracestate.clear();
      out.expect(back == expected && rc.none(), [&] {
        return "w3c round trip changed " + describe(*r) + " into " + describe(back) + " (" + describe(rc) +
               ")";
      });
    }
  }
  if (!depth.full) return out.message();
  header_pairs h{{std::string(w3c::traceparent_header), std::string(traceparent)}};
  if (!tracestate.empty()) h.emplace_back(std::string(w3c::tracestate_header), std::string(tracestate));
  out.expect(w3c::parser_hook()(prop::header_view(h)) == r, "w3c::parser_hook disagrees with unmarshal");
  expect_sums_agree(out);
  return out.message();
}

// ---------------------------------------------------------------------------------------------------------------
// AWS

/// An id `aws::marshal` must write: non-empty, bounded, printable ASCII without a space or `;` `=` `,`.
inline bool aws_id_plain(std::string_view id) {
  if (id.empty() || id.size() > prop::max_id_bytes) return false;
  for (const char c : id)
    if (!is_printable_ascii(c) || c == ' ' || c == ';' || c == '=' || c == ',') return false;
  return true;
}

inline void check_aws_marshal(findings& out, const trace_context& ctx, bool full) {
  count_change mc;
  const std::optional<std::string> m = counted(
      mc, [&] { return aws::marshal(ctx); }, full);
  expect_no_count(out, mc, "aws::marshal");
  if (aws_id_plain(ctx.trace_id) && aws_id_plain(ctx.parent_id))
    out.expect(m.has_value(), [&] { return "aws::marshal refused plain ids: " + describe(ctx); });
  if (ctx.trace_id.empty() || ctx.parent_id.empty())
    out.expect(!m.has_value(), "aws::marshal wrote an empty id");
  if (full) {
    const prop::header_list hl = aws::propagation_hook()(ctx);
    out.expect(m ? hl.size() == 1 && iequals(hl[0].first, aws::header) && hl[0].second == *m : hl.empty(),
               "aws::propagation_hook does not give the one header marshal gives (none when it refuses)");
  }
  if (!m) return;
  out.expect(!any_char(*m, is_control), [&] {
    return "aws::marshal wrote a control character: " + c_literal(*m) + " for " + describe(ctx);
  });
  const std::string head = "Root=" + ctx.trace_id + ";Parent=" + ctx.parent_id;
  out.expect(m->starts_with(head) && (m->size() == head.size() || (*m)[head.size()] == ';'),
             [&] { return "aws::marshal wrote " + c_literal(*m) + " for " + describe(ctx); });
  if (m->size() > prop::max_header_bytes) return;
  count_change rc;
  const std::optional<trace_context> back = counted(
      rc, [&] { return aws::unmarshal(*m); }, full);
  out.expect(back && rc.none(), [&] {
    return "reading back what aws::marshal wrote failed (" + describe(rc) + "): " + c_literal(*m);
  });
  if (!back) return;
  out.expect(back->trace_id == ctx.trace_id && back->parent_id == ctx.parent_id,
             [&] { return "aws ids changed through marshal and unmarshal: " + describe(*back); });
  // A plain string field (plain key, not one of the id keys) comes back as written.
  for (const owned_field& f : ctx.fields) {
    if (f.value.kind() != value_kind::string || !aws_id_plain(f.key) ||
        !aws_id_plain(f.value.view().as_string()))
      continue;
    if (iequals(f.key, "root") || iequals(f.key, "parent") || iequals(f.key, "self")) continue;
    const auto it = std::find_if(back->fields.begin(), back->fields.end(),
                                 [&](const owned_field& g) { return g.key == f.key; });
    out.expect(it != back->fields.end() && it->value == f.value,
               [&] { return "aws lost the plain field " + c_literal(f.key) + ": " + c_literal(*m); });
  }
  const std::optional<std::string> again = aws::marshal(*back);
  out.expect(again == m, [&] {
    return "aws: marshal(unmarshal(h)) != h for h = marshal(ctx): " + c_literal(*m) + " then " +
           describe(again);
  });
}

inline std::string check_aws(std::string_view value, const check_depth& depth = {},
                             bool* accepted = nullptr) {
  findings out("aws", value);
  count_change c;
  const std::optional<trace_context> r = counted(c, [&] { return aws::unmarshal(value); });
  if (accepted) *accepted = r.has_value();
  if (!r) {
    expect_rejection_counted(out, c, prop::format::aws, value.size(), "aws::unmarshal");
  } else {
    expect_no_count(out, c, "aws::unmarshal (accepted)");
    expect_bounded_ids(out, *r);
    expect_unique_keys(out, r->fields);
    for (const owned_field& f : r->fields) {
      out.expect(f.value.kind() == value_kind::string, "aws::unmarshal made a field that is not a string");
      out.expect(!iequals(f.key, "root") && !iequals(f.key, "parent") && !iequals(f.key, "self"),
                 [&] { return "aws::unmarshal made a field of the id key " + c_literal(f.key); });
    }
    out.expect(r->dataset.empty() && r->tracestate.empty(), "aws::unmarshal set a dataset or tracestate");
    count_change mc;
    const std::optional<std::string> m = counted(
        mc, [&] { return aws::marshal(*r); }, depth.full);
    expect_no_count(out, mc, "aws::marshal");
    out.expect(m.has_value() || !aws_id_plain(r->trace_id) || !aws_id_plain(r->parent_id),
               [&] { return "aws::marshal refused what unmarshal accepted: " + describe(*r); });
    if (m && m->size() <= prop::max_header_bytes) {
      count_change rc;
      const std::optional<trace_context> back = counted(
          rc, [&] { return aws::unmarshal(*m); }, depth.full);
      out.expect(back && rc.none(),
                 [&] { return "reading back marshal(unmarshal(x)) failed: " + c_literal(*m); });
      if (back) {
        out.expect(back->trace_id == r->trace_id && back->parent_id == r->parent_id,
                   [&] { return "aws round trip changed " + describe(*r) + " into " + describe(*back); });
        for (const owned_field& f : back->fields) {
          const auto it = std::find_if(r->fields.begin(), r->fields.end(),
                                       [&](const owned_field& g) { return g.key == f.key; });
          out.expect(it != r->fields.end() && it->value == f.value,
                     [&] { return "aws round trip made up the field " + c_literal(f.key); });
        }
        if (depth.full)
          out.expect(aws::marshal(*back) == m, "aws: marshal(unmarshal(marshal(c))) != marshal(c)");
      }
    }
  }
  if (!depth.full) return out.message();
  const header_pairs h{{std::string(aws::header), std::string(value)}};
  out.expect(aws::parser_hook()(prop::header_view(h)) == r, "aws::parser_hook disagrees with unmarshal");
  expect_sums_agree(out);
  return out.message();
}

// ---------------------------------------------------------------------------------------------------------------
// X-Ray

/// The header xray::marshal documents; ids keep their case (the header does not say they are lowercased).
inline std::string xray_expected(const trace_context& ctx) {
  const std::string& t = ctx.trace_id;
  return "Root=1-" + t.substr(0, 8) + "-" + t.substr(8) + ";Parent=" + ctx.parent_id +
         ";Sampled=" + ((ctx.trace_flags & 1) ? "1" : "0");
}

inline void check_xray_marshal(findings& out, const trace_context& ctx, bool full) {
  count_change mc;
  const std::optional<std::string> m = counted(
      mc, [&] { return xray::marshal(ctx); }, full);
  expect_no_count(out, mc, "xray::marshal");
  const bool writable = hex_id(ctx.trace_id, 32, false) && hex_id(ctx.parent_id, 16, false);
  out.expect(m.has_value() == writable, [&] {
    return std::string(m ? "xray::marshal wrote ids it documents it refuses: "
                         : "xray::marshal refused ids it documents it writes: ") +
           describe(ctx);
  });
  if (full) {
    const prop::header_list hl = xray::propagation_hook()(ctx);
    out.expect(m ? hl.size() == 1 && iequals(hl[0].first, xray::header) && hl[0].second == *m : hl.empty(),
               "xray::propagation_hook does not give the one header marshal gives (none when it refuses)");
  }
  if (!m) return;
  out.expect(*m == xray_expected(ctx),
             [&] { return "xray::marshal wrote " + c_literal(*m) + ", expected " + xray_expected(ctx); });
  count_change rc;
  const std::optional<trace_context> back = counted(
      rc, [&] { return xray::unmarshal(*m); }, full);
  out.expect(back && rc.none(),
             [&] { return "reading back what xray::marshal wrote failed: " + c_literal(*m); });
  if (back)
    out.expect(iequals(back->trace_id, ctx.trace_id) && iequals(back->parent_id, ctx.parent_id) &&
                   back->trace_flags == (ctx.trace_flags & 1),
               [&] { return "xray round trip changed " + describe(ctx) + " into " + describe(*back); });
}

inline std::string check_xray(std::string_view value, const check_depth& depth = {},
                              bool* accepted = nullptr) {
  findings out("xray", value);
  count_change c;
  const std::optional<trace_context> r = counted(c, [&] { return xray::unmarshal(value); });
  if (accepted) *accepted = r.has_value();
  if (!r) {
    expect_rejection_counted(out, c, prop::format::xray, value.size(), "xray::unmarshal");
  } else {
    expect_no_count(out, c, "xray::unmarshal (accepted)");
    expect_bounded_ids(out, *r);
    out.expect(hex_id(r->trace_id, 32, false) && hex_id(r->parent_id, 16, false), [&] {
      return "xray::unmarshal accepted ids that are not hex of 32/16, or all zero: " + describe(*r);
    });
    out.expect(r->trace_flags <= 1, "xray::unmarshal set flags other than the sampled bit");
    out.expect(r->dataset.empty() && r->tracestate.empty() && r->fields.empty(),
               "xray::unmarshal set a dataset, tracestate or fields");
    count_change mc;
    const std::optional<std::string> m = counted(
        mc, [&] { return xray::marshal(*r); }, depth.full);
    expect_no_count(out, mc, "xray::marshal");
    out.expect(m.has_value(),
               [&] { return "xray::marshal refused what unmarshal accepted: " + describe(*r); });
    if (m) {
      const std::optional<trace_context> back = xray::unmarshal(*m);
      out.expect(back == r,
                 [&] { return "xray round trip changed " + describe(*r) + " into " + describe(back); });
    }
  }
  if (!depth.full) return out.message();
  const header_pairs h{{std::string(xray::header), std::string(value)}};
  out.expect(xray::parser_hook()(prop::header_view(h)) == r, "xray::parser_hook disagrees with unmarshal");
  expect_sums_agree(out);
  return out.message();
}

// ---------------------------------------------------------------------------------------------------------------
// Highlight

/// What `highlight::marshal` documents it writes.
inline bool highlight_part_writable(std::string_view s) {
  if (s.empty() || s.size() > prop::max_id_bytes) return false;
  for (const char c : s)
    if (!is_printable_ascii(c) || c == '/') return false;
  return true;
}

inline void check_highlight_marshal(findings& out, const highlight::request_ids& ids, bool full) {
  count_change mc;
  const std::optional<std::string> m = counted(
      mc, [&] { return highlight::marshal(ids); }, full);
  expect_no_count(out, mc, "highlight::marshal");
  const bool writable =
      highlight_part_writable(ids.secure_session_id) && highlight_part_writable(ids.request_id);
  // A space is printable ASCII; whether an id may hold one is left to the codec.
  const bool has_space =
      ids.secure_session_id.find(' ') != std::string::npos || ids.request_id.find(' ') != std::string::npos;
  if (!has_space || !writable)
    out.expect(m.has_value() == writable, [&] {
      return std::string(m ? "highlight::marshal wrote parts it documents it refuses: "
                           : "highlight::marshal refused parts it documents it writes: ") +
             c_literal(ids.secure_session_id) + " / " + c_literal(ids.request_id);
    });
  if (!m) return;
  out.expect(*m == ids.secure_session_id + "/" + ids.request_id,
             "highlight::marshal is not <session>/<request>");
  count_change rc;
  const std::optional<highlight::request_ids> back = counted(
      rc, [&] { return highlight::unmarshal(*m); }, full);
  out.expect(back == ids && rc.none(), [&] {
    return "reading back what highlight::marshal wrote gave something else: " + c_literal(*m);
  });
}

inline std::string check_highlight(std::string_view value, const check_depth& depth = {},
                                   bool* accepted = nullptr) {
  findings out("highlight", value);
  count_change c;
  const std::optional<highlight::request_ids> r = counted(c, [&] { return highlight::unmarshal(value); });
  if (accepted) *accepted = r.has_value();
  if (!r) {
    expect_rejection_counted(out, c, prop::format::highlight, value.size(), "highlight::unmarshal");
  } else {
    expect_no_count(out, c, "highlight::unmarshal (accepted)");
    for (const std::string_view part :
         {std::string_view(r->secure_session_id), std::string_view(r->request_id)}) {
      out.expect(!part.empty() && part.size() <= prop::max_id_bytes, "highlight part empty or too long");
      out.expect(part.find('/') == std::string_view::npos && !any_char(part, is_control),
                 [&] { return "highlight part with '/' or a control: " + c_literal(part); });
    }
    // The value is trimmed as JavaScript's trim() does first (the header does not say so).
    std::string_view trimmed = value;
    while (!trimmed.empty() && is_js_space(trimmed.front()))
      trimmed.remove_prefix(1);
    while (!trimmed.empty() && is_js_space(trimmed.back()))
      trimmed.remove_suffix(1);
    out.expect(r->secure_session_id + "/" + r->request_id == trimmed,
               "highlight::unmarshal's parts do not make up the (trimmed) value");
    check_highlight_marshal(out, *r, depth.full);
  }
  if (!depth.full) return out.message();
  const header_pairs h{{std::string(highlight::header), std::string(value)}};
  out.expect(highlight::from_headers(prop::header_view(h)) == r,
             "highlight::from_headers disagrees with unmarshal");
  expect_sums_agree(out);
  return out.message();
}

// ---------------------------------------------------------------------------------------------------------------
// W3C baggage

/// JavaScript's encodeURIComponent over UTF-8 bytes.
inline std::string reference_uri_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        std::string_view("-_.!~*'()").find(ch) != std::string_view::npos) {
      out.push_back(ch);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// Percent-decoding that must give UTF-8; nullopt otherwise.
inline std::optional<std::string> reference_uri_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return std::nullopt;
    unsigned v = 0;
    std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    out += static_cast<char>(v);
    i += 2;
  }
  if (!valid_utf8(out)) return std::nullopt;
  return out;
}

inline std::string_view js_trim(std::string_view s) {
  while (!s.empty() && is_js_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_js_space(s.back()))
    s.remove_suffix(1);
  return s;
}

/// The entries and counts a `baggage` value gives, from its description in propagation.hpp.
struct baggage_reading {
  std::vector<std::pair<std::string, std::string>> entries;
  std::uint64_t malformed = 0, invalid_encoding = 0, oversized = 0;
};

inline baggage_reading reference_baggage(std::string_view list) {
  baggage_reading r;
  bool cut = false;
  if (list.size() > beeline::baggage::max_bytes) {
    std::size_t last = std::string_view::npos;
    for (std::size_t i = 0; i <= beeline::baggage::max_bytes; ++i)
      if (list[i] == ',') last = i;
    list = last == std::string_view::npos ? std::string_view() : list.substr(0, last);
    cut = true;
  }
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    const std::string_view member = list.substr(start, end - start);
    start = end + 1;
    if (js_trim(member).empty()) continue;
    if (member.size() > beeline::baggage::max_member_bytes) {
      ++r.oversized;
      continue;
    }
    std::string_view pair = member;
    if (const std::size_t semi = pair.find(';'); semi != std::string_view::npos) pair = pair.substr(0, semi);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || js_trim(pair.substr(0, eq)).empty()) {
      ++r.malformed;
      continue;
    }
    const std::string_view k = js_trim(pair.substr(0, eq)), v = js_trim(pair.substr(eq + 1));
    const auto key = reference_uri_decode(k);
    const auto value = reference_uri_decode(v);
    if (any_char(k, is_control) || any_char(v, is_control) || !key || !value) {
      ++r.invalid_encoding;
      continue;
    }
    auto it =
        std::find_if(r.entries.begin(), r.entries.end(), [&](const auto& e) { return e.first == *key; });
    if (it != r.entries.end()) {
      it->second = *value;
    } else if (r.entries.size() >= beeline::baggage::max_members) {
      cut = true;
    } else {
      r.entries.emplace_back(*key, *value);
    }
  }
  if (cut) ++r.oversized;
  return r;
}

inline std::vector<std::pair<std::string, std::string>> baggage_strings(findings& out,
                                                                        const field_list& fields) {
  std::vector<std::pair<std::string, std::string>> e;
  for (const owned_field& f : fields) {
    out.expect(f.value.kind() == value_kind::string, "baggage::unmarshal made a field that is not a string");
    e.emplace_back(f.key, std::string(f.value.view().as_string()));
  }
  return e;
}

/// `baggage::marshal` of string fields, against the rule it documents.
inline void check_baggage_marshal(findings& out, const field_list& fields, bool full) {
  count_change mc;
  const std::optional<std::string> m = counted(
      mc, [&] { return beeline::baggage::marshal(fields); }, full);
  expect_no_count(out, mc, "baggage::marshal");
  std::string expected;
  std::vector<std::pair<std::string, std::string>> written;
  std::size_t taken = 0;
  for (const owned_field& f : fields) {
    if (f.value.kind() != value_kind::string) return;  // scalars are compared with Node (tests/interop)
    const std::string_view v = f.value.view().as_string();
    if (f.key.empty() || !valid_utf8(f.key) || !valid_utf8(v)) continue;
    const std::string member = reference_uri_encode(f.key) + "=" + reference_uri_encode(v);
    if (member.size() > beeline::baggage::max_member_bytes) continue;
    if (taken++ == beeline::baggage::max_members) break;
    if (expected.size() + (expected.empty() ? 0 : 1) + member.size() > beeline::baggage::max_bytes) continue;
    expected += (expected.empty() ? "" : ",") + member;
    written.emplace_back(f.key, std::string(v));
  }
  out.expect(m.value_or("") == expected,
             [&] { return "baggage::marshal wrote " + describe(m) + ", expected " + c_literal(expected); });
  if (!m) return;
  count_change rc;
  const field_list back = counted(
      rc, [&] { return beeline::baggage::unmarshal(*m); }, full);
  expect_no_count(out, rc, "baggage::unmarshal of what marshal wrote");
  // A repeated key is written twice and read back as its last value.
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& [k, v] : written) {
    auto it = std::find_if(merged.begin(), merged.end(), [&](const auto& e) { return e.first == k; });
    if (it != merged.end())
      it->second = v;
    else
      merged.emplace_back(k, v);
  }
  out.expect(baggage_strings(out, back) == merged,
             "reading back what baggage::marshal wrote changed the entries");
}

inline std::string check_baggage(std::string_view value, const check_depth& depth = {},
                                 bool* accepted = nullptr) {
  findings out("baggage", value);
  count_change c;
  const field_list r = counted(c, [&] { return beeline::baggage::unmarshal(value); });
  if (accepted) *accepted = !r.empty();
  const baggage_reading want = reference_baggage(value);
  const auto got = baggage_strings(out, r);
  out.expect(got == want.entries, [&] {
    return "baggage::unmarshal read " + std::to_string(got.size()) + " entries, the description " +
           std::to_string(want.entries.size()) + " (or different ones)";
  });
  out.expect(r.size() <= beeline::baggage::max_members, "baggage::unmarshal kept more than max_members");
  expect_unique_keys(out, r);
  out.expect(
      !c.went_down && c.added == c.in(prop::format::baggage, prop::reject_reason::malformed) +
                                     c.in(prop::format::baggage, prop::reject_reason::invalid_encoding) +
                                     c.in(prop::format::baggage, prop::reject_reason::oversized),
      [&] { return "baggage::unmarshal counted outside baggage's reasons: " + describe(c); });
  out.expect(
      c.in(prop::format::baggage, prop::reject_reason::malformed) == want.malformed &&
          c.in(prop::format::baggage, prop::reject_reason::invalid_encoding) == want.invalid_encoding &&
          c.in(prop::format::baggage, prop::reject_reason::oversized) == want.oversized,
      [&] { return "baggage::unmarshal's counts differ from the description: " + describe(c); });
  check_baggage_marshal(out, r, depth.full);
  if (!depth.full) return out.message();
  const header_pairs one{{"Baggage", std::string(value)}};
  out.expect(beeline::baggage::from_headers(prop::header_view(one)) == r,
             "baggage::from_headers disagrees with unmarshal");
  // Split at a comma into two headers: the same list.
  if (const std::size_t comma = value.find(','); comma != std::string_view::npos) {
    const header_pairs two{{"baggage", std::string(value.substr(0, comma))},
                           {"baggage", std::string(value.substr(comma + 1))}};
    out.expect(beeline::baggage::from_headers(prop::header_view(two)) == r,
               "two baggage headers read differently from the same list in one");
  }
  const auto hooked = beeline::baggage::parser_hook()(prop::header_view(one));
  out.expect(hooked ? hooked->fields == r && hooked->trace_id.empty() : r.empty(),
             "baggage::parser_hook disagrees with unmarshal");
  expect_sums_agree(out);
  return out.message();
}

// ---------------------------------------------------------------------------------------------------------------
// Every marshal, from arbitrary bytes

/// One codec's marshal on the context `context_from_bytes(bytes)` makes (for highlight: its two ids as the
/// two parts).
inline std::string check_marshal(std::string_view bytes, prop::format f, const check_depth& depth = {}) {
  findings out("marshal", bytes);
  const trace_context ctx = context_from_bytes(bytes);
  switch (f) {
    case prop::format::honeycomb:
      for (const bool pd : {false, true})
        if (depth.full || pd == depth.propagate_dataset) check_honeycomb_marshal(out, ctx, pd, depth.full);
      break;
    case prop::format::w3c:
      check_w3c_marshal(out, ctx, depth.full);
      break;
    case prop::format::aws:
      check_aws_marshal(out, ctx, depth.full);
      break;
    case prop::format::xray:
      check_xray_marshal(out, ctx, depth.full);
      break;
    case prop::format::highlight:
      check_highlight_marshal(out, {ctx.trace_id, ctx.parent_id}, depth.full);
      break;
    case prop::format::baggage:
      check_baggage_marshal(out, ctx.fields, depth.full);
      break;
  }
  return out.message();
}

// ---------------------------------------------------------------------------------------------------------------
// header_view, parse_default and the parser hooks

/// `header_view` over a container, against the same headers in the container's own order (`order`).
inline std::string check_headers(const prop::header_view& view, const header_pairs& order,
                                 std::string_view input, const check_depth& depth = {}) {
  findings out("headers", input);
  const auto first = [&](std::string_view name) -> std::optional<std::string_view> {
    for (const auto& [n, v] : order)
      if (iequals(n, name)) return std::string_view(v);
    return std::nullopt;
  };
  const auto all = [&](std::string_view name) {
    std::vector<std::string_view> values;
    for (const auto& [n, v] : order)
      if (iequals(n, name)) values.emplace_back(v);
    return values;
  };

  std::vector<std::string> names{std::string(honeycomb::header),
                                 std::string(w3c::traceparent_header),
                                 std::string(w3c::tracestate_header),
                                 std::string(aws::header),
                                 std::string(highlight::header),
                                 "TRACEPARENT",
                                 "x-honeycomb-trace",
                                 ""};
  for (std::size_t i = 0; i < order.size() && i < 4; ++i)
    names.push_back(order[i].first);
  for (const std::string& name : names) {
    out.expect(view.get(name) == first(name),
               [&] { return "header_view::get(" + c_literal(name) + ") is wrong"; });
    std::vector<std::string_view> seen;
    view.for_each(name, [&](std::string_view v) {
      seen.push_back(v);
      return true;
    });
    out.expect(seen == all(name), [&] { return "header_view::for_each(" + c_literal(name) + ") is wrong"; });
    int calls = 0;
    view.for_each(name, [&](std::string_view) {
      ++calls;
      return false;
    });
    out.expect(calls == (seen.empty() ? 0 : 1), "header_view::for_each went on after false");
  }

  const std::optional<std::string_view> hc = first(honeycomb::header);
  const std::optional<std::string_view> tp = first(w3c::traceparent_header);
  const std::vector<std::string_view> states = all(w3c::tracestate_header);
  for (const bool pd : {false, true}) {
    if (!depth.full && pd != depth.propagate_dataset) continue;
    count_change got_c;
    const std::optional<trace_context> got = counted(got_c, [&] { return prop::parse_default(view, pd); });
    count_change want_c;
    std::optional<trace_context> want;
    bool compare = true;
    if (hc && !hc->empty()) {
      want = counted(want_c, [&] { return honeycomb::unmarshal(*hc, pd); });
    } else if (hc && hc->empty()) {
      compare = false;  // an empty X-Honeycomb-Trace: the Beeline falls back to W3C; either reading is fine
    } else if (tp) {
      if (states.size() <= 1) {
        want = counted(want_c,
                       [&] { return w3c::unmarshal(*tp, states.empty() ? std::string_view() : states[0]); });
      } else {
        // Several tracestate headers: how they are joined is the codec's choice; the traceparent decides.
        compare = false;
        const std::optional<trace_context> alone = w3c::unmarshal(*tp);
        out.expect(got.has_value() == alone.has_value(), "parse_default with several tracestate headers");
        if (got && alone)
          out.expect(got->trace_id == alone->trace_id && got->parent_id == alone->parent_id &&
                         got->trace_flags == alone->trace_flags,
                     "parse_default with several tracestate headers read other ids");
      }
    }
    if (compare) {
      out.expect(got == want, [&] {
        return "parse_default(pd=" + std::to_string(pd) + ") gave " + describe(got) + ", the codec " +
               describe(want);
      });
      out.expect(got_c == want_c, [&] {
        return "parse_default counted " + describe(got_c) + ", the codec alone " + describe(want_c);
      });
    }
    if (!got && !hc && !tp) expect_no_count(out, got_c, "parse_default without trace headers");

    if (hc) {
      out.expect(honeycomb::parser_hook(pd)(view) == honeycomb::unmarshal(*hc, pd),
                 "honeycomb::parser_hook disagrees with unmarshal of the first X-Honeycomb-Trace");
    } else {
      count_change hook_c;
      out.expect(!counted(hook_c, [&] { return honeycomb::parser_hook(pd)(view); }),
                 "honeycomb::parser_hook read a context without the header");
      expect_no_count(out, hook_c, "honeycomb::parser_hook without the header");
    }
  }
  if (tp && states.size() <= 1)
    out.expect(
        w3c::parser_hook()(view) == w3c::unmarshal(*tp, states.empty() ? std::string_view() : states[0]),
        "w3c::parser_hook disagrees with unmarshal of the first traceparent and the tracestate");
  if (!tp) out.expect(!w3c::parser_hook()(view), "w3c::parser_hook read a context without traceparent");
  const std::optional<std::string_view> amzn = first(aws::header);
  out.expect(aws::parser_hook()(view) == (amzn ? aws::unmarshal(*amzn) : std::nullopt),
             "aws::parser_hook disagrees with unmarshal of the first X-Amzn-Trace-Id");
  out.expect(xray::parser_hook()(view) == (amzn ? xray::unmarshal(*amzn) : std::nullopt),
             "xray::parser_hook disagrees with unmarshal of the first X-Amzn-Trace-Id");
  const std::optional<std::string_view> hl = first(highlight::header);
  out.expect(highlight::from_headers(view) == (hl ? highlight::unmarshal(*hl) : std::nullopt),
             "highlight::from_headers disagrees with unmarshal of the first x-highlight-request");
  return out.message();
}

/// Headers from bytes: one per line, `name:value` (one space after the colon is dropped; a line without a
/// colon is a name with an empty value).
inline header_pairs headers_from_bytes(std::string_view bytes) {
  header_pairs out;
  for (std::size_t start = 0; start < bytes.size();) {
    std::size_t nl = bytes.find('\n', start);
    if (nl == std::string_view::npos) nl = bytes.size();
    const std::string_view line = bytes.substr(start, nl - start);
    start = nl + 1;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      out.emplace_back(std::string(line), std::string());
      continue;
    }
    std::string_view v = line.substr(colon + 1);
    if (v.starts_with(' ')) v.remove_prefix(1);
    out.emplace_back(std::string(line.substr(0, colon)), std::string(v));
  }
  return out;
}

}  // namespace beeline::fuzz
