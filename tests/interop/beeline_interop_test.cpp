// Interoperability with the real Node Beeline (honeycomb-beeline, see tests/interop/README.md).
//
// The reference files are written by the `interop_reference` ctest fixture into $BEELINE_INTEROP_OUT. These
// tests never skip: without the files they fail, saying how to produce them.
//
// Documented differences from the Node Beeline's events (asserted below, so any new one has to be listed
// here):
//   - Node-runtime-only keys we do not emit: meta.instrumentations, meta.instrumentation_count,
//     meta.node_version.
//   - We also emit meta.span_type on non-root spans ("mid" when the span had children, "leaf" otherwise);
//     Node only sets it on roots ("root", "subroot").
//   - Values that differ by nature: ids, times (ours have nanosecond digits, Node's milliseconds), durations,
//     meta.local_hostname and meta.beeline_version (our own version).
#include <beeline/beeline.hpp>
#include <beeline/sampler.hpp>

#include "support.hpp"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// The reference file `name` in $BEELINE_INTEROP_OUT; fails the test (never skips) when it is not there.
fs::path reference_file(const std::string& name) {
  const char* dir = std::getenv("BEELINE_INTEROP_OUT");
  if (dir == nullptr || *dir == '\0')
    FAIL(
        "BEELINE_INTEROP_OUT is not set. Run the interop tests through ctest (`ctest -R interop` in the "
        "build "
        "directory), which first runs the Node reference scripts in tests/interop (needs node and `npm "
        "ci`).");
  const fs::path p = fs::path(dir) / name;
  if (!fs::is_regular_file(p))
    FAIL("Node reference file " << p
                                << " is missing. It is written by the `interop_reference` ctest fixture "
                                   "(tests/interop/*.js); run `ctest -R interop` in the build directory.");
  if (fs::file_size(p) == 0) FAIL("Node reference file " << p << " is empty: the Node script failed.");
  return p;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.good());
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// One event line, Node's (`{"data","samplerate","time"}`) or ours (with `dataset` too).
struct event_line {
  std::string line;
  std::string time;
  std::uint64_t samplerate = 0;
  std::map<std::string, std::string> raw;   // key -> minified JSON value
  std::map<std::string, std::string> type;  // key -> number, string, bool, null, array or object

  explicit event_line(std::string l) : line(std::move(l)) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(line).get(root) != simdjson::SUCCESS) FAIL("not JSON: " << line);
    std::string_view t;
    if (root["time"].get_string().get(t) != simdjson::SUCCESS) FAIL("no string time in " << line);
    time = std::string(t);
    if (root["samplerate"].get_uint64().get(samplerate) != simdjson::SUCCESS)
      FAIL("no samplerate in " << line);
    simdjson::dom::object data;
    if (root["data"].get_object().get(data) != simdjson::SUCCESS) FAIL("no data object in " << line);
    for (auto [key, val] : data) {
      raw[std::string(key)] = simdjson::minify(val);
      type[std::string(key)] = beeline::test::json_kind(val);
    }
  }

  bool has(const std::string& k) const { return raw.count(k) != 0; }
  std::string str(const std::string& k) const {
    const auto it = raw.find(k);
    if (it == raw.end()) FAIL("no field " << k << " in " << line);
    simdjson::dom::parser p;
    std::string_view s;
    if (p.parse(it->second).get_string().get(s) != simdjson::SUCCESS)
      FAIL(k << " is not a string in " << line);
    return std::string(s);
  }
  double num(const std::string& k) const {
    const auto it = type.find(k);
    if (it == type.end() || it->second != "number") FAIL(k << " is not a number in " << line);
    return std::stod(raw.at(k));
  }
  std::string name() const { return str("name"); }
  std::string trace_id() const { return str("trace.trace_id"); }
  std::string span_id() const { return str("trace.span_id"); }
  std::set<std::string> keys() const {
    std::set<std::string> k;
    for (const auto& [key, v] : raw)
      k.insert(key);
    return k;
  }
};

std::map<std::string, event_line> by_name(const std::vector<std::string>& lines, const char* side) {
  std::map<std::string, event_line> out;
  for (const std::string& l : lines) {
    event_line e(l);
    const std::string n = e.name();
    if (out.count(n)) FAIL(side << ": two events named " << n);
    out.emplace(n, std::move(e));
  }
  return out;
}

bool matches(const std::string& s, const char* pattern) {
  return std::regex_match(s, std::regex(pattern));
}

constexpr const char* upstream_trace_id = "7f042f75651d9782dcff93a45fa99be0";
constexpr const char* upstream_parent_id = "c998e73e5420f609";

// The same calls as tests/interop/beeline_events.js, with our API; returns the exported JSON lines.
std::vector<std::string> run_our_sequence() {
  beeline::config cfg;
  cfg.write_key = "abcdefabcdefabcdefabcdefabcdefab";  // a classic key, as in the Node script
  cfg.dataset = "interop";
  cfg.service_name = "interop-svc";
  beeline::test::memory_tracer mt(cfg);

  beeline::span root = mt.tracer.start_trace("root", {{"root.field", 1}});
  beeline::add_trace_context({{"userID", 7}});
  beeline::span mid = beeline::start_span("mid");
  beeline::span leaf = beeline::start_span("leaf");
  beeline::add_context({{"leaf.field", "x"}});
  beeline::finish_span(leaf);
  const beeline::timer t = beeline::start_timer("t");
  beeline::finish_timer(t);
  beeline::finish_span(mid);
  beeline::finish_trace(root);

  beeline::trace_context upstream;
  upstream.trace_id = upstream_trace_id;
  upstream.parent_id = upstream_parent_id;
  beeline::span sub = mt.tracer.start_trace("sub", {}, upstream);
  beeline::finish_trace(sub);

  std::vector<std::string> lines;
  for (const auto& e : mt.events()) {
    CHECK(e.dataset() == "interop");
    lines.push_back(e.line());
  }
  return lines;
}

}  // namespace

TEST_CASE("interop: deterministic sampler matches the Node Beeline on every reference id", "[interop]") {
  const std::vector<std::string> lines = read_lines(reference_file("sampler_ref.tsv"));
  std::size_t compared = 0;
  std::size_t mismatches = 0;
  std::size_t kept = 0;
  std::set<std::string> rates;
  std::ostringstream first_mismatches;
  for (const std::string& line : lines) {
    const auto t1 = line.find('\t');
    const auto t2 = line.rfind('\t');
    if (t1 == std::string::npos || t2 == t1) FAIL("malformed sampler_ref.tsv line: '" << line << "'");
    const std::string rate_text = line.substr(0, t1);
    const std::string id = line.substr(t1 + 1, t2 - t1 - 1);
    const std::string expected_text = line.substr(t2 + 1);
    if (expected_text != "0" && expected_text != "1") FAIL("malformed decision in line: '" << line << "'");
    const double rate = std::stod(rate_text);
    const bool expected = expected_text == "1";
    const bool ours = beeline::deterministic_keep(id, rate);
    ++compared;
    kept += expected;
    rates.insert(rate_text);
    if (ours != expected) {
      if (++mismatches <= 20)
        first_mismatches << "  rate " << rate_text << " id '" << id << "': node " << expected << ", ours "
                         << ours << "\n";
    }
  }
  INFO(compared << " reference lines compared, " << rates.size() << " rates, " << kept << " kept by Node, "
                << mismatches << " mismatches\n"
                << first_mismatches.str());
  REQUIRE(compared > 19000);
  CHECK(rates.size() >= 9);
  CHECK(kept > 0);
  CHECK(kept < compared);  // both decisions occur, so the comparison is not vacuous
  CHECK(mismatches == 0);
}

TEST_CASE("interop: events have the Node Beeline's keys, types and structure for the same calls",
          "[interop]") {
  const std::vector<std::string> node_lines = read_lines(reference_file("beeline_events.jsonl"));
  const std::map<std::string, event_line> node = by_name(node_lines, "node");
  const std::map<std::string, event_line> ours = by_name(run_our_sequence(), "ours");

  const std::set<std::string> names = {"root", "mid", "leaf", "sub"};
  std::set<std::string> node_names, our_names;
  for (const auto& [n, e] : node)
    node_names.insert(n);
  for (const auto& [n, e] : ours)
    our_names.insert(n);
  REQUIRE(node_names == names);
  REQUIRE(our_names == names);

  // The documented differences (see the top of this file).
  const std::set<std::string> node_runtime_only = {"meta.instrumentations", "meta.instrumentation_count",
                                                   "meta.node_version"};
  const std::map<std::string, std::set<std::string>> ours_only = {
      {"root", {}}, {"sub", {}}, {"mid", {"meta.span_type"}}, {"leaf", {"meta.span_type"}}};

  for (const std::string& n : names) {
    const event_line& ne = node.at(n);
    const event_line& oe = ours.at(n);
    INFO("event '" << n << "'\n  node: " << ne.line << "\n  ours: " << oe.line);

    // Every Node key is ours too, with the same JSON type; only the documented extras are ours alone.
    std::set<std::string> missing;
    std::set<std::string> type_mismatch;
    for (const auto& [key, type] : ne.type) {
      if (node_runtime_only.count(key)) continue;
      if (!oe.has(key)) {
        missing.insert(key);
      } else if (oe.type.at(key) != type) {
        type_mismatch.insert(key + " (node " + type + ", ours " + oe.type.at(key) + ")");
      }
    }
    CHECK(missing == std::set<std::string>{});
    CHECK(type_mismatch == std::set<std::string>{});
    std::set<std::string> extra;
    for (const std::string& key : oe.keys())
      if (!ne.has(key)) extra.insert(key);
    CHECK(extra == ours_only.at(n));

    // Node has the runtime-only keys we document as differences (so the list above stays true).
    for (const std::string& key : node_runtime_only)
      CHECK(ne.has(key));

    // Values that do not depend on the run are equal.
    for (const char* key : {"name", "service_name", "service.name"})
      CHECK(oe.raw.at(key) == ne.raw.at(key));
    CHECK(oe.str("service_name") == "interop-svc");
    CHECK(oe.samplerate == 1);
    CHECK(ne.samplerate == 1);
    CHECK(matches(oe.time, R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z)"));
    CHECK(matches(ne.time, R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)"));
    CHECK(oe.num("duration_ms") >= 0);
    CHECK(!oe.str("meta.beeline_version").empty());

    // Id formats.
    CHECK(matches(oe.span_id(), "^[0-9a-f]{16}$"));
    CHECK(matches(ne.span_id(), "^[0-9a-f]{16}$"));
    CHECK(matches(oe.trace_id(), "^[0-9a-f]{32}$"));
    if (oe.has("trace.parent_id")) CHECK(matches(oe.str("trace.parent_id"), "^[0-9a-f]{16}$"));

    // Trace-level context reaches every span of the first trace, and only that trace.
    if (n == "sub") {
      CHECK_FALSE(ne.has("app.userID"));
      CHECK_FALSE(oe.has("app.userID"));
    } else {
      CHECK(ne.raw.at("app.userID") == "7");
      CHECK(oe.has("app.userID"));
      if (oe.has("app.userID")) CHECK(oe.raw.at("app.userID") == "7");
    }
    // The timer lands on the span current when it finished: mid.
    CHECK(ne.has("t_ms") == (n == "mid"));
    CHECK(oe.has("t_ms") == (n == "mid"));
    // Where Node sets meta.span_type, ours is the same.
    if (ne.has("meta.span_type")) CHECK(oe.raw.at("meta.span_type") == ne.raw.at("meta.span_type"));
  }

  // Fields given to start_trace and add_context.
  CHECK(node.at("root").raw.at("root.field") == "1");
  CHECK(ours.at("root").raw.at("root.field") == "1");
  CHECK(node.at("leaf").str("leaf.field") == "x");
  CHECK(ours.at("leaf").str("leaf.field") == "x");
  CHECK_FALSE(ours.at("mid").has("leaf.field"));
  CHECK_FALSE(ours.at("mid").has("root.field"));

  // Span types: the roots as Node has them, and ours also on the non-root spans.
  CHECK(node.at("root").str("meta.span_type") == "root");
  CHECK(node.at("sub").str("meta.span_type") == "subroot");
  CHECK(ours.at("root").str("meta.span_type") == "root");
  CHECK(ours.at("sub").str("meta.span_type") == "subroot");
  CHECK(ours.at("mid").str("meta.span_type") == "mid");
  CHECK(ours.at("leaf").str("meta.span_type") == "leaf");

  // Parent/child structure, the same on both sides.
  for (const auto* side : {&node, &ours}) {
    const char* label = side == &node ? "node" : "ours";
    INFO(label);
    const event_line& root = side->at("root");
    const event_line& mid = side->at("mid");
    const event_line& leaf = side->at("leaf");
    const event_line& sub = side->at("sub");
    CHECK_FALSE(root.has("trace.parent_id"));
    CHECK(mid.str("trace.parent_id") == root.span_id());
    CHECK(leaf.str("trace.parent_id") == mid.span_id());
    CHECK(mid.trace_id() == root.trace_id());
    CHECK(leaf.trace_id() == root.trace_id());
    CHECK(matches(root.trace_id(), "^[0-9a-f]{32}$"));
    CHECK(sub.trace_id() == upstream_trace_id);
    CHECK(sub.str("trace.parent_id") == upstream_parent_id);
    CHECK(sub.trace_id() != root.trace_id());
    const std::set<std::string> span_ids = {root.span_id(), mid.span_id(), leaf.span_id(), sub.span_id()};
    CHECK(span_ids.size() == 4);
  }

  // Timing consistency of ours: children within parents, the timer within mid.
  const event_line& r = ours.at("root");
  const event_line& m = ours.at("mid");
  const event_line& l = ours.at("leaf");
  CHECK(m.num("t_ms") >= 0);
  CHECK(m.num("t_ms") <= m.num("duration_ms"));
  CHECK(l.num("duration_ms") <= m.num("duration_ms"));
  CHECK(m.num("duration_ms") <= r.num("duration_ms"));
}
