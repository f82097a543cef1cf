// A loopback HTTP/1.1 server for the network exporter tests, over plain TCP or TLS, whose answer the test
// chooses request by request: a Honeycomb per-event status array, any status with any headers, a garbage
// body, a body that never ends, no answer at all, a TCP reset in the middle of a response, a huge response.
// It records every request (method, target, headers, body, the connection that carried it and what it was
// answered) and counts the connections it accepted, so tests can check what went over the wire and whether
// connections were kept alive. Also: a port nothing listens on, and a self-signed certificate made on the
// spot.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beeline::test {

/// One request as the server read it.
struct recorded_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::size_t connection = 0;  ///< the accepted connection (1, 2, ...) that carried it
  int answered = 0;  ///< the status of the complete response written for it; 0: none (or the write failed)

  /// The value of a header (case-insensitive name); "" if absent.
  std::string header(std::string_view name) const;
  /// How many times a header appears.
  std::size_t header_count(std::string_view name) const;
};

/// What the server does with one request.
struct reply {
  enum class action {
    respond,             ///< a complete response: `status`, `headers`, `body`
    endless_body,        ///< headers announcing `content_length` bytes, `partial` of them, then silence
    never_answer,        ///< reads the request, then says nothing (the connection stays open)
    reset_mid_response,  ///< headers announcing `content_length` bytes, `partial` of them, then a TCP reset
    reset_at_once,       ///< a TCP reset instead of any answer
  };
  action what = action::respond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::size_t content_length = 0;
  std::size_t partial = 0;
  bool close_after = false;  ///< closes the connection after the response, without announcing it

  /// 200 with `[{"status":202},...]`, one entry per event of the request's body.
  static reply honeycomb_ok(const recorded_request& r);
  /// 200 with one status per event: `{"status":400,"error":error}` where `refused(i)`, 202 elsewhere.
  static reply honeycomb_statuses(const recorded_request& r, const std::function<bool(std::size_t)>& refused,
                                  std::string_view error);
  /// `status` with a small text body.
  static reply with_status(int status, std::string body = "error");
  /// 429 with `Retry-After: retry_after`.
  static reply too_many_requests(std::string retry_after);
  /// 200 whose body is not JSON.
  static reply garbage();
  static reply endless(std::size_t content_length, std::size_t partial = 10);
  static reply never();
  static reply reset_mid(std::size_t content_length = 1000, std::size_t partial = 100);
  static reply reset_now();
  /// 200 with a body of `bytes` bytes (a JSON array padded with spaces).
  static reply huge(std::size_t bytes);
};

/// Chooses the reply to a request.
using behaviour = std::function<reply(const recorded_request&)>;

/// The PEM files of a TLS server.
struct tls_files {
  std::string cert_file;
  std::string key_file;
};

/// Listens on 127.0.0.1 (an ephemeral port) on a thread of its own until destroyed or stopped.
class loopback_server {
 public:
  explicit loopback_server(behaviour b = reply::honeycomb_ok);
  /// A TLS server presenting the certificate in `files`.
  explicit loopback_server(tls_files files, behaviour b = reply::honeycomb_ok);
  ~loopback_server();
  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;

  std::uint16_t port() const;
  /// `http://127.0.0.1:<port>` (https for a TLS server).
  std::string url() const;

  /// Replaces the behaviour for the requests read from now on.
  void set_behaviour(behaviour b);
  /// While set, connections accepted from now on get nothing at all: no TLS handshake, no request read, no
  /// answer (a stuck proxy or a TLS server that never handshakes). They wait for the client to close.
  void set_silent(bool silent);

  /// Every request read so far, in arrival order.
  std::vector<recorded_request> requests() const;
  std::size_t request_count() const;
  /// Connections accepted so far.
  std::size_t connections() const;
  /// TLS handshakes that failed (a client that refused the certificate).
  std::size_t handshake_failures() const;
  /// Waits until at least `n` requests were read; false on timeout.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;

  /// Closes the listener and every connection; idempotent.
  void stop();

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

/// A loopback port with nothing listening on it (bound, then released).
std::uint16_t unused_port();

/// A gzip request body, decompressed; throws std::runtime_error if it is not gzip.
std::string gunzip(std::string_view gz);

/// The number of elements of a JSON array body; 0 if it is not one.
std::size_t json_array_size(std::string_view body);

/// A self-signed certificate (EC P-256) for 127.0.0.1 and localhost, made with the OpenSSL C API and written
/// as PEM files into a fresh temporary directory, removed again on destruction.
class self_signed_certificate {
 public:
  self_signed_certificate();
  ~self_signed_certificate();
  self_signed_certificate(const self_signed_certificate&) = delete;
  self_signed_certificate& operator=(const self_signed_certificate&) = delete;

  const tls_files& files() const { return files_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  tls_files files_;
};

}  // namespace beeline::test
