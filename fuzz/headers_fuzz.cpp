// libFuzzer target: header_view, parse_default, the parser hooks and highlight::from_headers over a request's
// headers, one `name:value` per line, held in each kind of container a server has: a vector of pairs, a
// multimap, and Beast's http::fields.
#include "fuzz_target.hpp"

#include <boost/beast/http/fields.hpp>

#include <map>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beeline::fuzz;
  const std::string_view input = as_text(data, size);
  const header_pairs pairs = headers_from_bytes(input);
  require(check_headers(prop::header_view(pairs), pairs, input));

  const std::multimap<std::string, std::string> multimap(pairs.begin(), pairs.end());
  require(check_headers(prop::header_view(multimap), header_pairs(multimap.begin(), multimap.end()), input));

  boost::beast::http::fields fields;
  for (const auto& [name, value] : pairs)
    fields.insert(name, value);
  header_pairs in_order;
  for (const auto& f : fields)
    in_order.emplace_back(std::string(f.name_string()), std::string(f.value()));
  require(check_headers(prop::header_view(fields), in_order, input));
  return 0;
}
