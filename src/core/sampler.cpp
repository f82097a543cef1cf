#include <beeline/config.hpp>
#include <beeline/sampler.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace beeline {

std::uint32_t deterministic_upper_bound(double sample_rate) noexcept {
  const double q = 4294967295.0 / sample_rate;
  if (!std::isfinite(q)) return 0;  // ToUint32 maps NaN and infinities to 0
  double m = std::fmod(std::trunc(q), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<std::uint32_t>(m);
}

bool deterministic_keep(std::string_view trace_id, double sample_rate) noexcept {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(trace_id.data(), trace_id.size(), digest, &len, EVP_sha1(), nullptr) != 1 || len < 4) {
    return true;  // cannot hash: keep rather than silently lose data
  }
  const std::uint32_t prefix = (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
                               (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
  return prefix <= deterministic_upper_bound(sample_rate);
}

namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parent_present(const trace_context* upstream) noexcept {
  return upstream && !upstream->trace_id.empty();
}

bool ratio_decides(const otel_sampler& s, const trace_context* upstream) noexcept {
  using k = otel_sampler::kind;
  return s.sampler == k::traceidratio ||
         (s.sampler == k::parentbased_traceidratio && !parent_present(upstream));
}

std::string_view trim_spaces(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

bool traceidratio_keep(std::string_view trace_id, double ratio) noexcept {
  if (!(ratio > 0)) return false;
  if (ratio >= 1) return true;
  std::uint64_t low = 0;
  bool hex = trace_id.size() == 32;
  for (std::size_t i = 0; hex && i < 32; ++i) {
    const int d = hex_digit(trace_id[i]);
    if (d < 0) hex = false;
    if (i >= 16) low = (low << 4) | static_cast<std::uint64_t>(d < 0 ? 0 : d);
  }
  if (!hex) return deterministic_keep(trace_id, 1 / ratio);
  // ratio < 1, so the product is below 2^63 and converts exactly as the Go SDK's uint64(ratio * (1 << 63)).
  const auto bound = static_cast<std::uint64_t>(ratio * 9223372036854775808.0);
  return (low >> 1) < bound;
}

bool otel_sample(const otel_sampler& s, std::string_view trace_id, const trace_context* upstream) noexcept {
  using k = otel_sampler::kind;
  switch (s.sampler) {
    case k::always_on:
      return true;
    case k::always_off:
      return false;
    case k::traceidratio:
      return traceidratio_keep(trace_id, s.ratio);
    case k::parentbased_always_on:
    case k::parentbased_always_off:
    case k::parentbased_traceidratio:
      if (parent_present(upstream)) return (upstream->trace_flags & 1) != 0;
      if (s.sampler == k::parentbased_always_on) return true;
      if (s.sampler == k::parentbased_always_off) return false;
      return traceidratio_keep(trace_id, s.ratio);
  }
  return true;
}

std::uint32_t otel_sample_rate(const otel_sampler& s, const trace_context* upstream) noexcept {
  if (!ratio_decides(s, upstream) || !(s.ratio > 0) || s.ratio >= 1) return 1;
  const double rate = std::round(1 / s.ratio);
  return rate >= 4294967295.0 ? 4294967295u : std::max<std::uint32_t>(1, static_cast<std::uint32_t>(rate));
}

std::optional<otel_sampler> parse_otel_sampler(std::string_view name, std::string_view arg,
                                               std::string& error) {
  using k = otel_sampler::kind;
  name = trim_spaces(name);
  otel_sampler s;
  if (iequals(name, "always_on")) {
    s.sampler = k::always_on;
  } else if (iequals(name, "always_off")) {
    s.sampler = k::always_off;
  } else if (iequals(name, "traceidratio")) {
    s.sampler = k::traceidratio;
  } else if (iequals(name, "parentbased_always_on")) {
    s.sampler = k::parentbased_always_on;
  } else if (iequals(name, "parentbased_always_off")) {
    s.sampler = k::parentbased_always_off;
  } else if (iequals(name, "parentbased_traceidratio")) {
    s.sampler = k::parentbased_traceidratio;
  } else {
    error = "unsupported sampler '" + std::string(name) +
            "' (supported: always_on, always_off, traceidratio, parentbased_always_on, "
            "parentbased_always_off, parentbased_traceidratio)";
    return std::nullopt;
  }
  if (s.sampler == k::traceidratio || s.sampler == k::parentbased_traceidratio) {
    arg = trim_spaces(arg);
    if (!arg.empty()) {
      double r = 0;
      const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), r);
      if (ec != std::errc() || end != arg.data() + arg.size() || !(r >= 0 && r <= 1)) {
        error = "sampler argument '" + std::string(arg) + "' is not a ratio in [0, 1]; using 1";
        r = 1;
      }
      s.ratio = r;
    }
  }
  return s;
}

bool is_classic_key(std::string_view key) noexcept {
  if (key.empty()) return true;
  if (key.size() == 32) {
    for (char c : key)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
  }
  if (key.size() == 64) {
    // ^hc[a-z]ic_[a-z0-9]*$
    if (key[0] != 'h' || key[1] != 'c' || !(key[2] >= 'a' && key[2] <= 'z') || key[3] != 'i' ||
        key[4] != 'c' || key[5] != '_')
      return false;
    for (char c : key.substr(6))
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
    return true;
  }
  return false;
}

}  // namespace beeline
