// Test support: a tracer that exports into memory, and exported events parsed back from their JSON.
#pragma once

#include <beeline/beeline.hpp>

#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace beeline::test {

/// One exported event, parsed from the JSON line the exporter produced.
class exported {
 public:
  explicit exported(std::string line) : line_(std::move(line)) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(line_).get(root) != simdjson::SUCCESS)
      throw std::runtime_error("invalid JSON: " + line_);
    time_ = std::string(root["time"].get_string().value());
    samplerate_ = root["samplerate"].get_uint64().value();
    dataset_ = std::string(root["dataset"].get_string().value());
    for (auto [key, val] : root["data"].get_object())
      data_[std::string(key)] = simdjson::minify(val);
  }

  const std::string& line() const { return line_; }
  const std::string& time() const { return time_; }
  std::uint64_t samplerate() const { return samplerate_; }
  const std::string& dataset() const { return dataset_; }
  bool has(const std::string& key) const { return data_.count(key) != 0; }
  /// The field's JSON text, e.g. `"abc"`, `42`, `{"a":1}`; throws if absent.
  const std::string& raw(const std::string& key) const {
    auto it = data_.find(key);
    if (it == data_.end()) throw std::runtime_error("no field " + key + " in " + line_);
    return it->second;
  }
  /// A string field's value (unquoted).
  std::string str(const std::string& key) const {
    simdjson::dom::parser p;
    std::string_view s;
    if (p.parse(raw(key)).get_string().get(s) != simdjson::SUCCESS)
      throw std::runtime_error(key + " is not a string");
    return std::string(s);
  }
  double num(const std::string& key) const { return std::stod(raw(key)); }
  std::string name() const { return str("name"); }
  std::string trace_id() const { return str("trace.trace_id"); }
  std::string span_id() const { return str("trace.span_id"); }
  std::string parent_id() const { return has("trace.parent_id") ? str("trace.parent_id") : std::string(); }
  std::string span_type() const { return str("meta.span_type"); }
  const std::map<std::string, std::string>& data() const { return data_; }

 private:
  std::string line_;
  std::string time_;
  std::uint64_t samplerate_ = 0;
  std::string dataset_;
  std::map<std::string, std::string> data_;
};

/// A JSON value's kind as JavaScript (and Honeycomb) sees it: every number is one kind, "number".
inline std::string json_kind(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return "number";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "bool";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
  }
  return "?";
}

/// A tracer exporting into memory, with helpers to flush and read what was exported.
struct memory_tracer {
  std::shared_ptr<memory_exporter> sink = std::make_shared<memory_exporter>();
  beeline::tracer tracer;

  explicit memory_tracer(config cfg = {}) : tracer(with_sink(std::move(cfg), sink)) {}

  /// Flushes (must complete within 10 s) and returns every event exported so far.
  std::vector<exported> events() {
    const flush_result r = tracer.flush_sync(std::chrono::seconds(10));
    if (!r.complete) throw std::runtime_error("flush did not complete");
    std::vector<exported> out;
    for (auto& l : sink->lines())
      out.emplace_back(l);
    return out;
  }

  /// The single exported event with this name; throws unless exactly one.
  static const exported& by_name(const std::vector<exported>& evs, const std::string& name) {
    const exported* found = nullptr;
    for (const auto& e : evs)
      if (e.name() == name) {
        if (found) throw std::runtime_error("two events named " + name);
        found = &e;
      }
    if (!found) throw std::runtime_error("no event named " + name);
    return *found;
  }

 private:
  static config with_sink(config cfg, std::shared_ptr<memory_exporter> sink) {
    cfg.exporter = std::move(sink);
    if (cfg.service_name.empty()) cfg.service_name = "test-service";
    cfg.local_hostname = cfg.local_hostname.empty() ? "test-host" : cfg.local_hostname;
    return cfg;
  }
};

}  // namespace beeline::test
