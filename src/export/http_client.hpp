// Private: the HTTP/1.1 client under the network exporters. Boost.Asio and Beast stay inside http_client.cpp;
// this header is all the exporters see.
#pragma once

#include <beeline/http_exporter.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beeline::detail {

/// An endpoint from a URL: `http[s]://host[:port][/base/path]`.
struct http_target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string base_path;  ///< without a trailing slash; "" for the root
};

/// The endpoint in `url`, or nullopt with `error` set.
std::optional<http_target> parse_http_url(std::string_view url, std::string& error);

/// One request's final outcome, after any retries.
struct http_outcome {
  bool delivered = false;      ///< a 2xx status was received
  int status = 0;              ///< the last status received (0: none)
  std::string body;            ///< the response body (delivered only; empty if unreadable)
  bool body_complete = false;  ///< the whole body was read
  std::string error;           ///< why, when not delivered
};

struct http_request {
  std::string path;  ///< appended to the target's base path
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// The largest response body read; 0: the options' `max_response_bytes`. (A Honeycomb batch's response
  /// holds one status per event, so it grows with the batch.)
  std::size_t max_response_bytes = 0;
};

/// The addresses (numeric text, IPv4 or IPv6) a host name resolves to, or why it does not.
struct resolved_host {
  std::vector<std::string> addresses;
  std::string error;
};
/// Resolves a host name; may block (it runs on a thread of its own, which a client stops waiting for when it
/// times out or shuts down).
using resolve_function = std::function<resolved_host(const std::string& host)>;
/// For tests: clients made from now on resolve host names with `f` instead of getaddrinfo (an empty function
/// restores getaddrinfo). Numeric addresses are never resolved.
void set_resolve_function_for_tests(resolve_function f);

/// Sends requests on a thread of its own, with up to `max_in_flight` keep-alive connections.
class http_client {
 public:
  http_client(http_target target, http_options options, std::string user_agent);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends `request`, retrying as the options say, and calls `done` exactly once with the outcome (on the
  /// client's thread, or inline when shut down). Blocks while `max_in_flight` requests are outstanding.
  void submit(http_request request, std::function<void(http_outcome)> done);
  /// Fails what is outstanding ("shut down") and stops the thread. Idempotent.
  void shutdown();

  /// Called with the reason whenever an attempt failed and is to be retried (on the client's thread). Set it
  /// before the first `submit`.
  void on_retry(std::function<void(const std::string&)> observer);

  /// The transport's counters (the exporter adds its own event counts).
  http_exporter_stats stats() const;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace beeline::detail
