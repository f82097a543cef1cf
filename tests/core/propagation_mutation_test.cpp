// Deterministic mutation test of the propagation codecs: per codec, 100,000 header values made from valid
// seeds by seeded mutations (bit flips, special characters, truncation, duplicated and dropped clauses, case
// changes, overlong ids, repetition past max_header_bytes, random bytes), each checked against the properties
// the fuzz targets check (fuzz/propagation_properties.hpp): no crash, nullopt exactly when one rejection is
// counted, accepted contexts well-formed and round-tripping. Marshal gets mutated contexts, and parse_default
// mutated header sets. Same seeds, same inputs, every run; the fuzz targets (scripts/fuzz.sh) explore
// further.
#include "../../fuzz/propagation_properties.hpp"

#include <beeline/propagation.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace prop = beeline::propagation;
namespace fz = beeline::fuzz;
using namespace std::string_literals;

constexpr std::size_t kInputsPerCodec = 100'000;
constexpr std::size_t kMarshalInputsPerCodec = 5'000;
constexpr std::size_t kHeaderSets = 5'000;
constexpr std::size_t kMaxFailuresShown = 5;
// Every property (both dataset modes, hooks, marshal_to, counter sums) on one input in this many; the core
// ones (counts, invariants, round trip) on every input. Keeps the test to a few seconds under ASan+UBSan.
constexpr std::size_t kFullCheckEvery = 32;

// splitmix64: a fixed sequence on every platform (the standard distributions are not).
class random_source {
 public:
  explicit random_source(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
  bool one_in(std::size_t n) { return below(n) == 0; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

 private:
  std::uint64_t state_;
};

std::string base64(std::string_view in) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out((in.size() + 2) / 3 * 4, '=');
  char* o = out.data();  // through a pointer: this runs 30,000 times in an unoptimized build
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t left = in.size();
  for (; left >= 3; left -= 3, p += 3, o += 4) {
    const std::uint32_t n = (p[0] << 16) | (p[1] << 8) | p[2];
    o[0] = alphabet[n >> 18];
    o[1] = alphabet[(n >> 12) & 63];
    o[2] = alphabet[(n >> 6) & 63];
    o[3] = alphabet[n & 63];
  }
  if (left > 0) {
    const std::uint32_t n = (p[0] << 16) | (left == 2 ? p[1] << 8 : 0);
    o[0] = alphabet[n >> 18];
    o[1] = alphabet[(n >> 12) & 63];
    if (left == 2) o[2] = alphabet[(n >> 6) & 63];
  }
  return out;
}

// How to mutate one format's values: what separates its clauses, and words worth splicing in.
struct mutation_profile {
  char separator;
  std::vector<std::string> tokens;
};

const std::vector<char> kSpecialChars = {',',  ';',  '=',  '/', '-',  '%', '\0', '\x7f', '\xff', ' ',
                                         '\t', '\r', '\n', '"', '\\', '{', '}',  ':',    '@',    '\x80'};

// The [begin, end) of clause `k` of `s` (clauses are separated by `sep`; there are count(sep) + 1 of them).
std::pair<std::size_t, std::size_t> clause(const std::string& s, char sep, std::size_t k) {
  std::size_t begin = 0;
  for (; k > 0; --k)
    begin = s.find(sep, begin) + 1;
  const std::size_t end = s.find(sep, begin);
  return {begin, end == std::string::npos ? s.size() : end};
}

std::size_t clause_count(const std::string& s, char sep) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), sep)) + 1;
}

// A run of one repeated character long enough to overflow an id (or just reach the limit).
std::string long_run(random_source& rng) {
  static const std::vector<std::size_t> lengths = {prop::max_id_bytes - 1, prop::max_id_bytes,
                                                   prop::max_id_bytes + 1, 300};
  static const std::vector<char> fill = {'a', 'f', '0', '9', 'x', 'Z', '='};
  return std::string(rng.pick(lengths), rng.pick(fill));
}

// Values at, and just past, max_header_bytes: the value repeated, then cut.
std::string oversize(const std::string& s, random_source& rng) {
  static const std::vector<std::size_t> sizes = {prop::max_header_bytes, prop::max_header_bytes + 1,
                                                 prop::max_header_bytes + 2, 2 * prop::max_header_bytes + 7};
  const std::size_t target = rng.pick(sizes);
  const std::string unit = s.empty() ? std::string("a") : s;
  std::string out;
  out.reserve(target + unit.size());
  while (out.size() < target)
    out += unit;
  out.resize(target);
  return out;
}

std::string random_bytes(random_source& rng) {
  std::string out(rng.below(96), '\0');
  for (char& c : out)
    c = static_cast<char>(rng.next());
  return out;
}

void mutate_once(std::string& s, random_source& rng, const mutation_profile& p) {
  const std::size_t pos = rng.below(s.size() + 1);
  switch (rng.below(14)) {
    case 0:  // flip a bit
      if (!s.empty()) s[rng.below(s.size())] ^= static_cast<char>(1u << rng.below(8));
      break;
    case 1:  // any byte
      if (!s.empty()) s[rng.below(s.size())] = static_cast<char>(rng.next());
      break;
    case 2:  // a character that means something to some format
      s.insert(pos, 1, rng.pick(kSpecialChars));
      break;
    case 3:  // delete a few bytes
      if (!s.empty()) s.erase(rng.below(s.size()), 1 + rng.below(8));
      break;
    case 4:  // truncate
      s.resize(rng.below(s.size() + 1));
      break;
    case 5: {  // duplicate a clause, before another one
      const std::size_t n = clause_count(s, p.separator);
      const auto [b, e] = clause(s, p.separator, rng.below(n));
      const std::string copy = s.substr(b, e - b) + p.separator;
      s.insert(clause(s, p.separator, rng.below(n)).first, copy);
      break;
    }
    case 6: {  // drop a clause, or swap two
      const std::size_t n = clause_count(s, p.separator);
      if (n < 2) break;
      const std::size_t i = rng.below(n);
      const std::size_t j = rng.below(n);
      if (rng.one_in(2)) {
        const auto [b, e] = clause(s, p.separator, i);
        s.erase(b > 0 ? b - 1 : b, e - b + 1);  // with one of its separators
      } else if (i != j) {
        const auto [b1, e1] = clause(s, p.separator, std::min(i, j));
        const auto [b2, e2] = clause(s, p.separator, std::max(i, j));
        s = s.substr(0, b1) + s.substr(b2, e2 - b2) + s.substr(e1, b2 - e1) + s.substr(b1, e1 - b1) +
            s.substr(e2);
      }
      break;
    }
    case 7:  // case changes
      switch (rng.below(3)) {
        case 0:
          if (!s.empty()) {
            char& c = s[rng.below(s.size())];
            if (c >= 'a' && c <= 'z')
              c = static_cast<char>(c - 'a' + 'A');
            else if (c >= 'A' && c <= 'Z')
              c = static_cast<char>(c - 'A' + 'a');
          }
          break;
        case 1:
          for (char& c : s)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
          break;
        default:
          s = fz::ascii_lower(s);
          break;
      }
      break;
    case 8:  // a word of the format
      s.insert(pos, rng.pick(p.tokens));
      break;
    case 9:  // another hex digit, keeping the shape
      if (!s.empty()) {
        char& c = s[rng.below(s.size())];
        if (fz::is_hex(c)) c = "0123456789abcdefABCDEF"[rng.below(22)];
      }
      break;
    case 10: {  // an overlong id: after a '=' or a separator when there is one
      std::size_t at = s.find('=', rng.below(s.size() + 1));
      if (at == std::string::npos) at = pos;
      s.insert(std::min(at + 1, s.size()), long_run(rng));
      break;
    }
    case 11:  // a piece of the value copied elsewhere
      if (!s.empty()) {
        const std::size_t from = rng.below(s.size());
        s.insert(pos, s.substr(from, 1 + rng.below(16)));
      }
      break;
    case 12:  // whitespace
      s.insert(pos, rng.one_in(2) ? " " : "\t");
      break;
    default:  // a clause separator
      s.insert(pos, 1, p.separator);
      break;
  }
}

// One input from the seeds: usually 1-4 mutations of a seed; now and then random bytes or a value around the
// size limit.
std::string derive(const std::vector<std::string>& seeds, random_source& rng, const mutation_profile& p) {
  if (rng.one_in(64)) return random_bytes(rng);
  std::string s = rng.pick(seeds);
  if (rng.one_in(400)) return oversize(s, rng);
  const std::size_t steps = 1 + rng.below(4);
  for (std::size_t i = 0; i < steps; ++i)
    mutate_once(s, rng, p);
  return s;
}

struct run_summary {
  std::size_t inputs = 0;
  std::size_t accepted = 0;
  std::vector<std::string> failures;
};

// Calls `check_next` for `count` inputs with the depth for each (the dataset mode alternates); keeps the
// first failures. `check_next` makes its next input, checks it, and says whether the codec accepted it.
using check_fn = std::function<std::string(const fz::check_depth&, bool& accepted)>;

run_summary run(std::size_t count, const check_fn& check_next) {
  run_summary summary;
  for (std::size_t i = 0; i < count; ++i) {
    const fz::check_depth depth{.full = i % kFullCheckEvery == 0, .propagate_dataset = i % 2 == 1};
    bool accepted = false;
    const std::string failure = check_next(depth, accepted);
    ++summary.inputs;
    summary.accepted += accepted ? 1 : 0;
    if (!failure.empty() && summary.failures.size() < kMaxFailuresShown)
      summary.failures.push_back("input #" + std::to_string(i) + ": " + failure);
  }
  return summary;
}

void report(const run_summary& s, std::size_t expected_inputs, bool both_sides = true) {
  for (const std::string& f : s.failures)
    FAIL_CHECK(f);
  CHECK(s.inputs >= expected_inputs);
  if (!both_sides) return;
  // The mutations must reach both sides of each codec, or the properties of one side go unchecked.
  CAPTURE(s.accepted, s.inputs);
  CHECK(s.accepted > s.inputs / 100);
  CHECK(s.accepted < s.inputs - s.inputs / 100);
}

// Contexts (in context_from_bytes's line form) for the marshal checks.
const std::vector<std::string> kContextSeeds = {
    std::string(
        "4bf92f3577b34da6a3ce929d0e0e4736\n00f067aa0ba902b7\nmy dataset\ncongo=t61rcWkgMzE\n\x01\nuser\n"
        "salice\ncount\ni42\nratio\nd0.25\nok\nbtrue\nnested\nj{\"a\":[1,2]}\nnothing\nn"),
    "1-5759e988-bd862e3fe1be46a994272793\n53995c3f42cd8ad8\n\n\n\x00"s,
    "trace-1\nspan-1\nds,with;odd=chars%\n\n1\nbig\nd1e20\nint\ni-9223372036854775808\nbad\nj{not json",
    "sess\nreq",
    "trace-1\nspan-1\n\n\n1\nParent\nsinjected\nuser\nsalice",  // a field named like an AWS id key
    "4BF92F3577B34DA6A3CE929D0E0E4736\n00F067AA0BA902B7\n\n\n\xff",
};
const mutation_profile kContextProfile{'\n', {"\n", "\ns", "\ni", "\nd", "\nj", "0", "f", ";", ",", "="}};

run_summary run_marshal(prop::format f, std::uint64_t seed) {
  random_source rng(seed);
  std::size_t next_seed = 0;
  return run(kMarshalInputsPerCodec, [&](const fz::check_depth& depth, bool&) {
    const std::string bytes = next_seed < kContextSeeds.size() ? kContextSeeds[next_seed++]
                                                               : derive(kContextSeeds, rng, kContextProfile);
    return fz::check_marshal(bytes, f, depth);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Seeds

const std::vector<std::string> kJsonSeeds = {
    R"({"user_id":42,"name":"alice","ok":true,"ratio":0.5,"tags":["a","b"]})",
    "{}",
    R"({"a":{"b":{"c":[1,2,{"d":"e"}]}}})",
    R"({"dup":1,"dup":2})",
    R"({"s":"\u0000\u001f\ud83d\ude00","n":null,"f":-0.0,"i":-9223372036854775808,"u":18446744073709551615})",
    R"({"big":9007199254740993,"exp":1e300,"esc":"\u00e9\n\"q\"","e":""})",
    "[1,2]",
    R"("string")",
};
const mutation_profile kJsonProfile{
    ',', {"{", "}", "[", "]", "\"", ":", ",", "\\u", "\\ud800", "null", "1e999", "-", "\"k\":", "true"}};

std::vector<std::string> honeycomb_seeds() {
  return {
      "1;trace_id=4bf92f3577b34da6a3ce929d0e0e4736,parent_id=00f067aa0ba902b7,context=" +
          base64(kJsonSeeds[0]),
      "1;trace_id=trace-123,parent_id=span-456,dataset=my%20dataset,context=" + base64("{}"),
      "1;trace_id=1-5759e988-bd862e3fe1be46a994272793,parent_id=53995c3f42cd8ad8",
      "1;trace_id=a,parent_id=b,context=" + base64("[1,2,3]"),
      "1;trace_id=abc,parent_id=def,dataset=ds,context=" + base64(kJsonSeeds[5]),
      "1;parent_id=p,trace_id=t,unknown=1,context=",
      "1;trace_id=x,parent_id=y,dataset=caf%C3%A9,context=" + base64(kJsonSeeds[2]),
      "1;trace_id=x,parent_id=y,context=" + base64(kJsonSeeds[4]),
  };
}
const mutation_profile kHoneycombProfile{
    ',',
    {"trace_id=", "parent_id=", "dataset=", "context=", "1;", "2;", "%", "%2", "%zz", "=", "==", "+", "/"}};

const std::vector<std::string> kTraceparentSeeds = {
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra-fields",
    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
};
std::vector<std::string> tracestate_seeds() {
  std::string members;
  for (int i = 0; i < 32; ++i)
    members += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v" + std::to_string(i);
  return {
      "",
      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
      "tenant@vendor=value, other=x y",
      "a=1,,b=2",
      members,
      "key=" + std::string(256, 'v'),
      "a=1,a=2",
  };
}
const mutation_profile kTraceparentProfile{'-', {"-", "00", "ff", "0", "f", "F", " "}};
const mutation_profile kTracestateProfile{',', {",", "=", "@", "a=b", " ", "\t", "*", "/"}};

const std::vector<std::string> kAwsSeeds = {
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "Root=abc;Self=def;user=alice;n=3",
    "root=x;parent=y",
    "Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678;CalledFrom=app",
    "Root=trace;Parent=span;Parent=span2;a=1;a=2",
    "Root=t; Parent=p ;k=v=w",
};
const mutation_profile kAwsProfile{';', {"Root=", "Parent=", "Self=", "root=", "=", ";", "Sampled=1"}};

const std::vector<std::string> kXraySeeds = {
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1|68fd508a:"
    "5",
    "Root=1-5759E988-BD862E3FE1BE46A994272793; Parent=53995C3F42CD8AD8; Sampled=1",
    "Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
    "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1",
};
const mutation_profile kXrayProfile{';', {"Root=1-", "Parent=", "Sampled=", "Sampled=?", "-", "2-", ";"}};

const std::vector<std::string> kHighlightSeeds = {
    "abc123/req-456", "sess/req", std::string(256, 'S') + "/" + std::string(256, 'R'), "a/b/c", "/req",
};
const mutation_profile kHighlightProfile{'/', {"/", "//", " ", "%2F"}};

std::vector<std::string> baggage_seeds() {
  std::string many, big;
  for (int i = 0; i < 185; ++i)
    many += (i ? "," : "") + ("k" + std::to_string(i)) + "=v";
  for (int i = 0; i < 90; ++i)
    big += (i ? "," : "") + ("key" + std::to_string(i)) + "=" + std::string(90, 'x');
  return {
      "app.user=alice,app.count=3",
      " a = 1 ;prop=x;flag ,\tb=two%20words",
      "k=%E2%98%83,j=a%2Cb%3Bc,a=1,a=2",
      "a=1,,novalue,=x,b=%zz,c=%FF",
      many,
      big,
      "a=" + std::string(4095, 'x') + ",b=1",
  };
}
const std::vector<std::string> kBaggageSeeds = baggage_seeds();
const mutation_profile kBaggageProfile{',', {",", "=", ";", "%", "%2", "%C3%A9", "%FF", " ", "\t", "k=v"}};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("propagation mutations: honeycomb keeps its contract over 100,000 mutated headers",
          "[propagation]") {
  random_source rng(0x4ec0b1);
  const std::vector<std::string> seeds = honeycomb_seeds();
  const std::string prefix =
      "1;trace_id=4bf92f3577b34da6a3ce929d0e0e4736,parent_id=00f067aa0ba902b7,context=";
  std::size_t next_seed = 0;
  const run_summary s = run(kInputsPerCodec, [&](const fz::check_depth& depth, bool& accepted) {
    std::string value;
    if (next_seed < seeds.size()) {
      value = seeds[next_seed++];
    } else if (rng.one_in(3)) {
      // The context's JSON mutated and encoded properly, so the JSON reader sees the damage, not base64.
      value = prefix + base64(derive(kJsonSeeds, rng, kJsonProfile));
      if (rng.one_in(4)) mutate_once(value, rng, kHoneycombProfile);
    } else {
      value = derive(seeds, rng, kHoneycombProfile);
    }
    return fz::check_honeycomb(value, depth, &accepted);
  });
  report(s, kInputsPerCodec);
  report(run_marshal(prop::format::honeycomb, 0x4ec0b2), kMarshalInputsPerCodec, false);
}

TEST_CASE("propagation mutations: w3c keeps its contract over 100,000 mutated traceparent/tracestate pairs",
          "[propagation]") {
  random_source rng(0x3c3c01);
  const std::vector<std::string> states = tracestate_seeds();
  std::size_t next_seed = 0;
  const run_summary s = run(kInputsPerCodec, [&](const fz::check_depth& depth, bool& accepted) {
    std::string tp;
    std::string ts;
    if (next_seed < kTraceparentSeeds.size() * states.size()) {
      tp = kTraceparentSeeds[next_seed % kTraceparentSeeds.size()];
      ts = states[next_seed / kTraceparentSeeds.size()];
      ++next_seed;
    } else {
      const std::size_t which = rng.below(3);  // 0: traceparent mutated, 1: tracestate, 2: both
      tp = which != 1 ? derive(kTraceparentSeeds, rng, kTraceparentProfile) : rng.pick(kTraceparentSeeds);
      ts = which != 0 ? derive(states, rng, kTracestateProfile) : rng.pick(states);
    }
    return fz::check_w3c(tp, ts, depth, &accepted);
  });
  report(s, kInputsPerCodec);
  report(run_marshal(prop::format::w3c, 0x3c3c02), kMarshalInputsPerCodec, false);
}

TEST_CASE("propagation mutations: aws keeps its contract over 100,000 mutated headers", "[propagation]") {
  random_source rng(0xa3501);
  std::size_t next_seed = 0;
  const run_summary s = run(kInputsPerCodec, [&](const fz::check_depth& depth, bool& accepted) {
    const std::string value =
        next_seed < kAwsSeeds.size() ? kAwsSeeds[next_seed++] : derive(kAwsSeeds, rng, kAwsProfile);
    return fz::check_aws(value, depth, &accepted);
  });
  report(s, kInputsPerCodec);
  report(run_marshal(prop::format::aws, 0xa3502), kMarshalInputsPerCodec, false);
}

TEST_CASE("propagation mutations: xray keeps its contract over 100,000 mutated headers", "[propagation]") {
  random_source rng(0x8a401);
  std::size_t next_seed = 0;
  const run_summary s = run(kInputsPerCodec, [&](const fz::check_depth& depth, bool& accepted) {
    const std::string value =
        next_seed < kXraySeeds.size() ? kXraySeeds[next_seed++] : derive(kXraySeeds, rng, kXrayProfile);
    return fz::check_xray(value, depth, &accepted);
  });
  report(s, kInputsPerCodec);
  report(run_marshal(prop::format::xray, 0x8a402), kMarshalInputsPerCodec, false);
}

TEST_CASE("propagation mutations: highlight keeps its contract over 100,000 mutated headers",
          "[propagation]") {
  random_source rng(0x41601);
  std::size_t next_seed = 0;
  const run_summary s = run(kInputsPerCodec, [&](const fz::check_depth& depth, bool& accepted) {
    const std::string value = next_seed < kHighlightSeeds.size()
                                  ? kHighlightSeeds[next_seed++]
                                  : derive(kHighlightSeeds, rng, kHighlightProfile);
    return fz::check_highlight(value, depth, &accepted);
  });
  report(s, kInputsPerCodec);
  report(run_marshal(prop::format::highlight, 0x41602), kMarshalInputsPerCodec, false);
}

TEST_CASE("propagation mutations: baggage keeps its contract over 100,000 mutated headers", "[propagation]") {
  random_source rng(0xba6601);
  std::size_t next_seed = 0;
  const run_summary s = run(kInputsPerCodec, [&](const fz::check_depth& depth, bool& accepted) {
    const std::string value = next_seed < kBaggageSeeds.size() ? kBaggageSeeds[next_seed++]
                                                               : derive(kBaggageSeeds, rng, kBaggageProfile);
    return fz::check_baggage(value, depth, &accepted);
  });
  report(s, kInputsPerCodec);
  report(run_marshal(prop::format::baggage, 0xba6602), kMarshalInputsPerCodec, false);
}

TEST_CASE(
    "propagation mutations: parse_default and header_view agree with the codecs over mutated header sets",
    "[propagation]") {
  random_source rng(0x4eade5);
  const std::vector<std::string> hc = honeycomb_seeds();
  const std::vector<std::string> states = tracestate_seeds();
  const std::vector<std::string> names = {"X-Honeycomb-Trace", "traceparent",         "tracestate",
                                          "X-Amzn-Trace-Id",   "x-highlight-request", "content-type"};
  const run_summary s = run(kHeaderSets, [&](const fz::check_depth& depth, bool& accepted) {
    fz::header_pairs headers;
    if (rng.one_in(2)) headers.emplace_back("X-Honeycomb-Trace", rng.pick(hc));
    if (rng.below(4) != 0) headers.emplace_back("traceparent", rng.pick(kTraceparentSeeds));
    if (rng.one_in(2)) headers.emplace_back("tracestate", rng.pick(states));
    if (rng.one_in(3)) headers.emplace_back("X-Amzn-Trace-Id", rng.pick(kAwsSeeds));
    if (rng.one_in(3)) headers.emplace_back("x-highlight-request", rng.pick(kHighlightSeeds));
    if (rng.one_in(2)) headers.emplace_back("Content-Type", "application/json");
    const std::size_t steps = 1 + rng.below(3);
    for (std::size_t i = 0; i < steps && !headers.empty(); ++i) {
      auto& [name, value] = headers[rng.below(headers.size())];
      switch (rng.below(5)) {
        case 0:  // the value mutated as its own format would be
          mutate_once(value, rng, name == "X-Honeycomb-Trace" ? kHoneycombProfile : kTracestateProfile);
          break;
        case 1:  // the name in another case, or another header's name
          name = rng.one_in(2) ? fz::ascii_lower(name) : rng.pick(names);
          if (rng.one_in(2))
            for (char& c : name)
              if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
          break;
        case 2:  // a header twice
          headers.push_back(headers[rng.below(headers.size())]);
          break;
        case 3:  // a header dropped
          headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(rng.below(headers.size())));
          break;
        default:  // reordered
          std::swap(headers[rng.below(headers.size())], headers[rng.below(headers.size())]);
          break;
      }
    }
    std::string text;
    for (const auto& [n, v] : headers)
      text += n + ": " + v + "\n";
    accepted = prop::parse_default(prop::header_view(headers), depth.propagate_dataset).has_value();
    if (!depth.full) return fz::check_headers(prop::header_view(headers), headers, text, depth);
    std::string failure = fz::check_headers(prop::header_view(headers), headers, text, depth);
    if (!failure.empty()) return failure;
    const std::multimap<std::string, std::string> multimap(headers.begin(), headers.end());
    return fz::check_headers(prop::header_view(multimap), fz::header_pairs(multimap.begin(), multimap.end()),
                             text, depth);
  });
  report(s, kHeaderSets);
}

TEST_CASE("propagation: a valid value of exactly max_header_bytes is read, one byte more is oversized",
          "[propagation]") {
  // Padded with a clause each format ignores or keeps as a field.
  const auto padded = [](std::string head, std::string pad_clause, std::size_t size) {
    head += pad_clause;
    head.resize(size, 'x');
    return head;
  };
  const auto oversized_once = [](prop::format f, auto&& call) {
    const prop::rejection_counts before = prop::rejections();
    const bool accepted = call().has_value();
    return !accepted && prop::rejections().of(f, prop::reject_reason::oversized) ==
                            before.of(f, prop::reject_reason::oversized) + 1;
  };
  // Valid by the grammar (31 members of 260 bytes, and one that makes up the size), but over the limit.
  std::string ts;
  for (int i = 0; i < 31; ++i)
    ts += "k" + std::to_string(i) + "=" + std::string(256, 'v') + ",";
  ts += "last=";
  ts.resize(prop::max_header_bytes + 1, 'v');
  for (const std::size_t size : {prop::max_header_bytes, prop::max_header_bytes + 1}) {
    const bool fits = size <= prop::max_header_bytes;
    const std::string hc = padded("1;trace_id=t,parent_id=p", ",pad=", size);
    const std::string amzn = padded("Root=t;Parent=p", ";pad=", size);
    const std::string xr = padded(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", ";Lineage=", size);
    CAPTURE(size);
    if (fits) {
      CHECK(beeline::honeycomb::unmarshal(hc, false).has_value());
      CHECK(beeline::aws::unmarshal(amzn).has_value());
      CHECK(beeline::xray::unmarshal(xr).has_value());
    } else {
      CHECK(
          oversized_once(prop::format::honeycomb, [&] { return beeline::honeycomb::unmarshal(hc, false); }));
      CHECK(oversized_once(prop::format::aws, [&] { return beeline::aws::unmarshal(amzn); }));
      CHECK(oversized_once(prop::format::xray, [&] { return beeline::xray::unmarshal(xr); }));
    }
  }
  // A tracestate too long is dropped (and counted), the traceparent still read.
  const prop::rejection_counts before = prop::rejections();
  const auto ctx = beeline::w3c::unmarshal(kTraceparentSeeds[0], ts);
  REQUIRE(ctx.has_value());
  CHECK(ctx->tracestate.empty());
  CHECK(prop::rejections().of(prop::format::w3c) == before.of(prop::format::w3c) + 1);
}
