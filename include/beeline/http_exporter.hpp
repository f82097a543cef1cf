// Exporters that send spans over HTTP: Honeycomb's batch events API and OTLP/HTTP (JSON or protobuf).
//
// Both run on a thread of their own (one Boost.Beast HTTP/1.1 client per endpoint, keep-alive connections,
// HTTPS with certificate verification), fed by the tracer's export worker. A dead, slow or misbehaving
// backend costs the application nothing: at most `max_in_flight` requests are outstanding, after which the
// export worker waits and the tracer's bounded queue absorbs (and, when full, counts) the rest. Failures are
// retried as the OTLP specification prescribes (429, 502, 503, 504 and connection failures, exponential
// backoff with jitter, `Retry-After` honoured); anything else drops the batch with a counted, logged reason.
#pragma once

#include <beeline/exporter.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace beeline {

/// When and how often a failed request is sent again.
struct retry_policy {
  int max_attempts = 5;                            ///< attempts in all, the first included
  std::chrono::milliseconds initial_backoff{500};  ///< before the second attempt; doubles each time
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds max_elapsed{30000};  ///< no retry starts later than this after the first attempt
  std::chrono::milliseconds max_retry_after{30000};  ///< a longer `Retry-After` gives up instead of waiting
};

/// The transport settings shared by the HTTP exporters.
struct http_options {
  std::chrono::milliseconds connect_timeout{10000};  ///< resolve, connect and TLS handshake
  std::chrono::milliseconds request_timeout{10000};  ///< writing the request and reading the response
  std::size_t max_in_flight = 4;                     ///< requests outstanding (connections) at once
  /// A longer response body is not read (counted in `bad_responses`). Honeycomb's requests allow 128 bytes
  /// per event if that is more: the response holds one status per event.
  std::size_t max_response_bytes = 64 * 1024;
  bool verify_peer = true;  ///< verify the server's certificate and host name
  std::string ca_file;      ///< PEM file of trusted CAs; empty: the system's default paths
  bool gzip = false;        ///< compress request bodies (`Content-Encoding: gzip`)
  retry_policy retry;
  /// Extra request headers (API keys, tenant ids).
  std::vector<std::pair<std::string, std::string>> headers;
};

/// What an HTTP exporter did, for dashboards and tests. Counts since it was made.
struct http_exporter_stats {
  std::uint64_t batches = 0;           ///< batches handed to the exporter
  std::uint64_t requests = 0;          ///< HTTP requests completed or failed (every attempt)
  std::uint64_t retries = 0;           ///< attempts after the first
  std::uint64_t connections = 0;       ///< connections opened (keep-alive reuses them)
  std::uint64_t connect_failures = 0;  ///< resolve, connect or TLS handshake failed or timed out
  std::uint64_t timeouts = 0;          ///< a request or response that did not complete in time
  std::uint64_t transport_errors = 0;  ///< connection reset or closed mid-request
  std::uint64_t status_2xx = 0;
  std::uint64_t status_429 = 0;
  std::uint64_t status_4xx = 0;  ///< other 4xx: not retried
  std::uint64_t status_5xx = 0;
  std::uint64_t bad_responses = 0;  ///< a response body that could not be read or understood
  std::uint64_t events_sent = 0;    ///< events in batches the backend accepted
  std::uint64_t events_rejected =
      0;                            ///< events the backend refused one by one (Honeycomb's per-event status)
  std::uint64_t events_failed = 0;  ///< events in batches that failed for good
  std::uint64_t bytes_sent = 0;     ///< request bodies, as sent (compressed if gzip)
};

/// An exporter that talks HTTP; `stats()` says what happened on the wire.
class http_exporter : public exporter {
 public:
  virtual http_exporter_stats stats() const = 0;
};

/// Honeycomb's events API: `POST {api_host}/1/batch/{dataset}` with `X-Honeycomb-Team`, one request per
/// dataset per batch, the body libhoney sends (`[{"time","samplerate","data"}, ...]`); the per-event statuses
/// of the response are read and failures counted.
struct honeycomb_exporter_options {
  std::string api_host = "https://api.honeycomb.io";
  std::string write_key;
  http_options http;
};
std::shared_ptr<http_exporter> make_honeycomb_exporter(honeycomb_exporter_options options);

/// The OTLP/HTTP encoding of request and response bodies.
enum class otlp_protocol {
  http_json,      ///< `http/json`: `Content-Type: application/json`
  http_protobuf,  ///< `http/protobuf`: `Content-Type: application/x-protobuf`
};

/// The attribute names the OTLP exporter gives the fields the HTTP instrumentation records (and a span's
/// `error`): see the mapping table in docs/exporters.md. Other fields keep their names in every mode.
enum class attribute_names {
  otel,     ///< OpenTelemetry's HTTP semantic conventions (`http.request.method`, `url.path`, ...)
  beeline,  ///< the Beeline's names, as recorded (`request.method`, `request.path`, ...)
  both,     ///< each such field under both names
};

/// OTLP/HTTP for traces: `POST {endpoint}/v1/traces`, one request per batch, with protobuf (the default, as
/// the OpenTelemetry specification says) or JSON bodies (`protocol`), as the OTLP specification describes
/// them (and OpenTelemetry JS's exporters send them). A span's fields become typed attributes (nested JSON as
/// array and key-value list values); `span.kind`
/// (`server`, `client`, `producer`, `consumer`, `internal`) sets the span kind; `status_code` /
/// `status_message`, or an `error` field (what `span::record_exception` writes), set the status. Ids that are
/// not hex of the right length (an upstream AWS or custom id) are mapped deterministically. Partial success
/// responses are read in either encoding and counted.
struct otlp_exporter_options {
  std::string endpoint = "http://localhost:4318";  ///< `/v1/traces` is appended
  /// `endpoint` is the whole traces URL, used as it is (what `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` gives).
  bool endpoint_is_traces_url = false;
  std::string service_name;        ///< resource `service.name`; empty: the spans' `service.name`
  std::string service_version;     ///< resource `service.version`, if not empty
  field_list resource_attributes;  ///< more resource attributes (`deployment.environment`, ...)
  http_options http;               ///< `http.headers` for API keys; `http.gzip` to compress
  otlp_protocol protocol = otlp_protocol::http_protobuf;  ///< the bodies' encoding (either may be gzipped)
  /// HTTP spans' attribute names and span names, and `exception` events: OpenTelemetry's (the default), the
  /// Beeline's as recorded, or both.
  attribute_names names = attribute_names::otel;
};
std::shared_ptr<http_exporter> make_otlp_exporter(otlp_exporter_options options);

}  // namespace beeline
