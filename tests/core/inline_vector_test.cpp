// The span record's buffers: appends of every short length (copied in line as two overlapping blocks), across
// the inline capacity and onto the heap.
#include "core/inline_vector.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using beeline::detail::inline_vector;

TEST_CASE("inline_vector: appends of 0 to 70 bytes keep every byte, inline and after growing",
          "[inline_vector]") {
  // Distinct bytes everywhere, so a block copied to the wrong offset or a byte left out shows.
  std::string source(80, '\0');
  for (std::size_t i = 0; i < source.size(); ++i)
    source[i] = static_cast<char>('!' + i * 7 % 90);
  for (std::size_t start = 0; start < 3; ++start) {
    inline_vector<char, 48> v;  // small inline room: the later appends move to the heap
    std::string expected;
    for (std::size_t n = 0; n <= 70; ++n) {
      const char* from = source.data() + (start + n) % 10;
      v.append(from, n);
      expected.append(from, n);
      REQUIRE(v.size() == expected.size());
    }
    CHECK(std::string(v.data(), v.size()) == expected);
  }
}

TEST_CASE("inline_vector: appends of 1 to 9 four-byte elements after growing keep every element",
          "[inline_vector]") {
  // 4 to 36 bytes: every size class of the in-line copy, for elements wider than a byte.
  inline_vector<std::uint32_t, 4> w;
  for (std::uint32_t i = 0; i < 100; ++i)
    w.push_back(i * 2654435761u);
  const std::uint32_t extra[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  for (std::size_t n = 1; n <= 9; ++n)
    w.append(extra, n);
  std::size_t at = 100;
  for (std::size_t n = 1; n <= 9; ++n)
    for (std::size_t k = 0; k < n; ++k)
      CHECK(w[at++] == extra[k]);
  for (std::uint32_t i = 0; i < 100; ++i)
    CHECK(w[i] == i * 2654435761u);
}
