#include "api/otel_env.hpp"

#include "core/percent.hpp"

#include "export/ca_file.hpp"
#include "export/http_client.hpp"

#include <beeline/exporter.hpp>
#include <beeline/http_exporter.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <utility>
#include <vector>

namespace beeline::detail {
namespace {

std::string_view trim(std::string_view s) noexcept {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

// `key=value,key=value` with percent-encoded keys and values (OTEL_RESOURCE_ATTRIBUTES, OTEL_*_HEADERS). Each
// bad member is named in `bad`.
std::vector<std::pair<std::string, std::string>> parse_pairs(std::string_view text,
                                                             std::vector<std::string>& bad) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string_view member = trim(text.substr(start, end - start));
    start = end + 1;
    if (member.empty()) continue;
    const std::size_t eq = member.find('=');
    std::string key, value;
    if (eq == std::string_view::npos || !detail::decode_uri_component(trim(member.substr(0, eq)), key) ||
        trim(key).empty() || !detail::decode_uri_component(trim(member.substr(eq + 1)), value)) {
      // Named by its key only: values (API keys in headers) must not reach the log.
      bad.push_back(eq == std::string_view::npos ? std::string("a member without '='")
                                                 : "'" + std::string(trim(member.substr(0, eq))) + "=...'");
      continue;
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// An HTTP token (RFC 9110 `tchar`s).
bool header_name(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos))
      return false;
  return true;
}

// No control characters but tab.
bool header_value(std::string_view s) {
  for (const char c : s)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
  return true;
}

template <class Int>
std::optional<Int> parse_int(std::string_view text, Int min) {
  text = trim(text);
  Int v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min) return std::nullopt;
  return v;
}

class environment {
 public:
  environment(const env_lookup& lookup, const log_hook& report) : lookup_(lookup), report_(report) {}

  // The value of a variable that is set and not empty (the specification treats an empty value as unset).
  std::optional<std::string> get(std::string_view name) const {
    std::optional<std::string> v = lookup_(name);
    if (!v || trim(*v).empty()) return std::nullopt;
    return v;
  }
  // The traces-specific variable if set, else the general one: `OTEL_EXPORTER_OTLP_TRACES_<what>` /
  // `OTEL_EXPORTER_OTLP_<what>`. `which` receives the name read.
  std::optional<std::string> otlp(std::string_view what, std::string* which = nullptr) const {
    const std::string specific = fmt::format("OTEL_EXPORTER_OTLP_TRACES_{}", what);
    if (auto v = get(specific)) {
      if (which) *which = specific;
      return v;
    }
    const std::string general = fmt::format("OTEL_EXPORTER_OTLP_{}", what);
    if (auto v = get(general)) {
      if (which) *which = general;
      return v;
    }
    return std::nullopt;
  }

  void warn(std::string message) const { log(log_level::warning, message); }
  void info(std::string message) const { log(log_level::info, message); }
  void log(log_level level, const std::string& message) const {
    try {
      if (report_) report_(level, message);
    } catch (...) {
      // A logger that throws must not make init fail.
    }
  }

 private:
  const env_lookup& lookup_;
  const log_hook& report_;
};

// OTEL_SDK_DISABLED and friends: "true" in any case is true, anything else false (warned unless "false").
bool read_bool(const environment& env, std::string_view name) {
  const auto v = env.get(name);
  if (!v) return false;
  const std::string_view t = trim(*v);
  if (iequals(t, "true")) return true;
  if (!iequals(t, "false")) env.warn(fmt::format("{}='{}' is not true or false; using false", name, t));
  return false;
}

void fill(std::string& field, const environment& env, std::string_view name) {
  if (!field.empty()) return;
  if (auto v = env.get(name)) field = std::move(*v);
}

// The resource attributes, or none at all if any member is malformed (as the specification asks: the whole
// value is discarded).
std::vector<std::pair<std::string, std::string>> resource_attributes(const environment& env) {
  const auto v = env.get("OTEL_RESOURCE_ATTRIBUTES");
  if (!v) return {};
  std::vector<std::string> bad;
  auto attrs = parse_pairs(*v, bad);
  if (!bad.empty()) {
    env.warn(
        fmt::format("OTEL_RESOURCE_ATTRIBUTES: malformed member {} (want key=value, percent-encoded); "
                    "the whole variable is ignored",
                    bad.front()));
    return {};
  }
  return attrs;
}

// An http(s) URL the HTTP client can use, else a warning and nullopt.
std::optional<std::string> usable_url(const environment& env, std::string_view name, std::string value) {
  std::string error;
  if (!parse_http_url(trim(value), error)) {
    env.warn(fmt::format("{}: {}; ignored", name, error));
    return std::nullopt;
  }
  return std::string(trim(value));
}

struct otlp_endpoint {
  std::string url;
  bool traces_url = false;  // the signal-specific variable: used as it is
};

// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, else OTEL_EXPORTER_OTLP_ENDPOINT plus `/v1/traces`.
std::optional<otlp_endpoint> endpoint_from(const environment& env) {
  if (auto v = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    if (auto url = usable_url(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", std::move(*v)))
      return otlp_endpoint{std::move(*url), true};
  if (auto v = env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    if (auto url = usable_url(env, "OTEL_EXPORTER_OTLP_ENDPOINT", std::move(*v)))
      return otlp_endpoint{std::move(*url), false};
  return std::nullopt;
}

// `timeouts_set`: the config's own http timeouts (request, connect) differ from the defaults.
std::shared_ptr<exporter> make_otlp_from_env(const config& cfg, std::pair<bool, bool> timeouts_set,
                                             const std::optional<otlp_endpoint>& endpoint,
                                             std::vector<std::pair<std::string, std::string>> resource,
                                             const environment& env) {
  otlp_exporter_options o;
  if (endpoint) {
    o.endpoint = endpoint->url;
    o.endpoint_is_traces_url = endpoint->traces_url;
  }
  o.http = cfg.http;
  std::string name;
  if (const auto v = env.otlp("HEADERS", &name)) {
    std::vector<std::string> bad;
    for (auto& [key, value] : parse_pairs(*v, bad)) {
      // Decoding may give bytes no HTTP header may hold (a line break would split the request).
      if (!header_name(key) || !header_value(value)) {
        bad.push_back("'" + key + "=...'");
        continue;
      }
      // A header the config sets is not sent twice.
      const bool in_config = std::any_of(cfg.http.headers.begin(), cfg.http.headers.end(),
                                         [&](const auto& h) { return iequals(h.first, key); });
      if (!in_config) o.http.headers.emplace_back(std::move(key), std::move(value));
    }
    for (const std::string& b : bad)
      env.warn(fmt::format(
          "{}: malformed member {} (want key=value, percent-encoded, usable in HTTP); ignored", name, b));
  }
  if (const auto v = env.otlp("PROTOCOL", &name)) {
    const std::string p = lower(trim(*v));
    if (p == "http/protobuf")
      o.protocol = otlp_protocol::http_protobuf;
    else if (p == "http/json")
      o.protocol = otlp_protocol::http_json;
    else
      env.warn(
          fmt::format("{}='{}' is not supported (http/protobuf, http/json); using http/protobuf", name, p));
  }
  if (const auto v = env.otlp("COMPRESSION", &name)) {
    const std::string c = lower(trim(*v));
    if (c == "gzip") {
      o.http.gzip = true;
    } else if (c != "none") {
      env.warn(fmt::format("{}='{}' is not gzip or none; ignored", name, c));
    }
  }
  if (const auto v = env.otlp("TIMEOUT", &name)) {
    if (const auto ms = parse_int<std::int64_t>(*v, 1)) {
      if (!timeouts_set.first) o.http.request_timeout = std::chrono::milliseconds(*ms);
      if (!timeouts_set.second) o.http.connect_timeout = std::chrono::milliseconds(*ms);
    } else {
      env.warn(fmt::format("{}='{}' is not a positive number of milliseconds; ignored", name, trim(*v)));
    }
  }
  if (const auto v = env.otlp("CERTIFICATE", &name); v && cfg.http.ca_file.empty()) {
    std::string error;
    if (check_ca_file(std::string(trim(*v)), error))
      o.http.ca_file = std::string(trim(*v));
    else
      env.warn(fmt::format("{}: {}; using the system's certificates", name, error));
  }
  for (auto& [key, value] : resource)
    o.resource_attributes.push_back({std::move(key), beeline::value(std::move(value))});
  return make_otlp_exporter(std::move(o));
}

}  // namespace

std::optional<std::string> process_env(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

env_outcome apply_environment(config& cfg, const env_lookup& lookup, const log_hook& report) {
  const environment env(lookup, report);
  if (read_bool(env, "OTEL_SDK_DISABLED")) return {true};
  const config defaults;

  // What the config chose itself, before the environment fills anything in.
  const bool config_exporter = cfg.exporter || !cfg.write_key.empty();
  const std::pair<bool, bool> timeouts_set{cfg.http.request_timeout != defaults.http.request_timeout,
                                           cfg.http.connect_timeout != defaults.http.connect_timeout};
  fill(cfg.write_key, env, "HONEYCOMB_WRITEKEY");
  fill(cfg.dataset, env, "HONEYCOMB_DATASET");
  fill(cfg.api_host, env, "HONEYCOMB_API_HOST");

  auto resource = resource_attributes(env);
  const auto service_attr =
      std::find_if(resource.begin(), resource.end(), [](const auto& a) { return a.first == "service.name"; });
  if (cfg.service_name.empty()) {
    if (auto v = env.get("OTEL_SERVICE_NAME"))
      cfg.service_name = std::string(trim(*v));
    else if (service_attr != resource.end())
      cfg.service_name = service_attr->second;
  }
  // The service name reaches the resource through the spans' `service.name` (the config's, if it set one).
  if (service_attr != resource.end()) resource.erase(service_attr);

  if (const auto v = env.get("OTEL_TRACES_SAMPLER")) {
    if (cfg.trace_sampler || cfg.sampler || cfg.sample_rate != defaults.sample_rate) {
      env.info("OTEL_TRACES_SAMPLER is ignored: the config sets the sampling");
    } else {
      std::string error;
      const auto arg = env.get("OTEL_TRACES_SAMPLER_ARG");
      if (auto s = parse_otel_sampler(*v, arg.value_or(""), error)) cfg.trace_sampler = *s;
      if (!error.empty())
        env.warn(fmt::format("OTEL_TRACES_SAMPLER{}: {}", cfg.trace_sampler ? "_ARG" : "", error) +
                 (cfg.trace_sampler ? "" : "; ignored"));
    }
  }

  if (const auto v = env.get("OTEL_PROPAGATORS")) {
    std::vector<std::string> unknown;
    auto list = propagation::parse_propagators(*v, unknown);
    for (const std::string& u : unknown)
      env.warn(
          fmt::format("OTEL_PROPAGATORS: '{}' is not supported (tracecontext, baggage, xray, honeycomb, aws, "
                      "none); skipped",
                      u));
    if (list.empty() && !unknown.empty()) {
      env.warn("OTEL_PROPAGATORS names no supported propagator; the default propagation stays");
    } else {
      const bool dataset = is_classic_key(cfg.write_key);
      if (!cfg.http_trace_parser_hook)
        cfg.http_trace_parser_hook = propagation::composite_parser_hook(list, dataset);
      if (!cfg.http_trace_propagation_hook)
        cfg.http_trace_propagation_hook = propagation::composite_propagation_hook(list, dataset);
    }
  }

  const auto bsp_size = [&](std::size_t& field, std::size_t fallback, std::string_view name) {
    const auto v = env.get(name);
    if (!v) return;
    const auto n = parse_int<std::size_t>(*v, 1);
    if (!n)
      env.warn(fmt::format("{}='{}' is not a positive integer; ignored", name, trim(*v)));
    else if (field == fallback)
      field = *n;
  };
  bsp_size(cfg.queue_capacity, defaults.queue_capacity, "OTEL_BSP_MAX_QUEUE_SIZE");
  bsp_size(cfg.batch_size, defaults.batch_size, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  const auto bsp_ms = [&](std::chrono::milliseconds& field, std::chrono::milliseconds fallback,
                          std::string_view name, std::int64_t min) {
    const auto v = env.get(name);
    if (!v) return;
    const auto n = parse_int<std::int64_t>(*v, min);
    if (!n)
      env.warn(fmt::format("{}='{}' is not a {} number of milliseconds; ignored", name, trim(*v),
                           min > 0 ? "positive" : "non-negative"));
    else if (field == fallback)
      field = std::chrono::milliseconds(*n);
  };
  bsp_ms(cfg.send_interval, defaults.send_interval, "OTEL_BSP_SCHEDULE_DELAY", 0);
  // The time one export may take: the request timeout of the exporter `init` makes.
  bsp_ms(cfg.http.request_timeout, defaults.http.request_timeout, "OTEL_BSP_EXPORT_TIMEOUT", 1);

  if (config_exporter) return {};
  const auto endpoint = endpoint_from(env);
  enum class choice { unset, otlp, console, none } chosen = choice::unset;
  if (const auto v = env.get("OTEL_TRACES_EXPORTER")) {
    const std::string text = lower(trim(*v));
    const std::string_view first = trim(std::string_view(text).substr(0, text.find(',')));
    if (text.find(',') != std::string::npos)
      env.warn(fmt::format("OTEL_TRACES_EXPORTER='{}': one exporter is supported; using '{}'", text, first));
    if (first == "otlp")
      chosen = choice::otlp;
    else if (first == "console")
      chosen = choice::console;
    else if (first == "none")
      chosen = choice::none;
    else
      env.warn(
          fmt::format("OTEL_TRACES_EXPORTER='{}' is not supported (otlp, console, none); ignored", first));
  }
  if (chosen == choice::unset && endpoint) chosen = choice::otlp;
  switch (chosen) {
    case choice::unset:
      break;  // Honeycomb when HONEYCOMB_WRITEKEY is set, else JSON lines
    case choice::otlp:
      if (!cfg.write_key.empty())
        env.info(
            "spans go to OTLP as the OTEL_* variables ask; HONEYCOMB_WRITEKEY does not choose the exporter");
      cfg.exporter = make_otlp_from_env(cfg, timeouts_set, endpoint, std::move(resource), env);
      break;
    case choice::console:
      cfg.exporter = make_jsonl_exporter(cfg.jsonl_path);
      break;
    case choice::none:
      cfg.exporter = make_discard_exporter();
      break;
  }
  return {};
}

}  // namespace beeline::detail
