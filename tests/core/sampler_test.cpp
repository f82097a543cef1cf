// The deterministic sampler (the Node Beeline's) and libhoney's classic-key rule.
#include <beeline/config.hpp>
#include <beeline/sampler.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
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

// ---- the OpenTelemetry samplers ----

namespace {

std::string hex_id(std::uint64_t hi, std::uint64_t lo) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return buf;
}

beeline::trace_context parent(std::uint8_t flags) {
  beeline::trace_context ctx;
  ctx.trace_id = hex_id(1, 2);
  ctx.parent_id = "b7ad6b7169203331";
  ctx.trace_flags = flags;
  return ctx;
}

}  // namespace

TEST_CASE("otel sampler: traceidratio compares the id's lower 8 bytes, shifted by one, with ratio * 2^63",
          "[sampler]") {
  using beeline::traceidratio_keep;
  CHECK(traceidratio_keep(hex_id(~0ull, 0), 0.5));  // the upper half plays no part
  CHECK(traceidratio_keep(hex_id(0, 0x7fffffffffffffffull), 0.5));
  CHECK_FALSE(traceidratio_keep(hex_id(0, 0x8000000000000000ull), 0.5));  // 2^62 is not below 2^62
  CHECK(traceidratio_keep("00000000000000007FFFFFFFFFFFFFFF", 0.5));      // uppercase is read too
  CHECK(traceidratio_keep(hex_id(0, 0x1ffull), 1e-16));                   // 0xff < 922.3...
  CHECK_FALSE(traceidratio_keep(hex_id(0, 0x800ull), 1e-16));
  CHECK(traceidratio_keep(hex_id(0, ~0ull), 1));
  CHECK(traceidratio_keep(hex_id(0, ~0ull), 7));
  CHECK_FALSE(traceidratio_keep(hex_id(0, 0), 0));
  CHECK_FALSE(traceidratio_keep(hex_id(0, 0), -1));
  CHECK_FALSE(traceidratio_keep(hex_id(0, 0), std::numeric_limits<double>::quiet_NaN()));
}

TEST_CASE("otel sampler: traceidratio keeps about the ratio, and what a ratio keeps a larger one keeps",
          "[sampler]") {
  std::uint64_t x = 88172645463325252ull;  // xorshift64
  const auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  int kept10 = 0, kept25 = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string id = hex_id(next(), next());
    const bool k10 = beeline::traceidratio_keep(id, 0.1);
    const bool k25 = beeline::traceidratio_keep(id, 0.25);
    if (k10) CHECK(k25);
    kept10 += k10;
    kept25 += k25;
  }
  CHECK(kept10 > 1800);
  CHECK(kept10 < 2200);
  CHECK(kept25 > 4700);
  CHECK(kept25 < 5300);
}

TEST_CASE("otel sampler: an id that is not 32 hex digits is decided by the Beeline's rule at 1 / ratio",
          "[sampler]") {
  for (const char* id : {"1-5f84c7a1-e3a2c9b1f0d6a7e8c9b0a1d2", "hello", "7f042f75651d9782dcff93a45fa99be",
                         "zz042f75651d9782dcff93a45fa99be0"})
    for (double ratio : {0.5, 0.1, 0.01}) {
      INFO(id << " " << ratio);
      CHECK(beeline::traceidratio_keep(id, ratio) == deterministic_keep(id, 1 / ratio));
    }
}

TEST_CASE("otel sampler: parent-based samplers follow the upstream sampled flag, roots their own rule",
          "[sampler]") {
  using k = beeline::otel_sampler::kind;
  const auto sample = [](k kind, double ratio, const beeline::trace_context* up, const std::string& id) {
    return beeline::otel_sample({kind, ratio}, id, up);
  };
  const auto sampled = parent(1);
  const auto unsampled = parent(0);
  const beeline::trace_context no_ids;  // fields only (baggage): not a parent
  const std::string low = hex_id(0, 0), high = hex_id(0, ~0ull);
  for (k kind : {k::parentbased_always_on, k::parentbased_always_off, k::parentbased_traceidratio}) {
    CHECK(sample(kind, 0.5, &sampled, high));
    CHECK_FALSE(sample(kind, 0.5, &unsampled, low));
  }
  CHECK(sample(k::parentbased_always_on, 1, nullptr, high));
  CHECK(sample(k::parentbased_always_on, 1, &no_ids, high));
  CHECK_FALSE(sample(k::parentbased_always_off, 1, nullptr, low));
  CHECK(sample(k::parentbased_traceidratio, 0.5, nullptr, low));
  CHECK_FALSE(sample(k::parentbased_traceidratio, 0.5, nullptr, high));
  // The others ignore the parent.
  CHECK(sample(k::always_on, 1, &unsampled, high));
  CHECK_FALSE(sample(k::always_off, 1, &sampled, low));
  CHECK_FALSE(sample(k::traceidratio, 0.5, &sampled, high));
  CHECK(sample(k::traceidratio, 0.5, &unsampled, low));
}

TEST_CASE("otel sampler: a kept trace's sample rate is 1 / ratio where the ratio decided", "[sampler]") {
  using k = beeline::otel_sampler::kind;
  const auto up = parent(1);
  CHECK(beeline::otel_sample_rate({k::traceidratio, 0.25}, nullptr) == 4);
  CHECK(beeline::otel_sample_rate({k::traceidratio, 0.3}, &up) == 3);
  CHECK(beeline::otel_sample_rate({k::parentbased_traceidratio, 0.1}, nullptr) == 10);
  CHECK(beeline::otel_sample_rate({k::parentbased_traceidratio, 0.1}, &up) == 1);
  CHECK(beeline::otel_sample_rate({k::traceidratio, 1}, nullptr) == 1);
  CHECK(beeline::otel_sample_rate({k::always_on, 0.1}, nullptr) == 1);
}

TEST_CASE("otel sampler: OTEL_TRACES_SAMPLER names and arguments are read as the specification spells them",
          "[sampler]") {
  using k = beeline::otel_sampler::kind;
  std::string error;
  CHECK(beeline::parse_otel_sampler("always_on", "", error) == beeline::otel_sampler{k::always_on, 1});
  CHECK(beeline::parse_otel_sampler(" ALWAYS_OFF ", "0.5", error) == beeline::otel_sampler{k::always_off, 1});
  CHECK(beeline::parse_otel_sampler("traceidratio", "0.25", error) ==
        beeline::otel_sampler{k::traceidratio, 0.25});
  CHECK(beeline::parse_otel_sampler("parentbased_always_on", "", error) ==
        beeline::otel_sampler{k::parentbased_always_on, 1});
  CHECK(beeline::parse_otel_sampler("parentbased_always_off", "", error) ==
        beeline::otel_sampler{k::parentbased_always_off, 1});
  CHECK(beeline::parse_otel_sampler("parentbased_traceidratio", " 0 ", error) ==
        beeline::otel_sampler{k::parentbased_traceidratio, 0});
  CHECK(error.empty());
  CHECK(beeline::parse_otel_sampler("traceidratio", "", error) == beeline::otel_sampler{k::traceidratio, 1});
  CHECK(error.empty());

  for (const char* bad : {"1.5", "-0.1", "half", "0.5x", "nan"}) {
    error.clear();
    INFO(bad);
    CHECK(beeline::parse_otel_sampler("traceidratio", bad, error) ==
          beeline::otel_sampler{k::traceidratio, 1});
    CHECK_FALSE(error.empty());
  }
  error.clear();
  CHECK_FALSE(beeline::parse_otel_sampler("jaeger_remote", "", error));
  CHECK(error.find("jaeger_remote") != std::string::npos);
}
