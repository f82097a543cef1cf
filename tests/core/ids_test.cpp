// Ids in hex: every digit of to_hex16 against printf's, and back through from_hex16.
#include "core/ids.hpp"

#include <catch2/catch.hpp>

#include <cinttypes>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using namespace beeline::detail;

namespace {

std::string reference_hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::string hex(std::uint64_t v) {
  std::string out(16, '?');
  to_hex16(v, out.data());
  return out;
}

}  // namespace

TEST_CASE("ids: to_hex16 writes the 16 lowercase digits printf writes, for every digit value in every place",
          "[ids]") {
  std::vector<std::uint64_t> values = {0,
                                       1,
                                       9,
                                       10,
                                       15,
                                       16,
                                       0x9a,
                                       0xa9,
                                       UINT64_MAX,
                                       0x8000000000000000u,
                                       0x0123456789abcdefu,
                                       0xfedcba9876543210u,
                                       0x00000000ffffffffu,
                                       0xffffffff00000000u};
  for (int place = 0; place < 16; ++place)  // each digit 0-f alone in each place, and in every other place
    for (std::uint64_t d = 0; d < 16; ++d) {
      values.push_back(d << (4 * place));
      values.push_back(~(std::uint64_t{0xf} << (4 * place)) | d << (4 * place));
    }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i)
    values.push_back(rng());
  for (const std::uint64_t v : values) {
    INFO(reference_hex(v));
    REQUIRE(hex(v) == reference_hex(v));
    std::uint64_t back = 0;
    REQUIRE(from_hex16(hex(v), back));
    CHECK(back == v);
  }
}

TEST_CASE("ids: to_hex16 writes exactly 16 bytes", "[ids]") {
  std::string buf(20, '#');
  to_hex16(0xabcdef, buf.data() + 2);
  CHECK(buf == "##0000000000abcdef##");
}
