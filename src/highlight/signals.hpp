// Private: the metrics and logs pipeline of a Highlight client. Callers push records into two bounded queues
// (a short mutex section, never a wait: a full queue drops and counts); a thread of its own encodes them as
// OTLP/HTTP protobuf or JSON (`/v1/metrics` gauge data points, `/v1/logs` log records) and sends them through
// the library's HTTP client (gzip, retries, keep-alive), at each send interval or when flushed. A partial
// success in the response counts its rejected records as dropped.
#pragma once

#include <beeline/highlight.hpp>

#include "export/http_client.hpp"
#include "export/log_limiter.hpp"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace beeline::highlight::detail {

/// Records per request (OpenTelemetry's batch processors default to 512).
inline constexpr std::size_t max_records_per_request = 1024;

struct metric_point {
  std::string name;
  double value = 0;
  std::int64_t time_ns = 0;
  field_list attributes;
};

struct log_record {
  std::int64_t time_ns = 0;
  std::string severity;
  std::string body;
  field_list attributes;
  std::string trace_id;  // empty outside a trace
  std::string span_id;
};

/// The points grouped by name, in order of first appearance, each group in arrival order: one gauge a group,
/// in both encodings.
std::vector<std::vector<const metric_point*>> metrics_by_name(const std::vector<metric_point>& points);

/// Appends a `resourceMetrics` request body (one resource, the beeline-cpp scope, one gauge per name).
void append_metrics_request(std::string& out, const std::vector<metric_point>& points,
                            std::string_view resource_attributes);
/// Appends a `resourceLogs` request body.
void append_logs_request(std::string& out, const std::vector<log_record>& records,
                         std::string_view resource_attributes);

/// The same requests as OTLP protobuf (ExportMetricsServiceRequest, ExportLogsServiceRequest); `resource` is
/// the Resource message's content (export/otlp_proto.hpp `otlp_proto_resource`).
void append_metrics_request_proto(std::string& out, const std::vector<metric_point>& points,
                                  std::string_view resource);
void append_logs_request_proto(std::string& out, const std::vector<log_record>& records,
                               std::string_view resource);

class signal_pipeline {
 public:
  /// `resource` is the Resource's content in the chosen encoding: its encoded attributes for JSON
  /// (otlp_json.hpp `otlp_resource_attributes`), the message's bytes for protobuf (otlp_proto.hpp
  /// `otlp_proto_resource`). Failed sends are logged to `logger` as the tracer logs span export failures: in
  /// full the first time, then summed up at most once per `log_interval`.
  signal_pipeline(beeline::detail::http_target target, http_options http, otlp_protocol protocol,
                  std::string resource, std::size_t capacity, std::chrono::milliseconds interval,
                  log_hook logger = {}, std::chrono::milliseconds log_interval = config{}.log_interval);
  ~signal_pipeline();
  signal_pipeline(const signal_pipeline&) = delete;
  signal_pipeline& operator=(const signal_pipeline&) = delete;

  bool push(metric_point p);  ///< false: dropped (full or shut down), counted
  bool push(log_record r);
  /// A metric refused before it got here (a value JSON cannot carry).
  void count_dropped_metric();
  /// Sends what is queued now and waits until it settled (sent or failed), or the deadline.
  bool flush(std::chrono::steady_clock::time_point deadline);
  /// Flushes until the deadline, then stops the thread; later pushes are dropped. Idempotent.
  void shutdown(std::chrono::steady_clock::time_point deadline);

  struct counters {
    std::uint64_t metrics_enqueued = 0, metrics_dropped = 0, metrics_exported = 0;
    std::uint64_t logs_enqueued = 0, logs_dropped = 0, logs_exported = 0;
  };
  counters stats() const;

 private:
  void run();
  void send_metrics(std::vector<metric_point> points);
  void send_logs(std::vector<log_record> records);
  void settled(bool metrics, std::size_t n, const beeline::detail::http_outcome& o);

  bool protobuf_;
  std::string resource_;
  std::size_t capacity_;
  std::chrono::milliseconds interval_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the thread: something to send now, or stop
  std::condition_variable settled_;  // flushers
  std::vector<metric_point> metrics_;
  std::vector<log_record> logs_;
  bool send_now_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::uint64_t accepted_ = 0;  // records accepted (both kinds)
  std::uint64_t done_ = 0;      // records settled
  counters counts_;

  log_hook logger_;
  beeline::detail::log_limiter log_limiter_;
  beeline::detail::http_client client_;
  std::thread thread_;
};

}  // namespace beeline::highlight::detail
