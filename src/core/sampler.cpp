#include <beeline/config.hpp>
#include <beeline/sampler.hpp>

#include <openssl/evp.h>

#include <cmath>

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
