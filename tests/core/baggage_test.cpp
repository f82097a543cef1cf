// The W3C baggage codec and the composite propagation hooks that OTEL_PROPAGATORS chooses.
#include <beeline/propagation.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace baggage = beeline::baggage;
namespace prop = beeline::propagation;
using beeline::field_list;
using beeline::value;

namespace {

std::uint64_t rejected(prop::reject_reason r) {
  return prop::rejections().of(prop::format::baggage, r);
}

std::vector<std::pair<std::string, std::string>> strings(const field_list& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : fields) {
    REQUIRE(f.value.kind() == beeline::value_kind::string);
    out.emplace_back(f.key, std::string(f.value.view().as_string()));
  }
  return out;
}

using pairs = std::vector<std::pair<std::string, std::string>>;
using headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

}  // namespace

TEST_CASE("baggage: trace fields become entries, scalars as String() writes them", "[baggage]") {
  const field_list fields{{"app.user", value("alice smith")}, {"app.count", value(3)},
                          {"app.ratio", value(2.5)},          {"app.ok", value(true)},
                          {"app.none", value(nullptr)},       {"app.obj", value::json(R"({"a":1})")}};
  CHECK(baggage::marshal(fields) ==
        "app.user=alice%20smith,app.count=3,app.ratio=2.5,app.ok=true,app.none=null,"
        "app.obj=%7B%22a%22%3A1%7D");
}

TEST_CASE("baggage: no fields, or none that can be written, give no header", "[baggage]") {
  CHECK_FALSE(baggage::marshal({}));
  CHECK_FALSE(baggage::marshal({{"", value("v")}}));
  CHECK_FALSE(baggage::marshal({{"k", value(std::string("\xff"))}}));
  CHECK_FALSE(baggage::marshal({{"k", value(std::string(4095, 'x'))}}));  // 4097 bytes with "k="
}

TEST_CASE("baggage: 180 members at most, 8192 bytes at most, members that do not fit left out", "[baggage]") {
  field_list many;
  for (int i = 0; i < 200; ++i)
    many.push_back({"k" + std::to_string(i), value("v")});
  const auto h = baggage::marshal(many);
  REQUIRE(h);
  CHECK(baggage::unmarshal(*h).size() == 180);
  CHECK(h->ends_with(",k179=v"));

  const field_list big{{"a", value(std::string(3000, 'x'))},
                       {"b", value(std::string(3000, 'y'))},
                       {"c", value(std::string(3000, 'z'))},
                       {"d", value("small")}};
  const auto h2 = baggage::marshal(big);
  REQUIRE(h2);
  CHECK(h2->size() <= baggage::max_bytes);
  CHECK(strings(baggage::unmarshal(*h2)) ==
        pairs{{"a", std::string(3000, 'x')}, {"b", std::string(3000, 'y')}, {"d", "small"}});
}

TEST_CASE("baggage: members are trimmed and percent-decoded; properties are ignored", "[baggage]") {
  CHECK(strings(baggage::unmarshal(" a = 1 ;prop=x;flag ,\tb=two%20words, c=%E2%98%83 ")) ==
        pairs{{"a", "1"}, {"b", "two words"}, {"c", "\xe2\x98\x83"}});
  CHECK(strings(baggage::unmarshal("a=1,b=2,a=3")) == pairs{{"a", "3"}, {"b", "2"}});
  CHECK(strings(baggage::unmarshal("a=b=c,e=")) == pairs{{"a", "b=c"}, {"e", ""}});
}

TEST_CASE("baggage: malformed members are skipped and counted, the rest is read", "[baggage]") {
  const auto malformed = rejected(prop::reject_reason::malformed);
  const auto encoding = rejected(prop::reject_reason::invalid_encoding);
  CHECK(strings(baggage::unmarshal("a=1,novalue,=x, =y,b=%zz,c=%FF,d=\x01,e=5,,")) ==
        pairs{{"a", "1"}, {"e", "5"}});
  CHECK(rejected(prop::reject_reason::malformed) == malformed + 3);
  CHECK(rejected(prop::reject_reason::invalid_encoding) == encoding + 3);
}

TEST_CASE("baggage: an oversized list is cut at a member boundary and counted once", "[baggage]") {
  std::string h;
  for (int i = 0; i < 100; ++i)
    h += (i ? "," : "") + ("k" + std::to_string(i)) + "=" + std::string(100, 'v');
  const auto before = rejected(prop::reject_reason::oversized);
  const auto got = baggage::unmarshal(h);
  CHECK(got.size() == 78);  // the members within the first 8192 bytes
  CHECK(got.back().key == "k77");
  CHECK(rejected(prop::reject_reason::oversized) == before + 1);

  std::string many;
  for (int i = 0; i < 200; ++i)
    many += (i ? "," : "") + ("k" + std::to_string(i)) + "=1";
  const auto before2 = rejected(prop::reject_reason::oversized);
  CHECK(baggage::unmarshal(many).size() == 180);
  CHECK(rejected(prop::reject_reason::oversized) == before2 + 1);

  const auto before3 = rejected(prop::reject_reason::oversized);
  CHECK(strings(baggage::unmarshal("a=" + std::string(5000, 'x') + ",b=1")) == pairs{{"b", "1"}});
  CHECK(rejected(prop::reject_reason::oversized) == before3 + 1);

  // One member longer than the whole limit: nothing is read.
  CHECK(baggage::unmarshal(std::string(20000, 'x')).empty());
}

TEST_CASE("baggage: several baggage headers are one list, a huge one read only up to the limit",
          "[baggage]") {
  const headers h{{"baggage", "a=1"}, {"Baggage", "b=2,c=3"}};
  CHECK(strings(baggage::from_headers(h)) == pairs{{"a", "1"}, {"b", "2"}, {"c", "3"}});
  const headers huge{{"baggage", "a=1"}, {"baggage", std::string(1 << 20, 'x')}, {"baggage", "z=9"}};
  CHECK(strings(baggage::from_headers(huge)) == pairs{{"a", "1"}});
}

TEST_CASE("baggage: the hooks carry trace fields out and in", "[baggage]") {
  beeline::trace_context ctx;
  ctx.trace_id = "0af7651916cd43dd8448eb211c80319c";
  ctx.parent_id = "b7ad6b7169203331";
  ctx.fields = {{"app.user", value("alice")}, {"app.n", value(7)}};
  const auto out = baggage::propagation_hook()(ctx);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == std::pair<std::string, std::string>{"baggage", "app.user=alice,app.n=7"});
  const auto in = baggage::parser_hook()(out);
  REQUIRE(in);
  CHECK(in->trace_id.empty());
  CHECK(strings(in->fields) == pairs{{"app.user", "alice"}, {"app.n", "7"}});
  CHECK_FALSE(baggage::parser_hook()(headers{{"baggage", " , "}}));
  CHECK(baggage::propagation_hook()(beeline::trace_context{}).empty());
}

TEST_CASE("propagators: OTEL_PROPAGATORS names are read, unknown ones listed", "[baggage]") {
  std::vector<std::string> unknown;
  using p = prop::propagator;
  CHECK(prop::parse_propagators(" TraceContext , baggage,xray,honeycomb,aws,baggage", unknown) ==
        std::vector<p>{p::tracecontext, p::baggage, p::xray, p::honeycomb, p::aws});
  CHECK(unknown.empty());
  CHECK(prop::parse_propagators("b3,tracecontext,jaeger", unknown) == std::vector<p>{p::tracecontext});
  CHECK(unknown == std::vector<std::string>{"b3", "jaeger"});
  unknown.clear();
  CHECK(prop::parse_propagators("none", unknown).empty());
  CHECK(unknown.empty());
}

TEST_CASE("propagators: the composite writes every header and reads the first context found, baggage merged",
          "[baggage]") {
  using p = prop::propagator;
  beeline::trace_context ctx;
  ctx.trace_id = "0af7651916cd43dd8448eb211c80319c";
  ctx.parent_id = "b7ad6b7169203331";
  ctx.fields = {{"app.user", value("alice")}};
  const auto write = prop::composite_propagation_hook({p::tracecontext, p::baggage, p::xray}, false);
  const auto out = write(ctx);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == std::pair<std::string, std::string>{"traceparent", traceparent});
  CHECK(out[1] == std::pair<std::string, std::string>{"baggage", "app.user=alice"});
  CHECK(out[2].first == "X-Amzn-Trace-Id");

  const auto read = prop::composite_parser_hook({p::honeycomb, p::tracecontext, p::baggage}, false);
  // No Honeycomb header (an empty one counts as absent): W3C gives the ids, baggage the fields.
  const auto in =
      read(headers{{"X-Honeycomb-Trace", ""}, {"traceparent", traceparent}, {"baggage", "app.user=bob"}});
  REQUIRE(in);
  CHECK(in->trace_id == "0af7651916cd43dd8448eb211c80319c");
  CHECK(in->parent_id == "b7ad6b7169203331");
  CHECK(strings(in->fields) == pairs{{"app.user", "bob"}});

  // The first propagator in the list that finds a context wins; its fields win over baggage's.
  const auto hc = beeline::honeycomb::marshal(
      {"1111111111111111111111111111111a", "222222222222222b", "", {{"app.user", value("carol")}}, 1, ""},
      false);
  REQUIRE(hc);
  const auto both = read(
      headers{{"traceparent", traceparent}, {"X-Honeycomb-Trace", *hc}, {"baggage", "app.user=bob,app.x=1"}});
  REQUIRE(both);
  CHECK(both->trace_id == "1111111111111111111111111111111a");
  CHECK(both->fields.size() == 2);
  CHECK(both->fields[0].key == "app.user");
  CHECK(both->fields[0].value.view().as_string() == "carol");
  CHECK(both->fields[1].key == "app.x");

  // Baggage alone: fields without ids.
  const auto only = read(headers{{"baggage", "app.x=1"}});
  REQUIRE(only);
  CHECK(only->trace_id.empty());
  CHECK(strings(only->fields) == pairs{{"app.x", "1"}});
  CHECK_FALSE(read(headers{}));

  // An empty list reads and writes nothing (OTEL_PROPAGATORS=none).
  CHECK_FALSE(prop::composite_parser_hook({}, false)(headers{{"traceparent", traceparent}}));
  CHECK(prop::composite_propagation_hook({}, false)(ctx).empty());
}
