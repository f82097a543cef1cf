// libFuzzer target: highlight::unmarshal of the bytes as an `x-highlight-request` value, and
// highlight::marshal of ids made from them.
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beeline::fuzz;
  const std::string_view input = as_text(data, size);
  require(check_highlight(input));
  require(check_marshal(input, prop::format::highlight));
  return 0;
}
