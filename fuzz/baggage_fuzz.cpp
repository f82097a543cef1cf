// libFuzzer target: baggage::unmarshal of the bytes as a `baggage` value (against the reading its description
// gives), and baggage::marshal of a context made from them.
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beeline::fuzz;
  const std::string_view input = as_text(data, size);
  require(check_baggage(input));
  require(check_marshal(input, prop::format::baggage));
  return 0;
}
