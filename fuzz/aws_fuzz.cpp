// libFuzzer target: aws::unmarshal of the bytes as an `X-Amzn-Trace-Id` value, and aws::marshal of a context
// made from them.
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beeline::fuzz;
  const std::string_view input = as_text(data, size);
  require(check_aws(input));
  require(check_marshal(input, prop::format::aws));
  return 0;
}
