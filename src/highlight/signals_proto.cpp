// Highlight's metrics and logs as OTLP protobuf (ExportMetricsServiceRequest, ExportLogsServiceRequest): the
// same messages as signals.cpp's JSON, field for field, with the wire writer of export/otlp_proto.hpp. Field
// numbers are those of metrics.proto and logs.proto.
#include "export/otlp_proto.hpp"
#include "highlight/signals.hpp"

#include <bit>

namespace beeline::highlight::detail {

namespace pb = beeline::detail::pb;

namespace {

// ResourceMetrics / ResourceLogs (1 resource, 2 scope list), Scope* (1 scope, 2 items): the same numbers.
constexpr unsigned request_resource = 1, resource_resource = 1, resource_scopes = 2, scope_scope = 1,
                   scope_items = 2;
constexpr unsigned metric_name = 1, metric_gauge = 5, gauge_data_points = 1;
constexpr unsigned point_start = 2, point_time = 3, point_as_double = 4, point_attributes = 7;
constexpr unsigned log_time = 1, log_severity_text = 3, log_body = 5, log_attributes = 6, log_flags = 8,
                   log_trace_id = 9, log_span_id = 10, log_observed_time = 11;
constexpr unsigned any_string = 1;

void append_fixed32(std::string& out, unsigned field, std::uint32_t v) {
  pb::append_tag(out, field, pb::i32);
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>(static_cast<unsigned char>(v >> (8 * i))));
}

}  // namespace

void append_metrics_request_proto(std::string& out, const std::vector<metric_point>& points,
                                  std::string_view resource) {
  const std::size_t resource_metrics = pb::begin_message(out, request_resource);
  pb::append_bytes(out, resource_resource, resource);
  const std::size_t scope_metrics = pb::begin_message(out, resource_scopes);
  beeline::detail::append_otlp_proto_scope(out, scope_scope);
  for (const auto& group : metrics_by_name(points)) {
    const std::size_t metric = pb::begin_message(out, scope_items);
    pb::append_bytes(out, metric_name, group.front()->name);
    const std::size_t gauge = pb::begin_message(out, metric_gauge);
    for (const metric_point* p : group) {
      const std::size_t point = pb::begin_message(out, gauge_data_points);
      pb::append_fixed64(out, point_start, static_cast<std::uint64_t>(p->time_ns));
      pb::append_fixed64(out, point_time, static_cast<std::uint64_t>(p->time_ns));
      pb::append_fixed64(out, point_as_double, std::bit_cast<std::uint64_t>(p->value));
      for (const owned_field& f : p->attributes)
        beeline::detail::append_otlp_proto_attribute(out, point_attributes, f.key, f.value.view());
      pb::end_message(out, point);
    }
    pb::end_message(out, gauge);
    pb::end_message(out, metric);
  }
  pb::end_message(out, scope_metrics);
  pb::end_message(out, resource_metrics);
}

void append_logs_request_proto(std::string& out, const std::vector<log_record>& records,
                               std::string_view resource) {
  const std::size_t resource_logs = pb::begin_message(out, request_resource);
  pb::append_bytes(out, resource_resource, resource);
  const std::size_t scope_logs = pb::begin_message(out, resource_scopes);
  beeline::detail::append_otlp_proto_scope(out, scope_scope);
  for (const log_record& r : records) {
    const std::size_t record = pb::begin_message(out, scope_items);
    pb::append_fixed64(out, log_time, static_cast<std::uint64_t>(r.time_ns));
    if (!r.severity.empty()) pb::append_bytes(out, log_severity_text, r.severity);
    const std::size_t body = pb::begin_message(out, log_body);
    pb::append_bytes(out, any_string, r.body);
    pb::end_message(out, body);
    for (const owned_field& f : r.attributes)
      beeline::detail::append_otlp_proto_attribute(out, log_attributes, f.key, f.value.view());
    if (!r.trace_id.empty() && !r.span_id.empty()) {
      append_fixed32(out, log_flags, 1);
      beeline::detail::append_otlp_proto_trace_id(out, log_trace_id, r.trace_id);
      beeline::detail::append_otlp_proto_span_id(out, log_span_id, r.span_id);
    }
    pb::append_fixed64(out, log_observed_time, static_cast<std::uint64_t>(r.time_ns));
    pb::end_message(out, record);
  }
  pb::end_message(out, scope_logs);
  pb::end_message(out, resource_logs);
}

}  // namespace beeline::highlight::detail
