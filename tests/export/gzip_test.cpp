// Request bodies compressed with gzip read back exactly with zlib's own inflater.
#include "export/gzip.hpp"

#include <zlib.h>
#include <catch2/catch.hpp>

#include <random>
#include <string>

namespace {

std::string gunzip(const std::string& in) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
  std::string out(in.size() * 20 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

}  // namespace

TEST_CASE("gzip: bodies round-trip through zlib's inflater, with a gzip header") {
  std::mt19937 rng(7);
  for (const std::size_t size : {0u, 1u, 100u, 70000u}) {
    std::string body;
    for (std::size_t i = 0; i < size; ++i)
      body.push_back(static_cast<char>(i % 3 ? 'a' + rng() % 26 : rng() % 256));
    std::string packed;
    REQUIRE(beeline::detail::gzip_compress(body, packed));
    REQUIRE(packed.size() >= 18);
    CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);  // gzip magic
    CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
    CHECK(gunzip(packed) == body);
  }
  // Repetitive JSON compresses well, which is the point.
  std::string json;
  for (int i = 0; i < 1000; ++i)
    json += R"({"name":"span","trace.trace_id":"7f042f75651d9782dcff93a45fa99be0","duration_ms":1.5},)";
  std::string packed;
  REQUIRE(beeline::detail::gzip_compress(json, packed));
  CHECK(packed.size() * 10 < json.size());
}
