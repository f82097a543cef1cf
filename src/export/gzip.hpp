// Private: gzip (RFC 1952) with zlib, for request bodies.
#pragma once

#include <string>
#include <string_view>

namespace beeline::detail {

/// `in` compressed as a gzip member into `out` (replacing its contents); false (out unspecified) if zlib
/// fails, which only happens when memory runs out.
bool gzip_compress(std::string_view in, std::string& out, int level = 6);

}  // namespace beeline::detail
