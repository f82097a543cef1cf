// The deterministic sampler (the Node Beeline's) and libhoney's classic-key rule.
#include <beeline/config.hpp>
#include <beeline/sampler.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

using beeline::deterministic_keep;
using beeline::deterministic_upper_bound;
using beeline::is_classic_key;

TEST_CASE("sampler: upper bound is JavaScript's ((2^32 - 1) / rate) >>> 0", "[sampler]") {
  CHECK(deterministic_upper_bound(1) == 4294967295u);
  CHECK(deterministic_upper_bound(17) == 252645135u);
  CHECK(deterministic_upper_bound(2) == 2147483647u);
  CHECK(deterministic_upper_bound(3) == 1431655765u);
  CHECK(deterministic_upper_bound(10) == 429496729u);
  CHECK(deterministic_upper_bound(2.5) == 1717986918u);
}

TEST_CASE("sampler: rate 0 gives upper bound 0, as Infinity >>> 0 does in Node", "[sampler]") {
  CHECK(deterministic_upper_bound(0) == 0u);
  CHECK(deterministic_upper_bound(-0.0) == 0u);
}

TEST_CASE("sampler: rates below 1 and out-of-range rates wrap as in Node", "[sampler]") {
  // Values printed by node: (4294967295 / r) >>> 0.
  CHECK(deterministic_upper_bound(0.5) == 4294967294u);
  CHECK(deterministic_upper_bound(-1) == 1u);
  CHECK(deterministic_upper_bound(1e-300) == 0u);
  CHECK(deterministic_upper_bound(4294967296.0) == 0u);
  CHECK(deterministic_upper_bound(std::numeric_limits<double>::quiet_NaN()) == 0u);
  CHECK(deterministic_upper_bound(std::numeric_limits<double>::infinity()) == 0u);
  CHECK(deterministic_upper_bound(-std::numeric_limits<double>::infinity()) == 0u);
}

TEST_CASE("sampler: the Beeline's test vectors at rate 17", "[sampler]") {
  CHECK_FALSE(deterministic_keep("hello", 17));
  CHECK_FALSE(deterministic_keep("world", 17));
  CHECK(deterministic_keep("this5", 17));
}

TEST_CASE("sampler: more vectors checked against the Node sampler", "[sampler]") {
  // node -e 's=require("honeycomb-beeline/lib/deterministic_sampler"); s(r)({"trace.trace_id":
  // id}).shouldSample'
  CHECK(deterministic_keep("this5", 3));
  CHECK_FALSE(deterministic_keep("hello", 3));
  CHECK_FALSE(deterministic_keep("", 17));
  CHECK(deterministic_keep("", 0.5));
  CHECK_FALSE(deterministic_keep("this5", -1));
}

TEST_CASE("sampler: rate 1 keeps every trace", "[sampler]") {
  for (const char* id :
       {"hello", "world", "this5", "", "7f042f75651d9782dcff93a45fa99be0", "\xF0\x9F\x90\x9D"})
    CHECK(deterministic_keep(id, 1));
  for (int i = 0; i < 1000; ++i)
    CHECK(deterministic_keep("id-" + std::to_string(i), 1));
}

TEST_CASE("sampler: rate 0 drops traces whose hash prefix is not zero", "[sampler]") {
  CHECK_FALSE(deterministic_keep("hello", 0));
  CHECK_FALSE(deterministic_keep("this5", 0));
}

TEST_CASE("sampler: decisions are deterministic and keep roughly one in rate", "[sampler]") {
  int kept = 0;
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) {
    const std::string id = "trace-" + std::to_string(i);
    const bool k = deterministic_keep(id, 10);
    CHECK(k == deterministic_keep(id, 10));
    // Kept at a rate means kept at every smaller rate (the bound only grows).
    if (k) CHECK(deterministic_keep(id, 2));
    kept += k;
  }
  // Expected 2000; a binomial standard deviation is about 42.
  CHECK(kept > 1700);
  CHECK(kept < 2300);
}

TEST_CASE("sampler: the sampler hashes every byte of the id", "[sampler]") {
  // The same prefix with different tails must not always decide the same way; embedded NULs count too.
  int differing = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string a = std::string("same\0", 5) + std::to_string(i);
    const std::string b = std::string("same\0", 5) + std::to_string(i + 1000);
    differing += deterministic_keep(a, 2) != deterministic_keep(b, 2);
  }
  CHECK(differing > 50);
}

TEST_CASE("sampler: libhoney's classic key vectors", "[sampler][config]") {
  CHECK_FALSE(is_classic_key("hcxik_01hqk4k20cjeh63wca8vva5stw70nft6m5n8wr8f5mjx3762s8269j50wc"));
  CHECK_FALSE(is_classic_key("hcxik_01hqk4k20cjeh63wca8vva5stw"));
  CHECK(is_classic_key("hcaic_1234567890123456789012345678901234567890123456789012345678"));
  CHECK_FALSE(is_classic_key("hcaic_12345678901234567890123456"));
  CHECK_FALSE(is_classic_key("kgvSpPwegJshQkuowXReLD"));
  CHECK(is_classic_key("12345678901234567890123456789012"));
  CHECK(is_classic_key(""));
}

TEST_CASE("sampler: classic key rules follow libhoney's regular expressions exactly", "[sampler][config]") {
  // 32 characters: ^[a-f0-9]*$ (lowercase only).
  CHECK(is_classic_key("abcdefabcdefabcdefabcdefabcdefab"));
  CHECK_FALSE(is_classic_key("ABCDEFABCDEFABCDEFABCDEFABCDEFAB"));
  CHECK_FALSE(is_classic_key("abcdefabcdefabcdefabcdefabcdefag"));
  CHECK_FALSE(is_classic_key("1234567890123456789012345678901"));    // 31
  CHECK_FALSE(is_classic_key("123456789012345678901234567890123"));  // 33
  // 64 characters: ^hc[a-z]ic_[a-z0-9]*$.
  CHECK(is_classic_key("hczic_abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv"));
  CHECK_FALSE(is_classic_key("hcAic_1234567890123456789012345678901234567890123456789012345678"));
  CHECK_FALSE(is_classic_key("hcaic_123456789012345678901234567890123456789012345678901234567A"));
  CHECK_FALSE(is_classic_key("hcaic-1234567890123456789012345678901234567890123456789012345678"));
  CHECK_FALSE(is_classic_key("hcaik_1234567890123456789012345678901234567890123456789012345678"));
  CHECK_FALSE(is_classic_key("xcaic_1234567890123456789012345678901234567890123456789012345678"));
  CHECK_FALSE(is_classic_key("1234567890123456789012345678901234567890123456789012345678901234"));
  CHECK_FALSE(is_classic_key("hcaic_12345678901234567890123456789012345678901234567890123456789"));  // 65
}
