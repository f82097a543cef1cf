// Interoperability of the propagation codecs with the real Node packages: honeycomb-beeline's `honeycomb`,
// `w3c` and `aws` codecs, OpenTelemetry JS's W3CTraceContextPropagator and AWSXRayPropagator (see
// tests/interop/README.md).
//
// tests/interop/propagation_cases.json holds the cases: contexts to marshal and header values to unmarshal,
// for every format, read with a classic and a non-classic write key. The `interop_reference` ctest fixture
// runs them through Node (propagation_ref.js, into $BEELINE_INTEROP_OUT/propagation_ref.json); these tests
// run them through ours and check:
//   - our header bytes equal Node's, for every context and format;
//   - we read every header (hand-written, and every header Node made) as Node reads it, and a Honeycomb
//   header
//     we read is sent on byte-identically to what Node sends on;
//   - Node (propagation_parse.js, run from here) reads every header we make back into our context.
// Where we deliberately differ, the case names a documented difference (`differences` in the case file) and
// states what each side gives; both are asserted exactly. Everything else must agree. Nothing is skipped: a
// missing Node output fails.
#include <beeline/propagation.hpp>

#include "core/json.hpp"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using beeline::trace_context;
using beeline::value;
using beeline::value_kind;

// ---- a small owned JSON tree (Node's output and the cases, read with simdjson) ----

struct json {
  enum class kind { undefined, null, boolean, number, string, array, object };
  kind k = kind::undefined;
  bool b = false;
  double num = 0;
  std::string text;  // a string's value, or a number as written
  std::vector<json> items;
  std::vector<std::pair<std::string, json>> members;

  bool is(kind want) const { return k == want; }
  bool defined() const { return k != kind::undefined; }
  /// The member `key`, or an undefined value.
  const json& operator[](std::string_view key) const {
    static const json undefined;
    if (k == kind::object)
      for (const auto& [name, v] : members)
        if (name == key) return v;
    return undefined;
  }
  const std::string& str() const {
    if (k != kind::string) FAIL("expected a JSON string, got " << dump());
    return text;
  }
  std::string dump() const;
};

void append_quoted(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out.append(buf);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

std::string json::dump() const {
  std::string out;
  switch (k) {
    case kind::undefined:
      return "undefined";
    case kind::null:
      return "null";
    case kind::boolean:
      return b ? "true" : "false";
    case kind::number:
      return text;
    case kind::string:
      append_quoted(out, text);
      return out.size() > 300 ? out.substr(0, 300) + "...\"" : out;
    case kind::array:
      out = "[";
      for (std::size_t i = 0; i < items.size(); ++i)
        out += (i ? "," : "") + items[i].dump();
      return out + "]";
    case kind::object:
      out = "{";
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i) out += ",";
        append_quoted(out, members[i].first);
        out += ":" + members[i].second.dump();
      }
      return out + "}";
  }
  return out;
}

json from_dom(simdjson::dom::element e) {
  json j;
  switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      j.k = json::kind::null;
      break;
    case simdjson::dom::element_type::BOOL:
      j.k = json::kind::boolean;
      j.b = e.get_bool().value_unsafe();
      break;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      j.k = json::kind::number;
      j.num = e.get_double().value_unsafe();
      j.text = simdjson::minify(e);
      break;
    case simdjson::dom::element_type::STRING:
      j.k = json::kind::string;
      j.text = std::string(e.get_string().value_unsafe());
      break;
    case simdjson::dom::element_type::ARRAY: {
      j.k = json::kind::array;
      const simdjson::dom::array array = e.get_array().value_unsafe();  // a named value: the loop borrows it
      for (const auto item : array)
        j.items.push_back(from_dom(item));
      break;
    }
    case simdjson::dom::element_type::OBJECT: {
      j.k = json::kind::object;
      const simdjson::dom::object object = e.get_object().value_unsafe();
      for (const auto member : object)
        j.members.emplace_back(std::string(member.key), from_dom(member.value));
      break;
    }
  }
  return j;
}

std::optional<json> try_parse_json(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(text)).get(root) == simdjson::SUCCESS) return from_dom(root);
  if (parser.parse(simdjson::padded_string(beeline::detail::widen_big_integers(text))).get(root) ==
      simdjson::SUCCESS)
    return from_dom(root);
  return std::nullopt;
}

// Equal as JSON values: numbers by value (so Node's 1 and our 1.0 are equal), objects in member order.
bool json_equal(const json& a, const json& b) {
  if (a.k != b.k) return false;
  switch (a.k) {
    case json::kind::undefined:
    case json::kind::null:
      return true;
    case json::kind::boolean:
      return a.b == b.b;
    case json::kind::number:
      return a.num == b.num;
    case json::kind::string:
      return a.text == b.text;
    case json::kind::array:
      return a.items.size() == b.items.size() &&
             std::equal(a.items.begin(), a.items.end(), b.items.begin(), json_equal);
    case json::kind::object:
      if (a.members.size() != b.members.size()) return false;
      for (std::size_t i = 0; i < a.members.size(); ++i)
        if (a.members[i].first != b.members[i].first || !json_equal(a.members[i].second, b.members[i].second))
          return false;
      return true;
  }
  return false;
}

// ---- files, environment, Node ----

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0')
    FAIL(name
         << " is not set. Run the interop tests through ctest (`ctest -R interop` in the build directory), "
            "which sets it and first runs the Node reference scripts in tests/interop (needs node and `npm "
            "ci`).");
  return v;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) FAIL("cannot read " << p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json parse_file(const fs::path& p) {
  const std::string text = read_file(p);
  if (text.empty()) FAIL(p << " is empty: the Node script that writes it failed.");
  auto j = try_parse_json(text);
  if (!j) FAIL(p << " is not valid JSON");
  return std::move(*j);
}

// Node's reference output and the cases it was made from.
struct reference {
  json cases;
  json ref;
};

reference load_reference() {
  const fs::path out = env_or_fail("BEELINE_INTEROP_OUT");
  const fs::path dir = env_or_fail("BEELINE_INTEROP_DIR");
  const fs::path ref = out / "propagation_ref.json";
  if (!fs::is_regular_file(ref))
    FAIL("Node reference file "
         << ref
         << " is missing. It is written by the `interop_reference` ctest fixture "
            "(tests/interop/propagation_ref.js); run `ctest -R interop` in the build directory.");
  reference r{parse_file(dir / "propagation_cases.json"), parse_file(ref)};
  // The output must be for these cases (a stale file fails here).
  const auto& cases = r.cases["contexts"].items;
  const auto& made = r.ref["contexts"].items;
  REQUIRE(cases.size() == made.size());
  for (std::size_t i = 0; i < cases.size(); ++i)
    REQUIRE(cases[i]["name"].str() == made[i]["name"].str());
  for (const auto& [format, list] : r.cases["headers"].members) {
    const auto& parsed = r.ref["parsed"][format].items;
    REQUIRE(list.items.size() == parsed.size());
    for (std::size_t i = 0; i < parsed.size(); ++i)
      REQUIRE(list.items[i]["name"].str() == parsed[i]["name"].str());
  }
  return r;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `node propagation_parse.js <file>` and returns its output.
json node_parse(const fs::path& headers_file) {
  const fs::path script = fs::path(env_or_fail("BEELINE_INTEROP_DIR")) / "propagation_parse.js";
  const std::string cmd = shell_quote(env_or_fail("BEELINE_NODE")) + " " + shell_quote(script.string()) +
                          " " + shell_quote(headers_file.string());
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) FAIL("cannot run " << cmd);
  std::string text;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
    text.append(buf, n);
  const int status = pclose(pipe);
  if (status != 0) FAIL(cmd << " failed (status " << status << "); its output:\n" << text);
  auto j = try_parse_json(text);
  if (!j) FAIL(cmd << " printed no JSON:\n" << text);
  return std::move(*j);
}

// ---- cases to our types ----

value case_value(const json& v) {
  switch (v.k) {
    case json::kind::null:
      return value(nullptr);
    case json::kind::boolean:
      return value(v.b);
    case json::kind::string:
      return value(v.text);
    case json::kind::number: {
      // An integer literal is an integer field (unsigned beyond int64, a double beyond 64 bits), as our
      // parser reads it; anything else a double.
      const char* first = v.text.data();
      const char* last = first + v.text.size();
      if (v.text.find_first_of(".eE") == std::string::npos) {
        std::int64_t i = 0;
        if (auto [p, ec] = std::from_chars(first, last, i); ec == std::errc() && p == last) return value(i);
        std::uint64_t u = 0;
        if (auto [p, ec] = std::from_chars(first, last, u); ec == std::errc() && p == last) return value(u);
      }
      return value(v.num);
    }
    case json::kind::object:
      if (v["json"].is(json::kind::string) && v.members.size() == 1) return value::json(v["json"].text);
      if (v["number"].is(json::kind::string) && v.members.size() == 1) {
        const std::string& n = v["number"].text;
        if (n == "NaN") return value(std::numeric_limits<double>::quiet_NaN());
        if (n == "Infinity") return value(std::numeric_limits<double>::infinity());
        if (n == "-Infinity") return value(-std::numeric_limits<double>::infinity());
      }
      break;
    default:
      break;
  }
  FAIL("unusable field value in propagation_cases.json: " << v.dump());
  return value();
}

// A context as the case file writes it: {trace_id, parent_id, dataset?, fields?: [[key, value]],
// trace_flags?, tracestate?}.
trace_context case_context(const json& c) {
  trace_context ctx;
  ctx.trace_id = c["trace_id"].str();
  ctx.parent_id = c["parent_id"].str();
  if (c["dataset"].defined()) ctx.dataset = c["dataset"].str();
  for (const json& f : c["fields"].items) {
    if (f.items.size() != 2) FAIL("a field must be [key, value]: " << f.dump());
    ctx.fields.push_back({f.items[0].str(), case_value(f.items[1])});
  }
  if (c["trace_flags"].defined()) ctx.trace_flags = static_cast<std::uint8_t>(c["trace_flags"].num);
  if (c["tracestate"].defined()) ctx.tracestate = c["tracestate"].str();
  return ctx;
}

// A field value as Node sees it after a trip through JSON: non-finite numbers become null.
json as_json(const value& v) {
  const beeline::field_value f = v.view();
  json j;
  switch (f.kind()) {
    case value_kind::null:
      j.k = json::kind::null;
      break;
    case value_kind::boolean:
      j.k = json::kind::boolean;
      j.b = f.as_bool();
      break;
    case value_kind::integer:
      j.k = json::kind::number;
      j.num = static_cast<double>(f.as_int());
      j.text = std::to_string(f.as_int());
      break;
    case value_kind::floating:
      if (!std::isfinite(f.as_double())) {
        j.k = json::kind::null;
      } else {
        j.k = json::kind::number;
        j.num = f.as_double();
        char buf[32];
        j.text.assign(buf, std::to_chars(buf, buf + sizeof buf, f.as_double()).ptr);
      }
      break;
    case value_kind::string:
      j.k = json::kind::string;
      j.text = std::string(f.as_string());
      break;
    case value_kind::json:
      if (auto parsed = try_parse_json(f.as_string())) return std::move(*parsed);
      j.k = json::kind::string;
      j.text = "<invalid JSON: " + std::string(f.as_string()) + ">";
      break;
  }
  return j;
}

json fields_as_json(const beeline::field_list& fields) {
  json j;
  j.k = json::kind::object;
  for (const auto& f : fields)
    j.members.emplace_back(f.key, as_json(f.value));
  return j;
}

std::string describe(const std::optional<trace_context>& c) {
  if (!c) return "nullopt";
  std::string out = "{trace_id ";
  append_quoted(out, c->trace_id);
  out += ", parent_id ";
  append_quoted(out, c->parent_id);
  out += ", dataset ";
  append_quoted(out, c->dataset);
  out += ", fields " + fields_as_json(c->fields).dump() + ", trace_flags " + std::to_string(c->trace_flags) +
         ", tracestate ";
  append_quoted(out, c->tracestate);
  return out + "}";
}

std::string describe(const std::optional<std::string>& s) {
  if (!s) return "nullopt";
  std::string out;
  append_quoted(out, *s);
  return out;
}

// The fields in JavaScript's key order, as a JavaScript object holds them: keys that are array indices ("0"
// to "4294967294", no leading zero) first, ascending, then the others in the order they were set.
beeline::field_list in_js_key_order(beeline::field_list fields) {
  const auto index = [](const std::string& key) -> std::optional<std::uint64_t> {
    if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
    std::uint64_t v = 0;
    const char* last = key.data() + key.size();
    if (auto [p, ec] = std::from_chars(key.data(), last, v);
        ec != std::errc() || p != last || v >= 4294967295u)
      return std::nullopt;
    return v;
  };
  std::stable_sort(fields.begin(), fields.end(), [&](const auto& a, const auto& b) {
    const auto ia = index(a.key), ib = index(b.key);
    return ia && (!ib || *ia < *ib);
  });
  return fields;
}

// ---- comparisons: each returns what differs, or "" ----

// Node's header value (a string, null, or {"throws": message}) against ours.
std::string compare_header(const json& node, const std::optional<std::string>& ours) {
  if (node["throws"].defined()) return "Node threw: " + node["throws"].dump();
  if (node.is(json::kind::null) && !ours) return "";
  if (node.is(json::kind::string) && ours && node.text == *ours) return "";
  return "Node " + node.dump() + ", ours " + describe(ours);
}

// A Beeline result ({trace_id, parent_id, dataset, custom_context} or null) against ours. `beeline_only`:
// also require our W3C-only parts to be at their defaults (flags 01, no tracestate), for the Honeycomb and
// AWS codecs.
std::string compare_beeline(const json& node, const std::optional<trace_context>& ours, bool beeline_only) {
  if (node["throws"].defined()) return "Node threw: " + node["throws"].dump();
  const std::string both = "\n      Node " + node.dump() + "\n      ours " + describe(ours);
  if (node.is(json::kind::null) || !ours)
    return node.is(json::kind::null) && !ours ? "" : "one side has no context" + both;
  if (node["trace_id"].str() != ours->trace_id) return "trace ids differ" + both;
  if (node["parent_id"].str() != ours->parent_id) return "parent ids differ" + both;
  const std::string node_dataset = node["dataset"].is(json::kind::null) ? "" : node["dataset"].str();
  if (node_dataset != ours->dataset) return "datasets differ" + both;
  const json& custom = node["custom_context"];
  json node_fields;
  node_fields.k = json::kind::object;
  if (custom["other"].defined()) return "Node's context is not an object" + both;
  for (const json& m : custom["object"].items) {
    if (m.items.size() != 2) return "Node has a field whose value is undefined" + both;
    node_fields.members.emplace_back(m.items[0].str(), m.items[1]);
  }
  if (!json_equal(node_fields, fields_as_json(ours->fields))) return "fields differ" + both;
  if (beeline_only && (ours->trace_flags != 1 || !ours->tracestate.empty()))
    return "ours has W3C flags or tracestate" + both;
  return "";
}

// An OpenTelemetry span context ({trace_id, parent_id, trace_flags, tracestate} or null) against ours.
std::string compare_otel(const json& node, const std::optional<trace_context>& ours) {
  if (node["throws"].defined()) return "Node threw: " + node["throws"].dump();
  const std::string both = "\n      Node " + node.dump() + "\n      ours " + describe(ours);
  if (node.is(json::kind::null) || !ours)
    return node.is(json::kind::null) && !ours ? "" : "one side has no context" + both;
  const std::string node_state = node["tracestate"].is(json::kind::null) ? "" : node["tracestate"].str();
  if (node["trace_id"].str() != ours->trace_id || node["parent_id"].str() != ours->parent_id ||
      node["trace_flags"].num != ours->trace_flags || node_state != ours->tracestate ||
      !ours->dataset.empty() || !ours->fields.empty())
    return "contexts differ" + both;
  return "";
}

// Ours against the result a difference states for us (a case context, or null).
std::string compare_stated(const json& stated, const std::optional<trace_context>& ours) {
  const std::optional<trace_context> want =
      stated.is(json::kind::null) ? std::nullopt : std::optional<trace_context>(case_context(stated));
  if (want == ours) return "";
  return "ours " + describe(ours) + ", stated " + describe(want);
}

// Node's result against the result a difference states for Node ({"throws": true} for any exception).
std::string compare_stated_node(const json& stated, const json& node) {
  if (stated["throws"].defined()) return node["throws"].defined() ? "" : "Node did not throw: " + node.dump();
  if (json_equal(stated, node)) return "";
  return "Node " + node.dump() + ", stated " + stated.dump();
}

std::string decode_base64(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char* p = c ? std::strchr(alphabet, c) : nullptr;
    if (p == nullptr) continue;  // padding
    acc = (acc << 6) | static_cast<std::uint32_t>(p - alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// The documented difference `honeycomb_non_ascii_context`, checked on the header itself: Node decodes the
// context JSON as ASCII (each byte & 0x7f) and then parses it, dropping the header if that is not JSON; we
// read the UTF-8 JSON as written.
std::string check_non_ascii_context(std::string_view header, const json& node,
                                    const std::optional<trace_context>& ours) {
  const std::size_t at = header.find(",context=");
  if (at == std::string_view::npos) return "no context clause in " + std::string(header);
  std::string_view b64 = header.substr(at + 9);
  b64 = b64.substr(0, b64.find(','));
  const std::string utf8 = decode_base64(b64);
  if (std::none_of(utf8.begin(), utf8.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    return "the context is ASCII: not a case of honeycomb_non_ascii_context";
  const auto written = try_parse_json(utf8);
  if (!ours || !written || !json_equal(fields_as_json(ours->fields), *written))
    return "ours does not have the context as written: " + utf8 + ", ours " + describe(ours);
  std::string ascii = utf8;
  for (char& c : ascii)
    c = static_cast<char>(c & 0x7f);
  const auto mangled = try_parse_json(ascii);
  if (!mangled || !mangled->is(json::kind::object))
    return node.is(json::kind::null) ? "" : "Node read a context that is not JSON as ASCII: " + node.dump();
  if (node.is(json::kind::null) || node["trace_id"].str() != ours->trace_id ||
      node["parent_id"].str() != ours->parent_id)
    return "Node's ids differ: " + node.dump();
  json node_fields;
  node_fields.k = json::kind::object;
  for (const json& m : node["custom_context"]["object"].items)
    node_fields.members.emplace_back(m.items.at(0).str(), m.items.size() > 1 ? m.items[1] : json());
  if (!json_equal(node_fields, *mangled))
    return "Node's fields " + node_fields.dump() + ", mangled " + mangled->dump();
  return "";
}

// ---- bookkeeping ----

struct tally {
  std::size_t compared = 0;
  std::vector<std::string> failures;
  std::map<std::string, std::size_t> differences;  // id -> cases asserted as that difference

  void check(const std::string& what, const std::string& problem) {
    ++compared;
    if (!problem.empty()) failures.push_back(what + ": " + problem);
  }
  std::string report() const {
    std::ostringstream s;
    s << compared << " comparisons, " << failures.size() << " failures";
    for (const auto& [id, n] : differences)
      s << "\n  difference " << id << ": " << n << " cases";
    for (std::size_t i = 0; i < failures.size() && i < 80; ++i)
      s << "\n  - " << failures[i];
    if (failures.size() > 80) s << "\n  ... and " << failures.size() - 80 << " more";
    return s.str();
  }
};

// A stated difference: checks the id is documented and both sides give what it states.
void check_difference(tally& t, const reference& r, const std::string& what, const json& diff,
                      const json& node, const std::string& ours_problem) {
  const std::string& id = diff["id"].str();
  if (!r.cases["differences"][id].defined()) {
    t.check(what, "difference '" + id + "' is not in the documented list");
    return;
  }
  ++t.differences[id];
  t.check(what + " [difference " + id + ", Node]", compare_stated_node(diff["node"], node));
  t.check(what + " [difference " + id + ", ours]", ours_problem);
}

std::optional<std::string> w3c_tracestate_header(const trace_context& ctx) {
  for (auto& [name, v] : beeline::w3c::propagation_hook()(ctx))
    if (name == beeline::w3c::tracestate_header) return v;
  return std::nullopt;
}

// Our header values for a context, per channel of propagation_ref.js's output.
std::map<std::string, std::optional<std::string>> our_headers(const trace_context& ctx) {
  return {
      {"honeycomb_classic", beeline::honeycomb::marshal(ctx, true)},
      {"honeycomb_non_classic", beeline::honeycomb::marshal(ctx, false)},
      {"w3c_otel", beeline::w3c::marshal(ctx)},
      {"w3c_otel_tracestate", w3c_tracestate_header(ctx)},
      {"w3c_beeline", beeline::w3c::marshal(ctx)},
      {"aws", beeline::aws::marshal(ctx)},
      {"xray", beeline::xray::marshal(ctx)},
  };
}

const char* const key_kinds[] = {"classic", "non_classic"};

// How we read a parsed entry of `format` (as propagation_ref.js / propagation_parse.js print them), and how
// that compares with Node; `diffs` are the stated differences for this header (per key kind or Node codec).
void check_parsed(tally& t, const reference& r, const std::string& format, const json& e, const json& diffs,
                  const std::string& origin) {
  const std::string what = format + " '" + e["name"].str() + "' (" + origin + ")";
  if (format == "honeycomb") {
    const std::string& header = e["value"].str();
    for (const char* kind : key_kinds) {
      const bool classic = std::string_view(kind) == "classic";
      const json& node = e[kind];
      const auto ours = beeline::honeycomb::unmarshal(header, classic);
      const std::string at = what + " " + kind;
      const json& diff = diffs[kind];
      if (diff.defined() && diff["id"].str() == "honeycomb_non_ascii_context") {
        ++t.differences["honeycomb_non_ascii_context"];
        t.check(at + " [difference honeycomb_non_ascii_context]",
                check_non_ascii_context(header, node["beeline"], ours));
      } else if (diff.defined()) {
        check_difference(t, r, at, diff, node["beeline"], compare_stated(diff["ours"], ours));
        if (diff["node_remarshal"].defined()) {
          t.check(at + " Node re-sends", compare_header(node["remarshal"], diff["node_remarshal"].str()));
          t.check(at + " we re-send",
                  compare_header(diff["ours_remarshal"],
                                 ours ? beeline::honeycomb::marshal(*ours, classic) : std::nullopt));
        }
      } else {
        t.check(at, compare_beeline(node["beeline"], ours, true));
        // What each side sends on after reading it.
        t.check(at + " re-sent",
                compare_header(node["remarshal"],
                               ours ? beeline::honeycomb::marshal(*ours, classic) : std::nullopt));
      }
    }
  } else if (format == "w3c") {
    const std::string tracestate = e["tracestate"].is(json::kind::string) ? e["tracestate"].str() : "";
    const auto ours = beeline::w3c::unmarshal(e["traceparent"].str(), tracestate);
    if (diffs["otel"].defined())
      check_difference(t, r, what + " OpenTelemetry", diffs["otel"], e["otel"],
                       compare_stated(diffs["otel"]["ours"], ours));
    else
      t.check(what + " OpenTelemetry", compare_otel(e["otel"], ours));
    // The Beeline reads the same ids (it calls OpenTelemetry's parser); its fields come from tracestate
    // (difference w3c_beeline_tracestate), ours never do.
    const json& node = e["beeline"];
    if (diffs["beeline"].defined()) {
      check_difference(t, r, what + " Beeline", diffs["beeline"], node,
                       compare_stated(diffs["beeline"]["ours"], ours));
    } else if (!tracestate.empty() && node.is(json::kind::object)) {
      ++t.differences["w3c_beeline_tracestate"];
      std::string problem;
      if (!ours || node["trace_id"].str() != ours->trace_id || node["parent_id"].str() != ours->parent_id)
        problem = "ids differ: Node " + node.dump() + ", ours " + describe(ours);
      else if (!node["custom_context"]["object"].defined() || !ours->fields.empty())
        problem = "Node did not make fields of tracestate, or we did: Node " + node.dump() + ", ours " +
                  describe(ours);
      t.check(what + " Beeline [difference w3c_beeline_tracestate]", problem);
    } else {
      t.check(what + " Beeline", compare_beeline(node, ours, false));
    }
  } else if (format == "aws") {
    const auto ours = beeline::aws::unmarshal(e["value"].str());
    if (diffs["beeline"].defined())
      check_difference(t, r, what, diffs["beeline"], e["beeline"],
                       compare_stated(diffs["beeline"]["ours"], ours));
    else
      t.check(what, compare_beeline(e["beeline"], ours, true));
  } else if (format == "xray") {
    const auto ours = beeline::xray::unmarshal(e["value"].str());
    if (diffs["otel"].defined())
      check_difference(t, r, what, diffs["otel"], e["otel"], compare_stated(diffs["otel"]["ours"], ours));
    else
      t.check(what, compare_otel(e["otel"], ours));
  } else if (format == "default") {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const json& h : e["headers"].items)
      headers.emplace_back(h.items.at(0).str(), h.items.at(1).str());
    for (const char* kind : key_kinds) {
      const auto ours = beeline::propagation::parse_default(headers, std::string_view(kind) == "classic");
      const json& diff = diffs[kind];
      if (diff.defined())
        check_difference(t, r, what + " " + kind, diff, e[kind]["beeline"],
                         compare_stated(diff["ours"], ours));
      else
        t.check(what + " " + kind, compare_beeline(e[kind]["beeline"], ours, false));
    }
  } else {
    t.check(what, "unknown format");
  }
}

// A name "<context name> | <channel>" from propagation_ref.js: the context and the channel.
std::pair<const json*, std::string> made_from(const reference& r, const std::string& name) {
  const std::size_t bar = name.rfind(" | ");
  if (bar == std::string::npos) FAIL("not a made header name: " << name);
  const std::string context = name.substr(0, bar);
  for (const json& c : r.cases["contexts"].items)
    if (c["name"].str() == context) return {&c, name.substr(bar + 3)};
  FAIL("no context named '" << context << "'");
  return {nullptr, ""};
}

// The differences stated for reading a made header: those of its context's `node_made_differences` channel,
// as the parse check wants them (per key kind for the Honeycomb codec, per Node codec for the others). A
// Honeycomb channel states one difference for both key kinds, or `{classic?, non_classic?}` where it
// depends on the key.
json made_differences(const json& context, const std::string& channel, const std::string& format) {
  const json& d = context["node_made_differences"][channel];
  json out;
  if (!d.defined()) return out;
  out.k = json::kind::object;
  if (format == "honeycomb") {
    for (const char* kind : key_kinds)
      if (d["id"].defined())
        out.members.emplace_back(kind, d);
      else if (d[kind].defined())
        out.members.emplace_back(kind, d[kind]);
  } else {
    out.members.emplace_back(format == "xray" || channel == "w3c_otel" ? "otel" : "beeline", d);
  }
  return out;
}

}  // namespace

TEST_CASE(
    "interop: the propagation reference comes from the pinned Node packages and covers every difference",
    "[interop]") {
  const reference r = load_reference();
  // The versions Node ran are the ones package.json pins.
  const json package = parse_file(fs::path(env_or_fail("BEELINE_INTEROP_DIR")) / "package.json");
  for (const char* name : {"honeycomb-beeline", "libhoney", "@opentelemetry/api", "@opentelemetry/core",
                           "@opentelemetry/propagator-aws-xray"}) {
    INFO(name);
    CHECK(r.ref["packages"][name].str() == package["dependencies"][name].str());
  }
  // The keys choose dataset propagation as intended: only the classic key sends `dataset=`.
  CHECK(r.ref["write_keys"]["classic"]["is_classic"].b);
  CHECK_FALSE(r.ref["write_keys"]["non_classic"]["is_classic"].b);
  CHECK(r.ref["write_keys"]["non_classic"]["is_classic"].is(json::kind::boolean));

  // Every documented difference is stated by some case (w3c_beeline_tracestate is checked on every W3C case),
  // and every stated difference is documented.
  std::set<std::string> stated = {"w3c_beeline_tracestate"};
  const auto collect = [&](const json& diffs) {
    for (const auto& [key, d] : diffs.members)
      if (d["id"].defined())
        stated.insert(d["id"].str());
      else  // a Honeycomb channel's node_made_differences, per key kind
        for (const auto& [kind, per_kind] : d.members)
          stated.insert(per_kind["id"].str());
  };
  for (const json& c : r.cases["contexts"].items) {
    collect(c["differences"]);
    collect(c["node_made_differences"]);
  }
  for (const auto& [format, list] : r.cases["headers"].members)
    for (const json& h : list.items)
      collect(h["differences"]);
  std::set<std::string> documented;
  for (const auto& [id, text] : r.cases["differences"].members)
    documented.insert(id);
  CHECK(stated == documented);
}

TEST_CASE("interop: our headers are byte-identical to Node's for every context and format", "[interop]") {
  const reference r = load_reference();
  tally t;
  const auto& contexts = r.cases["contexts"].items;
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    const json& c = contexts[i];
    const json& node = r.ref["contexts"].items[i];
    const trace_context ctx = case_context(c);
    const std::string what = "context '" + c["name"].str() + "'";
    for (const auto& [channel, ours] : our_headers(ctx)) {
      const json& diff = c["differences"][channel];
      if (diff.defined()) {
        const json& stated = diff["ours"];
        const std::optional<std::string> want =
            stated.is(json::kind::null) ? std::nullopt : std::optional<std::string>(stated.str());
        std::string problem = want == ours ? "" : "ours " + describe(ours) + ", stated " + describe(want);
        if (diff["node"].is(json::kind::string) && want && diff["node"].text == *want)
          problem += " (the stated results are equal: not a difference)";
        check_difference(t, r, what + " " + channel, diff, node[channel], problem);
      } else {
        t.check(what + " " + channel, compare_header(node[channel], ours));
      }
    }
    // The Beeline's W3C hook writes the trace fields as tracestate; ours sends what OpenTelemetry sends for
    // the context (its valid tracestate members, normalized), or what a stated difference on that channel
    // says.
    const json& node_state = node["w3c_beeline_tracestate"];
    const std::optional<std::string> our_state = w3c_tracestate_header(ctx);
    std::string problem;
    if (node["w3c_beeline"]["throws"].defined()) {
      if (!node_state["throws"].defined()) problem = "the Beeline's hook did not throw as its marshal did";
    } else if (node_state.is(json::kind::null) != ctx.fields.empty()) {
      problem = "Node wrote a tracestate iff there are fields? Node " + node_state.dump();
    } else if (!ctx.fields.empty() &&
               node_state.str().find(ctx.fields.front().key + "=") == std::string::npos) {
      problem = "Node's tracestate does not have the first field: " + node_state.dump();
    }
    const json& otel_diff = c["differences"]["w3c_otel_tracestate"];
    if (const std::string p =
            compare_header(otel_diff.defined() ? otel_diff["ours"] : node["w3c_otel_tracestate"], our_state);
        !p.empty())
      problem += " ours is not OpenTelemetry's tracestate: " + p;
    if (!ctx.fields.empty() || !ctx.tracestate.empty()) ++t.differences["w3c_beeline_tracestate"];
    t.check(what + " w3c_beeline_tracestate [difference w3c_beeline_tracestate]", problem);
  }
  INFO(t.report());
  CHECK(t.compared > 250);
  CHECK(t.differences["w3c_beeline_tracestate"] > 0);
  CHECK(t.failures.empty());
}

TEST_CASE("interop: we read every hand-written header as Node does, in every format", "[interop]") {
  const reference r = load_reference();
  tally t;
  for (const auto& [format, list] : r.cases["headers"].members) {
    const auto& parsed = r.ref["parsed"][format].items;
    for (std::size_t i = 0; i < parsed.size(); ++i)
      check_parsed(t, r, format, parsed[i], list.items[i]["differences"], "hand-written");
  }
  INFO(t.report());
  CHECK(t.compared > 250);
  CHECK(t.failures.empty());
}

TEST_CASE("interop: we read every header Node made as Node reads it", "[interop]") {
  const reference r = load_reference();
  tally t;
  for (const auto& [format, list] : r.ref["node_made"].members) {
    for (const json& e : list.items) {
      const auto [context, channel] = made_from(r, e["name"].str());
      check_parsed(t, r, format, e, made_differences(*context, channel, format), "made by Node");
    }
  }
  INFO(t.report());
  CHECK(t.compared > 250);
  CHECK(t.differences["honeycomb_non_ascii_context"] > 0);
  CHECK(t.differences["w3c_beeline_tracestate"] > 0);
  CHECK(t.failures.empty());
}

TEST_CASE("interop: Node reads the headers we make back into our contexts", "[interop]") {
  const reference r = load_reference();
  // Our headers for every context, in the layout propagation_parse.js reads.
  std::string file = "{";
  std::map<std::string, std::vector<std::string>> entries;
  std::map<std::string, trace_context> contexts;  // made-header name -> context
  for (const json& c : r.cases["contexts"].items) {
    const trace_context ctx = case_context(c);
    for (const auto& [channel, v] : our_headers(ctx)) {
      if (!v || channel == "w3c_beeline" || channel == "w3c_otel_tracestate")
        continue;  // one W3C entry below
      const std::string name = c["name"].str() + " | " + channel;
      contexts[name] = ctx;
      std::string entry = "{\"name\":";
      append_quoted(entry, name);
      if (channel == "w3c_otel") {
        entry += ",\"traceparent\":";
        append_quoted(entry, *v);
        if (const auto state = w3c_tracestate_header(ctx)) {
          entry += ",\"tracestate\":";
          append_quoted(entry, *state);
        }
        entries["w3c"].push_back(entry + "}");
      } else {
        entry += ",\"value\":";
        append_quoted(entry, *v);
        entries[channel.rfind("honeycomb", 0) == 0 ? "honeycomb" : channel].push_back(entry + "}");
      }
    }
  }
  for (const char* format : {"honeycomb", "w3c", "aws", "xray"}) {
    file += std::string(file.size() > 1 ? "," : "") + "\"" + format + "\":[";
    for (std::size_t i = 0; i < entries[format].size(); ++i)
      file += (i ? "," : "") + entries[format][i];
    file += "]";
  }
  file += "}";
  const fs::path path = fs::path(env_or_fail("BEELINE_INTEROP_OUT")) / "propagation_ours.json";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << file;
    REQUIRE(out.good());
  }
  const json node = node_parse(path);

  tally t;
  std::size_t read_back = 0;
  for (const auto& [format, list] : node["parsed"].members) {
    REQUIRE(list.items.size() == entries[format].size());
    for (const json& e : list.items) {
      const auto [context, channel] = made_from(r, e["name"].str());
      const trace_context& ctx = contexts.at(e["name"].str());
      // Node and we read our header the same way (only the rule-based differences apply: our header is not
      // Node's where a stated difference made them differ).
      json diffs = made_differences(*context, channel, format);
      if (!(format == "honeycomb" && diffs["classic"]["id"].is(json::kind::string) &&
            diffs["classic"]["id"].text == "honeycomb_non_ascii_context"))
        diffs = json();
      check_parsed(t, r, format, e, diffs, "made by us");

      // And Node's reading is the context we sent.
      const std::string what = format + " '" + e["name"].str() + "' (made by us) carries the context";
      std::string problem;
      if (format == "honeycomb") {
        // The dataset goes only with a classic key, and not when we would not read it back (documented).
        const bool sent_dataset = e["value"].str().find(",dataset=") != std::string::npos;
        for (const char* kind : key_kinds) {
          const json& got = e[kind]["beeline"];
          if (diffs.defined()) continue;  // non-ASCII: checked against the documented mangling above
          if (got.is(json::kind::null)) {
            problem += std::string(" ") + kind + ": Node read nothing;";
            continue;
          }
          trace_context want = ctx;
          want.trace_flags = 1;
          want.tracestate.clear();
          if (!(sent_dataset && std::string_view(kind) == "classic")) want.dataset.clear();
          // Node's object lists integer-like keys first (difference honeycomb_integer_keys_read_order).
          want.fields = in_js_key_order(want.fields);
          if (want.fields != ctx.fields) ++t.differences["honeycomb_integer_keys_read_order"];
          if (const std::string p = compare_beeline(got, want, true); !p.empty())
            problem += std::string(" ") + kind + ": " + p + ";";
        }
      } else if (format == "w3c") {
        const json& got = e["otel"];
        std::string lower_trace = ctx.trace_id, lower_parent = ctx.parent_id;
        for (auto* s : {&lower_trace, &lower_parent})
          std::transform(s->begin(), s->end(), s->begin(),
                         [](char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
        if (got.is(json::kind::null) || got["trace_id"].str() != lower_trace ||
            got["parent_id"].str() != lower_parent || got["trace_flags"].num != ctx.trace_flags)
          problem = "Node read " + got.dump();
      } else if (format == "aws") {
        const json& got = e["beeline"];
        if (got.is(json::kind::null) || got["trace_id"].str() != ctx.trace_id ||
            got["parent_id"].str() != ctx.parent_id)
          problem = "Node read " + got.dump();
      } else if (format == "xray") {
        const json& got = e["otel"];
        if (got.is(json::kind::null) || got["trace_id"].str() != ctx.trace_id ||
            got["parent_id"].str() != ctx.parent_id || got["trace_flags"].num != (ctx.trace_flags & 1))
          problem = "Node read " + got.dump();
      }
      t.check(what, problem);
      ++read_back;
    }
  }
  INFO(t.report());
  CHECK(read_back > 100);
  CHECK(t.differences["honeycomb_non_ascii_context"] > 0);
  CHECK(t.differences["honeycomb_integer_keys_read_order"] > 0);
  CHECK(t.failures.empty());
}
