// W3C baggage against OpenTelemetry JS's W3CBaggagePropagator (@opentelemetry/core, see
// tests/interop/README.md). tests/interop/baggage_cases.json holds trace fields to write and header values to
// read; baggage_ref.js runs them through Node, and these tests check that our header bytes equal Node's for
// every case, and that we read every header as Node reads it, except the cases that name a deliberate
// difference (docs/differences.md), where each side's result is asserted exactly.
#include <beeline/propagation.hpp>

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using entries = std::vector<std::pair<std::string, std::string>>;

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') FAIL(name << " is not set (run through ctest, which sets it)");
  return v;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string run_node(const std::string& script) {
  const std::string cmd = shell_quote(env_or_fail("BEELINE_NODE")) + " " +
                          shell_quote((fs::path(env_or_fail("BEELINE_INTEROP_DIR")) / script).string());
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) FAIL("cannot run " << cmd);
  std::string text;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
    text.append(buf, n);
  const int status = pclose(pipe);
  if (status != 0) FAIL(cmd << " failed (status " << status << "); its output:\n" << text);
  return text;
}

std::string str(simdjson::dom::element v) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) FAIL("expected a JSON string: " << simdjson::minify(v));
  return std::string(s);
}

std::string expand(simdjson::dom::element v) {
  simdjson::dom::object o;
  if (v.get_object().get(o) == simdjson::SUCCESS) {
    std::string out;
    const std::string piece = str(o["repeat"]);
    for (std::int64_t i = 0; i < std::int64_t(o["times"]); ++i)
      out += piece;
    return out;
  }
  return str(v);
}

// A case value as the trace field it stands for: strings, integers, doubles, booleans and null keep their
// type.
beeline::value field_of(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::INT64:
      return beeline::value(std::int64_t(v));
    case simdjson::dom::element_type::UINT64:
      return beeline::value(std::uint64_t(v));
    case simdjson::dom::element_type::DOUBLE:
      return beeline::value(double(v));
    case simdjson::dom::element_type::BOOL:
      return beeline::value(bool(v));
    case simdjson::dom::element_type::NULL_VALUE:
      return beeline::value(nullptr);
    default:
      return beeline::value(expand(v));
  }
}

entries generated(simdjson::dom::element spec) {
  entries out;
  for (std::int64_t i = 0; i < std::int64_t(spec["count"]); ++i)
    out.emplace_back("k" + std::to_string(i),
                     std::string(std::size_t(std::int64_t(spec["value_bytes"])), 'v'));
  return out;
}

entries pairs_of(simdjson::dom::element list) {
  entries out;
  for (simdjson::dom::element p : list.get_array()) {
    simdjson::dom::array a = p.get_array();
    out.emplace_back(str(a.at(0)), str(a.at(1)));
  }
  return out;
}

entries entries_of(const beeline::field_list& fields) {
  entries out;
  for (const auto& f : fields) {
    REQUIRE(f.value.kind() == beeline::value_kind::string);
    out.emplace_back(f.key, std::string(f.value.view().as_string()));
  }
  return out;
}

struct reference {
  simdjson::dom::parser case_parser, ref_parser;
  simdjson::dom::element cases, ref;
  reference() {
    const fs::path file = fs::path(env_or_fail("BEELINE_INTEROP_DIR")) / "baggage_cases.json";
    REQUIRE(case_parser.load(file.string()).get(cases) == simdjson::SUCCESS);
    const std::string text = run_node("baggage_ref.js");
    REQUIRE(ref_parser.parse(text).get(ref) == simdjson::SUCCESS);
  }
};

}  // namespace

TEST_CASE("baggage interop: our header bytes equal W3CBaggagePropagator's for every case",
          "[interop][baggage]") {
  reference r;
  simdjson::dom::array cases = r.cases["inject"];
  simdjson::dom::array node = r.ref["inject"];
  REQUIRE(cases.size() == node.size());
  REQUIRE(cases.size() >= 9);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    simdjson::dom::element c = cases.at(i);
    const std::string name = str(c["name"]);
    INFO("case: " << name);
    beeline::field_list fields;
    if (c["generate"].error() == simdjson::SUCCESS) {
      for (auto& [k, v] : generated(c["generate"]))
        fields.push_back({k, beeline::value(v)});
    } else {
      for (simdjson::dom::element p : c["entries"].get_array()) {
        simdjson::dom::array a = p.get_array();
        fields.push_back({str(a.at(0)), field_of(a.at(1))});
      }
    }
    const auto ours = beeline::baggage::marshal(fields);
    simdjson::dom::element theirs = node.at(i)["header"];
    if (theirs.is_null()) {
      CHECK_FALSE(ours);
    } else {
      REQUIRE(ours);
      CHECK(*ours == str(theirs));
      // What we write, we read back as the same entries, now strings.
      const auto back = beeline::baggage::unmarshal(*ours);
      CHECK(back.size() == beeline::baggage::unmarshal(str(theirs)).size());
    }
  }
}

TEST_CASE("baggage interop: we read every header as W3CBaggagePropagator does, differences aside",
          "[interop][baggage]") {
  reference r;
  simdjson::dom::array cases = r.cases["extract"];
  simdjson::dom::array node = r.ref["extract"];
  REQUIRE(cases.size() == node.size());
  std::size_t differences = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    simdjson::dom::element c = cases.at(i);
    const std::string name = str(c["name"]);
    INFO("case: " << name);
    std::vector<std::string> headers;
    if (c["generate"].error() == simdjson::SUCCESS) {
      std::string h;
      for (auto& [k, v] : generated(c["generate"]))
        h += (h.empty() ? "" : ",") + k + "=" + v;
      headers.push_back(h);
    } else if (c["header"].is_array()) {
      for (simdjson::dom::element h : c["header"].get_array())
        headers.push_back(str(h));
    } else {
      headers.push_back(str(c["header"]));
    }
    std::vector<std::pair<std::string, std::string>> request;
    for (const auto& h : headers)
      request.emplace_back("baggage", h);
    const entries ours = entries_of(beeline::baggage::from_headers(request));
    simdjson::dom::element theirs = node.at(i)["entries"];
    if (c["difference"].error() == simdjson::SUCCESS) {
      ++differences;
      if (c["ours_count"].error() == simdjson::SUCCESS) {
        CHECK(ours.size() == std::size_t(std::int64_t(c["ours_count"])));
        CHECK(theirs.get_array().size() == std::size_t(std::int64_t(c["node_count"])));
        // The members we keep are Node's first ones.
        const entries node_entries = pairs_of(theirs);
        CHECK(entries(node_entries.begin(), node_entries.begin() + std::ptrdiff_t(ours.size())) == ours);
      } else {
        CHECK(ours == pairs_of(c["ours"]));
        if (c["node"].is_string())
          CHECK(str(theirs) == str(c["node"]));
        else
          CHECK(pairs_of(theirs) == pairs_of(c["node"]));
      }
    } else if (theirs.is_null()) {
      CHECK(ours.empty());
    } else {
      CHECK(ours == pairs_of(theirs));
    }
  }
  CHECK(differences == 5);
}
