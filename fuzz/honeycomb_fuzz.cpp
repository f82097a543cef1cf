// libFuzzer target: honeycomb::unmarshal of the bytes as an `X-Honeycomb-Trace` value (both dataset modes),
// and honeycomb::marshal of a context made from them (`context_from_bytes`).
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beeline::fuzz;
  const std::string_view input = as_text(data, size);
  require(check_honeycomb(input));
  require(check_marshal(input, prop::format::honeycomb));
  return 0;
}
