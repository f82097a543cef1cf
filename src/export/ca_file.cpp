#include "export/ca_file.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace beeline::detail {

bool check_ca_file(const std::string& path, std::string& error) {
  // Opened first for the system's own reason (missing, not permitted), which OpenSSL's error queue loses.
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (!f) {
    error = "cannot read CA file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::fclose(f);
  // Loaded as the HTTP client loads it, so what passes here also works there.
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                              &SSL_CTX_free);
  if (!ctx) {
    error = "cannot check CA file " + path + ": out of memory";
    return false;
  }
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(ctx.get(), path.c_str(), nullptr) != 1) {
    char reason[256] = "no PEM certificate in it";
    if (const unsigned long e = ERR_peek_last_error(); e != 0 && ERR_reason_error_string(e))
      std::snprintf(reason, sizeof reason, "%s", ERR_reason_error_string(e));
    ERR_clear_error();
    error = "cannot load CA file " + path + ": " + reason;
    return false;
  }
  return true;
}

}  // namespace beeline::detail
