// White-box tests of span records (field storage, limits, reuse) and the lock-free object pool behind them.
#include "core/span_record.hpp"
#include "core/object_pool.hpp"

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using beeline::field_value;
using beeline::raw_json;
using beeline::value_kind;
using namespace beeline::detail;

namespace {

// A record with its own limits and counters, as a tracer would hand them to the field operations.
struct fixture {
  span_record rec;
  std::atomic<std::uint64_t> truncated{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> truncated_keys{0};
  field_limits limits;
  field_counters counters{&truncated, &dropped, &truncated_keys};

  explicit fixture(std::size_t max_fields = 512, std::size_t max_value_bytes = 64 * 1024,
                   std::size_t max_key_bytes = 256)
      : limits{max_fields, max_value_bytes, SIZE_MAX, max_key_bytes} {}

  void set(std::string_view k, field_value v) { set_field(rec, k, v, limits, counters); }
  void set_if_absent(std::string_view k, field_value v) { set_field_if_absent(rec, k, v, limits, counters); }
  field_value get(std::string_view k) const {
    const std::ptrdiff_t at = rec.find(k);
    REQUIRE(at >= 0);
    return rec.value(rec.fields[static_cast<std::size_t>(at)]);
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const stored_field& f : rec.fields)
      out.emplace_back(rec.key(f));
    return out;
  }
};

bool is_valid_utf8(std::string_view s) {
  return simdjson::validate_utf8(s.data(), s.size());
}

}  // namespace

// ---- truncate_utf8 ----

TEST_CASE("span_record: truncate_utf8 leaves strings within the limit untouched", "[span_record]") {
  const std::string_view s = "h\xC3\xA9llo";
  CHECK(truncate_utf8(s, s.size()).data() == s.data());
  CHECK(truncate_utf8(s, s.size()) == s);
  CHECK(truncate_utf8(s, 100) == s);
  CHECK(truncate_utf8("", 0).empty());
}

TEST_CASE("span_record: truncate_utf8 cuts ASCII at exactly the limit", "[span_record]") {
  CHECK(truncate_utf8("abcdef", 3) == "abc");
  CHECK(truncate_utf8("abcdef", 0).empty());
  CHECK(truncate_utf8("abcdef", 5) == "abcde");
}

TEST_CASE("span_record: truncate_utf8 never splits a multibyte sequence", "[span_record]") {
  CHECK(truncate_utf8("a\xC3\xA9", 2) == "a");
  CHECK(truncate_utf8("a\xC3\xA9", 3) == "a\xC3\xA9");
  CHECK(truncate_utf8("\xE4\xB8\xAD", 1).empty());
  CHECK(truncate_utf8("\xE4\xB8\xAD", 2).empty());
  CHECK(truncate_utf8("\xE4\xB8\xAD"
                      "x",
                      3) == "\xE4\xB8\xAD");
  CHECK(truncate_utf8("\xF0\x9F\x90\x9D"
                      "x",
                      3)
            .empty());
  CHECK(truncate_utf8("\xF0\x9F\x90\x9D"
                      "x",
                      4) == "\xF0\x9F\x90\x9D");
  CHECK(truncate_utf8("ab\xF0\x9F\x90\x9D", 5) == "ab");

  // Every cut of a mixed string is a valid, maximal prefix.
  const std::string_view mixed =
      "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x90\x9D"
      "b\xDF\xBF\xEF\xBF\xBF"
      "c";
  REQUIRE(is_valid_utf8(mixed));
  for (std::size_t max = 0; max <= mixed.size() + 1; ++max) {
    const std::string_view cut = truncate_utf8(mixed, max);
    INFO("max " << max << " -> " << cut.size() << " bytes");
    CHECK(cut.data() == mixed.data());
    CHECK(cut.size() <= max);
    CHECK(is_valid_utf8(cut));
    CHECK(cut.size() + 3 >= std::min(max, mixed.size()));  // drops at most an incomplete 4-byte sequence
    if (cut.size() < mixed.size()) CHECK((static_cast<unsigned char>(mixed[cut.size()]) & 0xC0) != 0x80);
  }
}

// ---- set_field / set_field_if_absent / remove_field ----

TEST_CASE("span_record: set_field stores every kind in insertion order", "[span_record]") {
  fixture fx;
  fx.set("null", nullptr);
  fx.set("bool", true);
  fx.set("int", -5);
  fx.set("double", 2.5);
  fx.set("string", "text");
  fx.set("json", raw_json{"[1,2]"});
  CHECK(fx.keys() == std::vector<std::string>{"null", "bool", "int", "double", "string", "json"});
  CHECK(fx.get("null").is_null());
  CHECK(fx.get("bool") == field_value(true));
  CHECK(fx.get("int") == field_value(-5));
  CHECK(fx.get("double") == field_value(2.5));
  CHECK(fx.get("string") == field_value("text"));
  CHECK(fx.get("json") == field_value(raw_json{"[1,2]"}));
  CHECK(fx.rec.find("absent") == -1);
  CHECK(fx.truncated == 0);
  CHECK(fx.dropped == 0);
}

TEST_CASE("span_record: keys and values of every length up to past the inline storage come back intact",
          "[span_record]") {
  // New fields are copied in line for short texts (several block sizes) and through the general path once the
  // record's inline storage is full: every length, on both sides of each boundary, must read back the same.
  fixture fx;
  std::vector<std::string> keys, values;
  for (std::size_t n = 1; n <= 80; ++n) {
    keys.push_back("k" + std::string(n - 1, static_cast<char>('a' + n % 26)));
    values.push_back(std::string(n, static_cast<char>('A' + n % 26)) + std::to_string(n));
  }
  for (std::size_t i = 0; i < keys.size(); ++i)
    fx.set(keys[i], values[i]);
  REQUIRE(fx.rec.fields.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO("field " << i);
    CHECK(fx.rec.key(fx.rec.fields[i]) == keys[i]);
    CHECK(fx.get(keys[i]) == field_value(values[i]));
  }
}

TEST_CASE("span_record: set_named_fields names the span, then sets the fields in order, later keys winning",
          "[span_record]") {
  fixture fx(4, 8);
  const std::vector<beeline::field> f{{"a", 1},   {"b", true},           {"a", "again"}, {"name", "renamed"},
                                      {"c", 2.5}, {"long", "123456789"}, {"d", 4},       {"e", 5}};
  set_named_fields(fx.rec, "op", f, fx.limits, fx.counters);
  CHECK(fx.keys() == std::vector<std::string>{"name", "a", "b", "c"});
  CHECK(fx.get("name") == field_value("renamed"));
  CHECK(fx.get("a") == field_value("again"));
  CHECK(fx.get("b") == field_value(true));
  CHECK(fx.get("c") == field_value(2.5));
  CHECK(fx.dropped == 3);    // long, d and e: past the limit of four fields
  CHECK(fx.truncated == 0);  // "long" was refused before its value was looked at
}

TEST_CASE("span_record: set_field copies strings into the record", "[span_record]") {
  fixture fx;
  std::string key = "dynamic.key";
  std::string val = "a value that would dangle if it were only borrowed";
  fx.set(key, val);
  key.assign(key.size(), 'k');
  val.assign(val.size(), 'v');
  CHECK(fx.get("dynamic.key") == field_value("a value that would dangle if it were only borrowed"));
  CHECK(fx.get("dynamic.key").as_string().data() != val.data());
  CHECK(fx.rec.find(key) == -1);
}

TEST_CASE("span_record: set_field on an existing key replaces the value in place", "[span_record]") {
  fixture fx;
  fx.set("a", 1);
  fx.set("b", "first");
  fx.set("c", 3);
  fx.set("b", 2.5);
  CHECK(fx.keys() == std::vector<std::string>{"a", "b", "c"});
  CHECK(fx.get("b") == field_value(2.5));
  fx.set("b", "second");
  CHECK(fx.get("b") == field_value("second"));
  CHECK(fx.rec.fields.size() == 3);
}

TEST_CASE("span_record: set_field_if_absent adds but never replaces", "[span_record]") {
  fixture fx;
  fx.set("service_name", "mine");
  fx.set_if_absent("service_name", "global");
  fx.set_if_absent("meta.local_hostname", "host");
  CHECK(fx.get("service_name") == field_value("mine"));
  CHECK(fx.get("meta.local_hostname") == field_value("host"));
  CHECK(fx.rec.fields.size() == 2);
}

TEST_CASE("span_record: a new key past the field limit is refused and counted", "[span_record]") {
  fixture fx(2);
  fx.set("a", 1);
  fx.set("b", 2);
  fx.set("c", 3);
  fx.set_if_absent("d", 4);
  CHECK(fx.keys() == std::vector<std::string>{"a", "b"});
  CHECK(fx.dropped == 2);
  // Replacing an existing key at the limit is not a new field.
  fx.set("b", 20);
  CHECK(fx.get("b") == field_value(20));
  CHECK(fx.dropped == 2);
  // Removing one makes room again.
  CHECK(remove_field(fx.rec, "a", fx.limits));
  fx.set("c", 3);
  CHECK(fx.keys() == std::vector<std::string>{"b", "c"});
  CHECK(fx.dropped == 2);
}

TEST_CASE("span_record: a string value longer than the limit is cut at a UTF-8 boundary and counted",
          "[span_record]") {
  fixture fx(512, 5);
  fx.set("exact", "12345");
  CHECK(fx.truncated == 0);
  CHECK(fx.get("exact") == field_value("12345"));
  fx.set("long", "123456789");
  CHECK(fx.get("long") == field_value("12345"));
  CHECK(fx.truncated == 1);
  fx.set("utf8", "abcd\xC3\xA9");  // the 2-byte é would straddle the limit
  CHECK(fx.get("utf8") == field_value("abcd"));
  CHECK(fx.truncated == 2);
  // Replacing with a long value counts again.
  fx.set("exact", "abcdefgh");
  CHECK(fx.get("exact") == field_value("abcde"));
  CHECK(fx.truncated == 3);
  // Numbers are never affected.
  fx.set("n", 1234567890123);
  CHECK(fx.get("n") == field_value(1234567890123));
  CHECK(fx.truncated == 3);
}

TEST_CASE("span_record: raw JSON longer than the limit becomes null rather than broken JSON",
          "[span_record]") {
  fixture fx(512, 8);
  fx.set("small", raw_json{"[1,2,3]"});
  CHECK(fx.get("small") == field_value(raw_json{"[1,2,3]"}));
  CHECK(fx.truncated == 0);
  fx.set("big", raw_json{"[1,2,3,4,5,6]"});
  CHECK(fx.get("big").is_null());
  CHECK(fx.truncated == 1);
}

TEST_CASE("span_record: reserved keys cannot be set", "[span_record]") {
  fixture fx;
  for (const char* k :
       {"trace.trace_id", "trace.span_id", "trace.parent_id", "meta.span_type", "duration_ms"}) {
    INFO(k);
    CHECK(is_reserved_key(k));
    fx.set(k, "user value");
    fx.set_if_absent(k, "user value");
    CHECK(fx.rec.find(k) == -1);
  }
  CHECK(fx.rec.fields.empty());
  CHECK_FALSE(is_reserved_key("name"));
  CHECK_FALSE(is_reserved_key("trace.other"));
  CHECK_FALSE(is_reserved_key("duration"));
  CHECK_FALSE(is_reserved_key("meta.beeline_version"));
  fx.set("trace.other", 1);
  CHECK(fx.rec.find("trace.other") == 0);
}

TEST_CASE("span_record: setting the same over-long key twice keeps one field", "[span_record]") {
  // Keys are cut to max_key_bytes; a second set of the same key must replace, not add a duplicate key.
  fixture fx(512, 64 * 1024, 4);
  fx.set("abcdefgh", 1);
  fx.set("abcdefgh", 2);
  CHECK(fx.rec.fields.size() == 1);
  REQUIRE(!fx.rec.fields.empty());
  CHECK(fx.rec.value(fx.rec.fields.back()) == field_value(2));
}

TEST_CASE("span_record: an over-long key is removed by the key it was set with", "[span_record]") {
  fixture fx(512, 64 * 1024, 4);
  fx.set("abcdefgh", 1);
  REQUIRE(fx.rec.fields.size() == 1);
  CHECK_FALSE(remove_field(fx.rec, "abcdXYZ", fx.limits));  // cut alike, but another key
  CHECK_FALSE(remove_field(fx.rec, "abcd", fx.limits));
  CHECK(remove_field(fx.rec, "abcdefgh", fx.limits));
  CHECK(fx.rec.fields.empty());
}

TEST_CASE("span_record: keys cut alike never take each other's field; tracer keys are never cut",
          "[span_record]") {
  fixture fx(512, 64 * 1024, 4);
  fx.set("name", "n");          // longer than no bound here, but a tracer key is never cut anyway
  fx.set("user_id", 1);         // cut to "user"
  fx.set("user_name", 2);       // also "user": refused, the first keeps it
  fx.set("user", 3);            // the key "user" itself is another key: refused too
  fx.set("namespace", 4);       // would become "name": refused
  fx.set("service_name_x", 5);  // would become "serv": allowed (not a tracer key)
  fx.set("user_id", 6);         // the same key again replaces
  CHECK(fx.keys() == std::vector<std::string>{"name", "user", "serv"});
  CHECK(fx.get("name") == field_value("n"));
  CHECK(fx.get("user") == field_value(6));
  CHECK(fx.dropped == 3);
  CHECK(fx.truncated_keys == 3);

  fixture tiny(512, 64 * 1024, 2);
  tiny.set("name", "kept whole");
  tiny.set("trace.trace_id", "reserved: never stored");
  tiny.set("\xC3\xA9t\xC3\xA9", 1);  // "été": cut at a UTF-8 boundary, to "\xC3\xA9"
  CHECK(tiny.keys() == std::vector<std::string>{"name", "\xC3\xA9"});

  fixture none(512, 64 * 1024, 0);
  none.set("name", "kept");
  none.set("k", 1);  // would become "": refused
  CHECK(none.keys() == std::vector<std::string>{"name"});
  CHECK(none.dropped == 1);
}

TEST_CASE("span_record: remove_field removes one field and keeps the order of the rest", "[span_record]") {
  fixture fx;
  fx.set("a", 1);
  fx.set("b", 2);
  fx.set("c", 3);
  CHECK(remove_field(fx.rec, "b", fx.limits));
  CHECK(fx.keys() == std::vector<std::string>{"a", "c"});
  CHECK(fx.rec.find("b") == -1);
  CHECK_FALSE(remove_field(fx.rec, "b", fx.limits));
  CHECK_FALSE(remove_field(fx.rec, "missing", fx.limits));
  CHECK(fx.get("c") == field_value(3));
  // A removed key can be added again, at the end.
  fx.set("b", 22);
  CHECK(fx.keys() == std::vector<std::string>{"a", "c", "b"});
  CHECK(fx.get("b") == field_value(22));
}

// ---- reset_record ----

TEST_CASE("span_record: the key filter never hides a key that is there", "[span_record]") {
  // 200 keys set about half the filter's 256 bits; each is still found, replaced in place, removed and
  // re-added, and an absent key is still reported absent when the filter says "maybe".
  fixture fx;
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i)
    keys.push_back((i % 3 ? "request.header." : "k") + std::to_string(i * 7919));
  for (std::size_t i = 0; i < keys.size(); ++i)
    fx.set(keys[i], static_cast<std::int64_t>(i));
  const auto bits_set = [&] {
    int n = 0;
    for (std::uint64_t w : fx.rec.key_filter)
      n += __builtin_popcountll(w);
    return n;
  };
  CHECK(bits_set() > 100);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    fx.set(keys[i], static_cast<std::int64_t>(i + 1000));
    CHECK(fx.get(keys[i]).as_int() == static_cast<std::int64_t>(i + 1000));
  }
  CHECK(fx.rec.fields.size() == keys.size());
  std::string absent = "absent.0";
  for (int i = 1; !fx.rec.may_hold(absent); ++i)
    absent = "absent." + std::to_string(i);
  CHECK(fx.rec.find(absent) == -1);
  CHECK(remove_field(fx.rec, keys[5], fx.limits));
  CHECK(fx.rec.find(keys[5]) == -1);
  fx.set(keys[5], std::int64_t{5});
  CHECK(fx.get(keys[5]).as_int() == 5);
  CHECK(fx.rec.fields.size() == keys.size());
  reset_record(fx.rec);
  CHECK(bits_set() == 0);
  CHECK(fx.rec.find(keys[0]) == -1);
}

TEST_CASE("span_record: the key filter spreads keys that share a prefix, a suffix or a length",
          "[span_record]") {
  // 64 keys of each family into 256 slots: a uniform hash fills about 57 distinct slots; a hash of the length
  // and one or two bytes puts a family in a handful.
  const auto distinct = [](auto make) {
    std::set<std::pair<unsigned, std::uint64_t>> slots;
    for (int i = 0; i < 64; ++i) {
      const std::string key = make(i);
      const span_record::key_slot k = span_record::slot_of(key);
      slots.insert({k.word, k.bit});
    }
    return slots.size();
  };
  CHECK(distinct([](int i) { return "request.header." + std::to_string(1000 + i); }) >= 48);
  CHECK(distinct([](int i) { return std::to_string(1000 + i) + ".user_identifier"; }) >= 48);
  CHECK(distinct([](int i) { return "app." + std::to_string(1000 + i) + ".user_identifier"; }) >= 48);
  CHECK(distinct([](int i) { return std::string(1, static_cast<char>('A' + i)); }) >= 48);
}

TEST_CASE("span_record: reset_record bumps the generation and clears the state bits", "[span_record]") {
  span_record r;
  const std::uint64_t gen0 = generation_of(r.state.load());
  r.state.fetch_or(record_finished | record_has_children);
  reset_record(r);
  const std::uint64_t s1 = r.state.load();
  CHECK(generation_of(s1) == gen0 + 1);
  CHECK((s1 & record_finished) == 0);
  CHECK((s1 & record_has_children) == 0);
  reset_record(r);
  CHECK(generation_of(r.state.load()) == gen0 + 2);
  STATIC_REQUIRE(generation_of((std::uint64_t{7} << 2) | record_finished | record_has_children) == 7);
}

TEST_CASE("span_record: reset_record clears a used record for reuse", "[span_record]") {
  fixture fx;
  trace_state trace;
  span_record& r = fx.rec;
  r.trace = &trace;
  r.span_id = 11;
  r.parent_id = 22;
  r.is_root = true;
  r.start_ticks = 100;
  r.end_ticks = 200;
  fx.set("k", "v");

  reset_record(r);
  CHECK(r.trace == nullptr);
  CHECK(r.span_id == 0);
  CHECK(r.parent_id == 0);
  CHECK_FALSE(r.is_root);
  CHECK(r.start_ticks == 0);
  CHECK(r.end_ticks == 0);
  CHECK(r.fields.empty());
  CHECK(r.arena.empty());
  CHECK(r.find("k") == -1);

  // It works as a fresh record afterwards.
  fx.set("new", 1);
  CHECK(fx.keys() == std::vector<std::string>{"new"});
}

TEST_CASE("span_record: reset_record keeps small buffers and releases huge ones", "[span_record]") {
  SECTION("a small arena keeps its capacity") {
    fixture fx;
    fx.set("k", std::string(1000, 'x'));
    const std::size_t cap = fx.rec.arena.capacity();
    REQUIRE(cap >= 1000);
    reset_record(fx.rec);
    CHECK(fx.rec.arena.capacity() == cap);
  }
  SECTION("an arena above 64 KiB is released") {
    fixture fx(512, 1 << 20);
    fx.set("k", std::string(200 * 1024, 'x'));
    REQUIRE(fx.rec.arena.capacity() >= 200 * 1024);
    reset_record(fx.rec);
    CHECK(fx.rec.arena.capacity() <= 64 * 1024);
  }
  SECTION("a field vector above 1024 entries is released") {
    fixture fx(4096);
    for (int i = 0; i < 2000; ++i)
      fx.set("k" + std::to_string(i), i);
    REQUIRE(fx.rec.fields.capacity() > 1024);
    reset_record(fx.rec);
    CHECK(fx.rec.fields.capacity() <= 1024);
  }
}

// ---- object_pool ----

namespace {

struct node {
  std::uint32_t pool_index = 0;
  std::atomic<std::uint32_t> pool_next{0};
  int payload = 0;
  std::atomic<int> owner{0};
};

}  // namespace

TEST_CASE("object_pool: pop hands out distinct objects with consecutive indices", "[object_pool]") {
  object_pool<node, 4, 8> pool;
  CHECK(pool.capacity() == 0);
  std::vector<node*> got;
  for (int i = 0; i < 10; ++i) {
    node* n = pool.pop();
    REQUIRE(n != nullptr);
    got.push_back(n);
  }
  CHECK(std::set<node*>(got.begin(), got.end()).size() == got.size());
  std::set<std::uint32_t> indices;
  for (node* n : got)
    indices.insert(n->pool_index);
  CHECK(indices == std::set<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  // A fresh pool hands out a chunk in index order.
  for (std::uint32_t i = 0; i < 10; ++i)
    CHECK(got[i]->pool_index == i);
  CHECK(pool.capacity() == 12);  // three chunks of four
  // Objects of one chunk are contiguous.
  CHECK(got[1] == got[0] + 1);
  CHECK(got[3] == got[0] + 3);
}

TEST_CASE("object_pool: each new chunk is prepared once, before any of its objects is handed out",
          "[object_pool]") {
  object_pool<node, 4, 8> pool;
  std::vector<node*> prepared;
  const auto prepare = [&](node* chunk, std::size_t n) noexcept {
    CHECK(n == 4);
    prepared.push_back(chunk);
    for (std::size_t i = 0; i < n; ++i)
      chunk[i].payload = 100 + static_cast<int>(chunk[i].pool_index);
  };
  for (int i = 0; i < 6; ++i) {
    node* n = pool.pop(prepare);
    REQUIRE(n);
    CHECK(n->payload == 100 + static_cast<int>(n->pool_index));
  }
  CHECK(prepared.size() == 2);  // six objects: two chunks of four
  REQUIRE(pool.add_chunk(prepare));
  CHECK(prepared.size() == 3);
  CHECK(pool.capacity() == 12);
  for (int i = 0; i < 6; ++i) {  // the rest of the second chunk and all of the third: no new chunk
    node* n = pool.pop(prepare);
    REQUIRE(n);
    CHECK(n->payload == 100 + static_cast<int>(n->pool_index));
  }
  CHECK(prepared.size() == 3);
}

TEST_CASE("object_pool: a pushed object is popped again at the same address (type-stable)", "[object_pool]") {
  object_pool<node, 4, 8> pool;
  node* a = pool.pop();
  REQUIRE(a);
  a->payload = 1234;
  const std::uint32_t index = a->pool_index;
  pool.push(a);
  node* b = pool.pop();
  CHECK(b == a);
  CHECK(b->pool_index == index);
  // The pool neither frees nor rebuilds objects: a stale pointer still sees a live object of the right type.
  CHECK(b->payload == 1234);
  CHECK(pool.capacity() == 4);
}

TEST_CASE("object_pool: the free list is last in, first out", "[object_pool]") {
  object_pool<node, 8, 4> pool;
  node* a = pool.pop();
  node* b = pool.pop();
  node* c = pool.pop();
  pool.push(a);
  pool.push(c);
  pool.push(b);
  CHECK(pool.pop() == b);
  CHECK(pool.pop() == c);
  CHECK(pool.pop() == a);
  CHECK(pool.capacity() == 8);
}

TEST_CASE("object_pool: push_chain returns a linked chain in one operation, in order", "[object_pool]") {
  object_pool<node, 8, 4> pool;
  node* a = pool.pop();
  node* b = pool.pop();
  node* c = pool.pop();
  node* d = pool.pop();
  pool.push(d);
  object_pool<node, 8, 4>::link(a, b);
  object_pool<node, 8, 4>::link(b, c);
  pool.push_chain(a, c);
  CHECK(pool.pop() == a);
  CHECK(pool.pop() == b);
  CHECK(pool.pop() == c);
  CHECK(pool.pop() == d);  // what was free before the chain comes after it
  CHECK(pool.capacity() == 8);
}

TEST_CASE("object_pool: pop returns null when every chunk is in use, and recovers after a push",
          "[object_pool]") {
  object_pool<node, 2, 2> pool;
  std::vector<node*> got;
  for (int i = 0; i < 4; ++i)
    got.push_back(pool.pop());
  for (node* n : got)
    REQUIRE(n != nullptr);
  CHECK(pool.pop() == nullptr);
  CHECK(pool.pop() == nullptr);
  CHECK(pool.capacity() == 4);
  pool.push(got[2]);
  CHECK(pool.pop() == got[2]);
  CHECK(pool.pop() == nullptr);
}

TEST_CASE("object_pool: a single-object chunk pool works", "[object_pool]") {
  object_pool<node, 1, 3> pool;
  node* a = pool.pop();
  node* b = pool.pop();
  node* c = pool.pop();
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  CHECK(pool.pop() == nullptr);
  CHECK(std::set<std::uint32_t>{a->pool_index, b->pool_index, c->pool_index} ==
        std::set<std::uint32_t>{0, 1, 2});
  pool.push(b);
  CHECK(pool.pop() == b);
}

TEST_CASE("object_pool: concurrent pop and push never hand one object to two threads",
          "[object_pool][concurrency]") {
  object_pool<node, 16, 64> pool;
  constexpr int threads = 4;
  constexpr int rounds = 20000;
  std::atomic<int> double_owned{0};
  std::atomic<int> exhausted{0};
  std::vector<std::thread> workers;
  for (int t = 1; t <= threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<node*> held;
      for (int i = 0; i < rounds; ++i) {
        // Hold up to three objects at a time, release them singly or as a chain.
        if (held.size() < 3) {
          node* n = pool.pop();
          if (!n) {
            exhausted.fetch_add(1);
            continue;
          }
          int expected = 0;
          if (!n->owner.compare_exchange_strong(expected, t)) double_owned.fetch_add(1);
          held.push_back(n);
        } else {
          for (node* n : held)
            n->owner.store(0);
          if (i % 2) {
            for (node* n : held)
              pool.push(n);
          } else {
            for (std::size_t k = 1; k < held.size(); ++k)
              object_pool<node, 16, 64>::link(held[k - 1], held[k]);
            pool.push_chain(held.front(), held.back());
          }
          held.clear();
        }
      }
      for (node* n : held) {
        n->owner.store(0);
        pool.push(n);
      }
    });
  }
  for (auto& w : workers)
    w.join();
  CHECK(double_owned == 0);
  CHECK(exhausted == 0);
  // At most 12 objects were ever held at once, so the pool never needed more than a few chunks.
  CHECK(pool.capacity() <= 16 * threads);
  // Every object is back on the free list: popping the whole capacity yields distinct objects without
  // growing.
  const std::size_t cap = pool.capacity();
  std::set<node*> all;
  for (std::size_t i = 0; i < cap; ++i)
    all.insert(pool.pop());
  CHECK(all.size() == cap);
  CHECK(all.count(nullptr) == 0);
  CHECK(pool.capacity() == cap);
}
