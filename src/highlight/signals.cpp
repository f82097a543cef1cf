#include "highlight/signals.hpp"

#include "core/json.hpp"
#include "core/thread_name.hpp"
#include "export/otlp_json.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <unordered_map>

namespace beeline::highlight::detail {

namespace {

using beeline::detail::append_json_int;
using beeline::detail::append_json_string;

void append_attributes(std::string& out, const field_list& attributes) {
  out.push_back('[');
  bool first = true;
  for (const owned_field& f : attributes) {
    const std::size_t mark = out.size();
    if (!first) out.push_back(',');
    out.append("{\"key\":");
    append_json_string(out, f.key);
    out.append(",\"value\":");
    if (!beeline::detail::append_otlp_value(out, f.value.view())) {
      out.resize(mark);
      continue;
    }
    out.push_back('}');
    first = false;
  }
  out.push_back(']');
}

void append_time(std::string& out, std::string_view key, std::int64_t ns) {
  out.push_back('"');
  out.append(key);
  out.append("\":\"");
  append_json_int(out, ns);
  out.push_back('"');
}

void append_scope(std::string& out) {
  out.append("{\"scope\":{\"name\":\"beeline-cpp\",\"version\":\"");
  out.append(BEELINE_VERSION_STRING);
  out.append("\"},");
}

}  // namespace

std::vector<std::vector<const metric_point*>> metrics_by_name(const std::vector<metric_point>& points) {
  std::vector<std::vector<const metric_point*>> groups;
  std::unordered_map<std::string_view, std::size_t> index;
  for (const metric_point& p : points) {
    const auto [it, added] = index.emplace(p.name, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(&p);
  }
  return groups;
}

void append_metrics_request(std::string& out, const std::vector<metric_point>& points,
                            std::string_view resource_attributes) {
  out.append("{\"resourceMetrics\":[{\"resource\":{\"attributes\":[");
  out.append(resource_attributes);
  out.append("],\"droppedAttributesCount\":0},\"scopeMetrics\":[");
  append_scope(out);
  out.append("\"metrics\":[");
  const auto groups = metrics_by_name(points);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (g) out.push_back(',');
    out.append("{\"name\":");
    append_json_string(out, groups[g].front()->name);
    out.append(",\"description\":\"\",\"unit\":\"\",\"gauge\":{\"dataPoints\":[");
    for (std::size_t i = 0; i < groups[g].size(); ++i) {
      const metric_point& p = *groups[g][i];
      if (i) out.push_back(',');
      out.append("{\"attributes\":");
      append_attributes(out, p.attributes);
      out.push_back(',');
      append_time(out, "startTimeUnixNano", p.time_ns);
      out.push_back(',');
      append_time(out, "timeUnixNano", p.time_ns);
      out.append(",\"asDouble\":");
      beeline::detail::append_json_double(out, p.value);
      out.push_back('}');
    }
    out.append("]}}");
  }
  out.append("]}]}]}");
}

void append_logs_request(std::string& out, const std::vector<log_record>& records,
                         std::string_view resource_attributes) {
  out.append("{\"resourceLogs\":[{\"resource\":{\"attributes\":[");
  out.append(resource_attributes);
  out.append("],\"droppedAttributesCount\":0},\"scopeLogs\":[");
  append_scope(out);
  out.append("\"logRecords\":[");
  for (std::size_t i = 0; i < records.size(); ++i) {
    const log_record& r = records[i];
    if (i) out.push_back(',');
    out.push_back('{');
    append_time(out, "timeUnixNano", r.time_ns);
    out.push_back(',');
    append_time(out, "observedTimeUnixNano", r.time_ns);
    out.append(",\"severityText\":");
    append_json_string(out, r.severity);
    out.append(",\"body\":{\"stringValue\":");
    append_json_string(out, r.body);
    out.append("},\"attributes\":");
    append_attributes(out, r.attributes);
    out.append(",\"droppedAttributesCount\":0");
    if (!r.trace_id.empty() && !r.span_id.empty()) {
      out.append(",\"flags\":1,\"traceId\":");
      append_json_string(out, r.trace_id);
      out.append(",\"spanId\":");
      append_json_string(out, r.span_id);
    }
    out.push_back('}');
  }
  out.append("]}]}]}");
}

signal_pipeline::signal_pipeline(beeline::detail::http_target target, http_options http,
                                 otlp_protocol protocol, std::string resource, std::size_t capacity,
                                 std::chrono::milliseconds interval, log_hook logger,
                                 std::chrono::milliseconds log_interval)
    : protobuf_(protocol == otlp_protocol::http_protobuf),
      resource_(std::move(resource)),
      capacity_(capacity),
      interval_(interval),
      logger_(std::move(logger)),
      log_limiter_(log_interval),
      client_(std::move(target), std::move(http), "beeline-cpp/" BEELINE_VERSION_STRING) {
  client_.on_retry([this](const std::string& error) {
    log_limiter_.note(logger_, log_level::warning, "highlight export attempt failed: " + error, 1,
                      "failed attempts", "",
                      [&] { return "highlight export attempt failed, retrying: " + error; });
  });
  thread_ = std::thread([this] {
    beeline::detail::name_this_thread("highlight-send");
    run();
  });
}

signal_pipeline::~signal_pipeline() {
  shutdown(std::chrono::steady_clock::now());
}

bool signal_pipeline::push(metric_point p) {
  std::lock_guard lock(mutex_);
  if (stopping_ || metrics_.size() >= capacity_) {
    ++counts_.metrics_dropped;
    return false;
  }
  metrics_.push_back(std::move(p));
  ++counts_.metrics_enqueued;
  ++accepted_;
  return true;
}

bool signal_pipeline::push(log_record r) {
  std::lock_guard lock(mutex_);
  if (stopping_ || logs_.size() >= capacity_) {
    ++counts_.logs_dropped;
    return false;
  }
  logs_.push_back(std::move(r));
  ++counts_.logs_enqueued;
  ++accepted_;
  return true;
}

void signal_pipeline::count_dropped_metric() {
  std::lock_guard lock(mutex_);
  ++counts_.metrics_dropped;
}

bool signal_pipeline::flush(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = accepted_;
  if (done_ >= target) return true;
  send_now_ = true;
  wake_.notify_one();
  return settled_.wait_until(lock, deadline, [&] { return done_ >= target; });
}

void signal_pipeline::shutdown(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
  }
  flush(deadline);
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopping_ = true;
    stopped_ = true;
    wake_.notify_one();
  }
  client_.shutdown();  // fails what is still in flight (`settled` counts it) and unblocks a waiting submit
  if (thread_.joinable()) thread_.join();
  log_limiter_.tick(logger_, true);  // what was only counted so far
  std::lock_guard lock(mutex_);
  const std::uint64_t left = metrics_.size() + logs_.size();
  counts_.metrics_dropped += metrics_.size();
  counts_.logs_dropped += logs_.size();
  metrics_.clear();
  logs_.clear();
  done_ += left;
  settled_.notify_all();
}

signal_pipeline::counters signal_pipeline::stats() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void signal_pipeline::run() {
  std::unique_lock lock(mutex_);
  auto next = std::chrono::steady_clock::now() + interval_;
  while (!stopping_) {
    wake_.wait_until(lock, next, [&] { return send_now_ || stopping_; });
    if (stopping_) break;
    send_now_ = false;
    next = std::chrono::steady_clock::now() + interval_;
    std::vector<metric_point> metrics;
    std::vector<log_record> logs;
    metrics.swap(metrics_);
    logs.swap(logs_);
    lock.unlock();
    log_limiter_.tick(logger_);  // summaries that are due
    // Encoding and `submit` (which waits while too many requests are in flight) happen off the lock, so
    // pushes never wait for the network. Requests stay small enough for any collector's body limit.
    for (std::size_t i = 0; i < metrics.size(); i += max_records_per_request) {
      const auto first = metrics.begin() + static_cast<std::ptrdiff_t>(i);
      const auto last = metrics.begin() +
                        static_cast<std::ptrdiff_t>(std::min(metrics.size(), i + max_records_per_request));
      send_metrics(std::vector<metric_point>(std::make_move_iterator(first), std::make_move_iterator(last)));
    }
    for (std::size_t i = 0; i < logs.size(); i += max_records_per_request) {
      const auto first = logs.begin() + static_cast<std::ptrdiff_t>(i);
      const auto last =
          logs.begin() + static_cast<std::ptrdiff_t>(std::min(logs.size(), i + max_records_per_request));
      send_logs(std::vector<log_record>(std::make_move_iterator(first), std::make_move_iterator(last)));
    }
    lock.lock();
  }
}

void signal_pipeline::send_metrics(std::vector<metric_point> points) {
  beeline::detail::http_request req;
  req.path = "/v1/metrics";
  req.headers = {{"Content-Type", protobuf_ ? "application/x-protobuf" : "application/json"}};
  if (protobuf_)
    append_metrics_request_proto(req.body, points, resource_);
  else
    append_metrics_request(req.body, points, resource_);
  const std::size_t n = points.size();
  try {
    client_.submit(std::move(req), [this, n](beeline::detail::http_outcome o) { settled(true, n, o); });
  } catch (const std::exception& e) {
    beeline::detail::http_outcome o;
    o.error = e.what();
    settled(true, n, o);
  }
}

void signal_pipeline::send_logs(std::vector<log_record> records) {
  beeline::detail::http_request req;
  req.path = "/v1/logs";
  req.headers = {{"Content-Type", protobuf_ ? "application/x-protobuf" : "application/json"}};
  if (protobuf_)
    append_logs_request_proto(req.body, records, resource_);
  else
    append_logs_request(req.body, records, resource_);
  const std::size_t n = records.size();
  try {
    client_.submit(std::move(req), [this, n](beeline::detail::http_outcome o) { settled(false, n, o); });
  } catch (const std::exception& e) {
    beeline::detail::http_outcome o;
    o.error = e.what();
    settled(false, n, o);
  }
}

void signal_pipeline::settled(bool metrics, std::size_t n, const beeline::detail::http_outcome& o) {
  const std::string_view what = metrics ? "metric data points" : "log records";
  std::size_t refused = o.delivered ? 0 : n;
  std::string reason = o.error;
  if (o.delivered && o.body_complete) {
    // A partial success names the records the collector refused; an unreadable 2xx took them all.
    const auto response = beeline::detail::read_otlp_response(
        o.body, protobuf_, metrics ? "rejectedDataPoints" : "rejectedLogRecords");
    if (response && response->rejected > 0) {
      refused = std::min<std::size_t>(static_cast<std::size_t>(response->rejected), n);
      reason = "OTLP partial success: " + std::to_string(refused) + " rejected";
      if (!response->message.empty()) reason.append(": ").append(response->message);
    }
  }
  if (refused > 0) {
    try {
      log_limiter_.note(
          logger_, log_level::warning, std::string("highlight dropped ") + std::string(what) + ": " + reason,
          refused, what, "requests", [&] {
            return "highlight dropped " + std::to_string(refused) + " " + std::string(what) + ": " + reason;
          });
    } catch (...) {
    }
  }
  std::lock_guard lock(mutex_);
  if (metrics) {
    counts_.metrics_exported += n - refused;
    counts_.metrics_dropped += refused;
  } else {
    counts_.logs_exported += n - refused;
    counts_.logs_dropped += refused;
  }
  done_ += n;
  settled_.notify_all();
}

}  // namespace beeline::highlight::detail
