// The propagation codecs against the Node Beeline's and OpenTelemetry JS's own test vectors, and the cases
// where we deliberately differ. (tests/interop checks the same against the real packages.)
#include <beeline/propagation.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

using beeline::trace_context;
using beeline::value;
using beeline::propagation::format;
using beeline::propagation::reject_reason;

namespace {

std::uint64_t rejected(format f, reject_reason r) {
  return beeline::propagation::rejections().of(f, r);
}

trace_context ctx(std::string trace, std::string parent, beeline::field_list fields = {},
                  std::string dataset = {}) {
  trace_context c;
  c.trace_id = std::move(trace);
  c.parent_id = std::move(parent);
  c.fields = std::move(fields);
  c.dataset = std::move(dataset);
  return c;
}

}  // namespace

// ---- Honeycomb ----

TEST_CASE("honeycomb: the Beeline's unmarshal vectors", "[propagation]") {
  namespace hc = beeline::honeycomb;
  const auto unsupported = rejected(format::honeycomb, reject_reason::unsupported_version);
  CHECK_FALSE(hc::unmarshal("9999999;.....", true));
  CHECK(rejected(format::honeycomb, reject_reason::unsupported_version) == unsupported + 1);

  auto c = hc::unmarshal("1;trace_id=abcdef,parent_id=12345", true);
  REQUIRE(c);
  CHECK(c->trace_id == "abcdef");
  CHECK(c->parent_id == "12345");
  CHECK(c->fields.empty());
  CHECK(c->dataset.empty());

  const auto bad_id = rejected(format::honeycomb, reject_reason::invalid_id);
  CHECK_FALSE(hc::unmarshal("1;parent_id=12345", true));
  CHECK_FALSE(hc::unmarshal("1;trace_id=12345", true));
  CHECK(rejected(format::honeycomb, reject_reason::invalid_id) == bad_id + 2);

  CHECK_FALSE(hc::unmarshal("1;trace_id=abcdef,parent_id=12345,context=123~!@@&^@", true));

  c = hc::unmarshal("1;trace_id=abcdef,parent_id=12345,something=unsupported", true);
  REQUIRE(c);
  CHECK(c->fields.empty());

  c = hc::unmarshal("1;trace_id=abcdef,parent_id=12345,context=eyJmb28iOiJiYXIifQo=", true);
  REQUIRE(c);
  REQUIRE(c->fields.size() == 1);
  CHECK(c->fields[0].key == "foo");
  CHECK(c->fields[0].value == value("bar"));
}

TEST_CASE("honeycomb: the Beeline's marshal vector, classic and non-classic", "[propagation]") {
  namespace hc = beeline::honeycomb;
  const trace_context c =
      ctx("abcdef123456", "0102030405", {{"userID", 1}, {"errorMsg", "failed to sign on"}, {"toRetry", true}},
          "testDataset");
  CHECK(hc::marshal(c, true) ==
        "1;trace_id=abcdef123456,parent_id=0102030405,dataset=testDataset,context="
        "eyJ1c2VySUQiOjEsImVycm9yTXNnIjoiZmFpbGVkIHRvIHNpZ24gb24iLCJ0b1JldHJ5Ijp0cnVlfQ==");
  CHECK(hc::marshal(c, false) ==
        "1;trace_id=abcdef123456,parent_id=0102030405,context="
        "eyJ1c2VySUQiOjEsImVycm9yTXNnIjoiZmFpbGVkIHRvIHNpZ24gb24iLCJ0b1JldHJ5Ijp0cnVlfQ==");
  // Round trips: the dataset survives only when both sides propagate it.
  const auto back = hc::unmarshal(*hc::marshal(c, true), true);
  REQUIRE(back);
  CHECK(*back == c);
  const auto no_dataset = hc::unmarshal(*hc::marshal(c, true), false);
  REQUIRE(no_dataset);
  CHECK(no_dataset->dataset.empty());
  CHECK(no_dataset->fields == c.fields);
  // An empty context is `{}`.
  CHECK(hc::marshal(ctx("a", "b"), false) == "1;trace_id=a,parent_id=b,context=e30=");
}

TEST_CASE("honeycomb: datasets are percent-encoded as encodeURIComponent does, and decoded strictly",
          "[propagation]") {
  namespace hc = beeline::honeycomb;
  const auto m = hc::marshal(ctx("t", "p", {}, "my dataset/v1 \xC3\xA9!*'()~"), true);
  REQUIRE(m);
  CHECK(*m == "1;trace_id=t,parent_id=p,dataset=my%20dataset%2Fv1%20%C3%A9!*'()~,context=e30=");
  CHECK(hc::unmarshal(*m, true)->dataset == "my dataset/v1 \xC3\xA9!*'()~");
  const auto enc = rejected(format::honeycomb, reject_reason::invalid_encoding);
  CHECK_FALSE(hc::unmarshal("1;trace_id=t,parent_id=p,dataset=bad%zz", true));
  CHECK_FALSE(hc::unmarshal("1;trace_id=t,parent_id=p,dataset=bad%C3", true));   // not UTF-8
  CHECK_FALSE(hc::unmarshal("1;trace_id=t,parent_id=p,dataset=bad%0A", true));   // a control character
  CHECK_FALSE(hc::unmarshal("1;trace_id=t,parent_id=p,dataset=trunc%4", true));  // truncated escape
  CHECK(rejected(format::honeycomb, reject_reason::invalid_encoding) == enc + 4);
  // Without dataset propagation the clause is ignored, even when malformed (as in the Beeline).
  CHECK(hc::unmarshal("1;trace_id=t,parent_id=p,dataset=bad%zz", false));
}

TEST_CASE("honeycomb: context values of every JSON type, nested values kept, duplicates last-wins",
          "[propagation]") {
  namespace hc = beeline::honeycomb;
  beeline::field_list fields{{"s", "x\"y"},
                             {"i", -42},
                             {"d", 1.5},
                             {"big", 1e21},
                             {"tiny", 1e-7},
                             {"b", false},
                             {"n", nullptr},
                             {"obj", value::json("{ \"a\" : [1, 2, {\"b\":null}] }")},
                             {"arr", value::json("[]")}};
  const auto m = hc::marshal(ctx("t", "p", fields), false);
  REQUIRE(m);
  const auto back = hc::unmarshal(*m, false);
  REQUIRE(back);
  REQUIRE(back->fields.size() == fields.size());
  CHECK(back->fields[0].value == value("x\"y"));
  CHECK(back->fields[1].value == value(-42));
  CHECK(back->fields[2].value == value(1.5));
  CHECK(back->fields[3].value == value(1e21));
  CHECK(back->fields[4].value == value(1e-7));
  CHECK(back->fields[5].value == value(false));
  CHECK(back->fields[6].value == value(nullptr));
  CHECK(back->fields[7].value == value::json("{\"a\":[1,2,{\"b\":null}]}"));  // compact, as JSON.stringify
  CHECK(back->fields[8].value == value::json("[]"));

  // {"a":1,"b":2,"a":3} -> a=3 in a's first position, as JSON.parse does.
  const auto dup = hc::unmarshal("1;trace_id=t,parent_id=p,context=eyJhIjoxLCJiIjoyLCJhIjozfQ==", false);
  REQUIRE(dup);
  REQUIRE(dup->fields.size() == 2);
  CHECK(dup->fields[0].key == "a");
  CHECK(dup->fields[0].value == value(3));
  // Duplicate clauses: the last wins.
  CHECK(hc::unmarshal("1;trace_id=a,trace_id=b,parent_id=p", false)->trace_id == "b");
}

TEST_CASE("honeycomb: where the Node Beeline is wrong we are right", "[propagation]") {
  namespace hc = beeline::honeycomb;
  // Non-ASCII context values: Node decodes the base64 as ASCII and mangles them; we keep UTF-8.
  const auto m = hc::marshal(ctx("t", "p", {{"k", "\xC3\xA9"}}), false);
  REQUIRE(m);
  CHECK(hc::unmarshal(*m, false)->fields[0].value == value("\xC3\xA9"));
  // Text after a second `=` (base64 padding): Node drops it; we keep the whole value.
  const auto padded = hc::unmarshal("1;trace_id=t,parent_id=p,context=eyJrIjoxfQ==", false);
  REQUIRE(padded);
  CHECK(padded->fields[0].value == value(1));
  // Missing padding and the URL-safe alphabet are read too.
  CHECK(hc::unmarshal("1;trace_id=t,parent_id=p,context=eyJrIjoxfQ", false)->fields[0].value == value(1));
}

TEST_CASE("honeycomb: spaces around the context's base64 are not part of it", "[propagation]") {
  namespace hc = beeline::honeycomb;
  auto c = hc::unmarshal("1;trace_id=abcdef,parent_id=12345,context= eyJhIjoxfQ== ", true);
  REQUIRE(c);
  CHECK(c->fields == beeline::field_list{{"a", 1}});
  c = hc::unmarshal("1;trace_id=abcdef,parent_id=12345,context=  eyJhIjoxfQ==\t ,dataset=ds", true);
  REQUIRE(c);
  CHECK(c->fields == beeline::field_list{{"a", 1}});
  CHECK(c->dataset == "ds");
  CHECK(hc::marshal(*c, true) == "1;trace_id=abcdef,parent_id=12345,dataset=ds,context=eyJhIjoxfQ==");
  CHECK_FALSE(hc::unmarshal("1;trace_id=abcdef,parent_id=12345,context=eyJhIj oxfQ==", true));  // inside: bad
}

TEST_CASE("honeycomb: bad input is rejected and counted", "[propagation]") {
  namespace hc = beeline::honeycomb;
  const auto before = beeline::propagation::rejections().of(format::honeycomb);
  const std::string huge = "1;trace_id=t,parent_id=p,context=" + std::string(9000, 'A');
  CHECK_FALSE(hc::unmarshal(huge, true));
  CHECK(rejected(format::honeycomb, reject_reason::oversized) >= 1);
  CHECK_FALSE(hc::unmarshal("", true));
  CHECK_FALSE(hc::unmarshal("1", true));
  CHECK_FALSE(hc::unmarshal("1;", true));
  CHECK_FALSE(hc::unmarshal("1;trace_id=,parent_id=p", true));
  CHECK_FALSE(hc::unmarshal("1;trace_id=a\x01,parent_id=p", true));
  CHECK_FALSE(hc::unmarshal("1;trace_id=" + std::string(300, 'a') + ",parent_id=p", true));
  CHECK_FALSE(hc::unmarshal("1;trace_id=t,parent_id=p,context=e30=e", true));  // base64: bad length
  CHECK_FALSE(hc::unmarshal("1;trace_id=t,parent_id=p,context=eyJ9", true));   // `{"}`: invalid JSON
  CHECK_FALSE(hc::unmarshal("1;trace_id=t,parent_id=p,context=/w==", true));   // 0xFF: not UTF-8
  CHECK(beeline::propagation::rejections().of(format::honeycomb) == before + 10);
  // A context that is JSON but not an object: the ids hold, the fields are dropped, and it is counted.
  const auto json_before = rejected(format::honeycomb, reject_reason::invalid_json);
  const auto arr = hc::unmarshal("1;trace_id=t,parent_id=p,context=WzEsMl0=", true);  // [1,2]
  REQUIRE(arr);
  CHECK(arr->fields.empty());
  CHECK(rejected(format::honeycomb, reject_reason::invalid_json) == json_before + 1);
  // Ids that would break the header are not written.
  CHECK_FALSE(hc::marshal(ctx("a,b", "p"), true));
  CHECK_FALSE(hc::marshal(ctx("", "p"), true));
  CHECK_FALSE(hc::marshal(ctx("t", "p;q"), true));
}

// ---- W3C ----

TEST_CASE("w3c: OpenTelemetry's traceparent vectors", "[propagation]") {
  namespace w3c = beeline::w3c;
  auto c = w3c::unmarshal("00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01");
  REQUIRE(c);
  CHECK(c->trace_id == "7f042f75651d9782dcff93a45fa99be0");
  CHECK(c->parent_id == "c998e73e5420f609");
  CHECK(c->trace_flags == 1);
  CHECK(w3c::unmarshal("99-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01"));
  CHECK_FALSE(w3c::unmarshal("00-00000000000000000000000000000000-c998e73e5420f609-01"));
  CHECK_FALSE(w3c::unmarshal("00-00000000000000000000000000000000-0000000000000000-01"));
  CHECK_FALSE(w3c::unmarshal("00-7f042f75651d9782dcff93a45fa99be0-0000000000000000-01"));
  CHECK_FALSE(w3c::unmarshal("00-7f042f75651d9782dcff93a45fa99be0-01"));
  CHECK_FALSE(w3c::unmarshal("00-c998e73e5420f609-01"));
  CHECK_FALSE(w3c::unmarshal("00-7F042F75651D9782DCFF93A45FA99BE0-c998e73e5420f609-01"));  // uppercase
  CHECK(w3c::unmarshal(" 00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-00 ")->trace_flags == 0);
  CHECK_FALSE(w3c::unmarshal("  00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-00"));
  CHECK_FALSE(w3c::unmarshal("ff-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01"));
  CHECK(w3c::unmarshal("01-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01-extra"));
  CHECK_FALSE(w3c::unmarshal("00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01-extra"));
  CHECK_FALSE(w3c::unmarshal("00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-1"));
  CHECK_FALSE(w3c::unmarshal("00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-zz"));
  CHECK_FALSE(w3c::unmarshal("01-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01x"));
}

TEST_CASE("w3c: marshal writes version 00 with the context's flags, and nothing for unusable ids",
          "[propagation]") {
  namespace w3c = beeline::w3c;
  CHECK(w3c::marshal(ctx("7f042f75651d9782dcff93a45fa99be0", "c998e73e5420f609", {{"k", 1}})) ==
        "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01");
  CHECK(w3c::marshal(ctx("7F042F75651D9782DCFF93A45FA99BE0", "C998E73E5420F609")) ==
        "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01");
  trace_context unsampled = ctx("7f042f75651d9782dcff93a45fa99be0", "c998e73e5420f609");
  unsampled.trace_flags = 0;
  CHECK(w3c::marshal(unsampled) == "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-00");
  CHECK_FALSE(w3c::marshal(ctx("abcdef123456", "0102030405")));  // Node returns "", we write no header
  CHECK_FALSE(w3c::marshal(ctx("00000000000000000000000000000000", "c998e73e5420f609")));

  w3c::traceparent tp = *w3c::parse_traceparent("00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-03");
  char out[w3c::traceparent_size];
  w3c::format_traceparent(tp, out);
  CHECK(std::string_view(out, sizeof out) == "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-03");
}

TEST_CASE("w3c: tracestate is validated and kept verbatim, never made from trace fields", "[propagation]") {
  namespace w3c = beeline::w3c;
  const std::string_view tp = "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01";
  CHECK(w3c::unmarshal(tp, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")->tracestate ==
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  CHECK(w3c::unmarshal(tp, " congo=t61rcWkgMzE , rojo=00f067aa0ba902b7,,")->tracestate ==
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  CHECK(w3c::unmarshal(tp, "tenant@vendor=x")->tracestate == "tenant@vendor=x");
  const auto bad = rejected(format::w3c, reject_reason::malformed);
  auto c = w3c::unmarshal(tp, "Upper=x,ok=1,bad=a=b,dup=1,dup=2");
  REQUIRE(c);  // the traceparent still holds
  CHECK(c->tracestate == "ok=1,dup=1");
  CHECK(rejected(format::w3c, reject_reason::malformed) == bad + 1);
  CHECK_FALSE(w3c::valid_tracestate("Upper=x"));
  CHECK(w3c::valid_tracestate("a=1,b=2"));
  std::string many;
  for (int i = 0; i < 33; ++i)
    many += (i ? ",k" : "k") + std::to_string(i) + "=v";
  CHECK_FALSE(w3c::valid_tracestate(many));
  CHECK(w3c::unmarshal(tp, std::string(600, 'a'))->tracestate.empty());

  // The propagation hook writes tracestate only from the context's tracestate.
  trace_context out = ctx("7f042f75651d9782dcff93a45fa99be0", "c998e73e5420f609", {{"app.user", 1}});
  CHECK(w3c::propagation_hook()(out).size() == 1);
  out.tracestate = "rojo=00f067aa0ba902b7";
  const auto headers = w3c::propagation_hook()(out);
  REQUIRE(headers.size() == 2);
  CHECK(headers[1] == std::pair<std::string, std::string>("tracestate", "rojo=00f067aa0ba902b7"));
}

TEST_CASE("w3c: a repeated tracestate key keeps its first, newest, member where it stands", "[propagation]") {
  namespace w3c = beeline::w3c;
  const std::string_view tp = "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01";
  // W3C moves an updated key to the left: the left-most entry is the latest position. OpenTelemetry JS keeps
  // the first value too (a=1,a=2 gives a=1).
  CHECK(w3c::unmarshal(tp, "a=1,a=2")->tracestate == "a=1");
  CHECK(w3c::unmarshal(tp, "congo=2,rojo=1,congo=1")->tracestate == "congo=2,rojo=1");
  CHECK_FALSE(w3c::valid_tracestate("a=1,a=2"));
  CHECK(w3c::valid_tracestate("a=1,ab=2"));  // a key that starts another is not a repeat
  CHECK(w3c::unmarshal(tp, "a=1,ab=2")->tracestate == "a=1,ab=2");
}

TEST_CASE("w3c: a tracestate over 512 bytes keeps the members that fit, cut as W3C asks", "[propagation]") {
  namespace w3c = beeline::w3c;
  const std::string_view tp = "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01";
  const auto member = [](int i, std::size_t value_size) {
    return "k" + std::to_string(100 + i) + "=" + std::string(value_size, 'v');
  };
  const auto join = [](const std::vector<std::string>& members) {
    std::string out;
    for (const std::string& m : members)
      out += (out.empty() ? "" : ",") + m;
    return out;
  };
  // 20 members of 30 bytes: 619 bytes joined; the first 16 (495 bytes) fit, the rest go from the end.
  std::vector<std::string> short_members;
  for (int i = 0; i < 20; ++i)
    short_members.push_back(member(i, 25));
  const std::string all = join(short_members);
  REQUIRE(all.size() == 619);
  const auto oversized = rejected(format::w3c, reject_reason::oversized);
  auto c = w3c::unmarshal(tp, all);
  REQUIRE(c);  // the traceparent still holds
  CHECK(c->tracestate == join({short_members.begin(), short_members.begin() + 16}));
  CHECK(c->tracestate.size() == 495);
  CHECK(rejected(format::w3c, reject_reason::oversized) == oversized + 1);  // the cut is counted once
  CHECK_FALSE(w3c::valid_tracestate(all));

  // A member over 128 bytes goes before any shorter one, wherever it stands.
  std::vector<std::string> mixed = {"rojo=00f067aa0ba902b7", member(0, 200)};
  for (int i = 1; i < 9; ++i)
    mixed.push_back(member(i, 40));
  c = w3c::unmarshal(tp, join(mixed));
  REQUIRE(c);
  std::vector<std::string> fit = mixed;
  fit.erase(fit.begin() + 1);
  CHECK(c->tracestate == join(fit));

  // Spaces around members do not count: the list is measured as it is sent on.
  std::string spaced;
  for (int i = 0; i < 12; ++i)
    spaced += member(i, 30) + " ,          ";
  REQUIRE(spaced.size() > 512);
  const auto malformed = rejected(format::w3c, reject_reason::malformed);
  const auto cut = rejected(format::w3c, reject_reason::oversized);
  c = w3c::unmarshal(tp, spaced);
  REQUIRE(c);
  CHECK(c->tracestate.size() == 12 * 35 + 11);
  CHECK(rejected(format::w3c, reject_reason::oversized) == cut);
  CHECK(rejected(format::w3c, reject_reason::malformed) == malformed);

  // What we send on is cut the same way.
  trace_context out = ctx("7f042f75651d9782dcff93a45fa99be0", "c998e73e5420f609");
  out.tracestate = all;
  const auto headers = w3c::propagation_hook()(out);
  REQUIRE(headers.size() == 2);
  CHECK(headers[1].second == join({short_members.begin(), short_members.begin() + 16}));

  // A value past max_header_bytes is not read at all.
  CHECK(w3c::unmarshal(tp, std::string(beeline::propagation::max_header_bytes + 1, 'a'))->tracestate.empty());
}

// ---- AWS (the Beeline's) ----

TEST_CASE("aws: the Beeline's vectors", "[propagation]") {
  namespace aws = beeline::aws;
  auto c = aws::unmarshal(
      "Root=1-abcdef123456;Self=1-0102030405;userID=1;errorMsg=failed to sign on;toRetry=true");
  REQUIRE(c);
  CHECK(c->trace_id == "1-abcdef123456");
  CHECK(c->parent_id == "1-0102030405");
  CHECK(c->fields ==
        beeline::field_list{{"userID", "1"}, {"errorMsg", "failed to sign on"}, {"toRetry", "true"}});
  c = aws::unmarshal("root=abcdef123456;self=0102030405;userID=1");
  REQUIRE(c);
  CHECK(c->parent_id == "0102030405");
  CHECK(c->fields[0].key == "userID");
  CHECK(aws::unmarshal("Root=abcdef123456;Parent=37501823472")->parent_id == "37501823472");
  CHECK(aws::unmarshal("Root=abcdef123456;Parent=37501823472;Self=0102030405")->parent_id == "37501823472");
  CHECK_FALSE(aws::unmarshal("Root=;Self=0102030405"));
  CHECK(aws::unmarshal("Root=abcdef123456")->parent_id == "abcdef123456");
  CHECK(aws::unmarshal("Root=1-abcdef123456;Parent=")->parent_id == "1-abcdef123456");

  CHECK(aws::marshal(ctx("abcdef123456", "0102030405",
                         {{"userID", 1}, {"errorMsg", "failed to sign on"}, {"toRetry", true}})) ==
        "Root=abcdef123456;Parent=0102030405;userID=1;errorMsg=failed to sign on;toRetry=true");
  CHECK_FALSE(aws::marshal(ctx("", "0102030405")));
  // Values that would break the header, and nested values, are left out.
  CHECK(aws::marshal(ctx("r", "p", {{"a", "x;y"}, {"b", value::json("{}")}, {"c", 2.5}})) ==
        "Root=r;Parent=p;c=2.5");
  // The whole value after the first `=` is kept (Node keeps only the piece up to a second `=`).
  CHECK(aws::unmarshal("Root=r;k=a=b")->fields[0].value == value("a=b"));
  CHECK_FALSE(aws::unmarshal("Root=r\x01"));
}

TEST_CASE("aws, xray: a trailing line break is not part of X-Amzn-Trace-Id, as in the other formats",
          "[propagation]") {
  const auto c = beeline::aws::unmarshal("Root=abc;Parent=def;k=v\n");
  REQUIRE(c);
  CHECK(c->parent_id == "def");
  CHECK(c->fields == beeline::field_list{{"k", "v"}});
  CHECK(beeline::aws::unmarshal(" Root=abc;Parent=def\r\n")->parent_id == "def");
  CHECK_FALSE(beeline::aws::unmarshal("Root=abc;Parent=d\nef"));  // one inside is still refused

  const auto x = beeline::xray::unmarshal(
      "Root=1-8a3c60f7-d188f8fa79d48a391a778fa6;Parent=53995c3f42cd8ad8;Sampled=0\r\n");
  REQUIRE(x);
  CHECK(x->trace_id == "8a3c60f7d188f8fa79d48a391a778fa6");
  CHECK(x->parent_id == "53995c3f42cd8ad8");
  CHECK(x->trace_flags == 0);
  // The Honeycomb and W3C readers already drop it.
  CHECK(beeline::honeycomb::unmarshal("1;trace_id=abc,parent_id=def\n", true));
  CHECK(beeline::w3c::unmarshal("00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01\n"));
}

// ---- X-Ray (OpenTelemetry's) ----

TEST_CASE("xray: OpenTelemetry's AWS X-Ray format", "[propagation]") {
  namespace xray = beeline::xray;
  auto c = xray::unmarshal("Root=1-8a3c60f7-d188f8fa79d48a391a778fa6;Parent=53995c3f42cd8ad8;Sampled=1");
  REQUIRE(c);
  CHECK(c->trace_id == "8a3c60f7d188f8fa79d48a391a778fa6");
  CHECK(c->parent_id == "53995c3f42cd8ad8");
  CHECK(c->trace_flags == 1);
  CHECK(xray::unmarshal("Root=1-8a3c60f7-d188f8fa79d48a391a778fa6; Parent=53995c3f42cd8ad8; Sampled=0")
            ->trace_flags == 0);
  CHECK(xray::marshal(*c) == "Root=1-8a3c60f7-d188f8fa79d48a391a778fa6;Parent=53995c3f42cd8ad8;Sampled=1");
  CHECK_FALSE(xray::unmarshal("Root=1-8a3c60f7-d188f8fa79d48a391a778fa6;Parent=53995c3f42cd8ad8;Sampled=x"));
  CHECK_FALSE(xray::unmarshal("Root=2-8a3c60f7-d188f8fa79d48a391a778fa6;Parent=53995c3f42cd8ad8;Sampled=1"));
  CHECK_FALSE(xray::unmarshal("Root=1-8a3c60f7-d188f8fa79d48a391a778fa6;Parent=0000000000000000;Sampled=1"));
  CHECK_FALSE(xray::unmarshal("Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8;Sampled=1"));
  CHECK_FALSE(xray::marshal(ctx("abc", "def")));
}

// ---- Highlight ----

TEST_CASE("highlight: x-highlight-request", "[propagation]") {
  namespace hl = beeline::highlight;
  CHECK(hl::unmarshal("1234/5678") == hl::request_ids{"1234", "5678"});
  CHECK_FALSE(hl::unmarshal("not valid!"));
  CHECK_FALSE(hl::unmarshal("a/b/c"));
  CHECK_FALSE(hl::unmarshal("/b"));
  CHECK_FALSE(hl::unmarshal("a/"));
  CHECK(hl::marshal({"1234", "5678"}) == "1234/5678");
  CHECK_FALSE(hl::marshal({"12/34", "5678"}));
  const std::map<std::string, std::string> headers{{"X-Highlight-Request", "abc/def"}};
  CHECK(hl::from_headers(headers) == hl::request_ids{"abc", "def"});
  CHECK_FALSE(hl::from_headers(std::map<std::string, std::string>{}));
}

// ---- header containers and the default rule ----

TEST_CASE("propagation: header lookup is case-insensitive over any container; Honeycomb is preferred",
          "[propagation]") {
  const std::vector<std::pair<std::string, std::string>> both{
      {"TraceParent", "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01"},
      {"x-honeycomb-trace", "1;trace_id=abcdef,parent_id=12345"}};
  auto c = beeline::propagation::parse_default(both, false);
  REQUIRE(c);
  CHECK(c->trace_id == "abcdef");

  const std::vector<std::pair<std::string, std::string>> w3c_only{
      {"traceparent", "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01"},
      {"tracestate", "a=1"},
      {"TRACESTATE", "b=2"}};
  c = beeline::propagation::parse_default(w3c_only, false);
  REQUIRE(c);
  CHECK(c->trace_id == "7f042f75651d9782dcff93a45fa99be0");
  CHECK(c->tracestate == "a=1,b=2");  // several tracestate headers are one list

  CHECK_FALSE(beeline::propagation::parse_default(std::map<std::string, std::string>{{"other", "x"}}, false));
  // An unparseable Honeycomb header starts a new trace; it does not fall back to W3C.
  const std::map<std::string, std::string> broken{
      {"X-Honeycomb-Trace", "garbage"},
      {"traceparent", "00-7f042f75651d9782dcff93a45fa99be0-c998e73e5420f609-01"}};
  CHECK_FALSE(beeline::propagation::parse_default(broken, false));
}
