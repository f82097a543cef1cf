// Private: copying a few bytes without calling memcpy.
#pragma once

#include <cstddef>
#include <cstring>

namespace beeline::detail {

/// Copies `n` bytes as the first W and the last W, for W <= n <= 2W (the two overlap unless n == 2W).
template <std::size_t W>
inline void copy_ends(unsigned char* to, const unsigned char* from, std::size_t n) noexcept {
  unsigned char head[W], tail[W];
  std::memcpy(head, from, W);
  std::memcpy(tail, from + n - W, W);
  std::memcpy(to, head, W);
  std::memcpy(to + n - W, tail, W);
}

/// Copies `n` bytes. Most copies on the span and encoding paths are a key or a short value: up to 64 bytes
/// are copied in line (from 4 bytes as two overlapping blocks), not through a call to memcpy, which costs
/// more than such a copy itself.
[[gnu::always_inline]] inline void copy_bytes(void* to_p, const void* from_p, std::size_t n) noexcept {
  auto* to = static_cast<unsigned char*>(to_p);
  const auto* from = static_cast<const unsigned char*>(from_p);
  if (n > 16 && n <= 32)
    copy_ends<16>(to, from, n);
  else if (n > 32 && n <= 64)
    copy_ends<32>(to, from, n);
  else if (n >= 8 && n <= 16)
    copy_ends<8>(to, from, n);
  else if (n >= 4 && n < 8)
    copy_ends<4>(to, from, n);
  else if (n > 0 && n < 4) {  // one to three bytes: the first, the middle and the last
    to[0] = from[0];
    to[n / 2] = from[n / 2];
    to[n - 1] = from[n - 1];
  } else if (n > 64)
    std::memcpy(to, from, n);
}

}  // namespace beeline::detail
