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

TEST_CASE("inline_vector: lent storage is used, kept by reset, never freed, and left when outgrown",
          "[inline_vector]") {
  // Storage on the stack: a vector that freed it would crash (and ASan would name the bad free).
  std::uint32_t lent[16];
  inline_vector<std::uint32_t, 4> v;
  v.lend(lent, 16);
  CHECK(v.lent());
  CHECK(v.capacity() == 16);
  for (std::uint32_t i = 0; i < 16; ++i)
    v.push_back(i * 3);
  CHECK(v.data() == lent);
  CHECK(lent[15] == 45);
  v.reset(8);  // past the kept capacity: heap storage would be given back, lent storage stays
  CHECK(v.data() == lent);
  CHECK(v.capacity() == 16);
  for (std::uint32_t i = 0; i < 17; ++i)
    v.push_back(i);  // the 17th moves to the heap
  CHECK(v.data() != lent);
  CHECK_FALSE(v.lent());
  CHECK(v.capacity() >= 17);
  for (std::uint32_t i = 0; i < 17; ++i)
    CHECK(v[i] == i);
  v.reset(8);  // heap storage past 8 elements is given back
  CHECK(v.capacity() == 4);
  // A vector holding elements, or offered less than it has, keeps its storage.
  v.push_back(7);
  v.lend(lent, 16);
  CHECK_FALSE(v.lent());
  v.clear();
  v.lend(lent, 2);
  CHECK_FALSE(v.lent());
}
