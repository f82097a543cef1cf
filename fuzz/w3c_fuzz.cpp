// libFuzzer target: W3C. The bytes up to the first newline are a `traceparent`, the rest a `tracestate`; both
// go through parse_traceparent, format_traceparent, valid_tracestate and w3c::unmarshal, and w3c::marshal
// runs on a context made from the whole input (`context_from_bytes`).
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beeline::fuzz;
  const std::string_view input = as_text(data, size);
  const std::size_t nl = input.find('\n');
  const std::string_view traceparent = input.substr(0, nl);
  const std::string_view tracestate =
      nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  require(check_w3c(traceparent, tracestate));
  require(check_marshal(input, prop::format::w3c));
  return 0;
}
