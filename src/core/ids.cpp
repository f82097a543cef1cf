#include "core/ids.hpp"

#include <sys/random.h>

#include <bit>
#include <chrono>
#include <cstring>
#include <thread>

namespace beeline::detail {
namespace {

// xoshiro256** (Blackman and Vigna): fast, 256 bits of state, good enough for unique ids. Not for secrets.
struct xoshiro256ss {
  std::uint64_t s[4];

  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

xoshiro256ss seeded() noexcept {
  xoshiro256ss g{};
  std::size_t got = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(g.s);
  while (got < sizeof(g.s)) {
    const ssize_t n = getrandom(bytes + got, sizeof(g.s) - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got < sizeof(g.s)) {
    // No OS entropy (very old kernel, seccomp): mix the clock and the thread id so threads still differ.
    std::uint64_t x =
        static_cast<std::uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count()) ^
        std::hash<std::thread::id>{}(std::this_thread::get_id());
    for (auto& w : g.s)
      w = splitmix64(x);
  }
  if ((g.s[0] | g.s[1] | g.s[2] | g.s[3]) == 0) g.s[0] = 1;  // the all-zero state is a fixed point
  return g;
}

}  // namespace

std::uint64_t random_id() noexcept {
  thread_local xoshiro256ss gen = seeded();
  std::uint64_t v;
  do {
    v = gen.next();
  } while (v == 0);  // W3C forbids all-zero ids
  return v;
}

namespace {

// Eight lowercase hex digits of `v` as eight bytes, the first digit in the lowest byte: the nibbles spread
// one per byte, then each becomes its digit in parallel ('0' + n, plus 39 more from 'a' on). A quarter of the
// instructions of a digit-by-digit loop; ids are written in hex on every trace start and every export.
std::uint64_t hex8(std::uint32_t v) noexcept {
  std::uint64_t x = v;
  x = (x | x << 16) & 0x0000FFFF0000FFFFu;
  x = (x | x << 8) & 0x00FF00FF00FF00FFu;
  x = (x | x << 4) & 0x0F0F0F0F0F0F0F0Fu;  // nibble k (from the least significant) in byte k
  const std::uint64_t letters = ((x + 0x0606060606060606u) >> 4) & 0x0101010101010101u;  // 1 where n >= 10
  x += 0x3030303030303030u + letters * ('a' - '0' - 10);
  return __builtin_bswap64(x);  // the most significant digit first in memory
}

}  // namespace

void to_hex16(std::uint64_t v, char* out) noexcept {
  static_assert(std::endian::native == std::endian::little);
  const std::uint64_t hi = hex8(static_cast<std::uint32_t>(v >> 32));
  const std::uint64_t lo = hex8(static_cast<std::uint32_t>(v));
  std::memcpy(out, &hi, 8);
  std::memcpy(out + 8, &lo, 8);
}

bool from_hex16(std::string_view s, std::uint64_t& out) noexcept {
  if (s.size() != 16) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= static_cast<std::uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= static_cast<std::uint64_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v |= static_cast<std::uint64_t>(c - 'A' + 10);
    } else {
      return false;
    }
  }
  out = v;
  return true;
}

}  // namespace beeline::detail
